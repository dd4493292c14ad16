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
            "token_endpoint": format!("{issuer}/oauth/token"),
            "revocation_endpoint": format!("{issuer}/oauth/revoke"),
            "introspection_endpoint": format!("{issuer}/oauth/introspect"),
            "revocation_feed_endpoint": format!("{issuer}/auth/revocations"),
            "grant_types_supported": ["refresh_token", "client_credentials"],
            "response_types_supported": ["token"],
            "subject_types_supported": ["public"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
            "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
            "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "id_token_signing_alg_values_supported": state.services.access.keys().algorithms(),
            "access_token_signing_alg_values_supported": state.services.access.keys().algorithms(),
            "claims_supported": ["iss", "sub", "aud", "exp", "iat", "jti", "sid", "client_id", "scope"],
        }))
}
