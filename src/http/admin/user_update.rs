//! `PATCH /admin/users/{id}`: an account's address and its verification.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::caller;
use crate::admin::update::{self, Changes};
use crate::clients::Permission;
use crate::domain::Email;
use crate::http::ApiError;
use crate::http::error::ErrorBody;
use crate::http::extractors::{Caller, Json};
use crate::http::state::AppState;
use crate::store::users::User;

/// What to change; a field left out stays as it is.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdminUserChanges {
    /// The new address: unverified unless `email_verified` is true.
    #[schema(example = "ada@example.com", format = Email, max_length = 254)]
    email: Option<String>,
    email_verified: Option<bool>,
}

/// Changes an account's address and whether it is verified.
///
/// A new address ends no session, but every link and code sent to the old
/// one (reset, verification, email change, login code) stops working, and
/// the old address is sent the `email_changed` notice.
/// Audited as `user_updated` with the caller as the actor (the detail names
/// the fields, never an address). Needs `authd:admin:users:write`.
#[utoipa::path(
    patch,
    path = "/admin/users/{id}",
    tag = "admin",
    params(("id" = Uuid, Path, description = "The user's id (`sub`)")),
    request_body = AdminUserChanges,
    responses(
        (status = 200, description = "The user after the change", body = User),
        (status = 400, description = "`invalid_request`: a malformed body or email", body = ErrorBody),
        (status = 401, description = "`invalid_client`: no or wrong client credentials (HTTP Basic); `invalid_token`: a Bearer token that is not a live session's; `insufficient_user_authentication`: a user holding an admin role whose session was not signed in with a second factor within `mfa.step_up_max_age_secs`", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Basic realm=\"authd\"`, or `Bearer` for a Bearer token"))),
        (status = 403, description = "`insufficient_scope`: the caller lacks `authd:admin:users:write`, or the account holds a role mapping to an admin permission the caller lacks", body = ErrorBody),
        (status = 404, description = "`not_found`: no such user (a malformed id too)", body = ErrorBody),
        (status = 409, description = "`email_taken`: another account has the address", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: the body is over `server.max_body_bytes`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: the body is not `application/json`", body = ErrorBody),
        (status = 429, description = "`too_many_requests`: over `limits.admin_per_client`", body = ErrorBody,
            headers(("Retry-After" = String, description = "Seconds to wait"))),
        (status = "5XX", description = "`temporarily_unavailable` (503, with `Retry-After`) or `server_error` (500)", body = ErrorBody),
    ),
    security(("client_basic" = []), ("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn update_user(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    from: Caller,
    Json(input): Json<AdminUserChanges>,
) -> Result<HttpResponse, ApiError> {
    let admin = caller(&state, &req, Permission::AdminUsersWrite).await?;
    let id = Uuid::parse_str(&path).map_err(|_| ApiError::NotFound)?;
    let changes = Changes {
        email: input.email.as_deref().map(Email::parse).transpose()?,
        email_verified: input.email_verified,
    };
    let user = update::update(&state.services, &admin, id, &changes, &from.meta).await?;
    Ok(HttpResponse::Ok().json(user))
}
