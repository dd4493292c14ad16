//! `GET /auth/sessions` and `DELETE /auth/sessions/{id}`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::audit::AuditKind;
use crate::http::ApiError;
use crate::http::error::ErrorBody;
use crate::http::extractors::{AuthenticatedUser, Caller};
use crate::http::state::AppState;
use crate::ids::{SessionId, UserId};
use crate::sessions::SessionView;
use crate::sessions::list::{self, PageCursor};
use crate::sessions::logout::{self, reasons};

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SessionsQuery {
    /// Sessions per page: 1 to 100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
    /// The `next_cursor` of the previous page; without it, the first page.
    #[param(pattern = r"^[0-9]{1,18}\.[0-9a-f]{32}$")]
    cursor: Option<String>,
}

/// One page of the user's active sessions, newest first.
#[derive(Serialize, ToSchema)]
struct SessionList {
    sessions: Vec<SessionView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

const BAD_QUERY: &str =
    "limit must be a number from 1 to 100, and cursor a next_cursor from an earlier page";

/// The user's active sessions, by pages.
///
/// Newest first, by start time then session id; each page has at most
/// `limit` sessions, and `next_cursor`, when present, fetches the next one.
/// The order is a keyset order, so every session live throughout the walk is
/// listed exactly once, whatever starts or ends meanwhile. `current` marks
/// the Bearer token's own.
#[utoipa::path(
    get,
    path = "/auth/sessions",
    tag = "auth",
    params(SessionsQuery),
    responses(
        (status = 200, description = "A page of sessions", body = SessionList),
        (status = 400, description = "`invalid_request`: `limit` is not a number from 1 to 100, `cursor` is not one authd gave, or an unknown parameter", body = ErrorBody),
        (status = 401, description = "`invalid_token`: no valid Bearer token, or its session has ended", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"authd\"`, with `error=\"invalid_token\"` for a bad token"))),
        (status = "5XX", description = "`temporarily_unavailable` (503, with `Retry-After`) or `server_error` (500)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn list_sessions(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: AuthenticatedUser,
) -> Result<HttpResponse, ApiError> {
    let query = web::Query::<SessionsQuery>::from_query(req.query_string())
        .map_err(|_| ApiError::InvalidRequest(BAD_QUERY.into()))?;
    let limit = query.limit.unwrap_or(list::DEFAULT_PAGE);
    if !(1..=list::MAX_PAGE).contains(&limit) {
        return Err(ApiError::InvalidRequest(BAD_QUERY.into()));
    }
    let after = match query.cursor.as_deref() {
        Some(text) => Some(
            PageCursor::parse(text).ok_or_else(|| ApiError::InvalidRequest(BAD_QUERY.into()))?,
        ),
        None => None,
    };
    let page = list::page(&state.services, user.sub, after, limit).await?;
    let sessions = page
        .sessions
        .iter()
        .map(|s| SessionView::new(s, user.sid))
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(SessionList {
            sessions,
            next_cursor: page.next.map(|c| c.encode()),
        }))
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
        SessionId(id),
        UserId(user.sub),
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
