//! `GET`, `PATCH` and `DELETE /admin/clients/{id}`: one client, a change to
//! its settings, its deletion.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Deserializer};
use utoipa::ToSchema;

use super::caller;
use super::clients::{AdminClient, AuthMethodName, admin_body};
use crate::admin::clients as service;
use crate::clients::{ClientChanges, Permission};
use crate::http::ApiError;
use crate::http::error::ErrorBody;
use crate::http::state::AppState;

/// A present field, even `null`: `Some(None)` returns a setting to the
/// server's default.
fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A change to a client: only the fields given change; a list given
/// replaces the client's. `null` returns `id_token_alg` and the lifetimes
/// to the server's default. The id, kind and secret never change here.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientPatch {
    name: Option<String>,
    /// Replaces every scope and permission; a permission the caller lacks is
    /// refused (403).
    scopes: Option<String>,
    token_endpoint_auth_method: Option<AuthMethodName>,
    redirect_uris: Option<Vec<String>>,
    post_logout_redirect_uris: Option<Vec<String>>,
    web_origins: Option<Vec<String>>,
    first_party: Option<bool>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    id_token_alg: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>)]
    access_token_ttl_secs: Option<Option<i64>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>)]
    refresh_idle_secs: Option<Option<i64>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>)]
    refresh_absolute_secs: Option<Option<i64>>,
    require_par: Option<bool>,
    allow_no_pkce: Option<bool>,
    /// Where logout tokens are POSTed (OpenID Connect Back-Channel
    /// Logout 1.0); `null` removes it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    backchannel_logout_uri: Option<Option<String>>,
    backchannel_logout_session_required: Option<bool>,
}

impl From<ClientPatch> for ClientChanges {
    fn from(p: ClientPatch) -> Self {
        Self {
            name: p.name,
            auth_method: p.token_endpoint_auth_method.map(Into::into),
            scopes: p.scopes,
            redirect_uris: p.redirect_uris,
            post_logout_redirect_uris: p.post_logout_redirect_uris,
            web_origins: p.web_origins,
            first_party: p.first_party,
            id_token_alg: p.id_token_alg,
            access_token_ttl_secs: p.access_token_ttl_secs,
            refresh_idle_secs: p.refresh_idle_secs,
            refresh_absolute_secs: p.refresh_absolute_secs,
            require_par: p.require_par,
            allow_no_pkce: p.allow_no_pkce,
            backchannel_logout_uri: p.backchannel_logout_uri,
            backchannel_logout_session_required: p.backchannel_logout_session_required,
        }
    }
}

/// One client.
///
/// Never its secret nor the secret's hash. Needs `authd:admin:clients`.
#[utoipa::path(
    get,
    path = "/admin/clients/{id}",
    tag = "admin",
    params(("id" = String, Path, description = "The client id")),
    responses(
        (status = 200, description = "The client", body = AdminClient,
            headers(("Cache-Control" = String, description = "`no-store`"))),
        (status = 401, description = "`invalid_client`: no or wrong client credentials (HTTP Basic); `invalid_token`: a Bearer token that is not a live session's; `insufficient_user_authentication`: a user holding an admin role whose session was not signed in with a second factor within `mfa.step_up_max_age_secs`", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Basic realm=\"authd\"`, or `Bearer` for a Bearer token"))),
        (status = 403, description = "`insufficient_scope`: the caller lacks `authd:admin:clients`", body = ErrorBody),
        (status = 404, description = "`not_found`: no such client", body = ErrorBody),
        (status = 429, description = "`too_many_requests`: over `limits.admin_per_client`", body = ErrorBody,
            headers(("Retry-After" = String, description = "Seconds to wait"))),
        (status = "5XX", description = "`temporarily_unavailable` (503, with `Retry-After`) or `server_error` (500)", body = ErrorBody),
    ),
    security(("client_basic" = []), ("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn get_client(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller(&state, &req, Permission::AdminClients).await?;
    let client = service::get(&state.services, &path).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(AdminClient::from(client)))
}

/// Changes a client's settings.
///
/// As `authd clients update`: only the fields given change, checked as a
/// whole with the rest. The caller must hold every `authd:*` permission the
/// client holds, and every one it would hold. Tokens already issued keep
/// what they were issued with until they expire. Audited as
/// `client_updated` (the detail names the settings changed). Needs
/// `authd:admin:clients`.
#[utoipa::path(
    patch,
    path = "/admin/clients/{id}",
    tag = "admin",
    params(("id" = String, Path, description = "The client id")),
    request_body = ClientPatch,
    responses(
        (status = 200, description = "The client as changed", body = AdminClient),
        (status = 400, description = "`invalid_request`: malformed JSON, an unknown field, or settings that do not hold together", body = ErrorBody),
        (status = 401, description = "`invalid_client`: no or wrong client credentials (HTTP Basic); `invalid_token`: a Bearer token that is not a live session's; `insufficient_user_authentication`: a user holding an admin role whose session was not signed in with a second factor within `mfa.step_up_max_age_secs`", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Basic realm=\"authd\"`, or `Bearer` for a Bearer token"))),
        (status = 403, description = "`insufficient_scope`: the caller lacks `authd:admin:clients`, or an `authd:*` permission the client holds or would hold", body = ErrorBody),
        (status = 404, description = "`not_found`: no such client", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: the body is not JSON", body = ErrorBody),
        (status = 429, description = "`too_many_requests`: over `limits.admin_per_client`", body = ErrorBody,
            headers(("Retry-After" = String, description = "Seconds to wait"))),
        (status = "5XX", description = "`temporarily_unavailable` (503, with `Retry-After`) or `server_error` (500)", body = ErrorBody),
    ),
    security(("client_basic" = []), ("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn update_client(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let admin = caller(&state, &req, Permission::AdminClients).await?;
    let patch: ClientPatch = admin_body(&state, &req, payload).await?;
    let client = service::update(&state.services, &admin, &path, patch.into()).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(AdminClient::from(client)))
}

/// Deletes a client.
///
/// As `authd clients delete`: it can no longer get tokens, introspect or
/// read the revocation feed, and its tokens stop being active at
/// introspection at once (access tokens already issued stay valid to
/// services that check signatures only, until they expire). The caller must
/// hold every `authd:*` permission the client holds, and a client cannot
/// delete itself here. Audited as `client_deleted`. Needs
/// `authd:admin:clients`.
#[utoipa::path(
    delete,
    path = "/admin/clients/{id}",
    tag = "admin",
    params(("id" = String, Path, description = "The client id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "`invalid_request`: the calling client itself", body = ErrorBody),
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
pub async fn delete_client(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let admin = caller(&state, &req, Permission::AdminClients).await?;
    service::delete(&state.services, &admin, &path).await?;
    Ok(HttpResponse::NoContent().finish())
}
