//! The second factors of the Bearer token's user: `GET /auth/mfa`, the TOTP
//! enrolment (`POST /auth/mfa/totp`, `POST /auth/mfa/totp/confirm`), its
//! removal (`DELETE /auth/mfa/totp`) and a new set of recovery codes
//! (`POST /auth/mfa/recovery-codes`). The rules are `factors`' and
//! `accounts::second_factor`'s.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::accounts;
use crate::domain::Password;
use crate::factors;
use crate::http::ApiError;
use crate::http::error::ErrorBody;
use crate::http::extractors::{AuthenticatedUser, Caller, Json};
use crate::http::state::AppState;

/// The user's second factors.
#[derive(Serialize, ToSchema)]
pub struct MfaStatus {
    /// Whether a confirmed TOTP factor is enrolled (sign-in asks for it).
    totp: bool,
    /// Whether a TOTP enrolment waits for its first code.
    totp_pending: bool,
    /// Unused recovery codes left.
    recovery_codes_left: i64,
    /// How many passkeys are registered (`GET /auth/passkeys` lists them).
    passkeys: i64,
}

/// Lists the user's second factors.
#[utoipa::path(
    get,
    path = "/auth/mfa",
    tag = "auth",
    responses(
        (status = 200, description = "The user's factors", body = MfaStatus),
        (status = 401, description = "`invalid_token`: no valid Bearer token, or its session has ended", body = ErrorBody),
        (status = "5XX", description = "`temporarily_unavailable` (503, with `Retry-After`) or `server_error` (500)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn status(
    state: web::Data<AppState>,
    user: AuthenticatedUser,
) -> Result<HttpResponse, ApiError> {
    let s = factors::status(&state.services, user.sub).await?;
    Ok(no_store(HttpResponse::Ok()).json(MfaStatus {
        totp: s.totp,
        totp_pending: s.totp_pending,
        recovery_codes_left: s.recovery_codes_left,
        passkeys: s.passkeys,
    }))
}

/// A TOTP enrolment begun: the secret, shown this once.
#[derive(Serialize, ToSchema)]
pub struct TotpEnrolment {
    /// The secret in base32, for typing into an authenticator app.
    #[schema(example = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")]
    secret: String,
    /// The `otpauth://totp/...` URI, for a QR code.
    #[schema(
        example = "otpauth://totp/authd:ada%40example.com?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=authd&algorithm=SHA1&digits=6&period=30"
    )]
    otpauth_uri: String,
}

/// Begins a TOTP enrolment.
///
/// Makes a new secret (160 bits; SHA-1, 6 digits, 30 s) and keeps it,
/// sealed, until `POST /auth/mfa/totp/confirm` proves the app has it; a new
/// start replaces an enrolment not yet confirmed. A user who has a factor
/// gets 409 (one TOTP factor per user), after the step-up check.
#[utoipa::path(
    post,
    path = "/auth/mfa/totp",
    tag = "auth",
    responses(
        (status = 200, description = "The secret and its URI", body = TotpEnrolment),
        (status = 401, description = "`invalid_token` (no valid Bearer token, or its session has ended) or `insufficient_user_authentication` (RFC 9470: the user has a second factor and this session did not sign in with one within `mfa.step_up_max_age_secs`; `WWW-Authenticate: Bearer error=\"insufficient_user_authentication\", acr_values=\"2\", max_age=N`: sign in again with the factor and retry with the new token)", body = ErrorBody),
        (status = 409, description = "`factor_exists`: a TOTP factor is already enrolled; remove it first", body = ErrorBody),
        (status = "5XX", description = "`temporarily_unavailable` (503, with `Retry-After`) or `server_error` (500)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn start_totp(
    state: web::Data<AppState>,
    user: AuthenticatedUser,
) -> Result<HttpResponse, ApiError> {
    let e = factors::start_totp(&state.services, user.sub, user.sid).await?;
    Ok(no_store(HttpResponse::Ok()).json(TotpEnrolment {
        secret: e.secret.expose_secret().to_owned(),
        otpauth_uri: e.uri.expose_secret().to_owned(),
    }))
}

/// A first code from the authenticator app.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TotpConfirm {
    #[schema(value_type = String, example = "492039", max_length = 16)]
    code: SecretString,
}

/// The answer of a confirmation.
#[derive(Serialize, ToSchema)]
pub struct TotpConfirmed {
    /// The ten recovery codes, shown this once: only when this is the
    /// user's first factor (otherwise absent: the set stays as it was).
    #[serde(skip_serializing_if = "Option::is_none")]
    recovery_codes: Option<Vec<String>>,
}

/// Confirms the TOTP enrolment with a first code.
///
/// From now on every sign-in of the user asks for a second factor. When it
/// is the user's first factor, the answer carries ten single-use recovery
/// codes, shown only this once.
#[utoipa::path(
    post,
    path = "/auth/mfa/totp/confirm",
    tag = "auth",
    request_body = TotpConfirm,
    responses(
        (status = 200, description = "Confirmed", body = TotpConfirmed),
        (status = 400, description = "`invalid_request` (a malformed body) or `invalid_mfa_code` (a wrong code, or one more than a step old)", body = ErrorBody),
        (status = 401, description = "`invalid_token`: no valid Bearer token, or its session has ended", body = ErrorBody),
        (status = 404, description = "`not_found`: no enrolment waits for its first code", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: the body is over `server.max_body_bytes`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: the body is not `application/json`", body = ErrorBody),
        (status = 429, description = "`too_many_requests`: too many code tries from this client (`limits.code_per_ip`)", body = ErrorBody, headers(("Retry-After" = i64, description = "Seconds to wait"))),
        (status = "5XX", description = "`temporarily_unavailable` (503, with `Retry-After`) or `server_error` (500)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn confirm_totp(
    state: web::Data<AppState>,
    user: AuthenticatedUser,
    caller: Caller,
    Json(input): Json<TotpConfirm>,
) -> Result<HttpResponse, ApiError> {
    let codes = factors::confirm_totp(
        &state.services,
        user.sub,
        user.sid,
        input.code.expose_secret(),
        &caller.meta,
    )
    .await?;
    Ok(no_store(HttpResponse::Ok()).json(TotpConfirmed {
        recovery_codes: codes.as_deref().map(factors::recovery::shown),
    }))
}

/// The password, given again for a change to the factors.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reauthentication {
    #[schema(value_type = String, format = Password)]
    password: SecretString,
}

/// Removes the TOTP factor.
///
/// Needs the password again, and a session signed in with the factor
/// recently (step-up). The recovery codes go with it; sign-in asks for the
/// password alone again.
#[utoipa::path(
    delete,
    path = "/auth/mfa/totp",
    tag = "auth",
    request_body = Reauthentication,
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "`invalid_request`: a malformed body", body = ErrorBody),
        (status = 401, description = "`invalid_token` (no valid Bearer token), `invalid_credentials` (a wrong password) or `insufficient_user_authentication` (RFC 9470: the user has a second factor and this session did not sign in with one within `mfa.step_up_max_age_secs`; `WWW-Authenticate: Bearer error=\"insufficient_user_authentication\", acr_values=\"2\", max_age=N`: sign in again with the factor and retry with the new token)", body = ErrorBody),
        (status = 404, description = "`not_found`: no TOTP factor is enrolled", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: the body is over `server.max_body_bytes`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: the body is not `application/json`", body = ErrorBody),
        (status = 429, description = "`too_many_requests`: too many wrong passwords or failed logins for this account or client, or too many password hashes from this client", body = ErrorBody, headers(("Retry-After" = i64, description = "Seconds to wait"))),
        (status = "5XX", description = "`temporarily_unavailable` (503, with `Retry-After`) or `server_error` (500)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn remove_totp(
    state: web::Data<AppState>,
    user: AuthenticatedUser,
    caller: Caller,
    Json(input): Json<Reauthentication>,
) -> Result<HttpResponse, ApiError> {
    let svc = &state.services;
    let password = Password::parse_existing(input.password, svc.settings.password.max_length)?;
    accounts::second_factor::remove_totp(svc, user.sub, user.sid, &password, &caller.meta).await?;
    Ok(no_store(HttpResponse::NoContent()).finish())
}

/// A new set of recovery codes.
#[derive(Serialize, ToSchema)]
pub struct RecoveryCodes {
    /// Ten single-use codes, shown this once; the previous set no longer works.
    recovery_codes: Vec<String>,
}

/// Replaces the recovery codes.
///
/// Needs the password again, and a session signed in with a second factor
/// recently (step-up). The previous codes, used or not, stop working.
#[utoipa::path(
    post,
    path = "/auth/mfa/recovery-codes",
    tag = "auth",
    request_body = Reauthentication,
    responses(
        (status = 200, description = "The new codes", body = RecoveryCodes),
        (status = 400, description = "`invalid_request`: a malformed body", body = ErrorBody),
        (status = 401, description = "`invalid_token` (no valid Bearer token), `invalid_credentials` (a wrong password) or `insufficient_user_authentication` (RFC 9470: the user has a second factor and this session did not sign in with one within `mfa.step_up_max_age_secs`; `WWW-Authenticate: Bearer error=\"insufficient_user_authentication\", acr_values=\"2\", max_age=N`: sign in again with the factor and retry with the new token)", body = ErrorBody),
        (status = 404, description = "`not_found`: no second factor is enrolled", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: the body is over `server.max_body_bytes`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: the body is not `application/json`", body = ErrorBody),
        (status = 429, description = "`too_many_requests`: too many wrong passwords or failed logins for this account or client, or too many password hashes from this client", body = ErrorBody, headers(("Retry-After" = i64, description = "Seconds to wait"))),
        (status = "5XX", description = "`temporarily_unavailable` (503, with `Retry-After`) or `server_error` (500)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn regenerate_recovery_codes(
    state: web::Data<AppState>,
    user: AuthenticatedUser,
    caller: Caller,
    Json(input): Json<Reauthentication>,
) -> Result<HttpResponse, ApiError> {
    let svc = &state.services;
    let password = Password::parse_existing(input.password, svc.settings.password.max_length)?;
    let codes = accounts::second_factor::regenerate_recovery_codes(
        svc,
        user.sub,
        user.sid,
        &password,
        &caller.meta,
    )
    .await?;
    Ok(no_store(HttpResponse::Ok()).json(RecoveryCodes {
        recovery_codes: factors::recovery::shown(&codes),
    }))
}

fn no_store(mut builder: actix_web::HttpResponseBuilder) -> actix_web::HttpResponseBuilder {
    builder.insert_header((header::CACHE_CONTROL, "no-store"));
    builder
}
