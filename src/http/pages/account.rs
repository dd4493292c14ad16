//! The pages of emailed links, at `/account` (the default `email.link_base`):
//! `GET /account?action=<kind>&token=<token>` shows the link's form carrying
//! the token and spends nothing (mail scanners open links); the form's POST
//! spends it through the same `accounts` services as the JSON endpoints
//! (`/auth/email/verify`, `/auth/password/reset`,
//! `/auth/email/change/confirm`), after the CSRF check, and answers 303 to
//! `/account/done`. `/account/forgot` asks for a reset link (the link of the
//! `registration_attempt` message). A refusal that leaves the link usable (a
//! weak password, a wrong password) shows the form again with the reason.

use std::future::Future;
use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use secrecy::{ExposeSecret, SecretString};

use super::form::{PageForm, binding, binding_or_new};
use super::{Page, PageError, see_other};
use crate::accounts::{self, ResetProof};
use crate::audit::RequestMeta;
use crate::domain::{Email, Password};
use crate::http::ApiError;
use crate::http::extractors::Caller;
use crate::http::state::AppState;

/// Longest link token read; anything longer is not a link's.
const MAX_TOKEN_CHARS: usize = 256;

/// The forms of these pages: each is its template, its CSRF form name, and
/// where it posts.
#[derive(Clone, Copy)]
enum LinkForm {
    Verify,
    Reset,
    EmailChange,
    Forgot,
}

impl LinkForm {
    fn from_action(action: &str) -> Option<Self> {
        match action {
            "verify_email" => Some(Self::Verify),
            "password_reset" => Some(Self::Reset),
            "email_change_confirm" => Some(Self::EmailChange),
            "forgot_password" => Some(Self::Forgot),
            _ => None,
        }
    }

    /// The template, and the name the CSRF token is bound to.
    fn name(self) -> &'static str {
        match self {
            Self::Verify => "verify_email",
            Self::Reset => "password_reset",
            Self::EmailChange => "email_change_confirm",
            Self::Forgot => "forgot_password",
        }
    }

    fn template(self) -> &'static str {
        match self {
            Self::Verify => "verify_email.html",
            Self::Reset => "password_reset.html",
            Self::EmailChange => "email_change_confirm.html",
            Self::Forgot => "forgot_password.html",
        }
    }
}

/// `GET /account`: the form of the link's `action`, carrying its `token`.
pub async fn open_link(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let query: Vec<(String, String)> = form_urlencoded::parse(req.query_string().as_bytes())
        .into_owned()
        .collect();
    let field = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let Some(action) = field("action") else {
        return Page::new("account.html", minijinja::context! {}).render(&state);
    };
    let Some(form) = LinkForm::from_action(action) else {
        return PageError::InvalidLink.render(&state);
    };
    let token = match form {
        LinkForm::Forgot => None,
        _ => match field("token") {
            Some(t) if !t.is_empty() && t.len() <= MAX_TOKEN_CHARS => Some(t),
            _ => return PageError::InvalidLink.render(&state),
        },
    };
    show_form(&state, &req, form, token, None)
}

/// `GET /account/forgot`.
pub async fn forgot_form(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    show_form(&state, &req, LinkForm::Forgot, None, None)
}

/// The form, with a CSRF token bound to the browser's cookie (set now if it
/// has none), the link's token, and a refusal to show (`error`).
fn show_form(
    state: &AppState,
    req: &HttpRequest,
    form: LinkForm,
    token: Option<&str>,
    error: Option<&PageError>,
) -> HttpResponse {
    let (binding, cookie) = match binding_or_new(req) {
        Ok(b) => b,
        Err(e) => return e.render(state),
    };
    let p = &state.settings().password;
    let vars = minijinja::context! {
        csrf_token => crate::csrf::issue(&state.services.refresh, form.name(), &binding),
        token => token.unwrap_or_default(),
        error => error.map(|e| e.to_string()).unwrap_or_default(),
        min_length => p.min_length,
        max_length => p.max_length,
    };
    let status = error.map_or(StatusCode::OK, PageError::status);
    let mut builder = HttpResponse::build(status);
    if let Some(cookie) = cookie {
        builder.cookie(cookie);
    }
    Page::new(form.template(), vars).respond(state, builder)
}

/// The CSRF check of `form`'s POST, then the link's token (bounded).
fn check_post(
    state: &AppState,
    req: &HttpRequest,
    form: LinkForm,
    fields: &mut PageForm,
) -> Result<Option<SecretString>, PageError> {
    crate::csrf::check(
        &state.services.refresh,
        form.name(),
        binding(req).as_deref(),
        fields.get("csrf_token"),
    )?;
    if let LinkForm::Forgot = form {
        return Ok(None);
    }
    match fields.take("token") {
        Some(t) if !t.is_empty() && t.len() <= MAX_TOKEN_CHARS => Ok(Some(SecretString::from(t))),
        _ => Err(PageError::InvalidLink),
    }
}

/// A POST's answer: 303 to the result page, the form again for a refusal
/// that leaves the link usable, or the error page.
fn answer(
    state: &AppState,
    req: &HttpRequest,
    form: LinkForm,
    token: Option<&SecretString>,
    outcome: Result<&'static str, PageError>,
) -> HttpResponse {
    match outcome {
        Ok(result) => see_other(state, &format!("/account/done?result={result}"), &[]),
        Err(
            e @ PageError::Api(
                ApiError::WeakPassword(_)
                | ApiError::InvalidCredentials
                | ApiError::InvalidRequest(_),
            ),
        ) => show_form(state, req, form, token.map(|t| t.expose_secret()), Some(&e)),
        Err(e) => e.render(state),
    }
}

/// An optional password field, parsed as an existing password.
fn optional_password(max: usize, fields: &mut PageForm) -> Result<Option<Password>, PageError> {
    match fields.take("password").filter(|p| !p.is_empty()) {
        Some(p) => Ok(Some(Password::parse_existing(SecretString::from(p), max)?)),
        None => Ok(None),
    }
}

/// The part every link's POST shares: the caller and the form, the CSRF
/// check and the link's token, then `spend` (the form's service call, given
/// the rest of the form, the token and the caller), then the answer. A
/// refusal before the token is read renders the error page; `spend`'s goes to
/// [`answer`], which shows the form again when the link is still usable.
async fn spend_link<F, Fut>(
    state: &AppState,
    req: &HttpRequest,
    caller: Result<Caller, ApiError>,
    fields: Result<PageForm, PageError>,
    form: LinkForm,
    spend: F,
) -> HttpResponse
where
    F: FnOnce(PageForm, SecretString, RequestMeta) -> Fut,
    Fut: Future<Output = Result<&'static str, PageError>>,
{
    let read = (|| {
        let caller = caller?;
        let mut fields = fields?;
        let token = check_post(state, req, form, &mut fields)?;
        let token = token.ok_or(PageError::InvalidLink)?;
        Ok::<_, PageError>((caller.meta, fields, token))
    })();
    match read {
        Ok((meta, fields, token)) => {
            let result = spend(fields, token.clone(), meta).await;
            answer(state, req, form, Some(&token), result)
        }
        Err(e) => e.render(state),
    }
}

/// `POST /account/verify`: `accounts::verify_email`.
pub async fn verify(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Result<Caller, ApiError>,
    fields: Result<PageForm, PageError>,
) -> HttpResponse {
    let services = state.services.clone();
    let max = state.settings().password.max_length;
    spend_link(
        &state,
        &req,
        caller,
        fields,
        LinkForm::Verify,
        |mut fields, token, meta| async move {
            let password = optional_password(max, &mut fields)?;
            accounts::verify_email(&services, token.expose_secret(), password.as_ref(), &meta)
                .await
                .map(|_| "verified")
                .map_err(PageError::from)
        },
    )
    .await
}

/// `POST /account/email/confirm`: `accounts::confirm_email_change`.
pub async fn confirm_email_change(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Result<Caller, ApiError>,
    fields: Result<PageForm, PageError>,
) -> HttpResponse {
    let services = state.services.clone();
    let max = state.settings().password.max_length;
    let form = LinkForm::EmailChange;
    spend_link(
        &state,
        &req,
        caller,
        fields,
        form,
        |mut fields, token, meta| async move {
            let password = optional_password(max, &mut fields)?;
            accounts::confirm_email_change(
                &services,
                token.expose_secret(),
                password.as_ref(),
                &meta,
            )
            .await
            .map(|_| "email_changed")
            .map_err(PageError::from)
        },
    )
    .await
}

/// `POST /account/reset`: `accounts::reset_password` with the link's token.
/// With `accounts.reset_signs_in` the service starts a session, which this
/// page does not hand to the browser (authd's browser session comes with the
/// sign-in pages); the result page asks to sign in.
pub async fn reset(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Result<Caller, ApiError>,
    fields: Result<PageForm, PageError>,
) -> HttpResponse {
    let services = state.services.clone();
    let p = state.settings().password.clone();
    spend_link(
        &state,
        &req,
        caller,
        fields,
        LinkForm::Reset,
        |mut fields, token, meta| async move {
            let new = fields.take("new_password").unwrap_or_default();
            let new = Password::parse_new(SecretString::from(new), p.min_length, p.max_length)?;
            accounts::reset_password(&services, ResetProof::Link(token), &new, &meta)
                .await
                .map(|_| "password_reset")
                .map_err(PageError::from)
        },
    )
    .await
}

/// `POST /account/forgot`: `accounts::forgot_password`; the result page is
/// the same whether or not the address has an account.
pub async fn forgot(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Result<Caller, ApiError>,
    fields: Result<PageForm, PageError>,
) -> HttpResponse {
    let form = LinkForm::Forgot;
    let outcome = async {
        let caller = caller?;
        let mut fields = fields?;
        check_post(&state, &req, form, &mut fields)?;
        let email = fields.take("email").unwrap_or_default();
        let services: &Arc<_> = &state.services;
        let result = match Email::parse(&email) {
            Ok(email) => accounts::forgot_password(services, &email, &caller.meta)
                .await
                .map(|()| "forgot")
                .map_err(PageError::from),
            Err(e) => Err(PageError::from(e)),
        };
        Ok::<_, PageError>(result)
    }
    .await;
    match outcome {
        Ok(result) => answer(&state, &req, form, None, result),
        Err(e) => e.render(&state),
    }
}

/// `GET /account/done?result=...`: what a form's POST did.
pub async fn done(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let result = form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == "result")
        .map(|(_, v)| v.into_owned());
    let (heading, message) = match result.as_deref() {
        Some("verified") => ("Address confirmed", "Your email address is confirmed."),
        Some("email_changed") => (
            "Address changed",
            "Your account uses its new email address now. Every session has ended: sign in again.",
        ),
        Some("password_reset") => (
            "Password changed",
            "Your password was changed and every session ended: sign in with the new one.",
        ),
        Some("forgot") => (
            "Check your email",
            "If an account exists for that address, an email with a link is on its way.",
        ),
        _ => return PageError::NotFound.render(&state),
    };
    Page::new(
        "done.html",
        minijinja::context! { heading => heading, message => message },
    )
    .render(&state)
}
