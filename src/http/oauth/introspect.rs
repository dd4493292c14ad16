//! `POST /oauth/introspect` (RFC 7662), for registered clients; who may ask
//! and what is answered are `oauth::permissions` and `oauth::introspection`.

use actix_web::{HttpResponse, web};

use super::TokenQuery;
use crate::http::ApiError;
use crate::http::error::ErrorBody;
use crate::http::extractors::OAuthForm;
use crate::http::state::AppState;
use crate::http::tokens::token_headers;
use crate::oauth::introspection::{self, Introspection};
use crate::oauth::permissions;

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
    let svc = &state.services;
    // The client and its permission first: a caller that may not introspect
    // learns nothing about what its form lacks (RFC 7662 section 2.1).
    let client = permissions::introspector(svc, client).await?;
    let input = TokenQuery::from_form(form)?;
    let answer = introspection::introspect(svc, &input.token).await?;
    tracing::info!(client = %client.id, active = answer.active, "introspection");
    Ok(token_headers(HttpResponse::Ok()).json(answer))
}
