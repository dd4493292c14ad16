//! The second step of the hosted login page (`POST /login/mfa`): after a
//! right password for an account with a second factor, the login page shows
//! this form (a TOTP or recovery code, the challenge and a CSRF token bound
//! to the request id and the challenge); its POST finishes the sign-in
//! through `accounts::second_factor::verify_in_browser` (the same checks and
//! throttle as `POST /auth/mfa/verify`), starts the browser session, sets its
//! cookie and sends the browser on as the login page does. A wrong code
//! shows the form again (401); a challenge that is no longer valid is an
//! error page (sign in again).
//!
//! When the challenge lists `passkey` (and passkeys are on), the page also
//! offers the passkey: a ceremony begun for this challenge
//! (`accounts::second_factor::passkey_options_in_browser`), answered by the
//! script into the same form's `credential` field and checked by
//! `verify_in_browser` as `Presented::Passkey`. A refused passkey shows the
//! form again (401) with a new ceremony.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use secrecy::{ExposeSecret, SecretString};

use webauthn_rs::prelude::PublicKeyCredential;

use super::form::PageForm;
use super::passkey::{self, Offer};
use super::request::{Posted, read_post, signed_in};
use super::{Page, PageError};
use crate::accounts::{self, BrowserSignIn};
use crate::audit::RequestMeta;
use crate::error::ServiceError;
use crate::factors::Presented;
use crate::factors::challenge::Challenge;
use crate::http::ApiError;
use crate::http::extractors::Caller;
use crate::http::state::AppState;
use crate::oauth::flow::LoginView;

/// The form name its CSRF token is bound to (with the request id and the
/// challenge).
const FORM: &str = "login_mfa";

fn binding(request: &str, challenge: &str) -> String {
    format!("{request} {challenge}")
}

/// The second step just after the first proof: the form for `challenge`,
/// offering the passkey when the challenge lists it.
pub(super) async fn first_page(
    state: &AppState,
    view: &LoginView,
    challenge: &Challenge,
    meta: &RequestMeta,
) -> HttpResponse {
    let token = challenge.token.expose_secret();
    let offered = Some(passkey::lists_passkey(challenge));
    let offer = passkey::second_factor_offer(&state.services, token, offered, meta).await;
    page(state, view, &challenge.token, None, offer)
}

/// The form for `view` and `challenge`, with `error` shown, and the passkey
/// `passkey` offers.
fn page(
    state: &AppState,
    view: &LoginView,
    challenge: &SecretString,
    error: Option<&str>,
    passkey: Option<Offer>,
) -> HttpResponse {
    let request = view.request.to_string();
    let challenge = challenge.expose_secret();
    let offered = passkey.is_some();
    let (ceremony, options) = passkey.map(|o| (o.ceremony, o.options)).unwrap_or_default();
    let vars = minijinja::context! {
        request => &request,
        challenge => challenge,
        csrf_token => crate::csrf::issue(&state.services.refresh, FORM, &binding(&request, challenge)),
        client_name => &view.client_name,
        error => error.unwrap_or_default(),
        passkey => offered,
        passkey_ceremony => ceremony,
        passkey_options => options,
    };
    let status = if error.is_some() {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::OK
    };
    let page = Page::new("login_mfa.html", vars)
        .status(status)
        .lead_to_client(view.client_origin.as_deref());
    match offered {
        true => page.with_passkeys(),
        false => page,
    }
    .render(state)
}

/// What a wrong code shows.
const WRONG: &str = "That code is not right. Try the next code your app shows.";

/// What a refused passkey shows.
const PASSKEY_REFUSED: &str = "That passkey was not accepted. Try again, or enter a code.";

/// `POST /login/mfa`: `request`, `challenge`, `csrf`, and `code`, or
/// `ceremony` and `credential` (a passkey's answer, as JSON).
pub async fn submit(
    state: web::Data<AppState>,
    caller: Result<Caller, ApiError>,
    fields: Result<PageForm, PageError>,
) -> HttpResponse {
    let svc = &state.services;
    let read = read_post(svc, caller, fields, FORM, |id, fields| {
        Ok(binding(
            &id.to_string(),
            fields.get("challenge").unwrap_or_default(),
        ))
    })
    .await;
    let Posted {
        caller,
        mut fields,
        view,
    } = match read {
        Ok(posted) => posted,
        Err(e) => return e.render(&state),
    };
    let challenge = SecretString::from(fields.take("challenge").unwrap_or_default());
    // The page says whether it offered a passkey, so a user without one is
    // not offered one again at the cost of a ceremony.
    let offered = Some(fields.take("passkey_offered").as_deref() == Some("1"));
    let again = |error| {
        let (state, meta, view, challenge) = (&state, &caller.meta, &view, &challenge);
        async move {
            let token = challenge.expose_secret();
            let offer = passkey::second_factor_offer(svc, token, offered, meta).await;
            page(state, view, challenge, Some(error), offer)
        }
    };
    let ceremony = fields.take("ceremony").filter(|c| !c.is_empty());
    let presented = match ceremony {
        Some(ceremony) => match passkey::credential::<PublicKeyCredential>(&mut fields) {
            Some(credential) => Presented::Passkey {
                ceremony: SecretString::from(ceremony),
                credential: Box::new(credential),
            },
            None => return again(PASSKEY_REFUSED).await,
        },
        None => {
            let code = SecretString::from(fields.take("code").unwrap_or_default());
            if code.expose_secret().is_empty() || code.expose_secret().len() > 32 {
                return again(WRONG).await;
            }
            Presented::from_field(code)
        }
    };
    let outcome = accounts::second_factor::verify_in_browser(
        svc,
        challenge.expose_secret(),
        &presented,
        &caller.meta,
    )
    .await;
    match outcome {
        Ok(BrowserSignIn::Complete(session)) => signed_in(&state, view.request, &session).await,
        Ok(BrowserSignIn::SecondFactor(_) | BrowserSignIn::EnrolFactor(_)) => {
            PageError::Internal.render(&state)
        }
        Err(ServiceError::WrongSecondFactor) => again(WRONG).await,
        Err(ServiceError::InvalidPasskey | ServiceError::InvalidCeremony) => {
            again(PASSKEY_REFUSED).await
        }
        Err(e) => PageError::from(e).render(&state),
    }
}
