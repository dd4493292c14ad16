//! `POST /admin/users/{id}/lockout/clear`: an account's login lockout
//! cleared.

use std::net::IpAddr;

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::caller;
use crate::admin::credentials;
use crate::clients::Permission;
use crate::http::ApiError;
use crate::http::body::optional_json;
use crate::http::error::ErrorBody;
use crate::http::extractors::Caller;
use crate::http::state::AppState;

/// Which client's count to clear as well.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LockoutClear {
    /// The address the user signs in from: its failures with this account
    /// are cleared too (an IPv6 address stands for its /64).
    #[schema(value_type = Option<String>, example = "203.0.113.7")]
    ip: Option<IpAddr>,
}

/// Largest body this endpoint reads.
const MAX_BODY: usize = 1024;

/// Clears an account's login lockout.
///
/// The account-wide count of failed logins and its lockout, and the day's
/// tries of emailed login and reset codes, are forgotten; with `ip`, the
/// account's failures from that client too (a count per account and client
/// is keyed by a hash of both, so it can be cleared only for a client
/// named). Other clients' own counts stay. Audited as `lockout_cleared`
/// with the caller as the actor. Needs `authd:admin:users:write`.
#[utoipa::path(
    post,
    path = "/admin/users/{id}/lockout/clear",
    tag = "admin",
    params(("id" = Uuid, Path, description = "The user's id (`sub`)")),
    request_body(content = Option<LockoutClear>, description = "Optional"),
    responses(
        (status = 204, description = "Cleared"),
        (status = 400, description = "`invalid_request`: a malformed body or address", body = ErrorBody),
        (status = 401, description = "`invalid_client`: no or wrong client credentials (HTTP Basic); `invalid_token`: a Bearer token that is not a live session's; `insufficient_user_authentication`: a user holding an admin role whose session was not signed in with a second factor within `mfa.step_up_max_age_secs`", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Basic realm=\"authd\"`, or `Bearer` for a Bearer token"))),
        (status = 403, description = "`insufficient_scope`: the caller lacks `authd:admin:users:write`", body = ErrorBody),
        (status = 404, description = "`not_found`: no such user (a malformed id too)", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: the body is over 1 KiB", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: the body is not `application/json`", body = ErrorBody),
        (status = 429, description = "`too_many_requests`: over `limits.admin_per_client`", body = ErrorBody,
            headers(("Retry-After" = String, description = "Seconds to wait"))),
        (status = "5XX", description = "`temporarily_unavailable` (503, with `Retry-After`) or `server_error` (500)", body = ErrorBody),
    ),
    security(("client_basic" = []), ("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn clear_user_lockout(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    from: Caller,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let admin = caller(&state, &req, Permission::AdminUsersWrite).await?;
    let id = Uuid::parse_str(&path).map_err(|_| ApiError::NotFound)?;
    let body = optional_json::<LockoutClear>(&req, payload, MAX_BODY).await?;
    let ip = body.and_then(|b| b.ip);
    credentials::clear_lockout(&state.services, &admin, id, ip, &from.meta).await?;
    Ok(HttpResponse::NoContent().finish())
}
