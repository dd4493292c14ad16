//! `POST /oauth/revoke` (RFC 7009).

use actix_web::{HttpResponse, web};

use super::TokenQuery;
use crate::audit::AuditKind;
use crate::http::ApiError;
use crate::http::client_auth::{ClientCredentials, registered_client};
use crate::http::error::ErrorBody;
use crate::http::extractors::{Caller, OAuthForm};
use crate::http::state::AppState;
use crate::http::tokens::token_headers;
use crate::sessions::logout::{self, reasons};

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
    caller: Caller,
    OAuthForm { form, client }: OAuthForm,
) -> Result<HttpResponse, ApiError> {
    let input = TokenQuery::from_form(form)?;
    let svc = &state.services;
    // Public clients revoke by presenting the token; a registered client's
    // credentials, if sent, must hold, and it may revoke only its own tokens
    // (RFC 7009 section 2.1).
    let registered = match client {
        ClientCredentials::Secret { id, secret } => {
            Some(registered_client(&state, &id, &secret).await?)
        }
        ClientCredentials::Public(id) if id != svc.settings.jwt.client_id => {
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
    let meta = &caller.meta;
    if let Some(claims) = svc.refresh.decode(token) {
        if registered.is_some() {
            return Err(not_yours());
        }
        logout::end_by_refresh_token(svc, claims, "revocation", meta).await?;
    } else if let Ok(claims) = svc.access.verify(token, svc.now()) {
        match (claims.user_session(), &registered) {
            (Some(_), Some(_)) => return Err(not_yours()),
            (Some((user, session)), None) => {
                logout::end_one(svc, session, user, AuditKind::Logout, reasons::LOGOUT, meta)
                    .await?;
            }
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
