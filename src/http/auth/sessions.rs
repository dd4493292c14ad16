//! `GET /auth/sessions` and `DELETE /auth/sessions/{id}`.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::audit::AuditKind;
use crate::http::ApiError;
use crate::http::error::ErrorBody;
use crate::http::extractors::{AuthenticatedUser, Caller};
use crate::http::state::AppState;
use crate::sessions::logout::{self, reasons};
use crate::sessions::{self, SessionView};

/// The user's active sessions.
#[derive(Serialize, ToSchema)]
struct SessionList {
    sessions: Vec<SessionView>,
}

/// The user's active sessions.
///
/// `current` marks the Bearer token's own.
#[utoipa::path(
    get,
    path = "/auth/sessions",
    tag = "auth",
    responses(
        (status = 200, description = "The sessions", body = SessionList),
        (status = 401, description = "`invalid_token`: no valid Bearer token, or its session has ended", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"authd\"`, with `error=\"invalid_token\"` for a bad token"))),
        (status = "5XX", description = "`temporarily_unavailable` (503, with `Retry-After`) or `server_error` (500)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn list_sessions(
    state: web::Data<AppState>,
    user: AuthenticatedUser,
) -> Result<HttpResponse, ApiError> {
    let sessions = sessions::list_live(&state.services, user.sub).await?;
    let sessions = sessions
        .iter()
        .map(|s| SessionView::new(s, user.sid))
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(SessionList { sessions }))
}

/// Ends one of the user's own sessions.
#[utoipa::path(
    delete,
    path = "/auth/sessions/{id}",
    tag = "auth",
    params(("id" = Uuid, Path, description = "A session id from `GET /auth/sessions`")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "`invalid_token`: no valid Bearer token, or its session has ended", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"authd\"`, with `error=\"invalid_token\"` for a bad token"))),
        (status = 404, description = "`not_found`: no such active session of this user (a malformed id too)", body = ErrorBody),
        (status = "5XX", description = "`temporarily_unavailable` (503, with `Retry-After`) or `server_error` (500)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn revoke_session(
    state: web::Data<AppState>,
    user: AuthenticatedUser,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    // Another user's session and a malformed id look the same: not found.
    let id = Uuid::parse_str(&path).map_err(|_| ApiError::NotFound)?;
    let ended = logout::end_one(
        &state.services,
        id,
        user.sub,
        AuditKind::SessionRevoked,
        reasons::REVOKED_BY_USER,
        &caller.meta,
    )
    .await?;
    if !ended {
        return Err(ApiError::NotFound);
    }
    Ok(HttpResponse::NoContent().finish())
}
