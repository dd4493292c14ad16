//! `POST /auth/password/reset`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::accounts::{self, ResetProof};
use crate::domain::{Email, Password};
use crate::http::ApiError;
use crate::http::error::ErrorBody;
use crate::http::extractors::{Caller, Json};
use crate::http::state::AppState;
use crate::http::tokens::{
    Delivery, SignInRefused, TokenResponse, check_delivery, signed_in_response,
};

/// The body of `POST /auth/password/reset`: the link's token, or the address
/// and the code, with the new password. The handler reads [`ResetInput`],
/// which takes the fields of both and refuses any mix.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // describes the document; the handler reads ResetInput
pub enum PasswordReset {
    Link(PasswordResetByLink),
    Code(PasswordResetByCode),
}

/// A reset with the emailed link: its `token` query parameter.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct PasswordResetByLink {
    /// The `token` of the link (43 characters, base64url).
    #[schema(value_type = String, min_length = 1, max_length = 256)]
    token: SecretString,
    #[schema(value_type = String, format = Password)]
    new_password: SecretString,
    /// With `accounts.reset_signs_in`: how the refresh token travels, as at
    /// login. Ignored otherwise.
    #[serde(default)]
    token_delivery: Delivery,
}

/// A reset with the emailed code, for apps that cannot open links.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct PasswordResetByCode {
    /// The address the code was sent to.
    #[schema(example = "ada@example.com", format = Email, max_length = 254)]
    email: String,
    /// The code of the message (`accounts.reset_code_digits` digits).
    #[schema(value_type = String, min_length = 1, max_length = 32, example = "40913377")]
    code: SecretString,
    #[schema(value_type = String, format = Password)]
    new_password: SecretString,
    /// With `accounts.reset_signs_in`: how the refresh token travels, as at
    /// login. Ignored otherwise.
    #[serde(default)]
    token_delivery: Delivery,
}

/// What the handler reads: every field of either shape.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetInput {
    token: Option<SecretString>,
    email: Option<String>,
    code: Option<SecretString>,
    new_password: SecretString,
    #[serde(default)]
    token_delivery: Delivery,
}

/// Longest token and code read; anything longer is malformed.
const MAX_TOKEN_CHARS: usize = 256;
const MAX_CODE_CHARS: usize = 32;

/// Sets a new password with an emailed link or code.
///
/// Ends every session of the user (the revocation feed lists the user), ends
/// the other reset links and codes, marks the address verified, and sends a
/// `password_changed` notice. The link or code works once, until
/// `accounts.reset_ttl_secs` after it was sent, and only while the account's
/// password and address are those it was sent for; a code allows
/// `accounts.code_attempts` tries. A weak new password spends nothing.
/// With `accounts.reset_signs_in`, the answer is a login's (a new session).
#[utoipa::path(
    post,
    path = "/auth/password/reset",
    tag = "auth",
    request_body = PasswordReset,
    responses(
        (status = 200, description = "Reset and signed in (only with `accounts.reset_signs_in`); every other session of the user is revoked", body = TokenResponse, headers(
                ("Set-Cookie" = String, description = "The refresh token when it travels by cookie (see `/auth/login`)"),
                ("Cache-Control" = String, description = "`no-store`"),
            )),
        (status = 204, description = "Reset; every session of the user is revoked: log in with the new password",
            headers(("Cache-Control" = String, description = "`no-store`"))),
        (status = 400, description = "`invalid_account_token` (a link or code that is unknown, expired, already used, replaced by a newer one, out of tries, or sent before the password or address changed; also an address without an account), `weak_password` (nothing is spent), or `invalid_request` (a malformed body, email or token, neither or both of `token` and `email` with `code`, a new password too short or too long, or body delivery disabled)", body = ErrorBody),
        (status = 401, description = "`mfa_required` (only with `accounts.reset_signs_in`): the password was reset, and the account has a second factor, so no session started yet. The body carries `mfa_challenge`, `factors` and `expires_in`; finish at `POST /auth/mfa/verify`. Or, with `mfa.required` and no factor yet, `mfa_enrollment_required` with the same fields: enrol at `POST /auth/mfa/enroll/totp` and `/confirm`, which finishes the sign-in", body = SignInRefused),
        (status = 403, description = "`invalid_origin`: cookie delivery requested from an origin not allowed (only with `accounts.reset_signs_in`)", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: the body is over `server.max_body_bytes`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: the body is not `application/json`", body = ErrorBody),
        (status = 429, description = "`too_many_requests`: too many link and code tries or password hashes from this client (`limits.code_per_ip`, `limits.hash_per_ip`), too many wrong codes or logins from it (`limits.login_ip_failures`), or too many code tries for this address today (`limits.code_tries_per_day`); known and unknown addresses alike. A code out of its own tries is 400, not 429", body = ErrorBody, headers(("Retry-After" = i64, description = "Seconds to wait"))),
        (status = "5XX", description = "`temporarily_unavailable` (503, with `Retry-After`) or `server_error` (500)", body = ErrorBody),
    ),
    security(())
)]
#[tracing::instrument(skip_all)]
pub async fn reset_password(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    Json(input): Json<ResetInput>,
) -> Result<HttpResponse, ApiError> {
    let svc = &state.services;
    let delivery = input.token_delivery;
    if svc.settings.accounts.reset_signs_in {
        check_delivery(&state, &req, delivery)?;
    }
    let proof = match (input.token, input.email, input.code) {
        (Some(token), None, None) => {
            bounded("token", &token, MAX_TOKEN_CHARS)?;
            ResetProof::Link(token)
        }
        (None, Some(email), Some(code)) => {
            bounded("code", &code, MAX_CODE_CHARS)?;
            ResetProof::Code {
                email: Email::parse(&email)?,
                code,
            }
        }
        _ => {
            return Err(ApiError::InvalidRequest(
                "give either `token` (from the link), or `email` and `code`".into(),
            ));
        }
    };
    let p = &svc.settings.password;
    let new = Password::parse_new(input.new_password, p.min_length, p.max_length)?;
    match accounts::reset_password(svc, proof, &new, &caller.meta).await? {
        Some(outcome) => signed_in_response(&state, &outcome, delivery).await,
        None => Ok(HttpResponse::NoContent()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish()),
    }
}

/// 400 `invalid_request` unless `value` has 1 to `max` characters.
fn bounded(field: &str, value: &SecretString, max: usize) -> Result<(), ApiError> {
    let chars = value.expose_secret().chars().count();
    if chars == 0 || chars > max {
        return Err(ApiError::InvalidRequest(format!(
            "{field} must be 1 to {max} characters"
        )));
    }
    Ok(())
}
