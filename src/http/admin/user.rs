//! `GET /admin/users/{id}`: one user.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::caller;
use crate::admin::users;
use crate::clients::Permission;
use crate::http::ApiError;
use crate::http::error::ErrorBody;
use crate::http::state::AppState;

/// The user's second factors.
#[derive(Serialize, ToSchema)]
struct FactorsSummary {
    /// A confirmed TOTP factor.
    totp: bool,
    /// A TOTP enrolment waiting for its first code.
    totp_pending: bool,
    /// Passkeys registered.
    passkeys: i64,
    /// Unused recovery codes.
    recovery_codes_left: i64,
}

/// One user as an admin sees it.
#[derive(Serialize, ToSchema)]
struct AdminUser {
    id: Uuid,
    email: String,
    email_verified: bool,
    created_at: DateTime<Utc>,
    /// Whether the user has a confirmed second factor (TOTP or a passkey).
    has_second_factor: bool,
    factors: FactorsSummary,
    /// Live sessions, of every kind and holder.
    live_sessions: i64,
}

/// One user: the account, its second factors, its live sessions' count.
///
/// Needs `authd:admin:users:read`.
#[utoipa::path(
    get,
    path = "/admin/users/{id}",
    tag = "admin",
    params(("id" = Uuid, Path, description = "The user's id (`sub`)")),
    responses(
        (status = 200, description = "The user", body = AdminUser,
            headers(("Cache-Control" = String, description = "`no-store`"))),
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
pub async fn get_user(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller(&state, &req, Permission::AdminUsersRead).await?;
    let id = Uuid::parse_str(&path).map_err(|_| ApiError::NotFound)?;
    let found = users::get(&state.services, id).await?;
    let f = &found.factors;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(AdminUser {
            id: found.user.id,
            email: found.user.email,
            email_verified: found.user.email_verified,
            created_at: found.user.created_at,
            has_second_factor: f.totp || f.passkeys > 0,
            factors: FactorsSummary {
                totp: f.totp,
                totp_pending: f.totp_pending,
                passkeys: f.passkeys,
                recovery_codes_left: f.recovery_codes_left,
            },
            live_sessions: found.live_sessions,
        }))
}
