//! `POST /auth/email/change/confirm`.

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

/// Confirms an email change.
///
/// With the `token` of the link sent to the new address, moves the account
/// to that address (verified) and ends every live link and code sent to the
/// old one. Needs no sign-in: the link may be opened on another device. A
/// password change since the request kills the link.
///
/// The confirmation is the new address's first proof: every session of the
/// account ends, and its password is withdrawn (set it again by a reset)
/// unless the `password` is given.
#[utoipa::path(
    post,
    path = "/auth/email/change/confirm",
    tag = "auth",
    request_body = LinkProof,
    responses(
        (status = 200, description = "Changed: the user, with its new address, verified", body = User),
        (status = 400, description = "`invalid_request` (a malformed body) or `invalid_account_token` (a link unknown, expired, already used, replaced by a newer request, or sent before a password change)", body = ErrorBody),
        (status = 409, description = "`email_taken`: another account took the address since the request; nothing changed", body = ErrorBody),
        (status = 401, description = "`invalid_credentials`: a wrong `password`; the link is not spent", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: the body is over `server.max_body_bytes`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: the body is not `application/json`", body = ErrorBody),
        (status = 429, description = "`too_many_requests`: with a `password`, too many failed logins for this account or client (the login counters)", body = ErrorBody, headers(("Retry-After" = i64, description = "Seconds to wait"))),
        (status = "5XX", description = "`temporarily_unavailable` (503, with `Retry-After`) or `server_error` (500)", body = ErrorBody),
    ),
    security(())
)]
#[tracing::instrument(skip_all)]
pub async fn confirm_email_change(
    state: web::Data<AppState>,
    caller: Caller,
    Json(mut input): Json<LinkProof>,
) -> Result<HttpResponse, ApiError> {
    let svc = &state.services;
    let password = input.password(svc)?;
    let user = accounts::confirm_email_change(
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
