//! The security page's own sign-in (`/account/security/sign-in`), for a
//! visitor without a browser session at authd and for re-authentication
//! (step-up): the password form, then, for an account with a second factor,
//! the code form (`/account/security/sign-in/mfa`); under `mfa.required`,
//! for an account without one, the enrolment step (`sign_in_enrol.rs`). Both sign in through
//! the services and throttles of the hosted login page
//! (`accounts::login_in_browser`, `accounts::second_factor::verify_in_browser`),
//! start a browser session, set its cookie and answer 303 to the security
//! page, a fixed path: no authorization request is involved and no
//! destination is read from the request, so there is nothing to redirect
//! elsewhere.
//!
//! These forms exist before any session, so their CSRF tokens are bound to
//! the browser's binding cookie (`form::binding_or_new`, as the pages of
//! emailed links), and the code form's to the challenge as well: a login
//! CSRF (signing a victim's browser into the attacker's account) needs a
//! token of the victim's browser.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use secrecy::{ExposeSecret, SecretString};

use super::super::form::{PageForm, binding, binding_or_new};
use super::super::request::browser_cookie;
use super::super::{Page, PageError, see_other};
use super::HOME;
use crate::accounts::{self, BrowserSignIn};
use crate::domain::{Email, Password};
use crate::error::ServiceError;
use crate::factors::Presented;
use crate::http::ApiError;
use crate::http::extractors::Caller;
use crate::http::state::AppState;
use crate::sessions::browser::BrowserSession;

/// The sign-in form's path.
pub const PATH: &str = "/account/security/sign-in";

/// The forms' names their CSRF tokens are bound to.
const FORM: &str = "security_sign_in";
const MFA_FORM: &str = "security_sign_in_mfa";

/// Why the sign-in form is shown.
pub enum Why {
    /// Asked for (200).
    Asked,
    /// A POST of the security page without a session (401).
    SignedOut,
    /// A change that needs a recent second factor (401).
    StepUp,
    /// A wrong email or password (401, never which).
    Wrong,
}

impl Why {
    fn status(&self) -> StatusCode {
        match self {
            Self::Asked => StatusCode::OK,
            _ => StatusCode::UNAUTHORIZED,
        }
    }

    fn notice(&self) -> &'static str {
        match self {
            Self::SignedOut => "Sign in to see and change the security of your account.",
            Self::StepUp => {
                "This change needs a recent sign-in with your second factor. \
                 Sign in again with your password and your authenticator app, then make the change."
            }
            Self::Asked | Self::Wrong => "",
        }
    }

    fn error(&self) -> &'static str {
        match self {
            Self::Wrong => "The email or password is not right.",
            _ => "",
        }
    }
}

/// `GET /account/security/sign-in`.
pub async fn form(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    page(&state, &req, "", Why::Asked)
}

/// The password form, with `email` filled in, its CSRF token bound to the
/// browser's binding (the cookie set now if it has none).
pub fn page(state: &AppState, req: &HttpRequest, email: &str, why: Why) -> HttpResponse {
    let (binding, cookie) = match binding_or_new(req) {
        Ok(b) => b,
        Err(e) => return e.render(state),
    };
    let vars = minijinja::context! {
        csrf_token => crate::csrf::issue(&state.services.refresh, FORM, &binding),
        email => email,
        notice => why.notice(),
        error => why.error(),
    };
    let mut builder = HttpResponse::build(why.status());
    if let Some(cookie) = cookie {
        builder.cookie(cookie);
    }
    Page::new("security_sign_in.html", vars).respond(state, builder)
}

fn mfa_binding(binding: &str, challenge: &str) -> String {
    format!("{binding} {challenge}")
}

/// The code form for `challenge`, with `error` shown (401).
fn mfa_page(
    state: &AppState,
    binding: &str,
    challenge: &SecretString,
    error: Option<&str>,
) -> HttpResponse {
    let challenge = challenge.expose_secret();
    let vars = minijinja::context! {
        challenge => challenge,
        csrf_token => crate::csrf::issue(
            &state.services.refresh, MFA_FORM, &mfa_binding(binding, challenge)
        ),
        error => error.unwrap_or_default(),
    };
    let status = match error {
        Some(_) => StatusCode::UNAUTHORIZED,
        None => StatusCode::OK,
    };
    Page::new("security_sign_in_mfa.html", vars)
        .status(status)
        .render(state)
}

/// What the POSTs of the sign-in check first: the caller, the form, and its CSRF token
/// bound to the browser's binding and what `bind` adds from the fields.
pub(super) fn read(
    state: &AppState,
    req: &HttpRequest,
    caller: Result<Caller, ApiError>,
    fields: Result<PageForm, PageError>,
    form: &str,
    bind: impl FnOnce(&str, &PageForm) -> String,
) -> Result<(Caller, PageForm, String), PageError> {
    let caller = caller?;
    let mut fields = fields?;
    let browser = binding(req);
    let bound = browser.as_deref().map(|b| bind(b, &fields));
    crate::csrf::check(
        &state.services.refresh,
        form,
        bound.as_deref(),
        fields.get("csrf"),
    )?;
    fields.take("csrf");
    Ok((caller, fields, browser.unwrap_or_default()))
}

/// `POST /account/security/sign-in`: `csrf`, `email`, `password`.
pub async fn submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Result<Caller, ApiError>,
    fields: Result<PageForm, PageError>,
) -> HttpResponse {
    let (caller, mut fields, binding) =
        match read(&state, &req, caller, fields, FORM, |b, _| b.to_owned()) {
            Ok(read) => read,
            Err(e) => return e.render(&state),
        };
    let svc = &state.services;
    let email = fields.take("email").unwrap_or_default();
    let password = SecretString::from(fields.take("password").unwrap_or_default());
    let parsed = Email::parse(&email).and_then(|e| {
        Password::parse_existing(password, svc.settings.password.max_length).map(|p| (e, p))
    });
    let Ok((address, password)) = parsed else {
        return page(&state, &req, &email, Why::Wrong);
    };
    match accounts::login_in_browser(svc, &address, &password, &caller.meta).await {
        Ok(BrowserSignIn::Complete(session)) => signed_in(&state, &session),
        Ok(BrowserSignIn::SecondFactor(challenge)) => {
            mfa_page(&state, &binding, &challenge.token, None)
        }
        Ok(BrowserSignIn::EnrolFactor(challenge)) => {
            super::sign_in_enrol::first(&state, &binding, &challenge.token).await
        }
        Err(ServiceError::InvalidCredentials) => page(&state, &req, &email, Why::Wrong),
        Err(e) => PageError::from(e).render(&state),
    }
}

/// What a wrong code shows.
const WRONG_CODE: &str = "That code is not right. Try the next code your app shows.";

/// `POST /account/security/sign-in/mfa`: `challenge`, `csrf`, `code`.
pub async fn submit_mfa(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Result<Caller, ApiError>,
    fields: Result<PageForm, PageError>,
) -> HttpResponse {
    let bind = |b: &str, f: &PageForm| mfa_binding(b, f.get("challenge").unwrap_or_default());
    let (caller, mut fields, binding) = match read(&state, &req, caller, fields, MFA_FORM, bind) {
        Ok(read) => read,
        Err(e) => return e.render(&state),
    };
    let challenge = SecretString::from(fields.take("challenge").unwrap_or_default());
    let code = SecretString::from(fields.take("code").unwrap_or_default());
    if code.expose_secret().is_empty() || code.expose_secret().len() > 32 {
        return mfa_page(&state, &binding, &challenge, Some(WRONG_CODE));
    }
    let outcome = accounts::second_factor::verify_in_browser(
        &state.services,
        challenge.expose_secret(),
        &Presented::from_field(code),
        &caller.meta,
    )
    .await;
    match outcome {
        Ok(BrowserSignIn::Complete(session)) => signed_in(&state, &session),
        Ok(BrowserSignIn::SecondFactor(_) | BrowserSignIn::EnrolFactor(_)) => {
            PageError::Internal.render(&state)
        }
        Err(ServiceError::WrongSecondFactor) => {
            mfa_page(&state, &binding, &challenge, Some(WRONG_CODE))
        }
        Err(e) => PageError::from(e).render(&state),
    }
}

/// The browser session's cookie on a 303 to the security page.
fn signed_in(state: &AppState, session: &BrowserSession) -> HttpResponse {
    let mut response = see_other(state, HOME, &[]);
    if response
        .add_cookie(&browser_cookie(&state.services, session))
        .is_err()
    {
        return PageError::Internal.render(state);
    }
    response
}
