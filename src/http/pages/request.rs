//! What the pages of an authorization share (the login page's two ways of
//! signing in, and the consent page): the request id they carry, how a
//! refusal of the flow becomes a page, the login page itself (shown by the
//! GET, and again by a POST that refuses its input), and the end of a
//! sign-in from a page: the browser session's cookie set, and the flow's
//! next step (`oauth::flow::signed_in`: consent, or 303 to the client).

use actix_web::cookie::{Cookie, SameSite, time};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use secrecy::ExposeSecret;
use uuid::Uuid;

use super::form::PageForm;
use super::passkey::Offer;
use super::{Page, PageError, flow_answer};
use crate::http::ApiError;
use crate::http::extractors::Caller;
use crate::http::state::AppState;
use crate::oauth::flow::{self, LoginView, Refusal};
use crate::services::Services;
use crate::sessions::browser::{self, BrowserSession};

/// The form name the login page's password form is bound to (with the
/// request id).
pub(super) const LOGIN_FORM: &str = "login";
/// The form name of the login page's "email me a code" form (with the
/// request id).
pub(super) const CODE_START_FORM: &str = "login_code_start";
/// The form name of the login page's passkey form (with the request id).
pub(super) const PASSKEY_FORM: &str = "login_passkey";

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

/// A refusal of the flow as the page that says it.
pub(super) fn refused(e: Refusal) -> PageError {
    match e {
        Refusal::Service(e) => e.into(),
        other => PageError::Authorization(other.to_string()),
    }
}

/// A sign-in form's POST, read and checked by [`read_post`].
pub(super) struct Posted {
    pub caller: Caller,
    /// The form's fields but the ones `read_post` used.
    pub fields: PageForm,
    /// The login page of the request, still live.
    pub view: LoginView,
}

/// What every sign-in form's POST checks first: the caller and the form
/// read, the request id, the CSRF token of `form` bound to what `bind`
/// makes of the request id and the fields (the request id, and the address
/// or the challenge the form was shown for), and the request still live.
pub(super) async fn read_post(
    svc: &Services,
    caller: Result<Caller, ApiError>,
    fields: Result<PageForm, PageError>,
    form: &str,
    bind: impl FnOnce(Uuid, &PageForm) -> Result<String, PageError>,
) -> Result<Posted, PageError> {
    let caller = caller?;
    let mut fields = fields?;
    let id = request_id(fields.get("request"))?;
    let binding = bind(id, &fields)?;
    crate::csrf::check(&svc.refresh, form, Some(&binding), fields.get("csrf"))?;
    fields.take("csrf");
    let view = flow::login_view(svc, id).await.map_err(refused)?;
    Ok(Posted {
        caller,
        fields,
        view,
    })
}

/// Which of the login page's forms an error belongs to.
pub(super) enum LoginError<'a> {
    None,
    /// The password form's (401: a wrong email or password).
    Password(&'a str),
    /// The code form's (400: an address that is not one).
    Code(&'a str),
    /// The passkey form's (401: a passkey refused; 400: an answer that is
    /// not one).
    Passkey(StatusCode, &'a str),
}

/// The login page for `view`, with `email` filled in, `error` shown beside
/// the form it belongs to, and the passkey sign-in `passkey` offers (its
/// form, the email field's autofill, and the script: `Page::with_passkeys`).
pub(super) fn login_page(
    state: &AppState,
    view: &LoginView,
    email: &str,
    error: LoginError<'_>,
    passkey: Option<Offer>,
) -> HttpResponse {
    let request = view.request.to_string();
    let keys = &state.services.refresh;
    let (status, error, code_error) = match error {
        LoginError::None => (StatusCode::OK, "", ""),
        LoginError::Password(e) => (StatusCode::UNAUTHORIZED, e, ""),
        LoginError::Code(e) => (StatusCode::BAD_REQUEST, "", e),
        LoginError::Passkey(status, e) => (status, e, ""),
    };
    let offered = passkey.is_some();
    let passkey = passkey.unwrap_or(Offer {
        ceremony: String::new(),
        options: String::new(),
    });
    let vars = minijinja::context! {
        request => &request,
        csrf_token => crate::csrf::issue(keys, LOGIN_FORM, &request),
        client_name => &view.client_name,
        email => email,
        error => error,
        code_sign_in => view.code_sign_in,
        code_csrf_token => crate::csrf::issue(keys, CODE_START_FORM, &request),
        code_error => code_error,
        passkey => offered,
        passkey_csrf => crate::csrf::issue(keys, PASSKEY_FORM, &request),
        passkey_ceremony => passkey.ceremony,
        passkey_options => passkey.options,
    };
    let page = Page::new("login.html", vars)
        .status(status)
        .lead_to_client(view.client_origin.as_deref());
    match offered {
        true => page.with_passkeys(),
        false => page,
    }
    .render(state)
}

/// The answer to a sign-in on a page of an authorization: the browser
/// session's cookie ([`browser_cookie`]) on the flow's next step for request
/// `id`.
pub(super) async fn signed_in(
    state: &AppState,
    id: Uuid,
    session: &BrowserSession,
) -> HttpResponse {
    let response = flow_answer(state, flow::signed_in(&state.services, id, session).await);
    with_session_cookie(state, response, session)
}

/// `response` with the cookie of the browser session `session`.
pub(super) fn with_session_cookie(
    state: &AppState,
    mut response: HttpResponse,
    session: &BrowserSession,
) -> HttpResponse {
    let cookie = browser_cookie(&state.services, session);
    if response.add_cookie(&cookie).is_err() {
        return PageError::Internal.render(state);
    }
    response
}

/// The browser session's cookie (`__Host-authd_session`: Secure, HttpOnly,
/// SameSite=Lax, for the session's absolute lifetime), as every sign-in on
/// a page sets it.
pub(super) fn browser_cookie(svc: &Services, session: &BrowserSession) -> Cookie<'static> {
    let value = browser::cookie_value(&svc.refresh, session.id);
    let max_age = i64::try_from(svc.settings.browser_session.absolute_secs).unwrap_or(i64::MAX);
    Cookie::build(browser::COOKIE, value.expose_secret().to_owned())
        .secure(true)
        .http_only(true)
        .same_site(SameSite::Lax)
        .path("/")
        .max_age(time::Duration::seconds(max_age))
        .finish()
}
