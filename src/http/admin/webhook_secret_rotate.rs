//! `POST /admin/webhooks/{id}/secret/rotate`: a new signing secret.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use uuid::Uuid;

use super::caller;
use super::webhooks::RotatedSecret;
use crate::clients::Permission;
use crate::events::webhooks;
use crate::http::ApiError;
use crate::http::error::ErrorBody;
use crate::http::state::AppState;

/// Rotates a webhook endpoint's signing secret.
///
/// The answer holds the new secret, this once. Until
/// `previous_secret_until` (`webhooks.rotation_grace_secs`, a day by
/// default) every delivery, retries included, carries two signatures: the
/// new secret's and the previous one's, so the receiver can switch at its
/// own pace. A secret older than the previous one stops signing at once.
/// Needs `authd:admin:webhooks`.
#[utoipa::path(
    post,
    path = "/admin/webhooks/{id}/secret/rotate",
    tag = "admin",
    params(("id" = Uuid, Path, description = "The endpoint's id")),
    responses(
        (status = 200, description = "Rotated; the new secret is in the answer, this once", body = RotatedSecret,
            headers(("Cache-Control" = String, description = "`no-store`"))),
        (status = 401, description = "`invalid_client`: no or wrong client credentials (HTTP Basic); `invalid_token`: a Bearer token that is not a live session's; `insufficient_user_authentication`: a user holding an admin role whose session was not signed in with a second factor within `mfa.step_up_max_age_secs`", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Basic realm=\"authd\"`, or `Bearer` for a Bearer token"))),
        (status = 403, description = "`insufficient_scope`: the caller lacks `authd:admin:webhooks`", body = ErrorBody),
        (status = 404, description = "`not_found`: no such endpoint (a malformed id too)", body = ErrorBody),
        (status = 429, description = "`too_many_requests`: over `limits.admin_per_client`", body = ErrorBody,
            headers(("Retry-After" = String, description = "Seconds to wait"))),
        (status = "5XX", description = "`temporarily_unavailable` (503, with `Retry-After`) or `server_error` (500)", body = ErrorBody),
    ),
    security(("client_basic" = []), ("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn rotate_webhook_secret(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let admin = caller(&state, &req, Permission::AdminWebhooks).await?;
    let id = Uuid::parse_str(&path).map_err(|_| ApiError::NotFound)?;
    let (secret, until) = webhooks::rotate_secret(&state.services, id, &admin.actor()).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(RotatedSecret::new(id, &secret, until)))
}
