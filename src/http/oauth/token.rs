//! `POST /oauth/token`: the `authorization_code`, `refresh_token` and
//! `client_credentials` grants, whose rules are `oauth::grants`.

use actix_web::HttpResponse;
use actix_web::web;
use secrecy::ExposeSecret;
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
    AuthorizationCode(AuthorizationCodeGrant),
    RefreshToken(RefreshTokenGrant),
    ClientCredentials(ClientCredentialsGrant),
}

/// `grant_type=authorization_code` (RFC 6749 section 4.1.3, RFC 7636): a
/// code from `/oauth/authorize`, redeemed once by the client it was issued
/// to, which authenticates by its method (a confidential client's secret by
/// HTTP Basic or in the form). Presenting a redeemed code again ends the
/// session made from it.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)] // describes the document
struct AuthorizationCodeGrant {
    grant_type: AuthorizationCodeGrantType,
    #[schema(min_length = 1)]
    code: String,
    /// Exactly the `redirect_uri` of the authorization request.
    redirect_uri: String,
    /// The PKCE verifier (S256): required when the code was issued with a
    /// `code_challenge`, refused when it was not.
    #[schema(min_length = 43, max_length = 128)]
    code_verifier: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum AuthorizationCodeGrantType {
    AuthorizationCode,
}

/// `grant_type=refresh_token`: exchange a refresh token (RFC 6749 section 6).
/// authd's first-party refresh tokens: no client authentication and no
/// `scope`. A registered client's refresh token (from the authorization code
/// grant with `offline_access`): only that client, authenticated, may
/// present it, and `scope` may narrow, never widen, what was granted.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)] // describes the document
struct RefreshTokenGrant {
    grant_type: RefreshTokenGrantType,
    /// The refresh token to exchange.
    #[schema(min_length = 1)]
    refresh_token: String,
    /// authd's own public client id, or the registered client's id.
    client_id: Option<String>,
    /// A registered client's family only: a subset of the scopes granted.
    scope: Option<String>,
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

/// What `POST /oauth/token` answers: the first-party refresh grant's
/// `TokenResponse` (with the new refresh token), or a `CodeTokenResponse`
/// (the code grant, a client family's refresh, and the client credentials
/// grant, whose answer is the same without `id_token` and `refresh_token`:
/// listed apart, the two would match one answer, which `oneOf` forbids).
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // describes the document; the handlers build each variant
enum OAuthTokenResponse {
    RefreshGrant(TokenResponse),
    ClientTokens(CodeTokenResponse),
}

/// RFC 6749 section 5.1 for a registered client's session (the
/// authorization code grant, and the refresh of what it made).
#[derive(Serialize, ToSchema)]
pub struct CodeTokenResponse {
    /// A JWT (RFC 9068) with the client's `client_id` and `scope`.
    access_token: String,
    token_type: &'static str,
    expires_in: i64,
    /// The scope of the access token.
    scope: String,
    /// With the `openid` scope, at the code grant.
    #[serde(skip_serializing_if = "Option::is_none")]
    id_token: Option<String>,
    /// Only when `offline_access` was granted.
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
}

impl From<grants::ClientTokens> for CodeTokenResponse {
    fn from(t: grants::ClientTokens) -> Self {
        Self {
            access_token: t.access_token,
            token_type: "Bearer",
            expires_in: t.expires_in,
            scope: t.scope,
            id_token: t.id_token,
            refresh_token: t.refresh_token.map(|r| r.expose_secret().to_owned()),
        }
    }
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
/// `grant_type=authorization_code` redeems a code for the client it was issued
/// to (PKCE, the same `redirect_uri`, once) and answers `CodeTokenResponse`:
/// an access token, an ID token with `openid`, a refresh token with
/// `offline_access`. `grant_type=refresh_token` rotates a refresh token under
/// the rules of `/auth/refresh` (grace for a retried token, reuse revokes
/// every session of the user) and answers with both tokens in the body; `grant_type=
/// client_credentials` gives a registered client a scoped access token whose
/// `sub` is the client, with no refresh token and no session.
#[utoipa::path(
    post,
    path = "/oauth/token",
    tag = "oauth",
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Tokens: `CodeTokenResponse` for the code grant and a client's refresh, `TokenResponse` for a first-party refresh, `CodeTokenResponse` without `id_token` and `refresh_token` for client credentials",
            body = OAuthTokenResponse, headers(("Cache-Control" = String, description = "`no-store`"))),
        (status = 400, description = "`invalid_request`, `invalid_grant` (code or refresh token invalid, expired, used, revoked, reused or another client's; redirect_uri or PKCE verifier wrong), `unsupported_grant_type`, `invalid_scope` or `unauthorized_client` (RFC 6749 section 5.2)", body = ErrorBody),
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
    let code = form.take("code")?;
    let redirect_uri = form.take("redirect_uri")?;
    let code_verifier = form.take("code_verifier")?;
    tracing::Span::current().record("grant_type", grant_type.as_str());
    let svc = &state.services;
    match grant_type.as_str() {
        "authorization_code" => {
            let code = code
                .ok_or_else(|| ApiError::InvalidRequest("the parameter code is required".into()))?;
            let request = grants::CodeRequest {
                credentials: &client,
                code: &code,
                redirect_uri: redirect_uri.as_deref(),
                code_verifier: code_verifier.as_deref(),
                meta: &caller.meta,
            };
            let tokens = grants::authorization_code(svc, request).await?;
            Ok(token_headers(HttpResponse::Ok()).json(CodeTokenResponse::from(tokens)))
        }
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
            match grants::refresh(svc, &state.refresh_limit, request).await? {
                grants::Refreshed::FirstParty(session) => {
                    token_response(&state, &session, Delivery::Body).await
                }
                grants::Refreshed::Client(tokens) => {
                    Ok(token_headers(HttpResponse::Ok()).json(CodeTokenResponse::from(tokens)))
                }
            }
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
            "grant_type must be authorization_code, refresh_token or client_credentials",
        )),
    }
}
