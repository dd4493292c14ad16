//! `GET /admin/clients` (every client) and `POST /admin/clients` (register
//! one); also the shape of a client as the admin API shows it, and the
//! answers every `/admin/clients...` endpoint shares.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::caller;
use crate::admin::clients as service;
use crate::clients::{AuthMethod, Client, ClientKind, ClientSpec, Permission};
use crate::http::ApiError;
use crate::http::body;
use crate::http::error::ErrorBody;
use crate::http::state::AppState;

/// What a client is: `public` (an SPA or a native app: no secret, PKCE
/// always), `confidential` (a web server with a secret) or `machine`
/// (client credentials only).
#[derive(Serialize, Deserialize, ToSchema, Clone, Copy, Default)]
#[serde(rename_all = "snake_case")]
pub enum KindName {
    Public,
    Confidential,
    #[default]
    Machine,
}

impl From<KindName> for ClientKind {
    fn from(k: KindName) -> Self {
        match k {
            KindName::Public => Self::Public,
            KindName::Confidential => Self::Confidential,
            KindName::Machine => Self::Machine,
        }
    }
}

impl From<ClientKind> for KindName {
    fn from(k: ClientKind) -> Self {
        match k {
            ClientKind::Public => Self::Public,
            ClientKind::Confidential => Self::Confidential,
            ClientKind::Machine => Self::Machine,
        }
    }
}

/// How the client authenticates at the token endpoint.
#[derive(Serialize, Deserialize, ToSchema, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethodName {
    None,
    ClientSecretBasic,
    ClientSecretPost,
}

impl From<AuthMethodName> for AuthMethod {
    fn from(m: AuthMethodName) -> Self {
        match m {
            AuthMethodName::None => Self::None,
            AuthMethodName::ClientSecretBasic => Self::ClientSecretBasic,
            AuthMethodName::ClientSecretPost => Self::ClientSecretPost,
        }
    }
}

impl From<AuthMethod> for AuthMethodName {
    fn from(m: AuthMethod) -> Self {
        match m {
            AuthMethod::None => Self::None,
            AuthMethod::ClientSecretBasic => Self::ClientSecretBasic,
            AuthMethod::ClientSecretPost => Self::ClientSecretPost,
        }
    }
}

/// A registered client as the admin API shows it: never its secret nor the
/// secret's hash.
#[derive(Serialize, ToSchema)]
pub struct AdminClient {
    client_id: String,
    name: String,
    kind: KindName,
    /// Space-separated: token scopes and `authd:*` permissions.
    scopes: String,
    token_endpoint_auth_method: AuthMethodName,
    redirect_uris: Vec<String>,
    post_logout_redirect_uris: Vec<String>,
    web_origins: Vec<String>,
    first_party: bool,
    /// `null`: the server's current signing key's.
    id_token_alg: Option<String>,
    /// `null`: the server's setting.
    access_token_ttl_secs: Option<i64>,
    refresh_idle_secs: Option<i64>,
    refresh_absolute_secs: Option<i64>,
    require_par: bool,
    require_pkce: bool,
    /// `null`: no logout tokens.
    backchannel_logout_uri: Option<String>,
    backchannel_logout_session_required: bool,
    created_at: DateTime<Utc>,
}

impl From<Client> for AdminClient {
    fn from(c: Client) -> Self {
        Self {
            client_id: c.id,
            name: c.name,
            kind: c.kind.into(),
            scopes: c.scopes,
            token_endpoint_auth_method: c.auth_method.into(),
            redirect_uris: c.redirect_uris,
            post_logout_redirect_uris: c.post_logout_redirect_uris,
            web_origins: c.web_origins,
            first_party: c.first_party,
            id_token_alg: c.id_token_alg,
            access_token_ttl_secs: c.access_token_ttl_secs,
            refresh_idle_secs: c.refresh_idle_secs,
            refresh_absolute_secs: c.refresh_absolute_secs,
            require_par: c.require_par,
            require_pkce: c.require_pkce,
            backchannel_logout_uri: c.backchannel_logout_uri,
            backchannel_logout_session_required: c.backchannel_logout_session_required,
            created_at: c.created_at,
        }
    }
}

/// A client with its new secret, shown this once (authd keeps its hash
/// only).
#[derive(Serialize, ToSchema)]
pub struct ClientWithSecret {
    #[serde(flatten)]
    client: AdminClient,
    /// `null` for a public client, which has none.
    client_secret: Option<String>,
}

impl ClientWithSecret {
    pub fn new(client: Client, secret: Option<&SecretString>) -> Self {
        Self {
            client: client.into(),
            client_secret: secret.map(|s| s.expose_secret().to_owned()),
        }
    }
}

/// Every registered client.
#[derive(Serialize, ToSchema)]
struct ClientList {
    clients: Vec<AdminClient>,
}

/// A client to register. Only `name` is required: the default is a machine
/// client with no scopes.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewClient {
    /// 1 to 100 printable characters.
    name: String,
    #[serde(default)]
    kind: KindName,
    /// Space-separated token scopes and `authd:*` permissions; a permission
    /// the caller lacks is refused (403).
    #[serde(default)]
    scopes: String,
    /// Default: `none` for a public client, else `client_secret_basic`.
    token_endpoint_auth_method: Option<AuthMethodName>,
    #[serde(default)]
    redirect_uris: Vec<String>,
    #[serde(default)]
    post_logout_redirect_uris: Vec<String>,
    #[serde(default)]
    web_origins: Vec<String>,
    #[serde(default)]
    first_party: bool,
    /// RS256, ES256 or EdDSA; default: the current signing key's.
    id_token_alg: Option<String>,
    access_token_ttl_secs: Option<i64>,
    refresh_idle_secs: Option<i64>,
    refresh_absolute_secs: Option<i64>,
    #[serde(default)]
    require_par: bool,
    /// Exempt a confidential client from PKCE (warned about at start-up).
    #[serde(default)]
    allow_no_pkce: bool,
    /// Where logout tokens are POSTed (OpenID Connect Back-Channel Logout
    /// 1.0): https, http only to this machine; none by default.
    backchannel_logout_uri: Option<String>,
    #[serde(default)]
    backchannel_logout_session_required: bool,
}

impl From<NewClient> for ClientSpec {
    fn from(n: NewClient) -> Self {
        Self {
            name: n.name,
            kind: n.kind.into(),
            auth_method: n.token_endpoint_auth_method.map(Into::into),
            scopes: n.scopes,
            redirect_uris: n.redirect_uris,
            post_logout_redirect_uris: n.post_logout_redirect_uris,
            web_origins: n.web_origins,
            first_party: n.first_party,
            id_token_alg: n.id_token_alg,
            access_token_ttl_secs: n.access_token_ttl_secs,
            refresh_idle_secs: n.refresh_idle_secs,
            refresh_absolute_secs: n.refresh_absolute_secs,
            require_par: n.require_par,
            allow_no_pkce: n.allow_no_pkce,
            backchannel_logout_uri: n.backchannel_logout_uri,
            backchannel_logout_session_required: n.backchannel_logout_session_required,
        }
    }
}

/// A JSON body, read only once the caller is authorized.
pub async fn admin_body<T: serde::de::DeserializeOwned>(
    state: &AppState,
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<T, ApiError> {
    let limit = state.settings().server.max_body_bytes;
    body::json(req, payload, limit).await
}

/// Every registered client.
///
/// Oldest first, in one answer: clients are registered by operators, tens
/// or hundreds of them, so the list has no pages. Secrets and their hashes
/// are never shown. Needs `authd:admin:clients`.
#[utoipa::path(
    get,
    path = "/admin/clients",
    tag = "admin",
    responses(
        (status = 200, description = "Every client", body = ClientList,
            headers(("Cache-Control" = String, description = "`no-store`"))),
        (status = 401, description = "`invalid_client`: no or wrong client credentials (HTTP Basic); `invalid_token`: a Bearer token that is not a live session's; `insufficient_user_authentication`: a user holding an admin role whose session was not signed in with a second factor within `mfa.step_up_max_age_secs`", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Basic realm=\"authd\"`, or `Bearer` for a Bearer token"))),
        (status = 403, description = "`insufficient_scope`: the caller lacks `authd:admin:clients`", body = ErrorBody),
        (status = 429, description = "`too_many_requests`: over `limits.admin_per_client`", body = ErrorBody,
            headers(("Retry-After" = String, description = "Seconds to wait"))),
        (status = "5XX", description = "`temporarily_unavailable` (503, with `Retry-After`) or `server_error` (500)", body = ErrorBody),
    ),
    security(("client_basic" = []), ("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn list_clients(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    caller(&state, &req, Permission::AdminClients).await?;
    let clients = service::list(&state.services).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(ClientList {
            clients: clients.into_iter().map(Into::into).collect(),
        }))
}

/// Registers a client.
///
/// authd chooses its id. The answer carries its secret (none for a public
/// client) this once: authd keeps only a hash. A client may not be given an
/// `authd:*` permission the caller lacks. Audited as `client_created` with
/// the caller as the actor. Needs `authd:admin:clients`.
#[utoipa::path(
    post,
    path = "/admin/clients",
    tag = "admin",
    request_body = NewClient,
    responses(
        (status = 201, description = "Registered; the secret is shown only now", body = ClientWithSecret,
            headers(("Cache-Control" = String, description = "`no-store`"))),
        (status = 400, description = "`invalid_request`: malformed JSON, an unknown field, or settings that do not hold together (a bad name, scope, redirect URI, origin, lifetime, an unknown `authd:*` permission, a permission for a public client, ...)", body = ErrorBody),
        (status = 401, description = "`invalid_client`: no or wrong client credentials (HTTP Basic); `invalid_token`: a Bearer token that is not a live session's; `insufficient_user_authentication`: a user holding an admin role whose session was not signed in with a second factor within `mfa.step_up_max_age_secs`", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Basic realm=\"authd\"`, or `Bearer` for a Bearer token"))),
        (status = 403, description = "`insufficient_scope`: the caller lacks `authd:admin:clients`, or an `authd:*` permission it asks to give", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: the body is not JSON", body = ErrorBody),
        (status = 429, description = "`too_many_requests`: over `limits.admin_per_client`", body = ErrorBody,
            headers(("Retry-After" = String, description = "Seconds to wait"))),
        (status = "5XX", description = "`temporarily_unavailable` (503, with `Retry-After`) or `server_error` (500)", body = ErrorBody),
    ),
    security(("client_basic" = []), ("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn create_client(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let admin = caller(&state, &req, Permission::AdminClients).await?;
    let new: NewClient = admin_body(&state, &req, payload).await?;
    let (client, secret) = service::create(&state.services, &admin, new.into()).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(ClientWithSecret::new(client, secret.as_ref())))
}
