//! `PUT /admin/users/{id}/roles`: an account's roles, replaced.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::caller;
use crate::admin::update;
use crate::clients::Permission;
use crate::http::ApiError;
use crate::http::error::ErrorBody;
use crate::http::extractors::Json;
use crate::http::state::AppState;

/// A user's roles.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdminUserRoles {
    /// Role names: a-z, 0-9, `_ : . -`, 1 to 64 characters.
    #[schema(example = json!(["support"]))]
    roles: Vec<String>,
}

/// Replaces an account's roles.
///
/// The roles become exactly those given; they reach the user's tokens at
/// their next issue. Audited as `roles_changed` (`+a -b`) with the caller as
/// the actor when something changed. Needs `authd:admin:users:write`; a role
/// added or removed that `admin.roles` maps to an admin permission needs
/// that permission too (no caller gives away, or takes, what it does not
/// hold), else 403 and nothing changes.
#[utoipa::path(
    put,
    path = "/admin/users/{id}/roles",
    tag = "admin",
    params(("id" = Uuid, Path, description = "The user's id (`sub`)")),
    request_body = AdminUserRoles,
    responses(
        (status = 200, description = "The user's roles now", body = AdminUserRoles),
        (status = 400, description = "`invalid_request`: a malformed body or role name", body = ErrorBody),
        (status = 401, description = "`invalid_client`: no or wrong client credentials (HTTP Basic); `invalid_token`: a Bearer token that is not a live session's; `insufficient_user_authentication`: a user holding an admin role whose session was not signed in with a second factor within `mfa.step_up_max_age_secs`", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Basic realm=\"authd\"`, or `Bearer` for a Bearer token"))),
        (status = 403, description = "`insufficient_scope`: the caller lacks `authd:admin:users:write`, or a permission that a role added or removed maps to (named in the message)", body = ErrorBody),
        (status = 404, description = "`not_found`: no such user (a malformed id too)", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: the body is over `server.max_body_bytes`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: the body is not `application/json`", body = ErrorBody),
        (status = 429, description = "`too_many_requests`: over `limits.admin_per_client`", body = ErrorBody,
            headers(("Retry-After" = String, description = "Seconds to wait"))),
        (status = "5XX", description = "`temporarily_unavailable` (503, with `Retry-After`) or `server_error` (500)", body = ErrorBody),
    ),
    security(("client_basic" = []), ("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn set_user_roles(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    Json(input): Json<AdminUserRoles>,
) -> Result<HttpResponse, ApiError> {
    let admin = caller(&state, &req, Permission::AdminUsersWrite).await?;
    let id = Uuid::parse_str(&path).map_err(|_| ApiError::NotFound)?;
    let roles = update::set_roles(&state.services, &admin, id, &input.roles).await?;
    Ok(HttpResponse::Ok().json(AdminUserRoles { roles }))
}
