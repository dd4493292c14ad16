//! `GET /admin/users/{id}/audit`: a user's audit events, by keyset pages.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::caller;
use crate::admin::audit;
use crate::clients::Permission;
use crate::http::ApiError;
use crate::http::error::ErrorBody;
use crate::http::state::AppState;
use crate::store::audit::AuditRecord;

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UserAuditQuery {
    /// Events per page: 1 to 200 (default 50); a larger limit is refused.
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
    /// The `next_cursor` of the previous page; without it, the first page.
    #[param(pattern = r"^[0-9]{1,19}\.[0-9]{1,19}$")]
    cursor: Option<String>,
}

/// One page of a user's audit events, newest first.
#[derive(Serialize, ToSchema)]
struct AdminAuditList {
    events: Vec<AuditRecord>,
    /// More events follow: fetch them with `next_cursor`.
    has_more: bool,
    /// Pass as `cursor` for the next page; `null` exactly when `has_more` is
    /// false.
    next_cursor: Option<String>,
}

/// A user's audit events, by pages.
///
/// Newest first, by time then order of recording; events outlive their
/// user, so an unknown id is an empty list. Needs `authd:admin:users:read`.
#[utoipa::path(
    get,
    path = "/admin/users/{id}/audit",
    tag = "admin",
    params(("id" = Uuid, Path, description = "The user's id (`sub`)"), UserAuditQuery),
    responses(
        (status = 200, description = "A page of events", body = AdminAuditList,
            headers(("Cache-Control" = String, description = "`no-store`"))),
        (status = 400, description = "`invalid_request`: `limit` outside 1 to 200, a `cursor` authd did not give, or an unknown parameter", body = ErrorBody),
        (status = 401, description = "`invalid_client`: no or wrong client credentials (HTTP Basic); `invalid_token`: a Bearer token that is not a live session's; `insufficient_user_authentication`: a user holding an admin role whose session was not signed in with a second factor within `mfa.step_up_max_age_secs`", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Basic realm=\"authd\"`, or `Bearer` for a Bearer token"))),
        (status = 403, description = "`insufficient_scope`: the caller lacks `authd:admin:users:read`", body = ErrorBody),
        (status = 404, description = "`not_found`: a malformed id", body = ErrorBody),
        (status = 429, description = "`too_many_requests`: over `limits.admin_per_client`", body = ErrorBody,
            headers(("Retry-After" = String, description = "Seconds to wait"))),
        (status = "5XX", description = "`temporarily_unavailable` (503, with `Retry-After`) or `server_error` (500)", body = ErrorBody),
    ),
    security(("client_basic" = []), ("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn list_user_audit(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller(&state, &req, Permission::AdminUsersRead).await?;
    let id = Uuid::parse_str(&path).map_err(|_| ApiError::NotFound)?;
    let query = web::Query::<UserAuditQuery>::from_query(req.query_string())
        .map_err(|e| {
            ApiError::InvalidRequest(format!(
                "the parameters are limit (1 to 200) and cursor ({e})"
            ))
        })?
        .into_inner();
    let page = audit::list(&state.services, id, query.cursor.as_deref(), query.limit).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(AdminAuditList {
            events: page.events,
            has_more: page.next_cursor.is_some(),
            next_cursor: page.next_cursor,
        }))
}
