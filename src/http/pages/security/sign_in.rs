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
//! With passkeys on, the password form's page also offers a passwordless
//! sign-in (`POST /account/security/sign-in/passkey`, through
//! `accounts::passkey_sign_in::finish_in_browser`, the button and the
//! autofill of the login page), and the code form the user's passkey when
//! the challenge lists it: a user whose only factor is a passkey can step up
//! here too.
//!
//! These forms exist before any session, so their CSRF tokens are bound to
//! the browser's binding cookie (`form::binding_or_new`, as the pages of
//! emailed links), and the code form's to the challenge as well: a login
//! CSRF (signing a victim's browser into the attacker's account) needs a
//! token of the victim's browser.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use secrecy::{ExposeSecret, SecretString};

use webauthn_rs::prelude::PublicKeyCredential;

use super::super::form::{PageForm, binding, binding_or_new};
use super::super::passkey;
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
const PASSKEY_FORM: &str = "security_sign_in_passkey";

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
    /// A passkey refused (401), or an answer that is not one (400).
    Passkey(StatusCode),
}

impl Why {
    fn status(&self) -> StatusCode {
        match self {
            Self::Asked => StatusCode::OK,
            Self::Passkey(status) => *status,
            _ => StatusCode::UNAUTHORIZED,
        }
    }

    fn notice(&self) -> &'static str {
        match self {
            Self::SignedOut => "Sign in to see and change the security of your account.",
            Self::StepUp => {
                "This change needs a recent sign-in with your second factor. \
                 Sign in again with your password and your second factor (or your passkey), \
                 then make the change."
            }
            Self::Asked | Self::Wrong | Self::Passkey(_) => "",
        }
    }

    fn error(&self) -> &'static str {
        match self {
            Self::Wrong => "The email or password is not right.",
            Self::Passkey(_) => "That passkey was not accepted. Try again, or sign in another way.",
            _ => "",
        }
    }
}

/// `GET /account/security/sign-in`.
pub async fn form(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    page(&state, &req, "", Why::Asked).await
}

/// The password form, with `email` filled in, its CSRF token bound to the
/// browser's binding (the cookie set now if it has none), and a passkey
/// sign-in when passkeys are on.
pub async fn page(state: &AppState, req: &HttpRequest, email: &str, why: Why) -> HttpResponse {
    let (binding, cookie) = match binding_or_new(req) {
        Ok(b) => b,
        Err(e) => return e.render(state),
    };
    let offer = match Caller::of(state, req) {
        Ok(caller) => passkey::sign_in_offer(&state.services, &caller.meta).await,
        Err(_) => None,
    };
    let offered = offer.is_some();
    let (ceremony, options) = offer.map(|o| (o.ceremony, o.options)).unwrap_or_default();
    let keys = &state.services.refresh;
    let vars = minijinja::context! {
        csrf_token => crate::csrf::issue(keys, FORM, &binding),
        email => email,
        notice => why.notice(),
        error => why.error(),
        passkey => offered,
        passkey_csrf => crate::csrf::issue(keys, PASSKEY_FORM, &binding),
        passkey_ceremony => ceremony,
        passkey_options => options,
    };
    let mut builder = HttpResponse::build(why.status());
    if let Some(cookie) = cookie {
        builder.cookie(cookie);
    }
    let page = Page::new("security_sign_in.html", vars);
    match offered {
        true => page.with_passkeys(),
        false => page,
    }
    .respond(state, builder)
}

fn mfa_binding(binding: &str, challenge: &str) -> String {
    format!("{binding} {challenge}")
}

/// The code form for `challenge`, with `error` shown (401), and the
/// user's passkey when `offered` (the challenge lists it; `None`: ask).
async fn mfa_page(
    state: &AppState,
    caller: &Caller,
    binding: &str,
    challenge: &SecretString,
    offered: Option<bool>,
    error: Option<&str>,
) -> HttpResponse {
    let token = challenge.expose_secret();
    let offer = passkey::second_factor_offer(&state.services, token, offered, &caller.meta).await;
    let passkey = offer.is_some();
    let (ceremony, options) = offer.map(|o| (o.ceremony, o.options)).unwrap_or_default();
    let vars = minijinja::context! {
        challenge => token,
        csrf_token => crate::csrf::issue(
            &state.services.refresh, MFA_FORM, &mfa_binding(binding, token)
        ),
        error => error.unwrap_or_default(),
        passkey => passkey,
        passkey_ceremony => ceremony,
        passkey_options => options,
    };
    let status = match error {
        Some(_) => StatusCode::UNAUTHORIZED,
        None => StatusCode::OK,
    };
    let page = Page::new("security_sign_in_mfa.html", vars).status(status);
    match passkey {
        true => page.with_passkeys(),
        false => page,
    }
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
        return page(&state, &req, &email, Why::Wrong).await;
    };
    match accounts::login_in_browser(svc, &address, &password, &caller.meta).await {
        Ok(BrowserSignIn::Complete(session)) => signed_in(&state, &session),
        Ok(BrowserSignIn::SecondFactor(challenge)) => {
            let offered = Some(passkey::lists_passkey(&challenge));
            mfa_page(&state, &caller, &binding, &challenge.token, offered, None).await
        }
        Ok(BrowserSignIn::EnrolFactor(challenge)) => {
            super::sign_in_enrol::first(&state, &binding, &challenge.token).await
        }
        Err(ServiceError::InvalidCredentials) => page(&state, &req, &email, Why::Wrong).await,
        Err(e) => PageError::from(e).render(&state),
    }
}

/// `POST /account/security/sign-in/passkey`: `csrf`, `ceremony`,
/// `credential` (the authenticator's answer, as JSON).
pub async fn submit_passkey(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Result<Caller, ApiError>,
    fields: Result<PageForm, PageError>,
) -> HttpResponse {
    let read = read(&state, &req, caller, fields, PASSKEY_FORM, |b, _| {
        b.to_owned()
    });
    let (caller, mut fields, _) = match read {
        Ok(read) => read,
        Err(e) => return e.render(&state),
    };
    let ceremony = SecretString::from(fields.take("ceremony").unwrap_or_default());
    let Some(credential) = passkey::credential::<PublicKeyCredential>(&mut fields) else {
        return page(&state, &req, "", Why::Passkey(StatusCode::BAD_REQUEST)).await;
    };
    let finished = accounts::passkey_sign_in::finish_in_browser(
        &state.services,
        ceremony.expose_secret(),
        &credential,
        &caller.meta,
    )
    .await;
    match finished {
        Ok(BrowserSignIn::Complete(session)) => signed_in(&state, &session),
        // A passkey is a second factor: nothing is left to ask.
        Ok(BrowserSignIn::SecondFactor(_) | BrowserSignIn::EnrolFactor(_)) => {
            PageError::Internal.render(&state)
        }
        Err(ServiceError::InvalidPasskey | ServiceError::InvalidCeremony) => {
            page(&state, &req, "", Why::Passkey(StatusCode::UNAUTHORIZED)).await
        }
        Err(e) => PageError::from(e).render(&state),
    }
}

/// What a wrong code shows.
const WRONG_CODE: &str = "That code is not right. Try the next code your app shows.";

/// What a refused passkey shows on the second step.
const PASSKEY_REFUSED: &str = "That passkey was not accepted. Try again, or enter a code.";

/// `POST /account/security/sign-in/mfa`: `challenge`, `csrf`, and `code`,
/// or `ceremony` and `credential` (a passkey's answer, as JSON).
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
    let offered = Some(fields.take("passkey_offered").as_deref() == Some("1"));
    let again = |error| {
        let (state, caller, binding, challenge) = (&state, &caller, &binding, &challenge);
        async move { mfa_page(state, caller, binding, challenge, offered, Some(error)).await }
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
                return again(WRONG_CODE).await;
            }
            Presented::from_field(code)
        }
    };
    let outcome = accounts::second_factor::verify_in_browser(
        &state.services,
        challenge.expose_secret(),
        &presented,
        &caller.meta,
    )
    .await;
    match outcome {
        Ok(BrowserSignIn::Complete(session)) => signed_in(&state, &session),
        Ok(BrowserSignIn::SecondFactor(_) | BrowserSignIn::EnrolFactor(_)) => {
            PageError::Internal.render(&state)
        }
        Err(ServiceError::WrongSecondFactor) => again(WRONG_CODE).await,
        Err(ServiceError::InvalidPasskey | ServiceError::InvalidCeremony) => {
            again(PASSKEY_REFUSED).await
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
