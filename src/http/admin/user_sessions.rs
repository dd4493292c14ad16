//! `GET /admin/users/{id}/sessions`: a user's live sessions, by keyset pages.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::caller;
use crate::admin::sessions;
use crate::clients::Permission;
use crate::http::ApiError;
use crate::http::error::ErrorBody;
use crate::http::state::AppState;

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UserSessionsQuery {
    /// Sessions per page: 1 to 100 (default 50); a larger limit is refused.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
    /// The `next_cursor` of the previous page; without it, the first page.
    #[param(pattern = r"^[0-9]{1,19}\.[0-9a-f]{32}$")]
    cursor: Option<String>,
}

/// One live session of the user.
#[derive(Serialize, ToSchema)]
struct AdminSession {
    id: Uuid,
    /// `refresh` (a refresh-token family) or `browser` (the browser session
    /// at authd).
    kind: &'static str,
    created_at: DateTime<Utc>,
    last_refreshed_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    user_agent: Option<String>,
    ip: Option<String>,
    /// The client it was signed in for; `null` for authd's own.
    client_id: Option<String>,
}

/// One page of a user's live sessions, newest first.
#[derive(Serialize, ToSchema)]
struct AdminSessionList {
    sessions: Vec<AdminSession>,
    /// More sessions follow: fetch them with `next_cursor`.
    has_more: bool,
    /// Pass as `cursor` for the next page; `null` exactly when `has_more` is
    /// false.
    next_cursor: Option<String>,
}

/// A user's live sessions, by pages.
///
/// Newest first, by start time then id, as `GET /auth/sessions` lists them
/// to the user. Needs `authd:admin:users:read`.
#[utoipa::path(
    get,
    path = "/admin/users/{id}/sessions",
    tag = "admin",
    params(("id" = Uuid, Path, description = "The user's id (`sub`)"), UserSessionsQuery),
    responses(
        (status = 200, description = "A page of sessions", body = AdminSessionList,
            headers(("Cache-Control" = String, description = "`no-store`"))),
        (status = 400, description = "`invalid_request`: `limit` outside 1 to 100, a `cursor` authd did not give, or an unknown parameter", body = ErrorBody),
        (status = 401, description = "`invalid_client`: no or wrong client credentials (HTTP Basic); `invalid_token`: a Bearer token that is not a live session's; `insufficient_user_authentication`: a user holding an admin role whose session was not signed in with a second factor within `mfa.step_up_max_age_secs`", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Basic realm=\"authd\"`, or `Bearer` for a Bearer token"))),
        (status = 403, description = "`insufficient_scope`: the caller lacks `authd:admin:users:read`", body = ErrorBody),
        (status = 404, description = "`not_found`: no such user (a malformed id too)", body = ErrorBody),
        (status = 429, description = "`too_many_requests`: over `limits.admin_per_client`", body = ErrorBody,
            headers(("Retry-After" = String, description = "Seconds to wait"))),
        (status = "5XX", description = "`temporarily_unavailable` (503, with `Retry-After`) or `server_error` (500)", body = ErrorBody),
    ),
    security(("client_basic" = []), ("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn list_user_sessions(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller(&state, &req, Permission::AdminUsersRead).await?;
    let id = Uuid::parse_str(&path).map_err(|_| ApiError::NotFound)?;
    let query = web::Query::<UserSessionsQuery>::from_query(req.query_string())
        .map_err(|e| {
            ApiError::InvalidRequest(format!(
                "the parameters are limit (1 to 100) and cursor ({e})"
            ))
        })?
        .into_inner();
    let page =
        sessions::list_live(&state.services, id, query.cursor.as_deref(), query.limit).await?;
    let sessions = page
        .sessions
        .iter()
        .map(|s| AdminSession {
            id: s.id,
            kind: s.kind.as_str(),
            created_at: s.created_at,
            last_refreshed_at: s.last_rotated_at,
            expires_at: s.expires_at,
            user_agent: s.user_agent.clone(),
            ip: s.ip.clone(),
            client_id: s.client_id.clone(),
        })
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(AdminSessionList {
            sessions,
            has_more: page.next_cursor.is_some(),
            next_cursor: page.next_cursor,
        }))
}
