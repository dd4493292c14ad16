//! The hosted login page of an authorization (`/login?request=<id>`): the
//! password form (email, password; the email filled in from `login_hint`),
//! and, with `accounts.otp_enabled`, a second form that asks for a code by
//! email instead (`login_code.rs`). The password POST signs in through the
//! same `accounts` service and throttles as `POST /auth/login`
//! (`accounts::login_in_browser`), starts the browser session at authd, sets
//! its cookie, and sends the browser on with 303 (the consent page, or the
//! client with its code). A wrong email or password shows the form again
//! (401) and never says which was wrong. Each form's CSRF token is bound to
//! the request id.

use actix_web::{HttpRequest, HttpResponse, web};
use secrecy::SecretString;

use super::PageError;
use super::form::PageForm;
use super::request::{
    LOGIN_FORM, LoginError, Posted, login_page, query_param, read_post, refused, request_id,
    signed_in,
};
use crate::accounts::{self, BrowserSignIn};
use crate::domain::{Email, Password};
use crate::error::ServiceError;
use crate::http::ApiError;
use crate::http::extractors::Caller;
use crate::http::state::AppState;
use crate::oauth::flow;

/// `GET /login?request=<id>`.
pub async fn form(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let shown = async {
        let id = request_id(query_param(&req, "request").as_deref())?;
        flow::login_view(&state.services, id).await.map_err(refused)
    }
    .await;
    match shown {
        Ok(view) => login_page(&state, &view, &view.login_hint, LoginError::None),
        Err(e) => e.render(&state),
    }
}

/// What a wrong email or password shows (never which).
const WRONG: &str = "The email or password is not right.";

/// `POST /login`: `request`, `csrf`, `email`, `password`.
pub async fn submit(
    state: web::Data<AppState>,
    caller: Result<Caller, ApiError>,
    fields: Result<PageForm, PageError>,
) -> HttpResponse {
    let svc = &state.services;
    let read = read_post(svc, caller, fields, LOGIN_FORM, |id, _| Ok(id.to_string())).await;
    let Posted {
        caller,
        mut fields,
        view,
    } = match read {
        Ok(posted) => posted,
        Err(e) => return e.render(&state),
    };
    let email = fields.take("email").unwrap_or_default();
    let password = SecretString::from(fields.take("password").unwrap_or_default());
    let wrong = || login_page(&state, &view, &email, LoginError::Password(WRONG));
    let parsed = Email::parse(&email).and_then(|e| {
        let max = svc.settings.password.max_length;
        Password::parse_existing(password, max).map(|p| (e, p))
    });
    let Ok((address, password)) = parsed else {
        return wrong();
    };
    match accounts::login_in_browser(svc, &address, &password, &caller.meta).await {
        Ok(BrowserSignIn::Complete(session)) => signed_in(&state, view.request, &session).await,
        Ok(BrowserSignIn::SecondFactor(challenge)) => {
            super::mfa::page(&state, &view, &challenge.token, None)
        }
        Ok(BrowserSignIn::EnrolFactor(challenge)) => {
            super::mfa_enrol::first(&state, &view, &challenge.token).await
        }
        Err(ServiceError::InvalidCredentials) => wrong(),
        Err(e) => PageError::from(e).render(&state),
    }
}
