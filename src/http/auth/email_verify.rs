//! `POST /auth/email/verify`: following an email verification link.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use secrecy::ExposeSecret;

use super::LinkProof;
use crate::accounts;
use crate::http::ApiError;
use crate::http::error::ErrorBody;
use crate::http::extractors::{Caller, Json};
use crate::http::state::AppState;
use crate::store::users::User;

/// Verifies an email address with the token of its link.
///
/// The link (`email.link_base?action=verify_email&token=...`) opens the app's
/// page, which posts the token here: opening the link spends nothing, so a
/// mail scanner that follows it verifies nothing. The token works once, until
/// `accounts.verify_ttl_secs` after it was sent, and only while the account
/// still has the address it was sent to; a newer link ends it.
///
/// When the link is the address's first proof, every session of the account
/// ends and its password is withdrawn (set it again by a reset), unless the
/// `password` is given: whoever registered the address may not be the
/// mailbox's owner (account pre-hijacking).
#[utoipa::path(
    post,
    path = "/auth/email/verify",
    tag = "auth",
    request_body = LinkProof,
    responses(
        (status = 200, description = "Verified: the user, `email_verified` true", body = User,
            headers(("Cache-Control" = String, description = "`no-store`"))),
        (status = 400, description = "`invalid_request` (a malformed body) or `invalid_account_token` (the link is unknown, used, replaced, expired, or for an address the account no longer has)", body = ErrorBody),
        (status = 401, description = "`invalid_credentials`: a wrong `password`; the link is not spent", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: the body is over `server.max_body_bytes`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: the body is not `application/json`", body = ErrorBody),
        (status = 429, description = "`too_many_requests`: with a `password`, too many failed logins for this account or client (the login counters)", body = ErrorBody, headers(("Retry-After" = i64, description = "Seconds to wait"))),
        (status = "5XX", description = "`temporarily_unavailable` (503, with `Retry-After`) or `server_error` (500)", body = ErrorBody),
    ),
    security(())
)]
#[tracing::instrument(skip_all)]
pub async fn verify_email(
    state: web::Data<AppState>,
    caller: Caller,
    Json(mut input): Json<LinkProof>,
) -> Result<HttpResponse, ApiError> {
    let svc = &state.services;
    let password = input.password(svc)?;
    let user = accounts::verify_email(
        svc,
        input.token.expose_secret(),
        password.as_ref(),
        &caller.meta,
    )
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(user))
}
