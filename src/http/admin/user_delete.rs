//! `DELETE /admin/users/{id}`: an account erased.

use actix_web::{HttpRequest, HttpResponse, web};
use uuid::Uuid;

use super::caller;
use crate::admin::erase;
use crate::clients::Permission;
use crate::http::ApiError;
use crate::http::error::ErrorBody;
use crate::http::state::AppState;

/// Erases an account's personal data.
///
/// Every session ends first, as one user revocation that the revocation
/// feed keeps listing; then the address, password, factors, passkeys,
/// roles, app_metadata, consents, emailed links and the user's mail are
/// gone, and the user's audit events move to a fresh pseudonymous id with
/// their addresses and user agents erased. Audited as `user_deleted` under
/// that pseudonym with the caller as the actor. The address may register
/// again. Needs `authd:admin:users:write`.
#[utoipa::path(
    delete,
    path = "/admin/users/{id}",
    tag = "admin",
    params(("id" = Uuid, Path, description = "The user's id (`sub`)")),
    responses(
        (status = 204, description = "Erased"),
        (status = 401, description = "`invalid_client`: no or wrong client credentials (HTTP Basic); `invalid_token`: a Bearer token that is not a live session's; `insufficient_user_authentication`: a user holding an admin role whose session was not signed in with a second factor within `mfa.step_up_max_age_secs`", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Basic realm=\"authd\"`, or `Bearer` for a Bearer token"))),
        (status = 403, description = "`insufficient_scope`: the caller lacks `authd:admin:users:write`, or the account holds a role mapping to an admin permission the caller lacks", body = ErrorBody),
        (status = 404, description = "`not_found`: no such user (a malformed id, or an account erased already, too)", body = ErrorBody),
        (status = 429, description = "`too_many_requests`: over `limits.admin_per_client`", body = ErrorBody,
            headers(("Retry-After" = String, description = "Seconds to wait"))),
        (status = "5XX", description = "`temporarily_unavailable` (503, with `Retry-After`) or `server_error` (500)", body = ErrorBody),
    ),
    security(("client_basic" = []), ("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn delete_user(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let admin = caller(&state, &req, Permission::AdminUsersWrite).await?;
    let id = Uuid::parse_str(&path).map_err(|_| ApiError::NotFound)?;
    erase::erase(&state.services, &admin, id).await?;
    Ok(HttpResponse::NoContent().finish())
}
