//! `POST /admin/users/{id}/sessions/revoke`: end every session of a user.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::caller;
use crate::admin::sessions;
use crate::clients::Permission;
use crate::http::ApiError;
use crate::http::error::ErrorBody;
use crate::http::extractors::Caller;
use crate::http::state::AppState;

/// What ended.
#[derive(Serialize, ToSchema)]
struct SessionsEnded {
    /// Sessions ended (0 if the user had none live).
    ended: u64,
}

/// Ends every session of a user.
///
/// As the user's own global logout: every session and browser session ends
/// at once, in one user revocation that the revocation feed lists, and the
/// audit event `sessions_revoked_by_admin` names the caller
/// (`admin:<client_id>`). Access tokens already issued stay valid until they
/// expire, except to services that read the feed. Needs
/// `authd:admin:users:write`.
#[utoipa::path(
    post,
    path = "/admin/users/{id}/sessions/revoke",
    tag = "admin",
    params(("id" = Uuid, Path, description = "The user's id (`sub`)")),
    responses(
        (status = 200, description = "The sessions ended", body = SessionsEnded),
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
pub async fn revoke_user_sessions(
    state: web::Data<AppState>,
    req: HttpRequest,
    who: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let admin = caller(&state, &req, Permission::AdminUsersWrite).await?;
    let id = Uuid::parse_str(&path).map_err(|_| ApiError::NotFound)?;
    let ended = sessions::end_every_session(&state.services, &admin, id, &who.meta).await?;
    Ok(HttpResponse::Ok().json(SessionsEnded { ended }))
}
