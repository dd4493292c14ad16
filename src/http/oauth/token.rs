//! `POST /oauth/token`: the `refresh_token` and `client_credentials` grants,
//! whose rules are `oauth::grants`.

use actix_web::HttpResponse;
use actix_web::web;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::http::ApiError;
use crate::http::error::ErrorBody;
use crate::http::extractors::{Caller, OAuthForm};
use crate::http::state::AppState;
use crate::http::tokens::{Delivery, TokenResponse, token_headers, token_response};
use crate::oauth::grants;

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
    let svc = &state.services;
    match grant_type.as_str() {
        "refresh_token" => {
            let token = refresh_token.ok_or_else(|| {
                ApiError::InvalidRequest("the parameter refresh_token is required".into())
            })?;
            let request = grants::RefreshRequest {
                credentials: &client,
                token: &token,
                scope: scope.as_deref(),
                ip: caller.ip,
                meta: &caller.meta,
            };
            let session = grants::refresh(svc, &state.refresh_limit, request).await?;
            token_response(&state, &session, Delivery::Body)
        }
        "client_credentials" => {
            let issued = grants::client_credentials(svc, client, scope.as_deref()).await?;
            Ok(token_headers(HttpResponse::Ok()).json(ClientTokenResponse {
                access_token: issued.access_token,
                token_type: "Bearer",
                expires_in: issued.expires_in,
                scope: issued.scope,
            }))
        }
        _ => Err(ApiError::oauth(
            "unsupported_grant_type",
            "grant_type must be refresh_token or client_credentials",
        )),
    }
}
