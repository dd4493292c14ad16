//! `POST /auth/mfa/passkey`: the options of a passkey answering a sign-in
//! challenge. The answer goes to `POST /auth/mfa/verify` (`passkey`).

use actix_web::{HttpResponse, web};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::accounts;
use crate::http::ApiError;
use crate::http::auth::passkey_sign_in::AssertionStarted;
use crate::http::body::bounded;
use crate::http::error::ErrorBody;
use crate::http::extractors::{Caller, Json};
use crate::http::state::AppState;

/// The challenge a passkey will answer.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MfaPasskey {
    /// The `mfa_challenge` of the `mfa_required` answer.
    #[schema(value_type = String, min_length = 1, max_length = 128)]
    challenge: SecretString,
}

/// Begins a passkey as the second factor of a sign-in.
///
/// For a challenge whose `factors` list `passkey`: the options allow the
/// user's passkeys (user verification required). Send the assertion with
/// the ceremony and the same challenge to `POST /auth/mfa/verify`.
#[utoipa::path(
    post,
    path = "/auth/mfa/passkey",
    tag = "passkeys",
    request_body = MfaPasskey,
    responses(
        (status = 200, description = "The options for `navigator.credentials.get`", body = AssertionStarted),
        (status = 400, description = "`invalid_request`: a malformed body", body = ErrorBody),
        (status = 401, description = "`invalid_mfa_challenge`: unknown, expired, already used, made for the hosted page, or made before the password changed", body = ErrorBody),
        (status = 404, description = "`not_found` (the user has no passkey) or `not_enabled` (passkeys are off on this server)", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: the body is over `server.max_body_bytes`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: the body is not `application/json`", body = ErrorBody),
        (status = 429, description = "`too_many_requests`: too many passkey ceremonies begun from this client (`limits.ceremony_per_ip`)", body = ErrorBody, headers(("Retry-After" = i64, description = "Seconds to wait"))),
        (status = "5XX", description = "`temporarily_unavailable` (503, with `Retry-After`) or `server_error` (500)", body = ErrorBody),
    ),
    security(())
)]
#[tracing::instrument(skip_all)]
pub async fn mfa_passkey(
    state: web::Data<AppState>,
    caller: Caller,
    Json(input): Json<MfaPasskey>,
) -> Result<HttpResponse, ApiError> {
    let token = bounded("challenge", input.challenge, 128)?;
    let c = accounts::second_factor::passkey_options(
        &state.services,
        token.expose_secret(),
        &caller.meta,
    )
    .await?;
    Ok(AssertionStarted::from(c).response())
}
