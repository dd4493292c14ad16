//! `POST /admin/users/{id}/disable` and `POST /admin/users/{id}/enable`.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::caller;
use crate::admin::status;
use crate::clients::Permission;
use crate::http::ApiError;
use crate::http::error::ErrorBody;
use crate::http::state::AppState;

/// Whether the account may sign in now.
#[derive(Serialize, ToSchema)]
struct AccountStatus {
    disabled: bool,
    /// Sessions the disabling ended (0 when it was disabled already, and
    /// for an enabling).
    sessions_ended: u64,
}

/// Disables an account.
///
/// Every session and browser session of the user ends at once, as one user
/// revocation the revocation feed lists; every sign-in is refused from now
/// on with 403 `account_disabled` (after a right password only: a wrong one
/// stays `invalid_credentials`), and refreshes fail. Audited as
/// `user_disabled` with the caller as the actor. Disabling a disabled
/// account changes nothing. Needs `authd:admin:users:write`.
#[utoipa::path(
    post,
    path = "/admin/users/{id}/disable",
    tag = "admin",
    params(("id" = Uuid, Path, description = "The user's id (`sub`)")),
    responses(
        (status = 200, description = "Disabled", body = AccountStatus),
        (status = 401, description = "`invalid_client`: no or wrong client credentials (HTTP Basic); `invalid_token`: a Bearer token that is not a live session's; `insufficient_user_authentication`: a user holding an admin role whose session was not signed in with a second factor within `mfa.step_up_max_age_secs`", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Basic realm=\"authd\"`, or `Bearer` for a Bearer token"))),
        (status = 403, description = "`insufficient_scope`: the caller lacks `authd:admin:users:write`, or the account holds a role mapping to an admin permission the caller lacks", body = ErrorBody),
        (status = 404, description = "`not_found`: no such user (a malformed id too)", body = ErrorBody),
        (status = 429, description = "`too_many_requests`: over `limits.admin_per_client`", body = ErrorBody,
            headers(("Retry-After" = String, description = "Seconds to wait"))),
        (status = "5XX", description = "`temporarily_unavailable` (503, with `Retry-After`) or `server_error` (500)", body = ErrorBody),
    ),
    security(("client_basic" = []), ("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn disable_user(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let admin = caller(&state, &req, Permission::AdminUsersWrite).await?;
    let id = Uuid::parse_str(&path).map_err(|_| ApiError::NotFound)?;
    let sessions_ended = status::disable(&state.services, &admin, id).await?;
    Ok(HttpResponse::Ok().json(AccountStatus {
        disabled: true,
        sessions_ended,
    }))
}

/// Enables an account again.
///
/// The user may sign in again; the sessions the disabling ended stay ended.
/// Audited as `user_enabled` with the caller as the actor. Enabling an
/// account that is not disabled changes nothing. Needs
/// `authd:admin:users:write`.
#[utoipa::path(
    post,
    path = "/admin/users/{id}/enable",
    tag = "admin",
    params(("id" = Uuid, Path, description = "The user's id (`sub`)")),
    responses(
        (status = 200, description = "Enabled", body = AccountStatus),
        (status = 401, description = "`invalid_client`: no or wrong client credentials (HTTP Basic); `invalid_token`: a Bearer token that is not a live session's; `insufficient_user_authentication`: a user holding an admin role whose session was not signed in with a second factor within `mfa.step_up_max_age_secs`", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Basic realm=\"authd\"`, or `Bearer` for a Bearer token"))),
        (status = 403, description = "`insufficient_scope`: the caller lacks `authd:admin:users:write`, or the account holds a role mapping to an admin permission the caller lacks", body = ErrorBody),
        (status = 404, description = "`not_found`: no such user (a malformed id too)", body = ErrorBody),
        (status = 429, description = "`too_many_requests`: over `limits.admin_per_client`", body = ErrorBody,
            headers(("Retry-After" = String, description = "Seconds to wait"))),
        (status = "5XX", description = "`temporarily_unavailable` (503, with `Retry-After`) or `server_error` (500)", body = ErrorBody),
    ),
    security(("client_basic" = []), ("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn enable_user(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let admin = caller(&state, &req, Permission::AdminUsersWrite).await?;
    let id = Uuid::parse_str(&path).map_err(|_| ApiError::NotFound)?;
    status::enable(&state.services, &admin, id).await?;
    Ok(HttpResponse::Ok().json(AccountStatus {
        disabled: false,
        sessions_ended: 0,
    }))
}
