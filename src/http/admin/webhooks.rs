//! `GET /admin/webhooks` and `POST /admin/webhooks`: the webhook endpoints,
//! and registering one (its secret answered once).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::caller;
use crate::clients::Permission;
use crate::events::webhooks::{self, Endpoint, NewEndpoint};
use crate::http::ApiError;
use crate::http::error::ErrorBody;
use crate::http::extractors::Json;
use crate::http::state::AppState;

/// The webhook endpoints.
#[derive(Serialize, ToSchema)]
struct Webhooks {
    webhooks: Vec<Endpoint>,
}

/// An endpoint to register.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    /// Where events are POSTed: https (http only to localhost or a loopback
    /// address unless `webhooks.allow_http`); no redirect is followed.
    url: String,
    /// The event types it takes (`user.created`, `session.ended`, ...);
    /// absent, empty or `["*"]`: every type.
    #[serde(default)]
    event_types: Vec<String>,
    /// A note for operators (one line, at most 256 bytes).
    #[serde(default)]
    description: Option<String>,
}

/// A registered endpoint with its secret, shown this once.
#[derive(Serialize, ToSchema)]
pub(super) struct CreatedWebhook {
    #[serde(flatten)]
    endpoint: Endpoint,
    /// The signing secret, `whsec_<base64>` (Standard Webhooks). Not shown again.
    secret: String,
}

/// Another shape for the same answer, for the rotation: the new secret and
/// until when the previous one still signs.
#[derive(Serialize, ToSchema)]
pub(super) struct RotatedSecret {
    id: Uuid,
    /// The new signing secret, `whsec_<base64>`. Not shown again.
    secret: String,
    /// Until then, every delivery carries a signature by the previous secret too.
    previous_secret_until: DateTime<Utc>,
}

impl RotatedSecret {
    pub(super) fn new(id: Uuid, secret: &secrecy::SecretString, until: DateTime<Utc>) -> Self {
        Self {
            id,
            secret: secret.expose_secret().to_owned(),
            previous_secret_until: until,
        }
    }
}

/// Lists the webhook endpoints.
///
/// Never their secrets. Needs `authd:admin:webhooks`.
#[utoipa::path(
    get,
    path = "/admin/webhooks",
    tag = "admin",
    responses(
        (status = 200, description = "The endpoints, oldest first", body = Webhooks),
        (status = 401, description = "`invalid_client`: no or wrong client credentials (HTTP Basic); `invalid_token`: a Bearer token that is not a live session's; `insufficient_user_authentication`: a user holding an admin role whose session was not signed in with a second factor within `mfa.step_up_max_age_secs`", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Basic realm=\"authd\"`, or `Bearer` for a Bearer token"))),
        (status = 403, description = "`insufficient_scope`: the caller lacks `authd:admin:webhooks`", body = ErrorBody),
        (status = 429, description = "`too_many_requests`: over `limits.admin_per_client`", body = ErrorBody,
            headers(("Retry-After" = String, description = "Seconds to wait"))),
        (status = "5XX", description = "`temporarily_unavailable` (503, with `Retry-After`) or `server_error` (500)", body = ErrorBody),
    ),
    security(("client_basic" = []), ("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn list_webhooks(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    caller(&state, &req, Permission::AdminWebhooks).await?;
    let webhooks = webhooks::list(&state.services).await?;
    Ok(HttpResponse::Ok().json(Webhooks { webhooks }))
}

/// Registers a webhook endpoint.
///
/// From now on, every event of the types it takes is queued for it in the
/// transaction of the change, and POSTed as JSON signed as the Standard
/// Webhooks specification says (`webhook-id`, `webhook-timestamp`,
/// `webhook-signature`). The answer holds the signing secret, this once.
/// Needs `authd:admin:webhooks`.
#[utoipa::path(
    post,
    path = "/admin/webhooks",
    tag = "admin",
    request_body = NewWebhook,
    responses(
        (status = 201, description = "Registered; the secret is in the answer, this once", body = CreatedWebhook,
            headers(("Cache-Control" = String, description = "`no-store`"))),
        (status = 400, description = "`invalid_webhook_url`: not https (http only to localhost or a loopback address), credentials or a fragment in it, or not a URL; `invalid_event_type`: an event type authd does not send; `invalid_request`: malformed JSON or a description out of bounds", body = ErrorBody),
        (status = 401, description = "`invalid_client`: no or wrong client credentials (HTTP Basic); `invalid_token`: a Bearer token that is not a live session's; `insufficient_user_authentication`: a user holding an admin role whose session was not signed in with a second factor within `mfa.step_up_max_age_secs`", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Basic realm=\"authd\"`, or `Bearer` for a Bearer token"))),
        (status = 403, description = "`insufficient_scope`: the caller lacks `authd:admin:webhooks`", body = ErrorBody),
        (status = 429, description = "`too_many_requests`: over `limits.admin_per_client`", body = ErrorBody,
            headers(("Retry-After" = String, description = "Seconds to wait"))),
        (status = "5XX", description = "`temporarily_unavailable` (503, with `Retry-After`) or `server_error` (500)", body = ErrorBody),
    ),
    security(("client_basic" = []), ("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn create_webhook(
    state: web::Data<AppState>,
    req: HttpRequest,
    Json(input): Json<NewWebhook>,
) -> Result<HttpResponse, ApiError> {
    let admin = caller(&state, &req, Permission::AdminWebhooks).await?;
    let (endpoint, secret) = webhooks::create(
        &state.services,
        NewEndpoint {
            url: input.url,
            event_types: input.event_types,
            description: input.description,
        },
        &admin.actor(),
    )
    .await?;
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(CreatedWebhook {
            endpoint,
            secret: secret.expose_secret().to_owned(),
        }))
}
