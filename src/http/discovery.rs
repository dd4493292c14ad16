//! Discovery: the published keys (JWKS), the OpenID Connect and RFC 8414
//! metadata documents, and the OpenAPI document.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde_json::json;

use super::state::AppState;

/// The public keys, for microservices that verify tokens themselves.
#[utoipa::path(
    get,
    path = "/.well-known/jwks.json",
    tag = "discovery",
    responses((status = 200, description = "A JSON Web Key Set (RFC 7517)", body = serde_json::Value,
        headers(("Cache-Control" = String, description = "`public, max-age=<jwt.jwks_max_age_secs>`")))),
    security(())
)]
pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((
            header::CACHE_CONTROL,
            format!("public, max-age={}", state.settings().jwt.jwks_max_age_secs),
        ))
        .content_type("application/json")
        .body(state.services.access.keys().jwks_json().to_owned())
}

/// OpenID Connect discovery metadata.
///
/// Enough for stock JWT middleware to find the keys from the issuer URL.
#[utoipa::path(
    get,
    path = "/.well-known/openid-configuration",
    tag = "discovery",
    responses((status = 200, description = "The issuer's metadata", body = serde_json::Value)),
    security(())
)]
pub async fn openid_configuration(state: web::Data<AppState>) -> HttpResponse {
    discovery(state)
}

/// RFC 8414 authorization server metadata.
///
/// The same document as `/.well-known/openid-configuration`.
#[utoipa::path(
    get,
    path = "/.well-known/oauth-authorization-server",
    tag = "discovery",
    responses((status = 200, description = "The issuer's metadata", body = serde_json::Value)),
    security(())
)]
pub async fn oauth_authorization_server(state: web::Data<AppState>) -> HttpResponse {
    discovery(state)
}

/// This API's OpenAPI 3.1 document, built once at start-up.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "discovery",
    responses((status = 200, description = "The OpenAPI 3.1 document", body = serde_json::Value)),
    security(())
)]
pub async fn openapi_json(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .content_type("application/json")
        .body(state.openapi.clone())
}

/// OpenID Connect discovery / RFC 8414 metadata.
///
/// The authorization endpoint serves the code flow only: `response_types_supported`
/// is `["code"]` (no implicit, no hybrid), `response_modes_supported`
/// `["query"]`, PKCE with `S256` only, and every authorization response
/// carries `iss` (RFC 9207). `scopes_supported` are the scopes authd gives a
/// meaning to (a client may be allowed others of its own); `prompt_values_supported`
/// the `prompt` values the endpoint honours; `acr_values_supported` the
/// levels of `acr` ("1" one factor, "2" with a second factor, which
/// `acr_values=2` demands).
///
/// `claims_supported` names every claim an access token can carry (`sid`,
/// `auth_time`, `amr` and `acr` in a user's, `scope` in a client's) and the
/// userinfo endpoint's (`email`, `email_verified` with the `email` scope). ID
/// tokens' own (`nonce`, `azp`) join when an endpoint issues them.
///
/// `id_token_signing_alg_values_supported` lists exactly the algorithms with a
/// current asymmetric signer (`KeySet::id_token_algorithms`): empty with only
/// an HS256 key, since ID tokens are never signed with a shared secret.
///
/// Back-channel logout (OpenID Connect Back-Channel Logout 1.0): a client
/// with a `backchannel_logout_uri` gets a logout token, always with `sid`,
/// when a session it signed in through ends (`oidc::backchannel`).
fn discovery(state: web::Data<AppState>) -> HttpResponse {
    let issuer = state.settings().issuer();
    HttpResponse::Ok()
        .insert_header((
            header::CACHE_CONTROL,
            format!("public, max-age={}", state.settings().jwt.jwks_max_age_secs),
        ))
        .json(json!({
            "issuer": issuer,
            "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
            "authorization_endpoint": format!("{issuer}/oauth/authorize"),
            "token_endpoint": format!("{issuer}/oauth/token"),
            "revocation_endpoint": format!("{issuer}/oauth/revoke"),
            "introspection_endpoint": format!("{issuer}/oauth/introspect"),
            "revocation_feed_endpoint": format!("{issuer}/auth/revocations"),
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "code_challenge_methods_supported": ["S256"],
            "authorization_response_iss_parameter_supported": true,
            "scopes_supported": ["openid", "email", "offline_access"],
            "prompt_values_supported": ["none", "login", "consent"],
            "acr_values_supported": ["1", "2"],
            "subject_types_supported": ["public"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
            "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
            "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "userinfo_endpoint": format!("{issuer}/oauth/userinfo"),
            "end_session_endpoint": format!("{issuer}/oauth/logout"),
            "backchannel_logout_supported": true,
            "backchannel_logout_session_supported": true,
            "pushed_authorization_request_endpoint": format!("{issuer}/oauth/par"),
            "require_pushed_authorization_requests": false,
            "id_token_signing_alg_values_supported": state.services.access.keys().id_token_algorithms(),
            "access_token_signing_alg_values_supported": state.services.access.keys().algorithms(),
            "claims_supported": [
                "iss", "sub", "aud", "exp", "iat", "jti", "sid", "auth_time", "amr", "acr", "client_id", "scope",
                "email", "email_verified"

            ],
        }))
}
