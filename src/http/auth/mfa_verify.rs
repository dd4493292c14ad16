//! `POST /auth/mfa/verify`.

use actix_web::{HttpRequest, HttpResponse, web};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::accounts;
use crate::factors::Presented;
use crate::http::ApiError;
use crate::http::body::bounded;
use crate::http::error::ErrorBody;
use crate::http::extractors::{Caller, Json};
use crate::http::state::AppState;
use crate::http::tokens::{Delivery, TokenResponse, check_delivery, signed_in_response};

/// A sign-in challenge and the second factor answering it: `code` (TOTP),
/// `recovery_code` or `passkey`, exactly one.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MfaVerify {
    /// The `mfa_challenge` of the `mfa_required` answer.
    #[schema(value_type = String, min_length = 1, max_length = 128)]
    challenge: SecretString,
    /// The six digits the authenticator app shows.
    #[schema(value_type = Option<String>, example = "492039", max_length = 16)]
    code: Option<SecretString>,
    /// One of the recovery codes (case, spaces and dashes do not matter).
    #[schema(value_type = Option<String>, example = "k7m2q-x9ta4", max_length = 32)]
    recovery_code: Option<SecretString>,
    /// A passkey's assertion, after `POST /auth/mfa/passkey`.
    passkey: Option<PasskeyAnswer>,
    /// `cookie` (default, browsers) or `body` (native clients), as at login.
    #[serde(default)]
    token_delivery: Delivery,
}

/// A passkey answering the challenge: the ceremony of `POST
/// /auth/mfa/passkey` and the `PublicKeyCredential` of
/// `navigator.credentials.get` as JSON.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeyAnswer {
    #[schema(value_type = String, min_length = 1, max_length = 128)]
    ceremony: SecretString,
    #[schema(value_type = Object)]
    credential: Box<webauthn_rs::prelude::PublicKeyCredential>,
}

/// Finishes a sign-in with a second factor.
///
/// With the challenge of a sign-in that answered `mfa_required` (a login, a
/// code sign-in, a reset that signs in), answers exactly as `POST
/// /auth/login` does: an access token, and a session whose refresh token
/// comes in the cookie (default) or in the body. Its tokens carry `amr`
/// with `mfa` and `acr` `"2"`. The challenge is single use, lasts five
/// minutes and dies with a password change; a wrong code leaves it for
/// another try, and counts as a failed login.
#[utoipa::path(
    post,
    path = "/auth/mfa/verify",
    tag = "auth",
    request_body = MfaVerify,
    responses(
        (status = 200, description = "Logged in", body = TokenResponse, headers(
                ("Set-Cookie" = String, description = "The refresh token when it travels by cookie (see `/auth/login`)"),
                ("Cache-Control" = String, description = "`no-store`"),
            )),
        (status = 400, description = "`invalid_request`: a malformed body, not exactly one of `code`, `recovery_code` and `passkey`, or body delivery disabled", body = ErrorBody),
        (status = 401, description = "`invalid_mfa_challenge` (unknown, expired, already used, made for the hosted page, or made before the password changed: sign in again), `invalid_mfa_code` (a wrong code, a TOTP code already used or more than one step old, a spent recovery code), `invalid_ceremony` (a passkey ceremony unknown, expired, used, or not made for this challenge) or `invalid_passkey` (a passkey not the user's, a wrong origin or relying-party id, a bad signature, user verification missing)", body = ErrorBody),
        (status = 404, description = "`not_enabled`: a passkey, and passkeys are off on this server", body = ErrorBody),
        (status = 403, description = "`invalid_origin`: cookie delivery requested from an origin not allowed", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: the body is over `server.max_body_bytes`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: the body is not `application/json`", body = ErrorBody),
        (status = 429, description = "`too_many_requests`: too many code tries from this client (`limits.code_per_ip`), or too many failed logins and wrong codes for this account or from this client (the login counters, checked before the code is compared)", body = ErrorBody, headers(("Retry-After" = i64, description = "Seconds to wait"))),
        (status = "5XX", description = "`temporarily_unavailable` (503, with `Retry-After`) or `server_error` (500)", body = ErrorBody),
    ),
    security(())
)]
#[tracing::instrument(skip_all)]
pub async fn mfa_verify(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    Json(input): Json<MfaVerify>,
) -> Result<HttpResponse, ApiError> {
    let svc = &state.services;
    let delivery = input.token_delivery;
    check_delivery(&state, &req, delivery)?;
    let presented = match (input.code, input.recovery_code, input.passkey) {
        (Some(code), None, None) => Presented::Totp(bounded("code", code, 16)?),
        (None, Some(code), None) => Presented::RecoveryCode(bounded("recovery_code", code, 32)?),
        (None, None, Some(p)) => Presented::Passkey {
            ceremony: bounded("passkey.ceremony", p.ceremony, 128)?,
            credential: p.credential,
        },
        _ => {
            return Err(ApiError::InvalidRequest(
                "give one of `code`, `recovery_code` and `passkey`".into(),
            ));
        }
    };
    let challenge = bounded("challenge", input.challenge, 128)?;
    let outcome =
        accounts::second_factor::verify(svc, challenge.expose_secret(), &presented, &caller.meta)
            .await?;
    signed_in_response(&state, &outcome, delivery).await
}
