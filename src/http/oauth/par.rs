//! `POST /oauth/par` (RFC 9126): a pushed authorization request. The client
//! authenticates as at the token endpoint; the form carries the parameters of
//! `/oauth/authorize`; `oauth::par` checks and keeps them.

use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::http::ApiError;
use crate::http::error::ErrorBody;
use crate::http::extractors::OAuthForm;
use crate::http::state::AppState;
use crate::http::tokens::token_headers;
use crate::oauth::par;

/// Where the browser is sent with the pushed request (RFC 9126 section 2.2).
#[derive(Serialize, ToSchema)]
pub struct PushedAuthorizationResponse {
    /// `urn:ietf:params:oauth:request_uri:…`: send the browser to
    /// `/oauth/authorize?client_id=…&request_uri=…`; it starts one
    /// authorization only.
    request_uri: String,
    /// Seconds the `request_uri` can be used.
    expires_in: i64,
}

/// Pushes an authorization request (RFC 9126).
///
/// The form holds the parameters of `/oauth/authorize` (`response_type`,
/// `redirect_uri` (required), `scope`, `state`, `nonce`, `code_challenge`,
/// `code_challenge_method`, `prompt`, `max_age`, `login_hint`,
/// `acr_values`), each once, and no `request_uri`. A public client names
/// itself with `client_id`; a confidential client authenticates with its
/// secret, as at the token endpoint.
#[utoipa::path(
    post,
    path = "/oauth/par",
    tag = "oauth",
    request_body(content = String, content_type = "application/x-www-form-urlencoded",
        description = "The parameters of an authorization request, and the client's authentication"),
    responses(
        (status = 201, description = "The request is kept", body = PushedAuthorizationResponse,
            headers(("Cache-Control" = String, description = "`no-store`"))),
        (status = 400, description = "`invalid_request` (a parameter missing, repeated or wrong, an unregistered redirect_uri, a request_uri), `invalid_scope` or `unauthorized_client` (a machine client)", body = ErrorBody),
        (status = 401, description = "`invalid_client`: client authentication failed or is missing", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Basic realm=\"authd\"`"))),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = "5XX", description = "`temporarily_unavailable` (503, with `Retry-After`) or `server_error` (500)", body = ErrorBody),
    ),
    security(("client_basic" = []), ())
)]
#[tracing::instrument(skip_all)]
pub async fn par(
    state: web::Data<AppState>,
    OAuthForm { form, client }: OAuthForm,
) -> Result<HttpResponse, ApiError> {
    let params = form.into_pairs()?;
    let pushed = par::push(&state.services, &client, &params).await?;
    Ok(
        token_headers(HttpResponse::Created()).json(PushedAuthorizationResponse {
            request_uri: pushed.request_uri,
            expires_in: pushed.expires_in,
        }),
    )
}
