//! `GET /admin/users`: the user list, by keyset pages.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::caller;
use crate::admin::users::{self, ListRequest};
use crate::clients::Permission;
use crate::http::ApiError;
use crate::http::error::ErrorBody;
use crate::http::state::AppState;
use crate::store::users::User;

/// `count=exact`: the only way to count.
#[derive(Deserialize, ToSchema, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub enum CountMode {
    Exact,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UsersQuery {
    /// Users per page: 1 to 200 (default 50). A larger limit is refused, never
    /// clamped.
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
    /// The `next_cursor` of the previous page; without it, the first page.
    #[param(pattern = r"^[0-9]{1,19}\.[0-9a-f]{32}$")]
    cursor: Option<String>,
    /// `exact`: count every user the filters keep, in `total` (it reads them
    /// all: ask once, not on every page).
    #[param(inline)]
    count: Option<CountMode>,
    /// Addresses starting with this (case-insensitive: addresses are stored
    /// in lowercase); `%` and `_` are literal.
    #[param(max_length = 254)]
    email_prefix: Option<String>,
    /// Only users whose address is (`true`) or is not (`false`) verified.
    verified: Option<bool>,
    /// Only users with (`true`) or without (`false`) a confirmed second factor
    /// (a TOTP factor or a passkey).
    has_second_factor: Option<bool>,
    /// Only disabled accounts (`true`), or only enabled ones (`false`).
    disabled: Option<bool>,
    /// Only users created at or after this instant (RFC 3339).
    created_after: Option<DateTime<Utc>>,
    /// Only users created before this instant (RFC 3339).
    created_before: Option<DateTime<Utc>>,
}

/// One page of users, oldest first.
#[derive(Serialize, ToSchema)]
struct UserList {
    users: Vec<User>,
    /// More users follow this page: fetch them with `next_cursor`.
    has_more: bool,
    /// Pass as `cursor` for the next page; `null` exactly when `has_more` is
    /// false.
    next_cursor: Option<String>,
    /// Every user the filters keep, across all pages; only with
    /// `count=exact`.
    #[serde(skip_serializing_if = "Option::is_none")]
    total: Option<i64>,
}

const BAD_QUERY: &str = "the parameters are limit (1 to 200), cursor, count=exact, email_prefix, \
     verified, has_second_factor and disabled (true or false), created_after and created_before (RFC 3339)";

/// The users, by pages.
///
/// Oldest first, by creation time then id: a keyset order, so a walk from the
/// first page following `next_cursor` lists every user that exists throughout
/// exactly once, whatever is created or deleted meanwhile. A page holds
/// `limit` users unless it is the last; `has_more` says whether another
/// follows. Filters combine with AND; keep the same filters for every page of
/// a walk. Needs `authd:admin:users:read`.
#[utoipa::path(
    get,
    path = "/admin/users",
    tag = "admin",
    params(UsersQuery),
    responses(
        (status = 200, description = "A page of users", body = UserList,
            headers(("Cache-Control" = String, description = "`no-store`"))),
        (status = 400, description = "`invalid_request`: `limit` outside 1 to 200, a `cursor` authd did not give, a malformed filter, or an unknown parameter", body = ErrorBody),
        (status = 401, description = "`invalid_client`: no or wrong client credentials (HTTP Basic); `invalid_token`: a Bearer token that is not a live session's; `insufficient_user_authentication`: a user holding an admin role whose session was not signed in with a second factor within `mfa.step_up_max_age_secs`", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Basic realm=\"authd\"`, or `Bearer` for a Bearer token"))),
        (status = 403, description = "`insufficient_scope`: the caller lacks `authd:admin:users:read` (a user: no role of theirs grants it in `admin.roles`)", body = ErrorBody),
        (status = 429, description = "`too_many_requests`: over `limits.admin_per_client`", body = ErrorBody,
            headers(("Retry-After" = String, description = "Seconds to wait"))),
        (status = "5XX", description = "`temporarily_unavailable` (503, with `Retry-After`) or `server_error` (500)", body = ErrorBody),
    ),
    security(("client_basic" = []), ("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn list_users(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    caller(&state, &req, Permission::AdminUsersRead).await?;
    let query = web::Query::<UsersQuery>::from_query(req.query_string())
        .map_err(|e| ApiError::InvalidRequest(format!("{BAD_QUERY} ({e})")))?
        .into_inner();
    let request = ListRequest {
        limit: query.limit,
        cursor: query.cursor,
        exact_total: query.count.is_some(),
        email_prefix: query.email_prefix,
        verified: query.verified,
        has_second_factor: query.has_second_factor,
        disabled: query.disabled,
        created_after: query.created_after,
        created_before: query.created_before,
    };
    let page = users::list(&state.services, &request).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(UserList {
            users: page.users,
            has_more: page.has_more,
            next_cursor: page.next_cursor,
            total: page.total,
        }))
}
