//! Operations: health checks, Prometheus metrics, and the middleware that
//! counts every request.

use actix_web::http::Method;
use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::ApiError;
use super::error::ErrorBody;
use super::state::AppState;
use crate::metrics::Exposure;

/// The `method` label of a request: one of the methods HTTP defines for
/// resources like authd's, or `other`. The method is the client's to choose
/// (any token is legal), so it never becomes a label value as it came.
fn method_label(method: &Method) -> &'static str {
    match method.as_str() {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    }
}

/// Counts every request and its latency under its route template and a
/// method from a fixed set (never the raw path or method, which would let
/// clients create unbounded label values); unmatched paths count as
/// `unmatched`. The status is the server's own answer.
pub async fn measure(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    let started = std::time::Instant::now();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let route = req
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = method_label(req.method());
    let response = next.call(req).await?;
    if let Some(state) = state {
        let status = response.status().as_u16().to_string();
        let m = &state.services.metrics;
        m.requests
            .with_label_values(&[route.as_str(), method, status.as_str()])
            .inc();
        m.latency
            .with_label_values(&[route.as_str()])
            .observe(started.elapsed().as_secs_f64());
    }
    Ok(response)
}

/// Prometheus metrics, on the public listener.
///
/// Served only with `metrics.public = true`, and then without the families
/// that would tell which addresses have accounts
/// (`metrics::PRIVATE_FAMILIES`). Otherwise 404: the metrics are served on
/// `metrics.listen`, when it is set.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses(
        (status = 200, description = "Prometheus text exposition format, without the mail and background families (`metrics.public = true`)", body = String,
            content_type = "text/plain; version=0.0.4"),
        (status = 404, description = "`not_found`: `metrics.public` is off (the default); the metrics are served on `metrics.listen`", body = ErrorBody),
    ),
    security(())
)]
pub async fn metrics(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    if !state.settings().metrics.public {
        return Err(ApiError::NotFound);
    }
    Ok(render(&state, Exposure::Public))
}

/// `GET /metrics` of the `metrics.listen` address: every family.
pub async fn render_metrics(state: web::Data<AppState>) -> HttpResponse {
    render(&state, Exposure::All)
}

fn render(state: &AppState, exposure: Exposure) -> HttpResponse {
    let svc = &state.services;
    let (size, idle) = svc.store.pool_stats();
    let body = svc.metrics.render(
        exposure,
        svc.hasher.queue_depth(),
        svc.hasher.runs(),
        size,
        idle,
    );
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
pub async fn healthz() -> HttpResponse {
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
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let ping = tokio::time::timeout(
        std::time::Duration::from_secs(1),
        state.services.store.ping(),
    )
    .await;
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
