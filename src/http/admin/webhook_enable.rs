//! `POST /admin/webhooks/{id}/enable`: events for it again.

use actix_web::{HttpRequest, HttpResponse, web};
use uuid::Uuid;

use super::caller;
use crate::clients::Permission;
use crate::events::webhooks::{self, Endpoint};
use crate::http::ApiError;
use crate::http::error::ErrorBody;
use crate::http::state::AppState;

/// Enables a webhook endpoint.
///
/// Events are queued for it again from now on (none for the time it was disabled). Enabling an endpoint that is not disabled changes nothing. Audited as `webhook_enabled`.
/// Needs `authd:admin:webhooks`.
#[utoipa::path(
    post,
    path = "/admin/webhooks/{id}/enable",
    tag = "admin",
    params(("id" = Uuid, Path, description = "The endpoint's id")),
    responses(
        (status = 200, description = "The endpoint as it is now", body = Endpoint),
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
pub async fn enable_webhook(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let admin = caller(&state, &req, Permission::AdminWebhooks).await?;
    let id = Uuid::parse_str(&path).map_err(|_| ApiError::NotFound)?;
    let endpoint = webhooks::set_disabled(&state.services, id, false, &admin.actor()).await?;
    Ok(HttpResponse::Ok().json(endpoint))
}
