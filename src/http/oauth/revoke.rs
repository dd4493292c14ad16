//! `POST /oauth/revoke` (RFC 7009); who may revoke what is `oauth::revocation`.

use actix_web::{HttpResponse, web};

use super::TokenQuery;
use crate::http::ApiError;
use crate::http::error::ErrorBody;
use crate::http::extractors::{Caller, OAuthForm};
use crate::http::state::AppState;
use crate::http::tokens::token_headers;
use crate::oauth::revocation;

/// OAuth 2.0 token revocation (RFC 7009).
///
/// A refresh token ends its session (a rotated-away one is reuse, as at
/// logout, and ends every session of the user); a user's access token ends its
/// session too, which the revocation feed then reports. Unknown, invalid and
/// expired tokens are answered 200, as the RFC asks. A token is revoked only by
/// the client it was issued to, authenticated by its method (RFC 7009 section
/// 2.1): authd's own sessions by its first-party client (no credentials, or
/// its `client_id`), an app's (authorization code flow) by that app (a public
/// client by its `client_id`, a confidential one by its secret).
#[utoipa::path(
    post,
    path = "/oauth/revoke",
    tag = "oauth",
    request_body(content = TokenQuery, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Revoked, or nothing to revoke"),
        (status = 400, description = "`invalid_request`; `unauthorized_client`: the token was issued to another client; or `unsupported_token_type`: a machine client's access token, which has no session and expires on its own", body = ErrorBody),
        (status = 401, description = "`invalid_client`: client credentials were sent and are wrong, or an app's token came without its client", body = ErrorBody,
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
    tracing::debug!(hint = input.token_type_hint.as_deref(), "revocation");
    revocation::revoke(&state.services, client, &input.token, &caller.meta).await?;
    Ok(token_headers(HttpResponse::Ok()).finish())
}
