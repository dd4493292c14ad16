//! The emailed code on the hosted login page, with `accounts.otp_enabled`
//! (off, both POSTs are refused with the `not_enabled` error page and the
//! login page offers no code form):
//!
//! - `POST /login/code` (`request`, `csrf`, `email`): the login page's "Email
//!   me a code instead". It starts the code exactly as `POST /auth/otp/start`
//!   does (`accounts::otp::start`: the per-client send limit, then the
//!   account's lookup, send budget, code and message after the answer), and
//!   answers with the code page for that address, the same whether or not
//!   the address has an account. The page is this POST's answer, not a 303
//!   to a GET: the address would otherwise travel in a URL (history, logs);
//!   sending the POST again asks for another code, under the same limits.
//! - `POST /login/code/verify` (`request`, `csrf`, `email`, `code`): signs in
//!   through the same service, limits and counts as `POST /auth/otp/verify`
//!   (`accounts::otp::verify_in_browser`: a browser session whose methods are
//!   `email_code`, `amr: ["otp"]`), then goes on as the password form does
//!   (`request::signed_in`). A wrong code shows the code page again (401,
//!   `invalid_credentials`); past the limits, the 429 error page.
//!
//! The start form's CSRF token is bound to the request id, the code form's
//! to the request id and the address the code was asked for: a code form is
//! refused for another request and for another address.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use super::form::PageForm;
use super::request::{CODE_START_FORM, LoginError, Posted, login_page, read_post, signed_in};
use super::{Page, PageError};
use crate::accounts::{self, BrowserSignIn};
use crate::domain::Email;
use crate::error::ServiceError;
use crate::http::ApiError;
use crate::http::extractors::Caller;
use crate::http::state::AppState;
use crate::oauth::flow::LoginView;

/// The form name the code form's CSRF token is bound to.
const CODE_FORM: &str = "login_code";

/// What the code form's CSRF token is bound to: the request and the address
/// (a request id has a fixed length, so the two cannot run together).
fn code_binding(request: Uuid, email: &Email) -> String {
    format!("{request} {}", email.as_str())
}

/// What the code form says of an address that is not one.
const NOT_AN_ADDRESS: &str = "Enter the email address to send the code to.";
/// What a refused code shows (never why).
const WRONG: &str = "This code is not right, or no longer works. Try again, or ask for a new one.";

/// `POST /login/code`.
pub async fn start(
    state: web::Data<AppState>,
    caller: Result<Caller, ApiError>,
    fields: Result<PageForm, PageError>,
) -> HttpResponse {
    let svc = &state.services;
    let read = read_post(svc, caller, fields, CODE_START_FORM, |id, _| {
        Ok(id.to_string())
    })
    .await;
    let Posted {
        caller,
        mut fields,
        view,
    } = match read.and_then(|posted| Ok(accounts::otp::enabled(svc).map(|()| posted)?)) {
        Ok(posted) => posted,
        Err(e) => return e.render(&state),
    };
    let raw = fields.take("email").unwrap_or_default();
    let Ok(email) = Email::parse(&raw) else {
        let passkey = super::passkey::sign_in_offer(svc, &caller.meta).await;
        return login_page(
            &state,
            &view,
            &raw,
            LoginError::Code(NOT_AN_ADDRESS),
            passkey,
        );
    };
    match accounts::otp::start(svc, &email, &caller.meta).await {
        Ok(()) => code_page(&state, &view, &email, None),
        Err(e) => PageError::from(e).render(&state),
    }
}

/// `POST /login/code/verify`.
pub async fn verify(
    state: web::Data<AppState>,
    caller: Result<Caller, ApiError>,
    fields: Result<PageForm, PageError>,
) -> HttpResponse {
    let svc = &state.services;
    // The address is the page's own hidden field: one that does not parse
    // was not written by authd.
    let address = |fields: &PageForm| Email::parse(fields.get("email").unwrap_or_default());
    let read = read_post(svc, caller, fields, CODE_FORM, |id, fields| {
        Ok(code_binding(id, &address(fields)?))
    })
    .await;
    let (caller, mut fields, view, email) = match read.and_then(|p| {
        let email = address(&p.fields)?;
        Ok((p.caller, p.fields, p.view, email))
    }) {
        Ok(read) => read,
        Err(e) => return e.render(&state),
    };
    let code = SecretString::from(fields.take("code").unwrap_or_default());
    let code = code.expose_secret().trim();
    match accounts::otp::verify_in_browser(svc, &email, code, &caller.meta).await {
        Ok(BrowserSignIn::Complete(session)) => signed_in(&state, view.request, &session).await,
        Ok(BrowserSignIn::SecondFactor(challenge)) => {
            super::mfa::first_page(&state, &view, &challenge, &caller.meta).await
        }
        Ok(BrowserSignIn::EnrolFactor(challenge)) => {
            super::mfa_enrol::first(&state, &view, &challenge.token).await
        }
        Err(e @ ServiceError::InvalidCredentials) => code_page(&state, &view, &email, Some(e)),
        Err(e) => PageError::from(e).render(&state),
    }
}

/// The code page for `email`, with the refusal of a code tried (401).
fn code_page(
    state: &AppState,
    view: &LoginView,
    email: &Email,
    refusal: Option<ServiceError>,
) -> HttpResponse {
    let request = view.request.to_string();
    let accounts = &state.settings().accounts;
    let refusal = refusal.map(PageError::from);
    let vars = minijinja::context! {
        request => &request,
        csrf_token => crate::csrf::issue(
            &state.services.refresh,
            CODE_FORM,
            &code_binding(view.request, email),
        ),
        client_name => &view.client_name,
        email => email.as_str(),
        digits => accounts.otp_digits,
        valid_minutes => accounts.otp_ttl_secs.div_ceil(60),
        error => if refusal.is_some() { WRONG } else { "" },
        error_code => refusal.as_ref().map(PageError::code).unwrap_or_default(),
    };
    let status = match refusal {
        Some(_) => StatusCode::UNAUTHORIZED,
        None => StatusCode::OK,
    };
    Page::new("login_code.html", vars)
        .status(status)
        .lead_to_client(view.client_origin.as_deref())
        .render(state)
}
