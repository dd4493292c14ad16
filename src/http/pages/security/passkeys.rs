//! The security page's passkey forms: add one (a registration ceremony
//! begun by `factors::passkey::start_registration` for the browser
//! session's user, answered on its own page by `/assets/passkeys.js` and
//! finished by `factors::passkey::finish_registration`; the recovery codes
//! shown once when it is the account's first factor), rename one, and
//! remove one (the password again:
//! `accounts::second_factor::remove_passkey`). Each POST is read by
//! `read_post` (a usable browser session, the CSRF token bound to it).
//!
//! Adding a passkey needs JavaScript (the browser's WebAuthn API); renaming
//! and removing do not.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use uuid::Uuid;
use webauthn_rs::prelude::RegisterPublicKeyCredential;

use super::super::form::PageForm;
use super::super::passkey::{self, Offer};
use super::super::{Page, PageError, see_other};
use super::changes::{codes_page, password};
use super::{
    CONFIRM_PASSKEY, Posted, REMOVE_PASSKEY, RENAME_PASSKEY, START_PASSKEY, csrf, home, read_post,
    refused,
};
use crate::accounts;
use crate::domain::InputError;
use crate::error::ServiceError;
use crate::factors;
use crate::http::ApiError;
use crate::http::extractors::Caller;
use crate::http::state::AppState;
use crate::sessions::browser::BrowserSession;

/// `POST /account/security/passkeys`: `csrf`. The page that creates the
/// passkey: its name, and the button the script answers.
pub async fn start_passkey(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Result<Caller, ApiError>,
    fields: Result<PageForm, PageError>,
) -> HttpResponse {
    let Posted { session, .. } = match read_post(&state, &req, caller, fields, START_PASSKEY).await
    {
        Ok(posted) => posted,
        Err(e) => return e.render(&state, &req).await,
    };
    let started =
        factors::passkey::start_registration(&state.services, session.user_id, session.id).await;
    match started.map(Offer::of) {
        Ok(Some(offer)) => registration_page(&state, &session, &offer),
        Ok(None) => PageError::Internal.render(&state),
        Err(e) => refused(&state, &req, &session, e).await,
    }
}

fn registration_page(state: &AppState, session: &BrowserSession, offer: &Offer) -> HttpResponse {
    let vars = minijinja::context! {
        csrf_token => csrf(state, CONFIRM_PASSKEY, session),
        ceremony => &offer.ceremony,
        options => &offer.options,
    };
    Page::new("security_passkey.html", vars)
        .with_passkeys()
        .render(state)
}

/// What a registration the service refused shows on the security page.
const NOT_REGISTERED: &str = "The passkey was not added. Start again.";
/// What a name out of bounds shows.
const BAD_NAME: &str = "A passkey's name is 1 to 64 characters.";

/// `POST /account/security/passkeys/confirm`: `csrf`, `ceremony`,
/// `credential` (the authenticator's answer, as JSON), `name` (optional).
pub async fn confirm_passkey(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Result<Caller, ApiError>,
    fields: Result<PageForm, PageError>,
) -> HttpResponse {
    let Posted {
        caller,
        session,
        mut fields,
    } = match read_post(&state, &req, caller, fields, CONFIRM_PASSKEY).await {
        Ok(posted) => posted,
        Err(e) => return e.render(&state, &req).await,
    };
    let bad = StatusCode::BAD_REQUEST;
    let ceremony = fields.take("ceremony").unwrap_or_default();
    let name = fields.take("name").filter(|n| !n.trim().is_empty());
    let Some(credential) = passkey::credential::<RegisterPublicKeyCredential>(&mut fields) else {
        return home(&state, &session, "", Some((bad, NOT_REGISTERED))).await;
    };
    let finished = factors::passkey::finish_registration(
        &state.services,
        session.user_id,
        session.id,
        &ceremony,
        &credential,
        name.as_deref(),
        &caller.meta,
    )
    .await;
    match finished {
        Ok(registered) => match registered.recovery_codes {
            Some(codes) => codes_page(&state, &codes, "Your passkey is set up."),
            None => see_other(&state, "/account/security?done=passkey_added", &[]),
        },
        Err(ServiceError::InvalidPasskeyRegistration | ServiceError::InvalidCeremony) => {
            home(&state, &session, "", Some((bad, NOT_REGISTERED))).await
        }
        Err(ServiceError::FactorExists) => {
            let error = "That passkey is already added.";
            home(&state, &session, "", Some((StatusCode::CONFLICT, error))).await
        }
        Err(ServiceError::Input(InputError::PasskeyName)) => {
            home(&state, &session, "", Some((bad, BAD_NAME))).await
        }
        Err(e) => refused(&state, &req, &session, e).await,
    }
}

/// The passkey a form names (`id`); a value that is not an id names none.
fn passkey_id(fields: &mut PageForm) -> Result<Uuid, ServiceError> {
    let id = fields.take("id").unwrap_or_default();
    Uuid::parse_str(&id).map_err(|_| ServiceError::NoSuchFactor)
}

/// `POST /account/security/passkeys/rename`: `csrf`, `id`, `name`.
pub async fn rename_passkey(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Result<Caller, ApiError>,
    fields: Result<PageForm, PageError>,
) -> HttpResponse {
    let Posted {
        session,
        mut fields,
        ..
    } = match read_post(&state, &req, caller, fields, RENAME_PASSKEY).await {
        Ok(posted) => posted,
        Err(e) => return e.render(&state, &req).await,
    };
    let name = fields.take("name").unwrap_or_default();
    let renamed = match passkey_id(&mut fields) {
        Ok(id) => factors::passkey::rename(&state.services, session.user_id, id, &name).await,
        Err(e) => Err(e),
    };
    match renamed {
        Ok(()) => see_other(&state, "/account/security?done=passkey_renamed", &[]),
        Err(ServiceError::Input(InputError::PasskeyName)) => {
            home(
                &state,
                &session,
                "",
                Some((StatusCode::BAD_REQUEST, BAD_NAME)),
            )
            .await
        }
        Err(e) => refused(&state, &req, &session, e).await,
    }
}

/// `POST /account/security/passkeys/remove`: `csrf`, `id`, `password`.
pub async fn remove_passkey(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Result<Caller, ApiError>,
    fields: Result<PageForm, PageError>,
) -> HttpResponse {
    let Posted {
        caller,
        session,
        mut fields,
    } = match read_post(&state, &req, caller, fields, REMOVE_PASSKEY).await {
        Ok(posted) => posted,
        Err(e) => return e.render(&state, &req).await,
    };
    let id = match passkey_id(&mut fields) {
        Ok(id) => id,
        Err(e) => return refused(&state, &req, &session, e).await,
    };
    let Some(password) = password(&state, &mut fields) else {
        return refused(&state, &req, &session, ServiceError::InvalidCredentials).await;
    };
    let (svc, user) = (&state.services, session.user_id);
    match accounts::second_factor::remove_passkey(
        svc,
        user,
        session.id,
        id,
        &password,
        &caller.meta,
    )
    .await
    {
        Ok(()) => see_other(&state, "/account/security?done=passkey_removed", &[]),
        Err(e) => refused(&state, &req, &session, e).await,
    }
}
