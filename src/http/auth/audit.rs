//! `GET /auth/audit`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::audit;
use crate::http::ApiError;
use crate::http::error::ErrorBody;
use crate::http::extractors::AuthenticatedUser;
use crate::http::state::AppState;
use crate::store::audit::AuditRecord;

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// How many events, newest first: 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
}

/// The user's own audit events, newest first.
#[derive(Serialize, ToSchema)]
struct AuditList {
    events: Vec<AuditRecord>,
}

/// The user's own audit events, newest first.
#[utoipa::path(
    get,
    path = "/auth/audit",
    tag = "auth",
    params(AuditQuery),
    responses(
        (status = 200, description = "The events", body = AuditList),
        (status = 400, description = "`invalid_request`: `limit` is not a number from 1 to 200", body = ErrorBody),
        (status = 401, description = "`invalid_token`: no valid Bearer token, or its session has ended", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"authd\"`, with `error=\"invalid_token\"` for a bad token"))),
        (status = "5XX", description = "`temporarily_unavailable` (503, with `Retry-After`) or `server_error` (500)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn list_audit(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: AuthenticatedUser,
) -> Result<HttpResponse, ApiError> {
    let query = web::Query::<AuditQuery>::from_query(req.query_string())
        .map_err(|_| ApiError::InvalidRequest("limit must be a number from 1 to 200".into()))?;
    let limit = query.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::InvalidRequest(
            "limit must be a number from 1 to 200".into(),
        ));
    }
    let events = audit::list(&state.services.store, user.sub, limit).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(AuditList { events }))
}
