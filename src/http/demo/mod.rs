//! The demo single-page app at `/demo/` (development only, `demo.enabled`):
//! the browser pattern of the README as a page to click through, and the page
//! the browser end-to-end tests drive. Plain HTML, CSS and JavaScript compiled
//! into the binary; no build step. `app.js` holds the session, `links.js` the
//! pages an emailed link opens when `email.link_base` points here (by default
//! the links open authd's hosted pages, `http::pages`) and the
//! forgot-password form, `code_flow.js` "Sign in with authd" (the code flow
//! with PKCE, as the public client `demo.client_id`, which `config.json`
//! names), `mfa.js` the second factor (the code after `mfa_required`, TOTP
//! enrolment), `passkeys.js` the JSON shapes of WebAuthn (app.js registers a
//! passkey and signs in with one through `/auth/passkeys/*` and
//! `/auth/passkey/*`), `ui.js` what they share.

use actix_web::http::header;
use actix_web::{HttpResponse, web};

use super::state::AppState;
use crate::clients::demo::SCOPES;

const INDEX_HTML: &str = include_str!("index.html");
const APP_JS: &str = include_str!("app.js");
const LINKS_JS: &str = include_str!("links.js");
const CODE_FLOW_JS: &str = include_str!("code_flow.js");
const MFA_JS: &str = include_str!("mfa.js");
const UI_JS: &str = include_str!("ui.js");
const PASSKEYS_JS: &str = include_str!("passkeys.js");
const APP_CSS: &str = include_str!("app.css");

/// Scripts and styles from the page's own origin only, as files (no inline
/// code, so an injected `<script>` or `onclick` does nothing), and requests to
/// the origin only: the access token in the page's memory can go nowhere else.
/// "Sign in with authd" needs nothing more: the discovery document, the token
/// and userinfo endpoints are on this origin (`connect-src 'self'`), and the
/// authorization and logout endpoints are top-level navigations, which no
/// directive here governs.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
                   connect-src 'self'; img-src 'self'; base-uri 'none'; \
                   form-action 'none'; frame-ancestors 'none'";

/// The demo's routes; registered only when `demo.enabled` is true.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/demo", web::get().to(to_index))
        .route("/demo/", web::get().to(index))
        .route("/demo/app.js", web::get().to(app_js))
        .route("/demo/links.js", web::get().to(links_js))
        .route("/demo/code_flow.js", web::get().to(code_flow_js))
        .route("/demo/mfa.js", web::get().to(mfa_js))
        .route("/demo/config.json", web::get().to(config))
        .route("/demo/ui.js", web::get().to(ui_js))
        .route("/demo/passkeys.js", web::get().to(passkeys_js))
        .route("/demo/app.css", web::get().to(app_css));
}

/// Relative URLs in the page (`app.js`) resolve under `/demo/` only with the
/// trailing slash.
async fn to_index() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, "/demo/"))
        .finish()
}

async fn index() -> HttpResponse {
    asset("text/html; charset=utf-8", INDEX_HTML)
}

async fn app_js() -> HttpResponse {
    asset("text/javascript; charset=utf-8", APP_JS)
}

async fn links_js() -> HttpResponse {
    asset("text/javascript; charset=utf-8", LINKS_JS)
}

async fn code_flow_js() -> HttpResponse {
    asset("text/javascript; charset=utf-8", CODE_FLOW_JS)
}

async fn mfa_js() -> HttpResponse {
    asset("text/javascript; charset=utf-8", MFA_JS)
}

/// What the page learns from the server, as a file (the CSP allows no inline
/// script to carry it): the client of "Sign in with authd", `null` when the
/// operator named none (then the page shows no such button), the URL the flow
/// comes back to and the scopes it asks for. The client was checked at
/// start-up (`clients::demo`).
async fn config(state: web::Data<AppState>) -> HttpResponse {
    let settings = state.settings();
    let body = serde_json::json!({
        "client_id": settings.demo.client_id,
        "redirect_uri": settings.demo_url(),
        "scope": SCOPES.join(" "),
    });
    asset("application/json", body.to_string())
}

async fn ui_js() -> HttpResponse {
    asset("text/javascript; charset=utf-8", UI_JS)
}

async fn passkeys_js() -> HttpResponse {
    asset("text/javascript; charset=utf-8", PASSKEYS_JS)
}

async fn app_css() -> HttpResponse {
    asset("text/css; charset=utf-8", APP_CSS)
}

/// `no-store` for every file. The page is opened from links whose query
/// carries a token: the `Referrer-Policy: no-referrer` authd sends with every
/// answer (and the page's own meta tag) keeps the browser from sending that URL
/// as the Referer of the page's requests before the script takes it out of the
/// address bar.
fn asset(
    content_type: &'static str,
    body: impl actix_web::body::MessageBody + 'static,
) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body)
}
