//! `PUT /admin/users/{id}/app_metadata`: an account's app_metadata,
//! replaced.

use actix_web::{HttpRequest, HttpResponse, web};
use uuid::Uuid;

use super::caller;
use crate::admin::update;
use crate::clients::Permission;
use crate::http::ApiError;
use crate::http::error::ErrorBody;
use crate::http::extractors::Json;
use crate::http::state::AppState;

/// Replaces an account's app_metadata.
///
/// The body is the whole new object (`{}` removes it), at most 4 KiB once
/// compacted; tokens carry it under `tokens.app_metadata_claim` from their
/// next issue. Audited as `app_metadata_changed` (its size only) with the
/// caller as the actor. Needs `authd:admin:users:write`.
#[utoipa::path(
    put,
    path = "/admin/users/{id}/app_metadata",
    tag = "admin",
    params(("id" = Uuid, Path, description = "The user's id (`sub`)")),
    request_body(content = Object, description = "A JSON object"),
    responses(
        (status = 204, description = "Replaced"),
        (status = 400, description = "`invalid_request`: not a JSON object, or over 4 KiB", body = ErrorBody),
        (status = 401, description = "`invalid_client`: no or wrong client credentials (HTTP Basic); `invalid_token`: a Bearer token that is not a live session's; `insufficient_user_authentication`: a user holding an admin role whose session was not signed in with a second factor within `mfa.step_up_max_age_secs`", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Basic realm=\"authd\"`, or `Bearer` for a Bearer token"))),
        (status = 403, description = "`insufficient_scope`: the caller lacks `authd:admin:users:write`", body = ErrorBody),
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
pub async fn set_user_app_metadata(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    Json(input): Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let admin = caller(&state, &req, Permission::AdminUsersWrite).await?;
    let id = Uuid::parse_str(&path).map_err(|_| ApiError::NotFound)?;
    update::set_app_metadata(&state.services, &admin, id, &input.to_string()).await?;
    Ok(HttpResponse::NoContent().finish())
}
