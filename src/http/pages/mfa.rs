//! The second step of the hosted login page (`POST /login/mfa`): after a
//! right password for an account with a second factor, the login page shows
//! this form (a TOTP or recovery code, the challenge and a CSRF token bound
//! to the request id and the challenge); its POST finishes the sign-in
//! through `accounts::second_factor::verify_in_browser` (the same checks and
//! throttle as `POST /auth/mfa/verify`), starts the browser session, sets its
//! cookie and sends the browser on as the login page does. A wrong code
//! shows the form again (401); a challenge that is no longer valid is an
//! error page (sign in again).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use secrecy::{ExposeSecret, SecretString};

use super::form::PageForm;
use super::request::{Posted, read_post, signed_in};
use super::{Page, PageError};
use crate::accounts::{self, BrowserSignIn};
use crate::error::ServiceError;
use crate::factors::Presented;
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

/// The form for `view` and `challenge`, with `error` shown.
pub(super) fn page(
    state: &AppState,
    view: &LoginView,
    challenge: &SecretString,
    error: Option<&str>,
) -> HttpResponse {
    let request = view.request.to_string();
    let challenge = challenge.expose_secret();
    let vars = minijinja::context! {
        request => &request,
        challenge => challenge,
        csrf_token => crate::csrf::issue(&state.services.refresh, FORM, &binding(&request, challenge)),
        client_name => &view.client_name,
        error => error.unwrap_or_default(),
    };
    let status = if error.is_some() {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::OK
    };
    Page::new("login_mfa.html", vars)
        .status(status)
        .lead_to_client(view.client_origin.as_deref())
        .render(state)
}

/// What a wrong code shows.
const WRONG: &str = "That code is not right. Try the next code your app shows.";

/// `POST /login/mfa`: `request`, `challenge`, `csrf`, `code`.
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
    let code = SecretString::from(fields.take("code").unwrap_or_default());
    if code.expose_secret().is_empty() || code.expose_secret().len() > 32 {
        return page(&state, &view, &challenge, Some(WRONG));
    }
    let presented = Presented::from_field(code);
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
        Err(ServiceError::WrongSecondFactor) => page(&state, &view, &challenge, Some(WRONG)),
        Err(e) => PageError::from(e).render(&state),
    }
}
