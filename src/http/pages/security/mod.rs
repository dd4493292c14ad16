//! The security page of a user signed in at authd (`/account/security`):
//! the second factors the account has (TOTP on, off or waiting for its
//! first code; the recovery codes left) and the forms that change them.
//! Every change goes through the services the JSON API uses
//! (`factors::start_totp`, `factors::confirm_totp`,
//! `accounts::second_factor::remove_totp` and
//! `accounts::second_factor::regenerate_recovery_codes`; for passkeys, when
//! they are on, `factors::passkey`'s registration, list and names and
//! `accounts::second_factor::remove_passkey`: `passkeys.rs`), with the
//! browser session's id as the session they act from; no rule lives here.
//!
//! - Who: the browser session at authd (`__Host-authd_session`, checked by
//!   `sessions::browser::usable`). Without one, the GET answers 303 to the
//!   page's own sign-in (`sign_in.rs`: a standalone password form and
//!   second step, not tied to any authorization request, which always
//!   returns to this page, a fixed path), and a POST shows that sign-in form
//!   (401) having done nothing.
//! - CSRF: the forms of this page are bound to the browser session's id, so
//!   a token works only in the session it was shown to.
//! - Step-up: when a service answers `StepUpRequired` (the user has a
//!   factor and this session was not signed in with one recently), the
//!   answer is the sign-in form (401) saying why: signing in again with the
//!   password and the second factor makes a fresh session.
//! - The recovery codes a change makes are shown once, in the answer to its
//!   POST (`Cache-Control: no-store` as every page); the TOTP secret too
//!   (as text for manual entry and as a QR code, `qr.rs`).
//! - Adding a passkey is the one form that needs JavaScript: its page loads
//!   `/assets/passkeys.js` (and its policy allows that script only).

mod changes;
mod passkeys;
mod qr;
mod sign_in;
mod sign_in_enrol;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::form::PageForm;
use super::request::query_param;
use super::{Page, PageError, see_other};
use crate::error::ServiceError;
use crate::http::ApiError;
use crate::http::extractors::Caller;
use crate::http::state::AppState;
use crate::sessions::browser::{self, BrowserSession};

pub use changes::{confirm_totp, regenerate_recovery_codes, remove_totp, start_totp};
pub use passkeys::{confirm_passkey, remove_passkey, rename_passkey, start_passkey};
pub use sign_in::{
    form as sign_in_form, submit as sign_in, submit_mfa as sign_in_mfa,
    submit_passkey as sign_in_passkey,
};
pub use sign_in_enrol::submit as sign_in_enrol;

/// The security page: where every sign-in and change here leads back to.
const HOME: &str = "/account/security";

/// The forms of the security page, each the name its CSRF token is bound to
/// (with the browser session's id).
const START_TOTP: &str = "security_totp_start";
const CONFIRM_TOTP: &str = "security_totp_confirm";
const REMOVE_TOTP: &str = "security_totp_remove";
const NEW_CODES: &str = "security_recovery_codes";
const START_PASSKEY: &str = "security_passkey_start";
const CONFIRM_PASSKEY: &str = "security_passkey_confirm";
const RENAME_PASSKEY: &str = "security_passkey_rename";
const REMOVE_PASSKEY: &str = "security_passkey_remove";

/// The notices a change leads back with (`?done=`); anything else shows none.
fn notice(done: Option<&str>) -> &'static str {
    match done {
        Some("totp_added") => "Your authenticator app is set up.",
        Some("totp_removed") => "Your authenticator app was removed, with its recovery codes.",
        Some("passkey_added") => "Your passkey is added.",
        Some("passkey_renamed") => "Your passkey is renamed.",
        Some("passkey_removed") => "Your passkey was removed.",
        _ => "",
    }
}

/// `GET /account/security`.
pub async fn show(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let session = match current(&state, &req).await {
        Ok(Some(session)) => session,
        Ok(None) => return see_other(&state, sign_in::PATH, &[]),
        Err(e) => return e.render(&state),
    };
    let done = query_param(&req, "done");
    home(&state, &session, notice(done.as_deref()), None).await
}

/// The security page of `session`'s user, with `notice` and a form's
/// `error` and the status it answers with.
async fn home(
    state: &AppState,
    session: &BrowserSession,
    notice: &str,
    error: Option<(StatusCode, &str)>,
) -> HttpResponse {
    let svc = &state.services;
    let status = match crate::factors::status(svc, session.user_id).await {
        Ok(status) => status,
        Err(e) => return PageError::from(e).render(state),
    };
    let passkeys_on = svc.webauthn.is_some();
    let listed = match passkeys_on {
        true => crate::factors::passkey::list(svc, session.user_id).await,
        false => Ok(Vec::new()),
    };
    let day = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d").to_string();
    let passkeys: Vec<minijinja::Value> = match listed {
        Ok(listed) => listed
            .into_iter()
            .map(|p| {
                minijinja::context! {
                    id => p.id.to_string(),
                    name => p.name,
                    created => day(p.created_at),
                    last_used => p.last_used_at.map(day).unwrap_or_default(),
                }
            })
            .collect(),
        Err(e) => return PageError::from(e).render(state),
    };
    let vars = minijinja::context! {
        totp => status.totp,
        totp_pending => status.totp_pending,
        recovery_codes_left => status.recovery_codes_left,
        has_factor => status.totp || status.passkeys > 0,
        totp_csrf => csrf(state, START_TOTP, session),
        remove_csrf => csrf(state, REMOVE_TOTP, session),
        codes_csrf => csrf(state, NEW_CODES, session),
        passkeys_on => passkeys_on,
        passkeys => passkeys,
        passkey_csrf => csrf(state, START_PASSKEY, session),
        rename_passkey_csrf => csrf(state, RENAME_PASSKEY, session),
        remove_passkey_csrf => csrf(state, REMOVE_PASSKEY, session),
        notice => notice,
        error => error.map(|(_, e)| e).unwrap_or_default(),
    };
    let status = error.map_or(StatusCode::OK, |(status, _)| status);
    Page::new("security.html", vars)
        .status(status)
        .render(state)
}

/// The browser session the request's cookie names, if it is usable.
async fn current(state: &AppState, req: &HttpRequest) -> Result<Option<BrowserSession>, PageError> {
    let cookie = super::session_cookie(req);
    browser::usable(&state.services, cookie.as_deref())
        .await
        .map_err(|e| PageError::from(ServiceError::from(e)))
}

/// A CSRF token of `form` for `session`.
fn csrf(state: &AppState, form: &str, session: &BrowserSession) -> String {
    crate::csrf::issue(&state.services.refresh, form, &session.id.to_string())
}

/// A POST of the security page, read and checked by [`read_post`].
struct Posted {
    caller: Caller,
    session: BrowserSession,
    /// The fields but the CSRF token.
    fields: PageForm,
}

/// Why a POST of the page was not read.
enum Unread {
    /// No usable browser session: the sign-in form, nothing done.
    SignedOut,
    Refused(PageError),
}

impl From<PageError> for Unread {
    fn from(e: PageError) -> Self {
        Self::Refused(e)
    }
}

impl From<ApiError> for Unread {
    fn from(e: ApiError) -> Self {
        Self::Refused(e.into())
    }
}

/// What every POST of the page checks first: the caller, the form, a usable
/// browser session, and the CSRF token of `form` bound to that session.
async fn read_post(
    state: &AppState,
    req: &HttpRequest,
    caller: Result<Caller, ApiError>,
    fields: Result<PageForm, PageError>,
    form: &str,
) -> Result<Posted, Unread> {
    let caller = caller?;
    let mut fields = fields?;
    let session = current(state, req).await?.ok_or(Unread::SignedOut)?;
    let binding = session.id.to_string();
    crate::csrf::check(
        &state.services.refresh,
        form,
        Some(&binding),
        fields.get("csrf"),
    )
    .map_err(PageError::from)?;
    fields.take("csrf");
    Ok(Posted {
        caller,
        session,
        fields,
    })
}

impl Unread {
    async fn render(self, state: &AppState, req: &HttpRequest) -> HttpResponse {
        match self {
            Self::SignedOut => sign_in::page(state, req, "", sign_in::Why::SignedOut).await,
            Self::Refused(e) => e.render(state),
        }
    }
}

/// How a change's refusal is shown: the step-up as the sign-in form that
/// says why, a wrong password on the security page, the rest as the error
/// page.
async fn refused(
    state: &AppState,
    req: &HttpRequest,
    session: &BrowserSession,
    e: ServiceError,
) -> HttpResponse {
    match e {
        ServiceError::StepUpRequired { .. } => {
            sign_in::page(state, req, "", sign_in::Why::StepUp).await
        }
        ServiceError::InvalidCredentials => {
            let wrong = (StatusCode::UNAUTHORIZED, "That password is not right.");
            home(state, session, "", Some(wrong)).await
        }
        other => PageError::from(other).render(state),
    }
}
