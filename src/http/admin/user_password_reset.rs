//! `POST /admin/users/{id}/password_reset`: a reset link and code sent to
//! an account's address.

use actix_web::{HttpRequest, HttpResponse, web};
use uuid::Uuid;

use super::caller;
use crate::admin::{AdminError, credentials};
use crate::clients::Permission;
use crate::http::ApiError;
use crate::http::error::ErrorBody;
use crate::http::extractors::Caller;
use crate::http::state::AppState;

/// Sends an account a password-reset link and code.
///
/// The message of `POST /auth/password/forgot`, sent now to the account's
/// address: the link and code work `accounts.reset_ttl_secs`, once, and the
/// older ones end after the grace. Nothing else changes until they are used.
/// Audited as `password_reset_requested` with the caller as the actor.
/// Needs `authd:admin:users:write`.
#[utoipa::path(
    post,
    path = "/admin/users/{id}/password_reset",
    tag = "admin",
    params(("id" = Uuid, Path, description = "The user's id (`sub`)")),
    responses(
        (status = 202, description = "Queued for sending"),
        (status = 401, description = "`invalid_client`: no or wrong client credentials (HTTP Basic); `invalid_token`: a Bearer token that is not a live session's; `insufficient_user_authentication`: a user holding an admin role whose session was not signed in with a second factor within `mfa.step_up_max_age_secs`", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Basic realm=\"authd\"`, or `Bearer` for a Bearer token"))),
        (status = 403, description = "`insufficient_scope`: the caller lacks `authd:admin:users:write`, or the account holds a role mapping to an admin permission the caller lacks", body = ErrorBody),
        (status = 404, description = "`not_found`: no such user (a malformed id too)", body = ErrorBody),
        (status = 429, description = "`too_many_requests`: over `limits.admin_per_client`, or the address's budget of reset messages (`email.per_recipient_limit`) is spent", body = ErrorBody,
            headers(("Retry-After" = String, description = "Seconds to wait"))),
        (status = "5XX", description = "`temporarily_unavailable` (503, with `Retry-After`) or `server_error` (500)", body = ErrorBody),
    ),
    security(("client_basic" = []), ("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn send_user_password_reset(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    from: Caller,
) -> Result<HttpResponse, ApiError> {
    let admin = caller(&state, &req, Permission::AdminUsersWrite).await?;
    let id = Uuid::parse_str(&path).map_err(|_| ApiError::NotFound)?;
    let svc = &state.services;
    if !credentials::send_password_reset(svc, &admin, id, &from.meta).await? {
        let window = svc.settings.email.per_recipient_window_secs;
        return Err(AdminError::TooManyRequests {
            retry_after_secs: i64::try_from(window).unwrap_or(86_400),
        }
        .into());
    }
    Ok(HttpResponse::Accepted().finish())
}
