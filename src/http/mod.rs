//! The HTTP API: routes, the discovery documents, health checks.
//!
//! Every route is declared once, in the `route_table!` below: the table both
//! registers it with actix and lists it in [`ROUTES`], so the list is what the
//! server serves. `GET /openapi.json` is generated from the handlers'
//! `#[utoipa::path]` annotations (see `openapi.rs`). To add a route:
//!
//! 1. add one line `METHOD "/path" => handler,` to the table;
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
//! app) are registered outside the table on purpose and are not documented.

mod auth;
pub mod demo;
mod error;
mod oauth;
mod openapi;
pub mod request;

use actix_web::http::header;
use actix_web::{HttpResponse, Route, web};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

pub use error::ApiError;
pub use openapi::document_json;

use crate::startup::AppState;

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
        /// methods is one resource; any other method on it gets a JSON 405,
        /// and any other path a JSON 404.
        pub fn routes(cfg: &mut web::ServiceConfig) {
            let table: &[(&'static str, fn() -> Route)] =
                &[$(($path, || method_route!($method).to($handler))),*];
            let mut paths: Vec<&'static str> = Vec::new();
            for (path, _) in table {
                if !paths.contains(path) {
                    paths.push(path);
                }
            }
            for path in paths {
                let routes = table.iter().filter(|(p, _)| *p == path).map(|(_, r)| r());
                cfg.service(resource(path, routes));
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
    GET "/auth/audit" => auth::list_audit,
    GET "/auth/sessions" => auth::list_sessions,
    DELETE "/auth/sessions/{id}" => auth::revoke_session,
    GET "/auth/revocations" => oauth::revocations,
    POST "/oauth/token" => oauth::token,
    POST "/oauth/revoke" => oauth::revoke,
    POST "/oauth/introspect" => oauth::introspect,
    GET "/.well-known/jwks.json" => jwks,
    GET "/.well-known/openid-configuration" => openid_configuration,
    GET "/.well-known/oauth-authorization-server" => oauth_authorization_server,
    GET "/openapi.json" => openapi_json,
    GET "/healthz" => healthz,
    GET "/metrics" => metrics,
    GET "/readyz" => readyz,
}

/// A path with its methods; any other method gets a JSON 405.
fn resource(path: &'static str, routes: impl Iterator<Item = Route>) -> actix_web::Resource {
    routes
        .fold(web::resource(path), |resource, route| resource.route(route))
        .default_service(web::to(method_not_allowed))
}

/// The headers of every answer carrying tokens (RFC 6749 section 5.1).
fn token_headers(mut response: actix_web::HttpResponseBuilder) -> actix_web::HttpResponseBuilder {
    response
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"));
    response
}

async fn not_found() -> HttpResponse {
    actix_web::ResponseError::error_response(&ApiError::NotFound)
}

async fn method_not_allowed() -> HttpResponse {
    actix_web::ResponseError::error_response(&ApiError::MethodNotAllowed)
}

/// The public keys, for microservices that verify tokens themselves.
#[utoipa::path(
    get,
    path = "/.well-known/jwks.json",
    tag = "discovery",
    responses((status = 200, description = "A JSON Web Key Set (RFC 7517)", body = serde_json::Value,
        headers(("Cache-Control" = String, description = "`public, max-age=<jwt.jwks_max_age_secs>`")))),
    security(())
)]
async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((
            header::CACHE_CONTROL,
            format!("public, max-age={}", state.settings.jwt.jwks_max_age_secs),
        ))
        .content_type("application/json")
        .body(state.access.keys().jwks_json().to_owned())
}

/// OpenID Connect discovery metadata.
///
/// Enough for stock JWT middleware to find the keys from the issuer URL.
#[utoipa::path(
    get,
    path = "/.well-known/openid-configuration",
    tag = "discovery",
    responses((status = 200, description = "The issuer's metadata", body = serde_json::Value)),
    security(())
)]
async fn openid_configuration(state: web::Data<AppState>) -> HttpResponse {
    discovery(state)
}

/// RFC 8414 authorization server metadata.
///
/// The same document as `/.well-known/openid-configuration`.
#[utoipa::path(
    get,
    path = "/.well-known/oauth-authorization-server",
    tag = "discovery",
    responses((status = 200, description = "The issuer's metadata", body = serde_json::Value)),
    security(())
)]
async fn oauth_authorization_server(state: web::Data<AppState>) -> HttpResponse {
    discovery(state)
}

/// This API's OpenAPI 3.1 document, built once at start-up.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "discovery",
    responses((status = 200, description = "The OpenAPI 3.1 document", body = serde_json::Value)),
    security(())
)]
async fn openapi_json(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .content_type("application/json")
        .body(state.openapi.clone())
}

/// OpenID Connect discovery / RFC 8414 metadata.
fn discovery(state: web::Data<AppState>) -> HttpResponse {
    let issuer = state.settings.issuer();
    HttpResponse::Ok()
        .insert_header((
            header::CACHE_CONTROL,
            format!("public, max-age={}", state.settings.jwt.jwks_max_age_secs),
        ))
        .json(json!({
            "issuer": issuer,
            "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
            "token_endpoint": format!("{issuer}/oauth/token"),
            "revocation_endpoint": format!("{issuer}/oauth/revoke"),
            "introspection_endpoint": format!("{issuer}/oauth/introspect"),
            "revocation_feed_endpoint": format!("{issuer}/auth/revocations"),
            "grant_types_supported": ["refresh_token", "client_credentials"],
            "response_types_supported": ["token"],
            "subject_types_supported": ["public"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
            "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
            "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "id_token_signing_alg_values_supported": state.access.keys().algorithms(),
            "access_token_signing_alg_values_supported": state.access.keys().algorithms(),
            "claims_supported": ["iss", "sub", "aud", "exp", "iat", "jti", "sid", "client_id", "scope"],
        }))
}

/// Counts every request and its latency under its route pattern (never the
/// raw path, which would let clients create unbounded label values).
pub async fn measure(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    let started = std::time::Instant::now();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let route = req
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = req.method().as_str().to_owned();
    let response = next.call(req).await?;
    if let Some(state) = state {
        let status = response.status().as_u16().to_string();
        let m = &state.metrics;
        m.requests
            .with_label_values(&[route.as_str(), method.as_str(), status.as_str()])
            .inc();
        m.latency
            .with_label_values(&[route.as_str()])
            .observe(started.elapsed().as_secs_f64());
    }
    Ok(response)
}

/// Prometheus metrics.
///
/// Serve them to the monitoring network only (block `/metrics` at the proxy
/// in front of authd).
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses((status = 200, description = "Prometheus text exposition format", body = String,
        content_type = "text/plain; version=0.0.4")),
    security(())
)]
async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let (size, idle) = state.store.pool_stats();
    let body = state
        .metrics
        .render(state.hasher.queue_depth(), state.hasher.runs(), size, idle);
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(body)
}

/// The answer of the health checks.
#[derive(Serialize, ToSchema)]
struct Health {
    /// `ok` or `unavailable`.
    status: &'static str,
    /// `temporarily_unavailable` when not ready.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'static str>,
}

const HEALTHY: Health = Health {
    status: "ok",
    error: None,
};
const UNAVAILABLE: Health = Health {
    status: "unavailable",
    error: Some("temporarily_unavailable"),
};

/// The process is up.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    responses((status = 200, description = "Up", body = Health)),
    security(())
)]
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(HEALTHY)
}

/// The database answers within a second.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    responses(
        (status = 200, description = "Ready", body = Health),
        (status = 503, description = "The database did not answer within a second", body = Health),
    ),
    security(())
)]
async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let ping = tokio::time::timeout(std::time::Duration::from_secs(1), state.store.ping()).await;
    match ping {
        Ok(Ok(())) => HttpResponse::Ok().json(HEALTHY),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness check failed");
            HttpResponse::ServiceUnavailable().json(UNAVAILABLE)
        }
        Err(_) => {
            tracing::warn!("readiness check timed out");
            HttpResponse::ServiceUnavailable().json(UNAVAILABLE)
        }
    }
}
