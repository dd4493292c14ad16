//! The demo single-page app at `/demo/` (development only, `demo.enabled`):
//! the browser pattern of the README as a page to click through, and the page
//! the browser end-to-end tests drive. Plain HTML, CSS and JavaScript compiled
//! into the binary; no build step. `app.js` holds the session, `links.js` the
//! pages an emailed link opens when `email.link_base` points here (by default
//! the links open authd's hosted pages, `http::pages`) and the
//! forgot-password form, `ui.js` what both share.

use actix_web::http::header;
use actix_web::{HttpResponse, web};

const INDEX_HTML: &str = include_str!("index.html");
const APP_JS: &str = include_str!("app.js");
const LINKS_JS: &str = include_str!("links.js");
const UI_JS: &str = include_str!("ui.js");
const APP_CSS: &str = include_str!("app.css");

/// Scripts and styles from the page's own origin only, as files (no inline
/// code, so an injected `<script>` or `onclick` does nothing), and requests to
/// the origin only: the access token in the page's memory can go nowhere else.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
                   connect-src 'self'; img-src 'self'; base-uri 'none'; \
                   form-action 'none'; frame-ancestors 'none'";

/// The demo's routes; registered only when `demo.enabled` is true.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/demo", web::get().to(to_index))
        .route("/demo/", web::get().to(index))
        .route("/demo/app.js", web::get().to(app_js))
        .route("/demo/links.js", web::get().to(links_js))
        .route("/demo/ui.js", web::get().to(ui_js))
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

async fn ui_js() -> HttpResponse {
    asset("text/javascript; charset=utf-8", UI_JS)
}

async fn app_css() -> HttpResponse {
    asset("text/css; charset=utf-8", APP_CSS)
}

/// `no-store` for every file. The page is opened from links whose query
/// carries a token: the `Referrer-Policy: no-referrer` authd sends with every
/// answer (and the page's own meta tag) keeps the browser from sending that URL
/// as the Referer of the page's requests before the script takes it out of the
/// address bar.
fn asset(content_type: &'static str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body)
}
