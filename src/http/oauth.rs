//! The OAuth 2.0 endpoints, for clients that speak OAuth: the token endpoint
//! (RFC 6749: `refresh_token` and `client_credentials` grants), revocation
//! (RFC 7009), introspection (RFC 7662), and authd's revocation feed, which
//! lets services that verify access tokens locally refuse those of revoked
//! sessions within one poll interval.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::auth::{
    Delivery, end_session, exchange_refresh_token, local_logout_target, now, session_is_live,
    token_response,
};
use super::error::ErrorBody;
use super::request::{self, Form};
use super::{ApiError, token_headers};
use crate::clients;
use crate::sessions::decide;
use crate::startup::AppState;
use crate::store::Client;
use crate::tokens::AccessClaims;

/// How a request names its client (RFC 6749 section 2.3.1).
enum ClientCredentials {
    /// No client authentication.
    None,
    /// A public client naming itself with `client_id` and no secret.
    Public(String),
    /// `client_id` and `client_secret`, by HTTP Basic or in the form.
    Secret { id: String, secret: SecretString },
}

/// One value of an HTTP Basic pair, form-decoded as RFC 6749 section 2.3.1 asks.
fn basic_part(part: &str) -> Option<String> {
    if part.is_empty() || part.contains(['&', '=']) {
        return None;
    }
    form_urlencoded::parse(part.as_bytes())
        .next()
        .map(|(v, _)| v.into_owned())
}

/// The client credentials of the `Authorization: Basic` header, if it has one.
fn basic_credentials(req: &HttpRequest) -> Result<Option<(String, SecretString)>, ApiError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| ApiError::InvalidClient)?;
    let Some((scheme, encoded)) = value.split_once(' ') else {
        return Err(ApiError::InvalidClient);
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(ApiError::InvalidClient);
    }
    let decoded = STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or(ApiError::InvalidClient)?;
    let (id, secret) = decoded.split_once(':').ok_or(ApiError::InvalidClient)?;
    let id = basic_part(id).ok_or(ApiError::InvalidClient)?;
    let secret = basic_part(secret).ok_or(ApiError::InvalidClient)?;
    Ok(Some((id, SecretString::from(secret))))
}

/// The client credentials of a request: HTTP Basic, or form fields, never both.
fn client_credentials(
    req: &HttpRequest,
    form_id: Option<String>,
    form_secret: Option<String>,
) -> Result<ClientCredentials, ApiError> {
    let basic = basic_credentials(req)?;
    match (basic, form_id, form_secret) {
        (Some(_), _, Some(_)) => Err(ApiError::InvalidRequest(
            "authenticate the client either with HTTP Basic or with client_secret, not both".into(),
        )),
        (Some((id, secret)), form_id, None) => {
            if form_id.is_some_and(|f| f != id) {
                return Err(ApiError::InvalidRequest(
                    "client_id differs from the authenticated client".into(),
                ));
            }
            Ok(ClientCredentials::Secret { id, secret })
        }
        (None, Some(id), Some(secret)) => Ok(ClientCredentials::Secret {
            id,
            secret: SecretString::from(secret),
        }),
        (None, None, Some(_)) => Err(ApiError::InvalidRequest(
            "client_secret without client_id".into(),
        )),
        (None, Some(id), None) => Ok(ClientCredentials::Public(id)),
        (None, None, None) => Ok(ClientCredentials::None),
    }
}

/// The registered client these credentials prove, or `invalid_client`.
async fn registered_client(
    state: &AppState,
    id: &str,
    secret: &SecretString,
) -> Result<Client, ApiError> {
    match clients::authenticate(state.store.as_ref(), id, secret.expose_secret()).await? {
        Some(client) => Ok(client),
        None => {
            tracing::info!("client authentication failed");
            Err(ApiError::InvalidClient)
        }
    }
}

/// A registered client must authenticate (introspection, the revocation feed).
async fn require_client(
    state: &AppState,
    credentials: ClientCredentials,
) -> Result<Client, ApiError> {
    match credentials {
        ClientCredentials::Secret { id, secret } => registered_client(state, &id, &secret).await,
        ClientCredentials::None | ClientCredentials::Public(_) => Err(ApiError::InvalidClient),
    }
}

/// Who may use a refresh token: authd's first-party (public) client, named or
/// not. A registered machine client has no refresh tokens of its own: its
/// credentials are checked (a wrong secret is `invalid_client`), then refused.
async fn check_refresh_client(
    state: &AppState,
    credentials: &ClientCredentials,
) -> Result<(), ApiError> {
    match credentials {
        ClientCredentials::None => Ok(()),
        ClientCredentials::Public(id) if *id == state.settings.jwt.client_id => Ok(()),
        ClientCredentials::Public(_) => Err(ApiError::InvalidClient),
        ClientCredentials::Secret { id, secret } => {
            registered_client(state, id, secret).await?;
            Err(ApiError::oauth(
                "unauthorized_client",
                "refresh tokens belong to authd's first-party client, not to registered clients",
            ))
        }
    }
}

/// The parameters of `POST /oauth/token`, form-encoded (RFC 6749 sections 4.4
/// and 6). Client credentials may come by HTTP Basic instead of the form;
/// unknown parameters are ignored, as RFC 6749 section 3.1 asks.
#[derive(ToSchema)]
pub struct TokenRequest {
    /// `refresh_token` or `client_credentials`.
    grant_type: String,
    /// The refresh token to exchange (`grant_type=refresh_token`).
    refresh_token: Option<String>,
    /// `client_credentials` only: space-separated scopes, each held by the
    /// client; default all of its scopes.
    scope: Option<String>,
    /// A registered client's id (with `client_secret`), or authd's own public
    /// client id on the refresh grant.
    client_id: Option<String>,
    /// A registered client's secret, when it does not use HTTP Basic.
    client_secret: Option<String>,
}

/// The parameters of `POST /oauth/revoke` (RFC 7009) and `POST
/// /oauth/introspect` (RFC 7662), form-encoded.
#[derive(ToSchema)]
pub struct TokenQuery {
    /// A refresh token or an access token.
    token: String,
    /// `access_token` or `refresh_token`; authd recognises the kind by itself.
    token_type_hint: Option<String>,
    /// A registered client's id (with `client_secret`), when it does not use HTTP Basic.
    client_id: Option<String>,
    /// A registered client's secret, when it does not use HTTP Basic.
    client_secret: Option<String>,
}

impl TokenQuery {
    fn from_form(mut form: Form) -> Result<Self, ApiError> {
        Ok(Self {
            token: form.require("token")?,
            token_type_hint: form.take("token_type_hint"),
            client_id: form.take("client_id"),
            client_secret: form.take("client_secret"),
        })
    }
}

/// What `POST /oauth/token` answers: the refresh grant's `TokenResponse` (with
/// the new refresh token) or the client credentials grant's answer.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // describes the document; the handlers build each variant
enum OAuthTokenResponse {
    RefreshGrant(super::auth::TokenResponse),
    ClientCredentials(ClientTokenResponse),
}

/// RFC 6749 section 5.1, for the client credentials grant (no refresh token).
#[derive(Serialize, ToSchema)]
pub struct ClientTokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
}

/// OAuth 2.0 token endpoint.
///
/// `grant_type=refresh_token` rotates a refresh token under the rules of
/// `/auth/refresh` (grace for a retried token, reuse revokes every session of
/// the user) and answers with both tokens in the body; `grant_type=
/// client_credentials` gives a registered client a scoped access token whose
/// `sub` is the client, with no refresh token and no session.
#[utoipa::path(
    post,
    path = "/oauth/token",
    tag = "oauth",
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Tokens: `TokenResponse` for the refresh grant, `ClientTokenResponse` for client credentials",
            body = OAuthTokenResponse, headers(("Cache-Control" = String, description = "`no-store`"))),
        (status = 400, description = "`invalid_request`, `invalid_grant` (refresh token invalid, expired, revoked or reused), `unsupported_grant_type`, `invalid_scope` or `unauthorized_client` (RFC 6749 section 5.2)", body = ErrorBody),
        (status = 401, description = "`invalid_client`: client authentication failed or is missing", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Basic realm=\"authd\"`"))),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 429, description = "`too_many_requests`: too many refreshes from this client", body = ErrorBody, headers(("Retry-After" = i64, description = "Seconds to wait"))),
        (status = "5XX", description = "`temporarily_unavailable` (503, with `Retry-After`) or `server_error` (500)", body = ErrorBody),
    ),
    security(("client_basic" = []), ())
)]
#[tracing::instrument(skip_all, fields(grant_type))]
pub async fn token(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let mut form = request::form(&req, body, state.settings.server.max_body_bytes).await?;
    let input = TokenRequest {
        grant_type: form.require("grant_type")?,
        refresh_token: form.take("refresh_token"),
        scope: form.take("scope"),
        client_id: form.take("client_id"),
        client_secret: form.take("client_secret"),
    };
    let credentials = client_credentials(&req, input.client_id, input.client_secret)?;
    tracing::Span::current().record("grant_type", input.grant_type.as_str());
    match input.grant_type.as_str() {
        "refresh_token" => {
            let token = input.refresh_token.ok_or_else(|| {
                ApiError::InvalidRequest("the parameter refresh_token is required".into())
            })?;
            refresh_grant(&state, &req, &token, input.scope, &credentials).await
        }
        "client_credentials" => {
            client_credentials_grant(&state, input.scope.as_deref(), credentials).await
        }
        _ => Err(ApiError::oauth(
            "unsupported_grant_type",
            "grant_type must be refresh_token or client_credentials",
        )),
    }
}

async fn refresh_grant(
    state: &AppState,
    req: &HttpRequest,
    token: &str,
    scope: Option<String>,
    credentials: &ClientCredentials,
) -> Result<HttpResponse, ApiError> {
    check_refresh_client(state, credentials).await?;
    if !state.settings.refresh.allow_body_delivery {
        return Err(ApiError::oauth(
            "unsupported_grant_type",
            "refresh tokens outside the cookie are disabled on this server",
        ));
    }
    if let Err(retry_after_secs) = state
        .refresh_limit
        .check(request::client_ip(state, req), now(state))
    {
        return Err(ApiError::TooManyRequests { retry_after_secs });
    }
    if scope.is_some() {
        return Err(ApiError::oauth(
            "invalid_scope",
            "a user's tokens carry no scope",
        ));
    }
    let meta = request::meta(state, req);
    match exchange_refresh_token(state, token, &meta).await? {
        Some(session) => token_response(state, &session, Delivery::Body),
        None => Err(ApiError::oauth(
            "invalid_grant",
            "the refresh token is invalid, expired or revoked",
        )),
    }
}

async fn client_credentials_grant(
    state: &AppState,
    scope: Option<&str>,
    credentials: ClientCredentials,
) -> Result<HttpResponse, ApiError> {
    let client = require_client(state, credentials).await?;
    if client.scopes.is_empty() {
        // Such a client introspects and reads the revocation feed; a token
        // of its own would be accepted wherever any valid token is.
        return Err(ApiError::oauth(
            "unauthorized_client",
            "this client has no scopes: it may introspect and read the revocation feed, not get tokens",
        ));
    }
    let scope = clients::granted_scope(&client, scope).map_err(|_| {
        ApiError::oauth(
            "invalid_scope",
            "the requested scope is malformed or not granted to this client",
        )
    })?;
    let access = state
        .access
        .issue_client(&client.id, scope.clone(), now(state))
        .map_err(ApiError::internal)?;
    tracing::info!(client = %client.id, "client credentials token issued");
    Ok(token_headers(HttpResponse::Ok()).json(ClientTokenResponse {
        access_token: access.token,
        token_type: "Bearer",
        expires_in: access.expires_in,
        scope,
    }))
}

/// OAuth 2.0 token revocation (RFC 7009).
///
/// A refresh token ends its session (a rotated-away one is reuse, as at
/// logout, and ends every session of the user); a user's access token ends its
/// session too, which the revocation feed then reports. Unknown, invalid and
/// expired tokens are answered 200, as the RFC asks. Public clients revoke by
/// presenting the token; a registered client's credentials, if sent, must hold.
#[utoipa::path(
    post,
    path = "/oauth/revoke",
    tag = "oauth",
    request_body(content = TokenQuery, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Revoked, or nothing to revoke"),
        (status = 400, description = "`invalid_request`, or `unsupported_token_type`: a machine client's access token, which has no session and expires on its own", body = ErrorBody),
        (status = 401, description = "`invalid_client`: client credentials were sent and are wrong", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Basic realm=\"authd\"`"))),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = "5XX", description = "`temporarily_unavailable` (503, with `Retry-After`) or `server_error` (500)", body = ErrorBody),
    ),
    security(("client_basic" = []), ())
)]
#[tracing::instrument(skip_all)]
pub async fn revoke(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let form = request::form(&req, body, state.settings.server.max_body_bytes).await?;
    let input = TokenQuery::from_form(form)?;
    // Public clients revoke by presenting the token; a registered client's
    // credentials, if sent, must hold, and it may revoke only its own tokens
    // (RFC 7009 section 2.1).
    let registered = match client_credentials(&req, input.client_id, input.client_secret)? {
        ClientCredentials::Secret { id, secret } => {
            Some(registered_client(&state, &id, &secret).await?)
        }
        ClientCredentials::Public(id) if id != state.settings.jwt.client_id => {
            return Err(ApiError::InvalidClient);
        }
        ClientCredentials::Public(_) | ClientCredentials::None => None,
    };
    let not_yours = || {
        ApiError::oauth(
            "unauthorized_client",
            "this token was not issued to the authenticated client",
        )
    };
    tracing::debug!(hint = input.token_type_hint.as_deref(), "revocation");
    let token = input.token.as_str();
    let meta = request::meta(&state, &req);
    let now = now(&state);
    if let Some(claims) = state.refresh.decode(token) {
        if registered.is_some() {
            return Err(not_yours());
        }
        if let Some((session, user)) = local_logout_target(&state, claims, now, &meta).await? {
            end_session(&state, session, user, &meta).await?;
        }
    } else if let Ok(claims) = state.access.verify(token, now) {
        match (claims.user_session(), &registered) {
            (Some(_), Some(_)) => return Err(not_yours()),
            (Some((user, session)), None) => end_session(&state, session, user, &meta).await?,
            (None, Some(client)) if client.id != claims.client_id => return Err(not_yours()),
            (None, _) => {
                return Err(ApiError::oauth(
                    "unsupported_token_type",
                    "a client's access token has no session to revoke; it expires on its own",
                ));
            }
        }
    } else {
        tracing::info!("revocation of a token authd does not accept: nothing to do");
    }
    Ok(token_headers(HttpResponse::Ok()).finish())
}

/// RFC 7662 section 2.2. Inactive tokens are `{"active": false}` only.
#[derive(Serialize, Default, ToSchema)]
pub struct Introspection {
    active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id: Option<String>,
    /// `Bearer` for access tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    token_type: Option<&'static str>,
    /// authd's extension: `access_token` or `refresh_token`.
    #[serde(skip_serializing_if = "Option::is_none")]
    token_use: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    iat: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    aud: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    iss: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    jti: Option<String>,
    /// authd's extension: the session of a user's token.
    #[serde(skip_serializing_if = "Option::is_none")]
    sid: Option<Uuid>,
}

/// OAuth 2.0 token introspection (RFC 7662), for registered clients.
///
/// An access token is active while it verifies and, for a user's token, while
/// its session is live (for a machine client's token, while its client is
/// registered); a refresh token while it is its session's current token.
/// Asking spends and rotates nothing.
#[utoipa::path(
    post,
    path = "/oauth/introspect",
    tag = "oauth",
    request_body(content = TokenQuery, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "What the token is, or `{\"active\": false}`", body = Introspection,
            headers(("Cache-Control" = String, description = "`no-store`"))),
        (status = 400, description = "`invalid_request`: no token, or a malformed body", body = ErrorBody),
        (status = 401, description = "`invalid_client`: no or wrong client credentials", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Basic realm=\"authd\"`"))),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = "5XX", description = "`temporarily_unavailable` (503, with `Retry-After`) or `server_error` (500)", body = ErrorBody),
    ),
    security(("client_basic" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn introspect(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let form = request::form(&req, body, state.settings.server.max_body_bytes).await?;
    let input = TokenQuery::from_form(form)?;
    let credentials = client_credentials(&req, input.client_id, input.client_secret)?;
    let client = require_client(&state, credentials).await?;
    let token = input.token.as_str();
    let now = now(&state);
    let answer = if let Some(claims) = state.refresh.decode(token) {
        introspect_refresh(&state, claims, now).await?
    } else if let Ok(claims) = state.access.verify(token, now) {
        introspect_access(&state, claims, now).await?
    } else {
        Introspection::default()
    };
    tracing::info!(client = %client.id, active = answer.active, "introspection");
    Ok(token_headers(HttpResponse::Ok()).json(answer))
}

async fn introspect_access(
    state: &AppState,
    claims: AccessClaims,
    now: DateTime<Utc>,
) -> Result<Introspection, ApiError> {
    let live = match claims.user_session() {
        Some((user, session)) => session_is_live(state, user, session, now).await?,
        // A machine client's token lives while its client is registered.
        None => state.store.find_client(&claims.client_id).await?.is_some(),
    };
    if !live {
        return Ok(Introspection::default());
    }
    Ok(Introspection {
        active: true,
        scope: claims.scope,
        client_id: Some(claims.client_id),
        token_type: Some("Bearer"),
        token_use: Some("access_token"),
        exp: Some(claims.exp),
        iat: Some(claims.iat),
        sub: Some(claims.sub),
        aud: Some(claims.aud),
        iss: Some(claims.iss),
        jti: Some(claims.jti.to_string()),
        sid: claims.sid,
    })
}

async fn introspect_refresh(
    state: &AppState,
    claims: crate::refresh::RefreshClaims,
    now: DateTime<Utc>,
) -> Result<Introspection, ApiError> {
    let Some(session) = state.store.find_session(claims.session).await? else {
        return Ok(Introspection::default());
    };
    // Only the current token is active: `decide` says Rotate for it alone.
    let current = matches!(
        decide(&session, claims.counter, now, &state.policy),
        crate::sessions::Decision::Rotate { .. }
    );
    if !current {
        return Ok(Introspection::default());
    }
    Ok(Introspection {
        active: true,
        client_id: Some(state.settings.jwt.client_id.clone()),
        token_use: Some("refresh_token"),
        exp: Some(session.expires_at.timestamp()),
        iat: Some(session.last_rotated_at.timestamp()),
        sub: Some(session.user_id.to_string()),
        iss: Some(state.settings.issuer().to_owned()),
        sid: Some(session.id),
        ..Introspection::default()
    })
}

/// How far back from now a feed answer's cursor points, so that a revocation
/// whose transaction commits after a poll, with a `revoked_at` before it, is
/// still listed by the next poll. It bounds the time from reading the clock to
/// committing (lock and statement timeouts are 5 s) plus clock skew between
/// instances, with room to spare. Entries of the last minute are repeated;
/// clients keep a set.
const FEED_OVERLAP_SECS: i64 = 60;
/// Entries per answer; `more: true` asks the client to poll again at once.
const FEED_PAGE: usize = 1000;

/// A position in the feed: a revocation time and a session id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cursor {
    at: DateTime<Utc>,
    after: Uuid,
}

impl Cursor {
    /// `<unix nanoseconds>` or `<unix nanoseconds>.<session id>`.
    fn encode(&self) -> String {
        let nanos = self.at.timestamp_nanos_opt().unwrap_or(i64::MAX);
        if self.after.is_nil() {
            nanos.to_string()
        } else {
            format!("{nanos}.{}", self.after.simple())
        }
    }

    fn parse(text: &str) -> Option<Self> {
        let (nanos, after) = match text.split_once('.') {
            Some((nanos, id)) => (nanos, Uuid::try_parse(id).ok()?),
            None => (text, Uuid::nil()),
        };
        if nanos.is_empty() || !nanos.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(Self {
            at: DateTime::from_timestamp_nanos(nanos.parse().ok()?),
            after,
        })
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FeedQuery {
    /// The `cursor` of the previous answer; without it, every session revoked
    /// within the last access-token lifetime.
    since: Option<String>,
}

/// One revoked session.
#[derive(Serialize, ToSchema)]
pub struct FeedEntry {
    /// The session: the `sid` claim of its access tokens.
    sid: Uuid,
    /// Its user.
    sub: Uuid,
    /// When it was revoked (Unix seconds).
    revoked_at: i64,
    /// After this (Unix seconds) no access token of the session can still be
    /// valid: the entry may be forgotten.
    until: i64,
}

/// Sessions revoked since the cursor. Entries near the end of the previous
/// answer may be repeated: keep a set.
#[derive(Serialize, ToSchema)]
pub struct Feed {
    revocations: Vec<FeedEntry>,
    /// Pass as `since` on the next poll.
    cursor: String,
    /// More entries wait: poll again at once with the new cursor.
    more: bool,
}

/// The revocation feed, for registered clients.
///
/// The sessions revoked since the cursor (without one, within the last
/// access-token lifetime), so that services verifying access tokens locally
/// refuse those of revoked sessions within one poll interval.
#[utoipa::path(
    get,
    path = "/auth/revocations",
    tag = "oauth",
    params(FeedQuery),
    responses(
        (status = 200, description = "Revoked sessions", body = Feed,
            headers(("Cache-Control" = String, description = "`no-store`"))),
        (status = 400, description = "`invalid_request`: a malformed cursor or an unknown parameter", body = ErrorBody),
        (status = 401, description = "`invalid_client`: no or wrong client credentials (HTTP Basic)", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Basic realm=\"authd\"`"))),
        (status = "5XX", description = "`temporarily_unavailable` (503, with `Retry-After`) or `server_error` (500)", body = ErrorBody),
    ),
    security(("client_basic" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn revocations(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let credentials = match basic_credentials(&req)? {
        Some((id, secret)) => ClientCredentials::Secret { id, secret },
        None => ClientCredentials::None,
    };
    require_client(&state, credentials).await?;
    let query = web::Query::<FeedQuery>::from_query(req.query_string())
        .map_err(|_| ApiError::InvalidRequest("the only parameter is since".into()))?;
    let since = match query.since.as_deref() {
        Some(text) => Some(Cursor::parse(text).ok_or_else(|| {
            ApiError::InvalidRequest("since must be a cursor from an earlier answer".into())
        })?),
        None => None,
    };
    let now = now(&state);
    // After `revoked_at + ttl` no token of the session can be accepted anywhere.
    let ttl = state.access.max_acceptance();
    let floor = Cursor {
        at: now - ttl,
        after: Uuid::nil(),
    };
    let start = since.filter(|c| c.at >= floor.at).unwrap_or(floor);
    let limit = i64::try_from(FEED_PAGE + 1).unwrap_or(i64::MAX);
    let mut rows = state
        .store
        .list_revocations((start.at, start.after), limit)
        .await?;
    let more = rows.len() > FEED_PAGE;
    rows.truncate(FEED_PAGE);
    let next = match rows.last() {
        Some(last) if more => Cursor {
            at: last.revoked_at,
            after: last.id,
        },
        // The last page: the next poll starts a minute back (see FEED_OVERLAP_SECS).
        _ => Cursor {
            at: (now - chrono::Duration::seconds(FEED_OVERLAP_SECS)).max(floor.at),
            after: Uuid::nil(),
        },
    };
    let revocations = rows
        .into_iter()
        .map(|r| FeedEntry {
            sid: r.id,
            sub: r.user_id,
            revoked_at: r.revoked_at.timestamp(),
            until: (r.revoked_at + ttl).timestamp(),
        })
        .collect();
    Ok(token_headers(HttpResponse::Ok()).json(Feed {
        revocations,
        cursor: next.encode(),
        more,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips_and_garbage_is_refused() {
        let at = DateTime::from_timestamp_nanos(1_764_000_000_123_456_789);
        for after in [Uuid::nil(), Uuid::new_v4()] {
            let cursor = Cursor { at, after };
            assert_eq!(Cursor::parse(&cursor.encode()), Some(cursor));
        }
        for bad in ["", "-1", "12a", "1.", "1.zz", "99999999999999999999", "1 2"] {
            assert_eq!(Cursor::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn basic_parts_are_form_decoded_and_separators_refused() {
        assert_eq!(basic_part("a%20b+c").as_deref(), Some("a b c"));
        assert_eq!(basic_part(""), None);
        assert_eq!(basic_part("a&b"), None);
        assert_eq!(basic_part("a=b"), None);
    }
}
