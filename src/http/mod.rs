//! The HTTP API: routes, the discovery documents, health checks.

mod auth;
pub mod demo;
mod error;
pub mod request;

use actix_web::http::header;
use actix_web::{HttpResponse, Route, web};
use serde_json::json;

pub use error::ApiError;

use crate::startup::AppState;

/// Every route of the service; the paths are part of the API contract.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/auth/register", web::post().to(auth::register)))
        .service(resource("/auth/login", web::post().to(auth::login)))
        .service(resource("/auth/refresh", web::post().to(auth::refresh)))
        .service(resource("/auth/logout", web::post().to(auth::logout)))
        .service(resource("/auth/me", web::get().to(auth::me)))
        .service(resource(
            "/auth/password",
            web::post().to(auth::change_password),
        ))
        .service(resource("/auth/audit", web::get().to(auth::list_audit)))
        .service(resource(
            "/auth/sessions",
            web::get().to(auth::list_sessions),
        ))
        .service(resource(
            "/auth/sessions/{id}",
            web::delete().to(auth::revoke_session),
        ))
        .service(resource("/.well-known/jwks.json", web::get().to(jwks)))
        .service(resource(
            "/.well-known/openid-configuration",
            web::get().to(discovery),
        ))
        .service(resource(
            "/.well-known/oauth-authorization-server",
            web::get().to(discovery),
        ))
        .service(resource("/healthz", web::get().to(healthz)))
        .service(resource("/metrics", web::get().to(metrics)))
        .service(resource("/readyz", web::get().to(readyz)))
        .default_service(web::to(not_found));
}

/// A path with one method; any other method gets a JSON 405.
fn resource(path: &str, route: Route) -> actix_web::Resource {
    web::resource(path)
        .route(route)
        .default_service(web::to(method_not_allowed))
}

async fn not_found() -> HttpResponse {
    actix_web::ResponseError::error_response(&ApiError::NotFound)
}

async fn method_not_allowed() -> HttpResponse {
    actix_web::ResponseError::error_response(&ApiError::MethodNotAllowed)
}

/// The public keys, for microservices that verify tokens themselves.
async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((
            header::CACHE_CONTROL,
            format!("public, max-age={}", state.settings.jwt.jwks_max_age_secs),
        ))
        .content_type("application/json")
        .body(state.access.keys().jwks_json().to_owned())
}

/// OpenID Connect discovery / RFC 8414 metadata: enough for stock JWT
/// middleware to find the keys from the issuer URL.
async fn discovery(state: web::Data<AppState>) -> HttpResponse {
    let issuer = state.settings.issuer();
    HttpResponse::Ok()
        .insert_header((
            header::CACHE_CONTROL,
            format!("public, max-age={}", state.settings.jwt.jwks_max_age_secs),
        ))
        .json(json!({
            "issuer": issuer,
            "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
            "token_endpoint": format!("{issuer}/auth/refresh"),
            "response_types_supported": ["token"],
            "subject_types_supported": ["public"],
            "token_endpoint_auth_methods_supported": ["none"],
            "id_token_signing_alg_values_supported": state.access.keys().algorithms(),
            "access_token_signing_alg_values_supported": state.access.keys().algorithms(),
            "claims_supported": ["iss", "sub", "aud", "exp", "iat", "jti", "sid", "client_id"],
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

/// Prometheus text format. Serve it to the monitoring network only (block
/// `/metrics` at the proxy in front of authd).
async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let (size, idle) = state.store.pool_stats();
    let body = state.metrics.render(state.hasher.queue_depth(), size, idle);
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(body)
}

/// The process is up.
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// The database answers within a second.
async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let ping = tokio::time::timeout(std::time::Duration::from_secs(1), state.store.ping()).await;
    match ping {
        Ok(Ok(())) => HttpResponse::Ok().json(json!({ "status": "ok" })),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness check failed");
            HttpResponse::ServiceUnavailable()
                .json(json!({ "status": "unavailable", "error": "temporarily_unavailable" }))
        }
        Err(_) => {
            tracing::warn!("readiness check timed out");
            HttpResponse::ServiceUnavailable()
                .json(json!({ "status": "unavailable", "error": "temporarily_unavailable" }))
        }
    }
}
