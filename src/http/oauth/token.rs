//! `POST /oauth/token`: the `refresh_token` and `client_credentials` grants.

use actix_web::HttpResponse;
use actix_web::web;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::clients;
use crate::http::ApiError;
use crate::http::client_auth::{ClientCredentials, registered_client, require_client};
use crate::http::error::ErrorBody;
use crate::http::extractors::{Caller, OAuthForm};
use crate::http::state::AppState;
use crate::http::tokens::{Delivery, TokenResponse, token_headers, token_response};
use crate::sessions::rotate;

/// The parameters of `POST /oauth/token`, form-encoded (RFC 6749 sections 4.4
/// and 6): one of the two grants. Client credentials may come by HTTP Basic
/// instead of the form; an empty parameter counts as absent and unknown ones
/// are ignored, as RFC 6749 section 3.1 asks.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // describes the document; the handler reads the form by name
enum TokenRequest {
    RefreshToken(RefreshTokenGrant),
    ClientCredentials(ClientCredentialsGrant),
}

/// `grant_type=refresh_token`: exchange a refresh token (RFC 6749 section 6).
/// A `scope` or a client secret is refused on this grant: a user's tokens carry
/// no scope, and registered clients have no refresh tokens.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // describes the document
struct RefreshTokenGrant {
    grant_type: RefreshTokenGrantType,
    /// The refresh token to exchange.
    #[schema(min_length = 1)]
    refresh_token: String,
    /// authd's own public client id, if the client names itself.
    client_id: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum RefreshTokenGrantType {
    RefreshToken,
}

/// `grant_type=client_credentials`: a registered client's own token (RFC 6749
/// section 4.4). The client authenticates with HTTP Basic or with `client_id`
/// and `client_secret` form fields (see the `client_basic` security scheme).
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)] // describes the document
struct ClientCredentialsGrant {
    grant_type: ClientCredentialsGrantType,
    /// Space-separated scopes, each held by the client; default all of its
    /// scopes. authd's `authd:*` permissions are never granted
    /// (`invalid_scope`).
    scope: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum ClientCredentialsGrantType {
    ClientCredentials,
}

/// What `POST /oauth/token` answers: the refresh grant's `TokenResponse` (with
/// the new refresh token) or the client credentials grant's answer.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // describes the document; the handlers build each variant
enum OAuthTokenResponse {
    RefreshGrant(TokenResponse),
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
    caller: Caller,
    OAuthForm { mut form, client }: OAuthForm,
) -> Result<HttpResponse, ApiError> {
    let grant_type = form.require("grant_type")?;
    let refresh_token = form.take("refresh_token")?;
    let scope = form.take("scope")?;
    tracing::Span::current().record("grant_type", grant_type.as_str());
    match grant_type.as_str() {
        "refresh_token" => {
            let token = refresh_token.ok_or_else(|| {
                ApiError::InvalidRequest("the parameter refresh_token is required".into())
            })?;
            refresh_grant(&state, &caller, &token, scope, &client).await
        }
        "client_credentials" => client_credentials_grant(&state, scope.as_deref(), client).await,
        _ => Err(ApiError::oauth(
            "unsupported_grant_type",
            "grant_type must be refresh_token or client_credentials",
        )),
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
        ClientCredentials::Public(id) if *id == state.settings().jwt.client_id => Ok(()),
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

async fn refresh_grant(
    state: &AppState,
    caller: &Caller,
    token: &str,
    scope: Option<String>,
    credentials: &ClientCredentials,
) -> Result<HttpResponse, ApiError> {
    check_refresh_client(state, credentials).await?;
    let svc = &state.services;
    if !svc.settings.refresh.allow_body_delivery {
        return Err(ApiError::oauth(
            "unsupported_grant_type",
            "refresh tokens outside the cookie are disabled on this server",
        ));
    }
    if let Err(retry_after_secs) = state.refresh_limit.check(caller.ip, svc.now()) {
        return Err(ApiError::TooManyRequests { retry_after_secs });
    }
    if scope.is_some() {
        return Err(ApiError::oauth(
            "invalid_scope",
            "a user's tokens carry no scope",
        ));
    }
    match rotate::exchange(svc, token, &caller.meta).await? {
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
    if !client.may_use_client_credentials() {
        return Err(ApiError::oauth(
            "unauthorized_client",
            "only machine clients may use the client credentials grant",
        ));
    }
    if clients::grantable_scopes(&client).next().is_none() {
        // Such a client holds at most authd's permissions (introspection,
        // the revocation feed); a token of its own would be accepted wherever
        // any valid token is. Permissions are never put in a token.
        return Err(ApiError::oauth(
            "unauthorized_client",
            "this client has no scopes to grant (authd:* permissions are never granted in tokens)",
        ));
    }
    let scope = clients::granted_scope(&client, scope).map_err(|_| {
        ApiError::oauth(
            "invalid_scope",
            "the requested scope is malformed or not granted to this client",
        )
    })?;
    let svc = &state.services;
    let access = svc
        .access
        .issue_client(&client.id, scope.clone(), svc.now())
        .map_err(ApiError::internal)?;
    tracing::info!(client = %client.id, "client credentials token issued");
    Ok(token_headers(HttpResponse::Ok()).json(ClientTokenResponse {
        access_token: access.token,
        token_type: "Bearer",
        expires_in: access.expires_in,
        scope,
    }))
}
