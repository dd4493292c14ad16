//! `POST /oauth/introspect` (RFC 7662), for registered clients.

use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::TokenQuery;
use crate::accounts;
use crate::clients::{self, permissions};
use crate::error::ServiceError;
use crate::http::ApiError;
use crate::http::client_auth::require_permitted_client;
use crate::http::error::ErrorBody;
use crate::http::extractors::OAuthForm;
use crate::http::state::AppState;
use crate::http::tokens::token_headers;
use crate::services::Services;
use crate::sessions;
use crate::tokens::AccessClaims;
use crate::tokens::refresh::RefreshClaims;

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
    /// authd's extension, for a user's access token: whether the user's
    /// address is verified now (read with the session's check).
    #[serde(skip_serializing_if = "Option::is_none")]
    email_verified: Option<bool>,
}

/// OAuth 2.0 token introspection (RFC 7662), for registered clients with `authd:introspect`.
///
/// The caller must be a registered client holding the permission
/// `authd:introspect`. One that authenticates without it is refused with 403
/// `insufficient_scope`, not answered `{"active": false}`: RFC 7662 section
/// 2.2 keeps that answer for a properly authorized caller asking about a
/// token, and a client that may not introspect at all is not one.
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
        (status = 403, description = "`insufficient_scope`: the client lacks the permission `authd:introspect`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = "5XX", description = "`temporarily_unavailable` (503, with `Retry-After`) or `server_error` (500)", body = ErrorBody),
    ),
    security(("client_basic" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn introspect(
    state: web::Data<AppState>,
    OAuthForm { form, client }: OAuthForm,
) -> Result<HttpResponse, ApiError> {
    // The client and its permission first: a caller that may not introspect
    // learns nothing about what its form lacks (RFC 7662 section 2.1).
    let client = require_permitted_client(&state, client, &[permissions::INTROSPECT]).await?;
    let input = TokenQuery::from_form(form)?;
    let svc = &state.services;
    let token = input.token.as_str();
    let answer = if let Some(claims) = svc.refresh.decode(token) {
        introspect_refresh(svc, claims).await?
    } else if let Ok(claims) = svc.access.verify(token, svc.now()) {
        introspect_access(svc, claims).await?
    } else {
        Introspection::default()
    };
    tracing::info!(client = %client.id, active = answer.active, "introspection");
    Ok(token_headers(HttpResponse::Ok()).json(answer))
}

async fn introspect_access(
    svc: &Services,
    claims: AccessClaims,
) -> Result<Introspection, ApiError> {
    // A user's token: the session's check and the user in one query.
    let (live, email_verified) = match claims.user_session() {
        Some((user, session)) => match accounts::user_of_live_session(svc, user, session).await {
            Ok(user) => (true, Some(user.email_verified)),
            Err(ServiceError::SessionEnded) => (false, None),
            Err(e) => return Err(e.into()),
        },
        // A machine client's token lives while its client is registered.
        None => (clients::exists(&svc.store, &claims.client_id).await?, None),
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
        email_verified,
    })
}

async fn introspect_refresh(
    svc: &Services,
    claims: RefreshClaims,
) -> Result<Introspection, ApiError> {
    let Some(session) = sessions::current_of(svc, claims).await? else {
        return Ok(Introspection::default());
    };
    Ok(Introspection {
        active: true,
        client_id: Some(svc.settings.jwt.client_id.clone()),
        token_use: Some("refresh_token"),
        exp: Some(session.expires_at.timestamp()),
        iat: Some(session.last_rotated_at.timestamp()),
        sub: Some(session.user_id.to_string()),
        iss: Some(svc.settings.issuer().to_owned()),
        sid: Some(session.id),
        ..Introspection::default()
    })
}
