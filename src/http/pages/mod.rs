//! The HTML layer beside the JSON API: authd's hosted pages. A page is a
//! template of `templates::pages` rendered with the `[pages]` branding
//! ([`Page`]), sent with the security headers every page and every error
//! page carries ([`secure`]): a strict `Content-Security-Policy` (styles
//! only from `/assets/authd.css`, forms posted only to authd,
//! `frame-ancestors 'none'`, and no script but on the pages that offer a
//! passkey, which may load the one static `/assets/passkeys.js` and nothing
//! else: [`Page::with_passkeys`]), `Referrer-Policy: no-referrer`,
//! `X-Content-Type-Options: nosniff`, `Cache-Control: no-store`.
//!
//! Every form works without JavaScript; a passkey needs it (the browser's
//! WebAuthn API has no form of its own), so its form stays hidden until the
//! script shows it. The script reads the ceremony's options from the page
//! (a `data-options` attribute the server filled), asks the authenticator,
//! and posts its answer in the form's hidden `credential` field: no inline
//! script, no `eval`, no request of its own (`connect-src` stays `'none'`).
//!
//! Pages answer in HTML only, also when they refuse ([`PageError`]: an error
//! page naming a stable error code). Every form POST carries a CSRF token
//! checked by `crate::csrf` (`form.rs` reads it and the browser's binding
//! cookie), and is answered with 303 to the next page ([`see_other`]).
//!
//! The pages' routes are a table of their own ([`PAGE_ROUTES`]), outside the
//! API's `route_table!`: they are not JSON endpoints and are not in the
//! OpenAPI document (`tests/api/openapi.rs` checks both tables apart). An
//! unknown path under `/account` or a wrong method on a page gets an HTML
//! 404 or 405.

mod account;
mod consent;
mod error;
mod form;
mod login;
mod login_code;
mod logout;
mod mfa;
mod mfa_enrol;
mod passkey;
mod request;
mod security;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, HttpResponseBuilder, web};

pub use error::PageError;

use super::state::AppState;

/// Every `(method, path)` of the hosted pages.
pub const PAGE_ROUTES: &[(&str, &str)] = &[
    ("GET", "/assets/authd.css"),
    ("GET", "/assets/passkeys.js"),
    ("GET", "/account"),
    ("GET", "/account/forgot"),
    ("POST", "/account/forgot"),
    ("POST", "/account/verify"),
    ("POST", "/account/reset"),
    ("POST", "/account/email/confirm"),
    ("GET", "/account/done"),
    ("GET", "/account/security"),
    ("GET", "/account/security/sign-in"),
    ("POST", "/account/security/sign-in"),
    ("POST", "/account/security/sign-in/mfa"),
    ("POST", "/account/security/sign-in/passkey"),
    ("POST", "/account/security/sign-in/enrol"),
    ("POST", "/account/security/totp"),
    ("POST", "/account/security/totp/confirm"),
    ("POST", "/account/security/totp/remove"),
    ("POST", "/account/security/recovery-codes"),
    ("POST", "/account/security/passkeys"),
    ("POST", "/account/security/passkeys/confirm"),
    ("POST", "/account/security/passkeys/rename"),
    ("POST", "/account/security/passkeys/remove"),
    ("GET", "/login"),
    ("POST", "/login"),
    ("POST", "/login/code"),
    ("POST", "/login/code/verify"),
    ("POST", "/login/passkey"),
    ("POST", "/login/mfa"),
    ("POST", "/login/mfa/enrol"),
    ("GET", "/consent"),
    ("POST", "/consent"),
    ("GET", "/oauth/logout"),
    ("POST", "/oauth/logout"),
    ("POST", "/logout/confirm"),
    ("GET", "/logout/done"),
];

/// Registers the pages; an unknown path under `/account` gets the HTML 404.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(page_resource("/assets/authd.css").route(web::get().to(stylesheet)))
        .service(page_resource("/assets/passkeys.js").route(web::get().to(passkey::script)))
        .service(page_resource("/account").route(web::get().to(account::open_link)))
        .service(
            page_resource("/account/forgot")
                .route(web::get().to(account::forgot_form))
                .route(web::post().to(account::forgot)),
        )
        .service(page_resource("/account/verify").route(web::post().to(account::verify)))
        .service(page_resource("/account/reset").route(web::post().to(account::reset)))
        .service(
            page_resource("/account/email/confirm")
                .route(web::post().to(account::confirm_email_change)),
        )
        .service(page_resource("/account/done").route(web::get().to(account::done)))
        .service(page_resource("/account/security").route(web::get().to(security::show)))
        .service(
            page_resource("/account/security/sign-in")
                .route(web::get().to(security::sign_in_form))
                .route(web::post().to(security::sign_in)),
        )
        .service(
            page_resource("/account/security/sign-in/mfa")
                .route(web::post().to(security::sign_in_mfa)),
        )
        .service(
            page_resource("/account/security/sign-in/passkey")
                .route(web::post().to(security::sign_in_passkey)),
        )
        .service(
            page_resource("/account/security/sign-in/enrol")
                .route(web::post().to(security::sign_in_enrol)),
        )
        .service(
            page_resource("/account/security/totp").route(web::post().to(security::start_totp)),
        )
        .service(
            page_resource("/account/security/totp/confirm")
                .route(web::post().to(security::confirm_totp)),
        )
        .service(
            page_resource("/account/security/totp/remove")
                .route(web::post().to(security::remove_totp)),
        )
        .service(
            page_resource("/account/security/recovery-codes")
                .route(web::post().to(security::regenerate_recovery_codes)),
        )
        .service(
            page_resource("/account/security/passkeys")
                .route(web::post().to(security::start_passkey)),
        )
        .service(
            page_resource("/account/security/passkeys/confirm")
                .route(web::post().to(security::confirm_passkey)),
        )
        .service(
            page_resource("/account/security/passkeys/rename")
                .route(web::post().to(security::rename_passkey)),
        )
        .service(
            page_resource("/account/security/passkeys/remove")
                .route(web::post().to(security::remove_passkey)),
        )
        .service(
            page_resource("/login")
                .route(web::get().to(login::form))
                .route(web::post().to(login::submit)),
        )
        .service(page_resource("/login/code").route(web::post().to(login_code::start)))
        .service(page_resource("/login/code/verify").route(web::post().to(login_code::verify)))
        .service(page_resource("/login/passkey").route(web::post().to(login::passkey)))
        .service(page_resource("/login/mfa").route(web::post().to(mfa::submit)))
        .service(page_resource("/login/mfa/enrol").route(web::post().to(mfa_enrol::submit)))
        .service(
            page_resource("/consent")
                .route(web::get().to(consent::form))
                .route(web::post().to(consent::submit)),
        )
        .service(
            page_resource("/oauth/logout")
                .route(web::get().to(logout::get))
                .route(web::post().to(logout::post)),
        )
        .service(page_resource("/logout/confirm").route(web::post().to(logout::confirm)))
        .service(page_resource("/logout/done").route(web::get().to(logout::done)))
        .service(web::scope("/account").default_service(web::to(not_found)));
}

/// A page path: any method it does not serve gets the HTML 405.
fn page_resource(path: &'static str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(method_not_allowed))
}

async fn not_found(state: web::Data<AppState>) -> HttpResponse {
    PageError::NotFound.render(&state)
}

async fn method_not_allowed(state: web::Data<AppState>) -> HttpResponse {
    PageError::MethodNotAllowed.render(&state)
}

/// `GET /assets/authd.css`: the pages' stylesheet, with the configured
/// colours. Cacheable for an hour: it changes only with the settings.
async fn stylesheet(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(state.pages.stylesheet().to_owned())
}

/// A page to render: a template, its variables, a status, and the origins
/// its form may post to besides authd's own.
pub struct Page {
    name: &'static str,
    vars: minijinja::Value,
    status: StatusCode,
    form_action: Vec<String>,
    script: bool,
}

impl Page {
    pub fn new(name: &'static str, vars: minijinja::Value) -> Self {
        Self {
            name,
            vars,
            status: StatusCode::OK,
            form_action: Vec::new(),
            script: false,
        }
    }

    /// Lets the page load `/assets/passkeys.js` (`script-src 'self'`), for
    /// a page that offers a passkey; the template is told (`passkeys_js`) so
    /// it loads the script.
    pub fn with_passkeys(mut self) -> Self {
        self.script = true;
        self.vars = minijinja::context! { passkeys_js => true, ..self.vars };
        self
    }

    pub fn status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// Lets the page's form lead to `origin` (`https://app.example.com`):
    /// Chromium applies `form-action` to the redirect that answers a form's
    /// POST as well, so a page whose POST answers 303 to a client's
    /// redirect URI must name that URI's origin.
    pub fn allow_form_action(mut self, origin: impl Into<String>) -> Self {
        self.form_action.push(origin.into());
        self
    }

    /// [`Page::allow_form_action`] for the client an authorization answers
    /// (its redirect URI's origin, if it has one).
    pub fn lead_to_client(self, origin: Option<&str>) -> Self {
        match origin {
            Some(origin) => self.allow_form_action(origin),
            None => self,
        }
    }

    /// The page, or the error page if the template fails (a 500 that names
    /// `server_error`; the cause is logged).
    pub fn render(self, state: &AppState) -> HttpResponse {
        let status = self.status;
        self.respond(state, HttpResponse::build(status))
    }

    /// The page into `builder` (which may already carry a cookie).
    pub fn respond(self, state: &AppState, mut builder: HttpResponseBuilder) -> HttpResponse {
        match state.pages.render(self.name, self.vars) {
            Ok(html) => secure_with(&mut builder, state, &self.form_action, self.script)
                .content_type("text/html; charset=utf-8")
                .body(html),
            Err(e) => {
                tracing::error!(page = self.name, error = %e, "a page failed to render");
                PageError::Internal.render(state)
            }
        }
    }
}

/// `303 See Other` to `location` after a form's POST, with the pages'
/// headers. `form_action` as [`Page::allow_form_action`]: the origin of a
/// redirect that leaves authd. Chromium checks that redirect against the
/// policy of the page whose form was posted, so that page must name the
/// origin too (the login and consent pages name their client's).
pub fn see_other(state: &AppState, location: &str, form_action: &[String]) -> HttpResponse {
    let mut builder = HttpResponse::SeeOther();
    secure(&mut builder, state, form_action)
        .insert_header((header::LOCATION, location))
        .finish()
}

/// The answer to a step of an authorization (`oauth::flow`): a 303 on
/// (allowed as a form's destination when it leaves authd), or how it was
/// refused: an error page when the client cannot be told, else a 303 to the
/// client with the error.
pub fn flow_answer(
    state: &AppState,
    outcome: Result<crate::oauth::flow::Next, crate::oauth::flow::Refusal>,
) -> HttpResponse {
    use crate::oauth::flow::{Next, Refusal};
    let next = match outcome {
        Ok(next) => next,
        Err(Refusal::Redirect(to)) => Next::Client(to),
        Err(e @ (Refusal::Page(_) | Refusal::Expired)) => {
            return PageError::Authorization(e.to_string()).render(state);
        }
        Err(Refusal::Service(e)) => return PageError::from(e).render(state),
    };
    let origins: Vec<String> = next.origin().map(str::to_owned).into_iter().collect();
    see_other(state, &next.location(), &origins)
}

/// The browser session cookie's value, if the browser sent one.
pub fn session_cookie(req: &actix_web::HttpRequest) -> Option<String> {
    req.cookie(crate::sessions::browser::COOKIE)
        .map(|c| c.value().to_owned())
}

/// The security headers of every page, error page and redirect of a page.
pub fn secure<'b>(
    builder: &'b mut HttpResponseBuilder,
    state: &AppState,
    form_action: &[String],
) -> &'b mut HttpResponseBuilder {
    secure_with(builder, state, form_action, false)
}

/// [`secure`], with `script-src 'self'` when `script` (a page that loads
/// `/assets/passkeys.js`).
fn secure_with<'b>(
    builder: &'b mut HttpResponseBuilder,
    state: &AppState,
    form_action: &[String],
    script: bool,
) -> &'b mut HttpResponseBuilder {
    builder
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            csp(state, form_action, script),
        ))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
}

/// The pages' policy: nothing but authd's stylesheet (and, with `script`,
/// authd's own scripts: `/assets/passkeys.js`), images from authd, `data:`
/// and the logo's origin, forms to authd (and `form_action`), no framing,
/// no `<base>`.
fn csp(state: &AppState, form_action: &[String], script: bool) -> HeaderValue {
    let logo = state.settings().pages.logo_origin();
    let img: String = logo.map(|o| format!(" {o}")).unwrap_or_default();
    let forms: String = form_action
        .iter()
        .filter(|o| is_origin(o))
        .map(|o| format!(" {o}"))
        .collect();
    let scripts = if script { " script-src 'self';" } else { "" };
    let policy = format!(
        "default-src 'none';{scripts} style-src 'self'; img-src 'self' data:{img}; \
         form-action 'self'{forms}; frame-ancestors 'none'; base-uri 'none'"
    );
    HeaderValue::from_str(&policy)
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'"))
}

/// `https://host[:port]` or `http://host[:port]` and nothing that could end
/// or extend the policy's directive.
fn is_origin(o: &str) -> bool {
    let rest = o
        .strip_prefix("https://")
        .or_else(|| o.strip_prefix("http://"));
    rest.is_some_and(|r| {
        !r.is_empty()
            && r.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
    })
}

#[cfg(test)]
mod tests {
    use super::is_origin;

    #[test]
    fn only_plain_origins_join_the_policy() {
        assert!(is_origin("https://app.example.com"));
        assert!(is_origin("http://127.0.0.1:8080"));
        assert!(!is_origin("https://app.example.com; script-src *"));
        assert!(!is_origin("https://app.example.com/path"));
        assert!(!is_origin("javascript:"));
        assert!(!is_origin("https://"));
    }
}
