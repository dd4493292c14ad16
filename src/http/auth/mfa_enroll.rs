//! Enrolment of a second factor at sign-in, under `mfa.required`: `POST
//! /auth/mfa/enroll/totp` and `POST /auth/mfa/enroll/totp/confirm`, with the
//! challenge of a `mfa_enrollment_required` answer instead of a Bearer
//! token. The rules are `accounts::enrolment`'s.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::accounts::enrolment;
use crate::http::ApiError;
use crate::http::body::bounded;
use crate::http::error::ErrorBody;
use crate::http::extractors::{Caller, Json};
use crate::http::state::AppState;
use crate::http::tokens::{Delivery, TokenResponse, check_delivery, enrolled_response};

/// The enrolment challenge of a `mfa_enrollment_required` answer.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrolStart {
    /// The `mfa_challenge` of the `mfa_enrollment_required` answer.
    #[schema(value_type = String, min_length = 1, max_length = 128)]
    challenge: SecretString,
}

/// A TOTP enrolment begun at sign-in: the secret, shown this once.
#[derive(Serialize, ToSchema)]
pub struct EnrolStarted {
    /// The secret in base32, for typing into an authenticator app.
    #[schema(example = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")]
    secret: String,
    /// The `otpauth://totp/...` URI, for a QR code.
    #[schema(
        example = "otpauth://totp/authd:ada%40example.com?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=authd&algorithm=SHA1&digits=6&period=30"
    )]
    otpauth_uri: String,
}

/// Begins the TOTP enrolment a sign-in asks for.
///
/// With `mfa.required`, a sign-in of a user without a second factor answers
/// 401 `mfa_enrollment_required` with a challenge. With it (no Bearer
/// token), this makes a new secret (160 bits; SHA-1, 6 digits, 30 s), kept
/// sealed until `POST /auth/mfa/enroll/totp/confirm` proves the app has it;
/// calling it again replaces the secret. The challenge is not spent.
#[utoipa::path(
    post,
    path = "/auth/mfa/enroll/totp",
    operation_id = "mfa_enroll_totp",
    tag = "auth",
    request_body = EnrolStart,
    responses(
        (status = 200, description = "The secret and its URI", body = EnrolStarted),
        (status = 400, description = "`invalid_request`: a malformed body", body = ErrorBody),
        (status = 401, description = "`invalid_mfa_challenge`: not a live enrolment challenge (unknown, expired, used, a `mfa_required` challenge, made for the hosted page, or made before the password changed): sign in again", body = ErrorBody),
        (status = 409, description = "`factor_exists`: the user has a TOTP factor already; sign in with it", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: the body is over `server.max_body_bytes`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: the body is not `application/json`", body = ErrorBody),
        (status = "5XX", description = "`temporarily_unavailable` (503, with `Retry-After`) or `server_error` (500)", body = ErrorBody),
    ),
    security(())
)]
#[tracing::instrument(skip_all)]
pub async fn start(
    state: web::Data<AppState>,
    Json(input): Json<EnrolStart>,
) -> Result<HttpResponse, ApiError> {
    let challenge = bounded("challenge", input.challenge, 128)?;
    let e = enrolment::start(&state.services, challenge.expose_secret()).await?;
    let mut response = HttpResponse::Ok();
    response.insert_header((header::CACHE_CONTROL, "no-store"));
    Ok(response.json(EnrolStarted {
        secret: e.secret.expose_secret().to_owned(),
        otpauth_uri: e.uri.expose_secret().to_owned(),
    }))
}

/// The enrolment challenge and the first code from the authenticator app.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrolConfirm {
    /// The `mfa_challenge` of the `mfa_enrollment_required` answer.
    #[schema(value_type = String, min_length = 1, max_length = 128)]
    challenge: SecretString,
    /// The six digits the authenticator app shows.
    #[schema(value_type = String, example = "492039", max_length = 16)]
    code: SecretString,
    /// `cookie` (default, browsers) or `body` (native clients), as at login.
    #[serde(default)]
    token_delivery: Delivery,
}

/// Confirms the TOTP enrolment a sign-in asked for, and finishes the sign-in.
///
/// Answers as `POST /auth/login` does (an access token, and a session whose
/// refresh token comes in the cookie or the body), with the ten recovery
/// codes in `recovery_codes`, shown only this once. The tokens carry `amr`
/// with `otp` and `mfa`, and `acr` `"2"`. The challenge is single use; a
/// wrong code leaves it for another try.
#[utoipa::path(
    post,
    path = "/auth/mfa/enroll/totp/confirm",
    operation_id = "mfa_enroll_totp_confirm",
    tag = "auth",
    request_body = EnrolConfirm,
    responses(
        (status = 200, description = "Enrolled and logged in: the tokens, and `recovery_codes`", body = TokenResponse, headers(
                ("Set-Cookie" = String, description = "The refresh token when it travels by cookie (see `/auth/login`)"),
                ("Cache-Control" = String, description = "`no-store`"),
            )),
        (status = 400, description = "`invalid_request` (a malformed body, or body delivery disabled) or `invalid_mfa_code` (a wrong code, or one more than a step old)", body = ErrorBody),
        (status = 401, description = "`invalid_mfa_challenge`: not a live enrolment challenge (unknown, expired, used, a `mfa_required` challenge, made for the hosted page, or made before the password changed): sign in again", body = ErrorBody),
        (status = 403, description = "`invalid_origin`: cookie delivery requested from an origin not allowed", body = ErrorBody),
        (status = 404, description = "`not_found`: no enrolment was begun with `POST /auth/mfa/enroll/totp`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: the body is over `server.max_body_bytes`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: the body is not `application/json`", body = ErrorBody),
        (status = 429, description = "`too_many_requests`: too many code tries from this client (`limits.code_per_ip`)", body = ErrorBody, headers(("Retry-After" = i64, description = "Seconds to wait"))),
        (status = "5XX", description = "`temporarily_unavailable` (503, with `Retry-After`) or `server_error` (500)", body = ErrorBody),
    ),
    security(())
)]
#[tracing::instrument(skip_all)]
pub async fn confirm(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    Json(input): Json<EnrolConfirm>,
) -> Result<HttpResponse, ApiError> {
    let delivery = input.token_delivery;
    check_delivery(&state, &req, delivery)?;
    let challenge = bounded("challenge", input.challenge, 128)?;
    let code = bounded("code", input.code, 16)?;
    let enrolled = enrolment::confirm(
        &state.services,
        challenge.expose_secret(),
        code.expose_secret(),
        &caller.meta,
    )
    .await?;
    enrolled_response(&state, &enrolled, delivery).await
}
