//! The security page's forms that change the account's second factors:
//! start a TOTP enrolment (the QR code and the secret in text), confirm it
//! with a first code (the recovery codes shown once), remove it (the
//! password again), and a new set of recovery codes (the password again).
//! Each POST is read by `read_post` (a usable browser session, the CSRF
//! token bound to it) and calls one service.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use secrecy::{ExposeSecret, SecretString};

use super::super::form::PageForm;
use super::super::{Page, PageError, see_other};
use super::{
    CONFIRM_TOTP, NEW_CODES, Posted, REMOVE_TOTP, START_TOTP, csrf, qr, read_post, refused,
};
use crate::accounts;
use crate::domain::Password;
use crate::error::ServiceError;
use crate::factors;
use crate::http::ApiError;
use crate::http::extractors::Caller;
use crate::http::state::AppState;
use crate::sessions::browser::BrowserSession;

/// `POST /account/security/totp`: `csrf`. The enrolment page: the QR code
/// of the otpauth URI, the secret for manual entry, the confirmation form.
pub async fn start_totp(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Result<Caller, ApiError>,
    fields: Result<PageForm, PageError>,
) -> HttpResponse {
    let Posted { session, .. } = match read_post(&state, &req, caller, fields, START_TOTP).await {
        Ok(posted) => posted,
        Err(e) => return e.render(&state, &req).await,
    };
    match factors::start_totp(&state.services, session.user_id, session.id).await {
        Ok(enrolment) => {
            let qr = qr::data_uri(enrolment.uri.expose_secret()).unwrap_or_default();
            enrolment_page(
                &state,
                &session,
                &qr,
                enrolment.secret.expose_secret(),
                None,
            )
        }
        Err(e) => refused(&state, &req, &session, e).await,
    }
}

/// The enrolment page; after a wrong first code (`error`, 400) without the
/// QR code and the secret, which authd does not show twice.
fn enrolment_page(
    state: &AppState,
    session: &BrowserSession,
    qr: &str,
    secret: &str,
    error: Option<&str>,
) -> HttpResponse {
    let vars = minijinja::context! {
        qr => qr,
        secret => secret,
        csrf_token => csrf(state, CONFIRM_TOTP, session),
        start_csrf => csrf(state, START_TOTP, session),
        error => error.unwrap_or_default(),
    };
    let status = match error {
        Some(_) => StatusCode::BAD_REQUEST,
        None => StatusCode::OK,
    };
    Page::new("security_totp.html", vars)
        .status(status)
        .render(state)
}

/// What a wrong first code shows.
const WRONG_CODE: &str = "That code is not right. Enter the code your app shows now.";

/// `POST /account/security/totp/confirm`: `csrf`, `code`. The recovery
/// codes, shown once, when TOTP is the account's first factor.
pub async fn confirm_totp(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Result<Caller, ApiError>,
    fields: Result<PageForm, PageError>,
) -> HttpResponse {
    let Posted {
        caller,
        session,
        mut fields,
    } = match read_post(&state, &req, caller, fields, CONFIRM_TOTP).await {
        Ok(posted) => posted,
        Err(e) => return e.render(&state, &req).await,
    };
    let code = SecretString::from(fields.take("code").unwrap_or_default());
    let code = code.expose_secret().trim();
    if code.is_empty() || code.len() > 32 {
        return enrolment_page(&state, &session, "", "", Some(WRONG_CODE));
    }
    let svc = &state.services;
    match factors::confirm_totp(svc, session.user_id, session.id, code, &caller.meta).await {
        Ok(Some(codes)) => codes_page(&state, &codes, "Your authenticator app is set up."),
        Ok(None) => see_other(&state, "/account/security?done=totp_added", &[]),
        Err(ServiceError::WrongEnrolmentCode) => {
            enrolment_page(&state, &session, "", "", Some(WRONG_CODE))
        }
        Err(e) => refused(&state, &req, &session, e).await,
    }
}

/// The recovery codes, shown once; `enrolled` says which first factor
/// brought them (empty: new codes asked for).
pub(super) fn codes_page(state: &AppState, codes: &[SecretString], enrolled: &str) -> HttpResponse {
    let codes: Vec<String> = codes.iter().map(|c| c.expose_secret().to_owned()).collect();
    let vars = minijinja::context! { codes => codes, enrolled => enrolled };
    Page::new("security_recovery_codes.html", vars).render(state)
}

/// The password of a form, or `None` if it cannot be one (refused as a
/// wrong one).
pub(super) fn password(state: &AppState, fields: &mut PageForm) -> Option<Password> {
    let given = SecretString::from(fields.take("password").unwrap_or_default());
    Password::parse_existing(given, state.settings().password.max_length).ok()
}

/// `POST /account/security/totp/remove`: `csrf`, `password`.
pub async fn remove_totp(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Result<Caller, ApiError>,
    fields: Result<PageForm, PageError>,
) -> HttpResponse {
    let Posted {
        caller,
        session,
        mut fields,
    } = match read_post(&state, &req, caller, fields, REMOVE_TOTP).await {
        Ok(posted) => posted,
        Err(e) => return e.render(&state, &req).await,
    };
    let Some(password) = password(&state, &mut fields) else {
        return refused(&state, &req, &session, ServiceError::InvalidCredentials).await;
    };
    let svc = &state.services;
    let user = session.user_id;
    match accounts::second_factor::remove_totp(svc, user, session.id, &password, &caller.meta).await
    {
        Ok(()) => see_other(&state, "/account/security?done=totp_removed", &[]),
        Err(e) => refused(&state, &req, &session, e).await,
    }
}

/// `POST /account/security/recovery-codes`: `csrf`, `password`. The new
/// codes, shown once; the old ones no longer work.
pub async fn regenerate_recovery_codes(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Result<Caller, ApiError>,
    fields: Result<PageForm, PageError>,
) -> HttpResponse {
    let Posted {
        caller,
        session,
        mut fields,
    } = match read_post(&state, &req, caller, fields, NEW_CODES).await {
        Ok(posted) => posted,
        Err(e) => return e.render(&state, &req).await,
    };
    let Some(password) = password(&state, &mut fields) else {
        return refused(&state, &req, &session, ServiceError::InvalidCredentials).await;
    };
    let svc = &state.services;
    let (user, id) = (session.user_id, session.id);
    match accounts::second_factor::regenerate_recovery_codes(svc, user, id, &password, &caller.meta)
        .await
    {
        Ok(codes) => codes_page(&state, &codes, ""),
        Err(e) => refused(&state, &req, &session, e).await,
    }
}
