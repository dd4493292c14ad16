//! `POST /auth/otp/verify`.

use actix_web::{HttpRequest, HttpResponse, web};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::accounts;
use crate::domain::Email;
use crate::http::ApiError;
use crate::http::error::ErrorBody;
use crate::http::extractors::{Caller, Json};
use crate::http::state::AppState;
use crate::http::tokens::{
    Delivery, SignInRefused, TokenResponse, check_delivery, signed_in_response,
};

/// An address and the code sent to it.
#[derive(Deserialize, ToSchema)]
pub struct OtpLogin {
    /// The address the code was sent to. Compared without regard to case.
    #[schema(example = "ada@example.com", format = Email, max_length = 254)]
    email: String,
    /// The digits of the emailed code.
    #[schema(value_type = String, example = "042317", max_length = 64)]
    code: SecretString,
    /// `cookie` (default, browsers) or `body` (native clients).
    #[serde(default)]
    token_delivery: Delivery,
}

/// Signs in with a one-time code.
///
/// With the code sent by `POST /auth/otp/start`, answers exactly as
/// `POST /auth/login` does: an access token, and a session whose refresh
/// token comes in the cookie (default) or in the body
/// (`"token_delivery": "body"`). Its access tokens carry `amr: ["otp"]`.
/// A code allows `accounts.code_attempts` tries; wrong codes count as
/// failures of the client, never of the account's password, and an
/// address's codes allow `limits.code_tries_per_day` tries a day. Only when
/// `accounts.otp_enabled` is on.
#[utoipa::path(
    post,
    path = "/auth/otp/verify",
    tag = "auth",
    request_body = OtpLogin,
    responses(
        (status = 200, description = "Logged in", body = TokenResponse, headers(
                ("Set-Cookie" = String, description = "The refresh token when it travels by cookie: `__Host-authd_refresh` by default, HttpOnly, Secure, SameSite=Strict, Path=/, no Domain (see the `refresh_cookie` security scheme)"),
                ("Cache-Control" = String, description = "`no-store`"),
            )),
        (status = 400, description = "`invalid_request`: a malformed body, or body delivery disabled", body = ErrorBody),
        (status = 401, description = "`invalid_credentials`: a wrong code or an address without an account (never says which), or a code expired, out of tries, replaced, already used, or sent before a password change; or `mfa_required`. With `mfa_required`, the body carries `mfa_challenge`, `factors` and `expires_in`: the right first proof of an account with a second factor; no session started, finish at `POST /auth/mfa/verify`. Or, with `mfa.required` and no factor yet, `mfa_enrollment_required` with the same fields: enrol at `POST /auth/mfa/enroll/totp` and `/confirm`, which finishes the sign-in", body = SignInRefused),
        (status = 403, description = "`invalid_origin`: cookie delivery requested from an origin not allowed", body = ErrorBody),
        (status = 404, description = "`not_enabled`: sign-in with a code is off (`accounts.otp_enabled`)", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: the body is over `server.max_body_bytes`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: the body is not `application/json`", body = ErrorBody),
        (status = 429, description = "`too_many_requests`: too many code tries from this client (`limits.code_per_ip`), too many wrong codes or logins from it (`limits.login_ip_failures`), or too many code tries for this address today (`limits.code_tries_per_day`; a password login does not clear it). A code out of its own tries is 401, not 429", body = ErrorBody, headers(("Retry-After" = i64, description = "Seconds to wait"))),
        (status = "5XX", description = "`temporarily_unavailable` (503, with `Retry-After`) or `server_error` (500)", body = ErrorBody),
    ),
    security(())
)]
#[tracing::instrument(skip_all)]
pub async fn otp_verify(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    Json(input): Json<OtpLogin>,
) -> Result<HttpResponse, ApiError> {
    let svc = &state.services;
    let delivery = input.token_delivery;
    check_delivery(&state, &req, delivery)?;
    let email = Email::parse(&input.email)?;
    let outcome =
        accounts::otp::verify(svc, &email, input.code.expose_secret(), &caller.meta).await?;
    signed_in_response(&state, &outcome, delivery).await
}
