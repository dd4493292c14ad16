//! The HTTP API: the route table. Handlers live one endpoint a file under
//! `auth/` and `oauth/` (`auth/sessions.rs` has the session list and the end
//! of one session), plus `revocations.rs`, `discovery.rs` and `operations.rs`;
//! each extracts what it needs (`extractors.rs`), calls a service, and shapes
//! the answer (`tokens.rs` for token answers, `error.rs` for every refusal).
//! No handler imports another. The handlers under `auth/` leave every rule of
//! an account or a session to `accounts` and `sessions` (whether a sign-in
//! may answer with the refresh token in the body is `sessions::delivery`);
//! the per-client request limits of `AppState` and the `Origin` check of the
//! refresh cookie (`cookies.rs`) are the edge's own.
//!
//! The OAuth protocol rules are the `oauth` service's: who may use which
//! grant, what a token is, who may revoke it, when introspection calls it
//! active, and which permission lets a client introspect or read the feed
//! (and see its `sub`). `oauth/*` and `revocations.rs` read the form and the
//! client's credentials (`client_auth.rs`), call it, and answer; its
//! `OAuthError` becomes an `ApiError` in `error.rs`. No rule is left here,
//! and none joins.
//!
//! Every route is declared once, in the `route_table!` below: the table both
//! registers it with actix and lists it in [`ROUTES`], so the list is what the
//! server serves. `GET /openapi.json` is generated from the handlers'
//! `#[utoipa::path]` annotations (see `openapi.rs`). To add a route:
//!
//! 1. write the handler in a file of its own and add one line
//!    `METHOD "/path" => module::handler,` to the table;
//! 2. annotate the handler with `#[utoipa::path(method, path = "/path", ...)]`,
//!    giving its security, parameters, request body and every response, errors
//!    with `body = ErrorBody`;
//! 3. add the handler to the `paths(...)` list in `openapi.rs`.
//!
//! A handler serving two paths needs one annotated function per path (see the
//! two discovery documents). Several methods on one path are one resource.
//!
//! `tests/api/openapi.rs` fails until the three agree (a route served but not
//! documented, or documented but not served). Development-only routes (the demo
//! app) are registered outside the table on purpose and are not documented; so
//! is the one route of the `metrics.listen` address ([`metrics_routes`]), and so
//! are the hosted HTML pages, which have their own table
//! (`pages::PAGE_ROUTES`, checked apart from this one by `tests/api/openapi.rs`).

mod admin;
mod auth;
mod body;
mod client_auth;
pub mod client_cors;
pub mod cookies;
pub mod demo;
mod discovery;
pub mod error;
pub mod extractors;
mod oauth;
pub mod openapi;
pub mod operations;
pub mod pages;
pub mod request_span;
mod revocations;
pub mod state;
mod tokens;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, Route, web};

pub use error::ApiError;
pub use openapi::document_json;

/// The actix route of a method named in the table.
macro_rules! method_route {
    (GET) => {
        web::get()
    };
    (POST) => {
        web::post()
    };
    (PUT) => {
        web::put()
    };
    (PATCH) => {
        web::patch()
    };
    (DELETE) => {
        web::delete()
    };
}

/// Produces both [`ROUTES`] and [`routes`] from one list, so they cannot differ.
macro_rules! route_table {
    ($($method:ident $path:literal => $handler:path),* $(,)?) => {
        /// Every `(method, path)` the server serves; the paths are part of the
        /// API contract and use the OpenAPI template syntax (`{id}`).
        pub const ROUTES: &[(&str, &str)] = &[$((stringify!($method), $path)),*];

        /// Registers every route of the table. A path served with several
        /// methods is one resource; any other method on it gets a JSON 405
        /// with an `Allow` header listing the path's methods, and any other
        /// path a JSON 404.
        pub fn routes(cfg: &mut web::ServiceConfig) {
            let table: &[(&'static str, &'static str, fn() -> Route)] =
                &[$((stringify!($method), $path, || method_route!($method).to($handler))),*];
            let mut paths: Vec<&'static str> = Vec::new();
            for (_, path, _) in table {
                if !paths.contains(path) {
                    paths.push(path);
                }
            }
            for path in paths {
                let served = table.iter().filter(|(_, p, _)| *p == path);
                let allow: Vec<&str> = served.clone().map(|(method, _, _)| *method).collect();
                let routes = served.map(|(_, _, route)| route());
                cfg.service(resource(path, &allow, routes));
            }
            cfg.default_service(web::to(not_found));
        }
    };
}

route_table! {
    POST "/auth/register" => auth::register,
    POST "/auth/login" => auth::login,
    POST "/auth/refresh" => auth::refresh,
    POST "/auth/logout" => auth::logout,
    GET "/auth/me" => auth::me,
    POST "/auth/password" => auth::change_password,
    POST "/auth/email/verify" => auth::verify_email,
    POST "/auth/email/verify/resend" => auth::resend_verification,
    POST "/auth/email/change" => auth::change_email,
    POST "/auth/email/change/confirm" => auth::confirm_email_change,
    POST "/auth/otp/start" => auth::otp_start,
    POST "/auth/otp/verify" => auth::otp_verify,
    POST "/auth/password/forgot" => auth::forgot_password,
    POST "/auth/password/reset" => auth::reset_password,
    POST "/auth/mfa/verify" => auth::mfa_verify,
    GET "/auth/mfa" => auth::mfa::status,
    POST "/auth/mfa/totp" => auth::mfa::start_totp,
    DELETE "/auth/mfa/totp" => auth::mfa::remove_totp,
    POST "/auth/mfa/totp/confirm" => auth::mfa::confirm_totp,
    POST "/auth/mfa/recovery-codes" => auth::mfa::regenerate_recovery_codes,
    POST "/auth/mfa/enroll/totp" => auth::mfa_enroll::start,
    POST "/auth/mfa/enroll/totp/confirm" => auth::mfa_enroll::confirm,
    POST "/auth/mfa/passkey" => auth::mfa_passkey,
    POST "/auth/passkeys/register/start" => auth::passkeys::register_start,
    POST "/auth/passkeys/register/finish" => auth::passkeys::register_finish,
    GET "/auth/passkeys" => auth::passkeys::list,
    PATCH "/auth/passkeys/{id}" => auth::passkeys::rename,
    DELETE "/auth/passkeys/{id}" => auth::passkeys::remove,
    POST "/auth/passkey/start" => auth::passkey_sign_in::start,
    POST "/auth/passkey/finish" => auth::passkey_sign_in::finish,
    GET "/auth/audit" => auth::list_audit,
    GET "/auth/sessions" => auth::list_sessions,
    DELETE "/auth/sessions/{id}" => auth::revoke_session,
    GET "/auth/grants" => auth::list_grants,
    DELETE "/auth/grants/{client_id}" => auth::revoke_grant,
    GET "/auth/revocations" => revocations::revocations,
    GET "/admin/users" => admin::list_users,
    GET "/admin/users/{id}" => admin::get_user,
    GET "/admin/users/{id}/sessions" => admin::list_user_sessions,
    GET "/admin/users/{id}/audit" => admin::list_user_audit,
    POST "/admin/users/{id}/sessions/revoke" => admin::revoke_user_sessions,
    POST "/admin/users/{id}/disable" => admin::disable_user,
    POST "/admin/users/{id}/enable" => admin::enable_user,
    GET "/admin/clients" => admin::list_clients,
    POST "/admin/clients" => admin::create_client,
    GET "/admin/clients/{id}" => admin::get_client,
    PATCH "/admin/clients/{id}" => admin::update_client,
    DELETE "/admin/clients/{id}" => admin::delete_client,
    POST "/admin/clients/{id}/secret/rotate" => admin::rotate_client_secret,
    POST "/admin/users" => admin::create_user,
    PATCH "/admin/users/{id}" => admin::update_user,
    DELETE "/admin/users/{id}" => admin::delete_user,
    PUT "/admin/users/{id}/roles" => admin::set_user_roles,
    PUT "/admin/users/{id}/app_metadata" => admin::set_user_app_metadata,
    POST "/admin/users/{id}/lockout/clear" => admin::clear_user_lockout,
    POST "/admin/users/{id}/password_reset" => admin::send_user_password_reset,
    DELETE "/admin/users/{id}/factors" => admin::remove_user_factors,
    GET "/admin/webhooks" => admin::list_webhooks,
    POST "/admin/webhooks" => admin::create_webhook,
    DELETE "/admin/webhooks/{id}" => admin::delete_webhook,
    POST "/admin/webhooks/{id}/secret/rotate" => admin::rotate_webhook_secret,
    POST "/admin/webhooks/{id}/disable" => admin::disable_webhook,
    POST "/admin/webhooks/{id}/enable" => admin::enable_webhook,
    GET "/oauth/authorize" => oauth::authorize::get,
    POST "/oauth/authorize" => oauth::authorize::post,
    POST "/oauth/token" => oauth::token,
    POST "/oauth/par" => oauth::par::par,
    POST "/oauth/revoke" => oauth::revoke,
    POST "/oauth/introspect" => oauth::introspect,
    GET "/oauth/userinfo" => oauth::userinfo::get,
    POST "/oauth/userinfo" => oauth::userinfo::post,
    GET "/.well-known/jwks.json" => discovery::jwks,
    GET "/.well-known/openid-configuration" => discovery::openid_configuration,
    GET "/.well-known/oauth-authorization-server" => discovery::oauth_authorization_server,
    GET "/openapi.json" => discovery::openapi_json,
    GET "/healthz" => operations::healthz,
    GET "/metrics" => operations::metrics,
    GET "/readyz" => operations::readyz,
}

/// The routes of the `metrics.listen` address: `GET /metrics`, and a JSON 404
/// for anything else (the API is never served there).
pub fn metrics_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource(
        "/metrics",
        &["GET"],
        std::iter::once(web::get().to(operations::render_metrics)),
    ))
    .default_service(web::to(not_found));
}

/// A path with its methods; any other method gets a JSON 405 that names
/// them in `Allow` (RFC 9110 section 15.5.6).
fn resource(
    path: &'static str,
    allow: &[&str],
    routes: impl Iterator<Item = Route>,
) -> actix_web::Resource {
    // Method names are tokens, always a valid header value.
    let allow = HeaderValue::from_str(&allow.join(", ")).ok();
    routes
        .fold(web::resource(path), |resource, route| resource.route(route))
        .default_service(web::to(move || method_not_allowed(allow.clone())))
}

async fn not_found() -> HttpResponse {
    actix_web::ResponseError::error_response(&ApiError::NotFound)
}

async fn method_not_allowed(allow: Option<HeaderValue>) -> HttpResponse {
    let mut response = actix_web::ResponseError::error_response(&ApiError::MethodNotAllowed);
    if let Some(allow) = allow {
        response.headers_mut().insert(header::ALLOW, allow);
    }
    response
}
