//! The login page's enrolment step under `mfa.required` (`POST
//! /login/mfa/enrol`): after a right first proof of a user without a second
//! factor, the page shows a new TOTP secret (in text, and its `otpauth://`
//! URI) and a code field, the challenge and a CSRF token bound to the request
//! id and the challenge. Its POST confirms the factor and finishes the
//! sign-in through `accounts::enrolment::confirm_in_browser` (a browser
//! session at authd), then shows the recovery codes once, with a link to the
//! flow's next step (consent, or the client with its code). A wrong code
//! shows the same secret again (401); a challenge no longer valid is an
//! error page (sign in again).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use secrecy::{ExposeSecret, SecretString};

use super::form::PageForm;
use super::request::{Posted, read_post, with_session_cookie};
use super::{Page, PageError};
use crate::accounts::BrowserSignIn;
use crate::accounts::enrolment::{self, Enrolled};
use crate::error::ServiceError;
use crate::factors::TotpEnrolment;
use crate::http::ApiError;
use crate::http::extractors::Caller;
use crate::http::state::AppState;
use crate::oauth::flow::{self, LoginView, Next, Refusal};
use crate::sessions::browser::BrowserSession;

/// The form name its CSRF token is bound to (with the request id and the
/// challenge).
const FORM: &str = "login_mfa_enrol";

fn binding(request: &str, challenge: &str) -> String {
    format!("{request} {challenge}")
}

/// The enrolment step for `view` and `challenge`, just reached from a sign-in
/// form: a new TOTP secret begun for the challenge's user.
pub(super) async fn first(
    state: &AppState,
    view: &LoginView,
    challenge: &SecretString,
) -> HttpResponse {
    match enrolment::start_in_browser(&state.services, challenge.expose_secret()).await {
        Ok(enrolment) => page(state, view, challenge, &enrolment, None),
        Err(e) => PageError::from(e).render(state),
    }
}

fn page(
    state: &AppState,
    view: &LoginView,
    challenge: &SecretString,
    enrolment: &TotpEnrolment,
    error: Option<&str>,
) -> HttpResponse {
    let request = view.request.to_string();
    let challenge = challenge.expose_secret();
    let vars = minijinja::context! {
        request => &request,
        challenge => challenge,
        csrf_token => crate::csrf::issue(&state.services.refresh, FORM, &binding(&request, challenge)),
        client_name => &view.client_name,
        secret => enrolment.secret.expose_secret(),
        otpauth_uri => enrolment.uri.expose_secret(),
        error => error.unwrap_or_default(),
    };
    let status = if error.is_some() {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::OK
    };
    Page::new("login_mfa_enrol.html", vars)
        .status(status)
        .lead_to_client(view.client_origin.as_deref())
        .render(state)
}

/// What a wrong code shows.
const WRONG: &str =
    "That code is not right. Check that the app shows this account, and try its next code.";

/// `POST /login/mfa/enrol`: `request`, `challenge`, `csrf`, `code`.
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
    let code = fields.take("code").unwrap_or_default();
    let code = code.trim();
    let outcome = if code.is_empty() || code.len() > 16 {
        Err(ServiceError::WrongEnrolmentCode)
    } else {
        enrolment::confirm_in_browser(svc, challenge.expose_secret(), code, &caller.meta).await
    };
    match outcome {
        Ok(Enrolled {
            outcome: BrowserSignIn::Complete(session),
            recovery_codes,
        }) => codes_page(&state, &view, &session, recovery_codes.as_deref()).await,
        Ok(_) => PageError::Internal.render(&state),
        Err(ServiceError::WrongEnrolmentCode) => {
            match enrolment::shown_in_browser(svc, challenge.expose_secret()).await {
                Ok(enrolment) => page(&state, &view, &challenge, &enrolment, Some(WRONG)),
                Err(e) => PageError::from(e).render(&state),
            }
        }
        Err(e) => PageError::from(e).render(&state),
    }
}

/// The recovery codes, shown once, with the link to the flow's next step for
/// the request of `view`, and the cookie of the new browser session.
async fn codes_page(
    state: &AppState,
    view: &LoginView,
    session: &BrowserSession,
    codes: Option<&[SecretString]>,
) -> HttpResponse {
    let next = match flow::signed_in(&state.services, view.request, session).await {
        Ok(next) => next,
        Err(Refusal::Redirect(to)) => Next::Client(to),
        Err(e) => {
            let refused = super::flow_answer(state, Err(e));
            return with_session_cookie(state, refused, session);
        }
    };
    let shown = codes
        .map(crate::factors::recovery::shown)
        .unwrap_or_default();
    let vars = minijinja::context! {
        client_name => &view.client_name,
        recovery_codes => shown,
        next => next.location(),
    };
    let response = Page::new("login_recovery_codes.html", vars).render(state);
    with_session_cookie(state, response, session)
}
