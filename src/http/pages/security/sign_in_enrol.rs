//! The security page's sign-in under `mfa.required`
//! (`/account/security/sign-in/enrol`): a right password of a user without a
//! second factor starts no session but an enrolment (`SignIn::EnrolFactor`),
//! so this step shows a new TOTP secret (a QR code, the key in text) and a
//! code field. Its POST confirms the factor and finishes the sign-in through
//! `accounts::enrolment::confirm_in_browser`, as the hosted login page's
//! enrolment step does, then shows the recovery codes once with the cookie
//! of the new browser session, and a link to the security page (a fixed
//! path). A wrong code shows the same secret again (401); a challenge no
//! longer valid is an error page (sign in again).
//!
//! The CSRF token is bound to the browser's binding cookie and the
//! challenge, as the code form of the sign-in is.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use secrecy::{ExposeSecret, SecretString};

use super::super::form::PageForm;
use super::super::request::browser_cookie;
use super::super::{Page, PageError};
use super::qr;
use super::sign_in::read;
use crate::accounts::BrowserSignIn;
use crate::accounts::enrolment::{self, Enrolled};
use crate::error::ServiceError;
use crate::factors::TotpEnrolment;
use crate::http::ApiError;
use crate::http::extractors::Caller;
use crate::http::state::AppState;

/// The form's name its CSRF token is bound to (with the binding and the
/// challenge).
const FORM: &str = "security_sign_in_enrol";

fn form_binding(binding: &str, challenge: &str) -> String {
    format!("{binding} {challenge}")
}

/// The enrolment step, just reached from the password form: a new TOTP
/// secret begun for the challenge's user.
pub(super) async fn first(
    state: &AppState,
    binding: &str,
    challenge: &SecretString,
) -> HttpResponse {
    match enrolment::start_in_browser(&state.services, challenge.expose_secret()).await {
        Ok(enrolment) => page(state, binding, challenge, &enrolment, None),
        Err(e) => PageError::from(e).render(state),
    }
}

fn page(
    state: &AppState,
    binding: &str,
    challenge: &SecretString,
    enrolment: &TotpEnrolment,
    error: Option<&str>,
) -> HttpResponse {
    let challenge = challenge.expose_secret();
    let vars = minijinja::context! {
        challenge => challenge,
        csrf_token => crate::csrf::issue(
            &state.services.refresh, FORM, &form_binding(binding, challenge)
        ),
        secret => enrolment.secret.expose_secret(),
        qr => qr::data_uri(enrolment.uri.expose_secret()).unwrap_or_default(),
        error => error.unwrap_or_default(),
    };
    let status = match error {
        Some(_) => StatusCode::UNAUTHORIZED,
        None => StatusCode::OK,
    };
    Page::new("security_sign_in_enrol.html", vars)
        .status(status)
        .render(state)
}

/// What a wrong code shows.
const WRONG: &str =
    "That code is not right. Check that the app shows this account, and try its next code.";

/// `POST /account/security/sign-in/enrol`: `challenge`, `csrf`, `code`.
pub async fn submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Result<Caller, ApiError>,
    fields: Result<PageForm, PageError>,
) -> HttpResponse {
    let bind = |b: &str, f: &PageForm| form_binding(b, f.get("challenge").unwrap_or_default());
    let (caller, mut fields, binding) = match read(&state, &req, caller, fields, FORM, bind) {
        Ok(read) => read,
        Err(e) => return e.render(&state),
    };
    let svc = &state.services;
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
        }) => {
            let shown = recovery_codes
                .as_deref()
                .map(crate::factors::recovery::shown)
                .unwrap_or_default();
            let vars = minijinja::context! { enrolled => true, codes => shown };
            let mut response = Page::new("security_recovery_codes.html", vars).render(&state);
            if response.add_cookie(&browser_cookie(svc, &session)).is_err() {
                return PageError::Internal.render(&state);
            }
            response
        }
        Ok(_) => PageError::Internal.render(&state),
        Err(ServiceError::WrongEnrolmentCode) => {
            match enrolment::shown_in_browser(svc, challenge.expose_secret()).await {
                Ok(enrolment) => page(&state, &binding, &challenge, &enrolment, Some(WRONG)),
                Err(e) => PageError::from(e).render(&state),
            }
        }
        Err(e) => PageError::from(e).render(&state),
    }
}
