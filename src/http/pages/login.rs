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
//!
//! With passkeys on, the page also offers a passwordless sign-in (a
//! discoverable ceremony begun for the page: `passkey::sign_in_offer`): a
//! "Sign in with a passkey" button, and the passkeys in the email field's
//! autofill (`autocomplete="username webauthn"`, conditional mediation).
//! Its answer is posted to `POST /login/passkey`, finished by
//! `accounts::passkey_sign_in::finish_in_browser`, and continues the
//! authorization as the password form does. A refused passkey shows the page
//! again (401) with a new ceremony.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use secrecy::{ExposeSecret, SecretString};
use webauthn_rs::prelude::PublicKeyCredential;

use super::form::PageForm;
use super::request::{
    LOGIN_FORM, LoginError, PASSKEY_FORM, Posted, login_page, query_param, read_post, refused,
    request_id, signed_in,
};
use super::{PageError, passkey};
use crate::accounts::{self, BrowserSignIn};
use crate::domain::{Email, Password};
use crate::error::ServiceError;
use crate::http::ApiError;
use crate::http::extractors::Caller;
use crate::http::state::AppState;
use crate::oauth::flow;

/// `GET /login?request=<id>`.
pub async fn form(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Result<Caller, ApiError>,
) -> HttpResponse {
    let svc = &state.services;
    let shown = async {
        let caller = caller?;
        let id = request_id(query_param(&req, "request").as_deref())?;
        let view = flow::login_view(svc, id).await.map_err(refused)?;
        Ok::<_, PageError>((caller, view))
    }
    .await;
    match shown {
        Ok((caller, view)) => {
            let passkey = passkey::sign_in_offer(svc, &caller.meta).await;
            login_page(&state, &view, &view.login_hint, LoginError::None, passkey)
        }
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
    let wrong = || async {
        let passkey = passkey::sign_in_offer(svc, &caller.meta).await;
        login_page(&state, &view, &email, LoginError::Password(WRONG), passkey)
    };
    let parsed = Email::parse(&email).and_then(|e| {
        let max = svc.settings.password.max_length;
        Password::parse_existing(password, max).map(|p| (e, p))
    });
    let Ok((address, password)) = parsed else {
        return wrong().await;
    };
    match accounts::login_in_browser(svc, &address, &password, &caller.meta).await {
        Ok(BrowserSignIn::Complete(session)) => signed_in(&state, view.request, &session).await,
        Ok(BrowserSignIn::SecondFactor(challenge)) => {
            super::mfa::first_page(&state, &view, &challenge, &caller.meta).await
        }
        Ok(BrowserSignIn::EnrolFactor(challenge)) => {
            super::mfa_enrol::first(&state, &view, &challenge.token).await
        }
        Err(ServiceError::InvalidCredentials) => wrong().await,
        Err(e) => PageError::from(e).render(&state),
    }
}

/// What a refused passkey shows (never why).
const PASSKEY_REFUSED: &str = "That passkey was not accepted. Try again, or sign in another way.";
/// What an answer that is not a passkey's shows.
const PASSKEY_UNREAD: &str = "No passkey answer came with the form. Try again.";

/// `POST /login/passkey`: `request`, `csrf`, `ceremony`, `credential` (the
/// authenticator's answer as JSON, filled in by `/assets/passkeys.js`).
pub async fn passkey(
    state: web::Data<AppState>,
    caller: Result<Caller, ApiError>,
    fields: Result<PageForm, PageError>,
) -> HttpResponse {
    let svc = &state.services;
    let read = read_post(
        svc,
        caller,
        fields,
        PASSKEY_FORM,
        |id, _| Ok(id.to_string()),
    )
    .await;
    let Posted {
        caller,
        mut fields,
        view,
    } = match read {
        Ok(posted) => posted,
        Err(e) => return e.render(&state),
    };
    let again = |status, error| {
        let (state, meta, view) = (&state, &caller.meta, &view);
        async move {
            let offer = passkey::sign_in_offer(svc, meta).await;
            let error = LoginError::Passkey(status, error);
            login_page(state, view, &view.login_hint, error, offer)
        }
    };
    let ceremony = SecretString::from(fields.take("ceremony").unwrap_or_default());
    let Some(credential) = passkey::credential::<PublicKeyCredential>(&mut fields) else {
        return again(StatusCode::BAD_REQUEST, PASSKEY_UNREAD).await;
    };
    let finished = accounts::passkey_sign_in::finish_in_browser(
        svc,
        ceremony.expose_secret(),
        &credential,
        &caller.meta,
    )
    .await;
    match finished {
        Ok(BrowserSignIn::Complete(session)) => signed_in(&state, view.request, &session).await,
        // A passkey is a second factor: nothing is left to ask.
        Ok(BrowserSignIn::SecondFactor(_) | BrowserSignIn::EnrolFactor(_)) => {
            PageError::Internal.render(&state)
        }
        Err(ServiceError::InvalidPasskey | ServiceError::InvalidCeremony) => {
            again(StatusCode::UNAUTHORIZED, PASSKEY_REFUSED).await
        }
        Err(e) => PageError::from(e).render(&state),
    }
}
