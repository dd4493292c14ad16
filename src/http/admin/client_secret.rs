//! `POST /admin/clients/{id}/secret/rotate`: a new secret for a client.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use super::caller;
use super::clients::ClientWithSecret;
use crate::admin::clients as service;
use crate::clients::Permission;
use crate::http::ApiError;
use crate::http::error::ErrorBody;
use crate::http::state::AppState;

/// Gives a client a new secret.
///
/// The answer carries the new secret this once; the old one stops at once
/// (there is no grace: deploy the new secret, then rotate only if the old
/// one must end now, or rotate and deploy at once). A public client has no
/// secret (400). The caller must hold every `authd:*` permission the client
/// holds, and a client cannot rotate its own secret here. Audited as
/// `client_secret_rotated` (no secret in the event). Needs
/// `authd:admin:clients`.
#[utoipa::path(
    post,
    path = "/admin/clients/{id}/secret/rotate",
    tag = "admin",
    params(("id" = String, Path, description = "The client id")),
    responses(
        (status = 200, description = "The client and its new secret, shown only now", body = ClientWithSecret,
            headers(("Cache-Control" = String, description = "`no-store`"))),
        (status = 400, description = "`invalid_request`: a public client, or the calling client itself", body = ErrorBody),
        (status = 401, description = "`invalid_client`: no or wrong client credentials (HTTP Basic); `invalid_token`: a Bearer token that is not a live session's; `insufficient_user_authentication`: a user holding an admin role whose session was not signed in with a second factor within `mfa.step_up_max_age_secs`", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Basic realm=\"authd\"`, or `Bearer` for a Bearer token"))),
        (status = 403, description = "`insufficient_scope`: the caller lacks `authd:admin:clients`, or an `authd:*` permission the client holds", body = ErrorBody),
        (status = 404, description = "`not_found`: no such client", body = ErrorBody),
        (status = 429, description = "`too_many_requests`: over `limits.admin_per_client`", body = ErrorBody,
            headers(("Retry-After" = String, description = "Seconds to wait"))),
        (status = "5XX", description = "`temporarily_unavailable` (503, with `Retry-After`) or `server_error` (500)", body = ErrorBody),
    ),
    security(("client_basic" = []), ("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn rotate_client_secret(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let admin = caller(&state, &req, Permission::AdminClients).await?;
    let (client, secret) = service::rotate_secret(&state.services, &admin, &path).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(ClientWithSecret::new(client, Some(&secret))))
}
