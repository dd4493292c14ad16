//! `DELETE /admin/users/{id}/factors`: every second factor of an account
//! removed.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::caller;
use crate::admin::credentials;
use crate::clients::Permission;
use crate::http::ApiError;
use crate::http::error::ErrorBody;
use crate::http::state::AppState;

/// What the removal did.
#[derive(Serialize, ToSchema)]
struct FactorsRemoved {
    /// Whether the account had a factor or recovery code to remove.
    removed: bool,
    /// Sessions ended (0 when nothing was removed).
    sessions_ended: u64,
}

/// Removes every second factor of an account.
///
/// TOTP, passkeys and recovery codes go; every session ends as one user
/// revocation; the owner is told by email. For a user who lost both the
/// device and the recovery codes: check who is asking first. Audited as
/// `factor_removed` (detail `all`) with the caller as the actor; an account
/// without a factor changes nothing. Needs `authd:admin:users:write`.
#[utoipa::path(
    delete,
    path = "/admin/users/{id}/factors",
    tag = "admin",
    params(("id" = Uuid, Path, description = "The user's id (`sub`)")),
    responses(
        (status = 200, description = "Done", body = FactorsRemoved),
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
pub async fn remove_user_factors(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let admin = caller(&state, &req, Permission::AdminUsersWrite).await?;
    let id = Uuid::parse_str(&path).map_err(|_| ApiError::NotFound)?;
    let ended = credentials::remove_factors(&state.services, &admin, id).await?;
    Ok(HttpResponse::Ok().json(FactorsRemoved {
        removed: ended.is_some(),
        sessions_ended: ended.unwrap_or(0),
    }))
}
