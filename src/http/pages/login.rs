//! The hosted login page of an authorization (`/login?request=<id>`): the
//! form (email, password; the email filled in from `login_hint`) and its
//! POST, which signs in through the same `accounts` service and throttles as
//! `POST /auth/login` (`accounts::login_in_browser`), starts the browser
//! session at authd, sets its cookie, and sends the browser on with 303 (the
//! consent page, or the client with its code). A wrong email or password
//! shows the form again (401) and never says which was wrong. The form's
//! CSRF token is bound to the request id.

use actix_web::cookie::{Cookie, SameSite, time};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use super::form::PageForm;
use super::{Page, PageError, flow_answer};
use crate::accounts;
use crate::domain::{Email, Password};
use crate::error::ServiceError;
use crate::http::ApiError;
use crate::http::extractors::Caller;
use crate::http::state::AppState;
use crate::oauth::flow::{self, LoginView, Refusal};
use crate::sessions::browser;

/// The form name its CSRF token is bound to (with the request id).
const FORM: &str = "login";

/// The request id a page was opened or posted with.
pub(super) fn request_id(value: Option<&str>) -> Result<Uuid, PageError> {
    value.and_then(|v| Uuid::parse_str(v).ok()).ok_or_else(|| {
        PageError::Authorization(
            "this page belongs to a sign-in started by an app; go back to the app and start again"
                .into(),
        )
    })
}

/// The value of query parameter `name`.
pub(super) fn query_param(req: &HttpRequest, name: &str) -> Option<String> {
    form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn refused(e: Refusal) -> PageError {
    match e {
        Refusal::Service(e) => e.into(),
        other => PageError::Authorization(other.to_string()),
    }
}

/// `GET /login?request=<id>`.
pub async fn form(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let shown = async {
        let id = request_id(query_param(&req, "request").as_deref())?;
        flow::login_view(&state.services, id).await.map_err(refused)
    }
    .await;
    match shown {
        Ok(view) => {
            let email = view.login_hint.clone();
            page(&state, &view, &email, None)
        }
        Err(e) => e.render(&state),
    }
}

/// The form for `view`, with `email` filled in and `error` shown.
fn page(state: &AppState, view: &LoginView, email: &str, error: Option<&str>) -> HttpResponse {
    let request = view.request.to_string();
    let vars = minijinja::context! {
        request => &request,
        csrf_token => crate::csrf::issue(&state.services.refresh, FORM, &request),
        client_name => &view.client_name,
        email => email,
        error => error.unwrap_or_default(),
    };
    let status = if error.is_some() {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::OK
    };
    Page::new("login.html", vars).status(status).render(state)
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
    let checked = async {
        let caller = caller?;
        let mut fields = fields?;
        let id = request_id(fields.get("request"))?;
        crate::csrf::check(
            &svc.refresh,
            FORM,
            Some(&id.to_string()),
            fields.get("csrf"),
        )?;
        let view = flow::login_view(svc, id).await.map_err(refused)?;
        let email = fields.take("email").unwrap_or_default();
        let password = SecretString::from(fields.take("password").unwrap_or_default());
        Ok::<_, PageError>((caller, view, email, password))
    }
    .await;
    let (caller, view, email, password) = match checked {
        Ok(c) => c,
        Err(e) => return e.render(&state),
    };
    let parsed = Email::parse(&email).and_then(|e| {
        let max = svc.settings.password.max_length;
        Password::parse_existing(password, max).map(|p| (e, p))
    });
    let Ok((address, password)) = parsed else {
        return page(&state, &view, &email, Some(WRONG));
    };
    let session = match accounts::login_in_browser(svc, &address, &password, &caller.meta).await {
        Ok(accounts::BrowserSignIn::Complete(session)) => session,
        Ok(accounts::BrowserSignIn::SecondFactor(challenge)) => {
            return super::mfa::page(&state, &view, &challenge.token, None);
        }
        Err(ServiceError::InvalidCredentials) => return page(&state, &view, &email, Some(WRONG)),
        Err(e) => return PageError::from(e).render(&state),
    };
    let value = browser::cookie_value(&svc.refresh, session.id);
    let max_age = i64::try_from(svc.settings.browser_session.absolute_secs).unwrap_or(i64::MAX);
    let cookie = Cookie::build(browser::COOKIE, value.expose_secret().to_owned())
        .secure(true)
        .http_only(true)
        .same_site(SameSite::Lax)
        .path("/")
        .max_age(time::Duration::seconds(max_age))
        .finish();
    let mut response = flow_answer(&state, flow::signed_in(svc, view.request, &session).await);
    if response.add_cookie(&cookie).is_err() {
        return PageError::Internal.render(&state);
    }
    response
}
