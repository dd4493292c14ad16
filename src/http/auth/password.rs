//! `POST /auth/password`.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use secrecy::SecretString;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::accounts;
use crate::domain::Password;
use crate::http::ApiError;
use crate::http::error::ErrorBody;
use crate::http::extractors::{AuthenticatedUser, Caller, Json};
use crate::http::state::AppState;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    #[schema(value_type = String, format = Password)]
    current_password: SecretString,
    #[schema(value_type = String, format = Password)]
    new_password: SecretString,
}

/// Changes the password.
///
/// Changes the password of the Bearer token's user, given the current one, and
/// revokes every other session of the user (ASVS 7.4.3); the current one stays.
#[utoipa::path(
    post,
    path = "/auth/password",
    tag = "auth",
    request_body = PasswordChange,
    responses(
        (status = 204, description = "Changed; every other session of the user is revoked"),
        (status = 400, description = "`invalid_request` (a malformed body, a new password too short or too long) or `weak_password`", body = ErrorBody),
        (status = 401, description = "`invalid_token` (no valid Bearer token) or `invalid_credentials` (a wrong current password, or one changed by another request while this one was checking it) or `insufficient_user_authentication` (RFC 9470: the user has a second factor and this session did not sign in with one within `mfa.step_up_max_age_secs`; `WWW-Authenticate: Bearer error=\"insufficient_user_authentication\", acr_values=\"2\", max_age=N`: sign in again with the factor and retry with the new token)", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: the body is over `server.max_body_bytes`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: the body is not `application/json`", body = ErrorBody),
        (status = 429, description = "`too_many_requests`: too many wrong current passwords or failed logins for this account or client (the login counters), or too many password hashes from this client (`limits.hash_per_ip`)", body = ErrorBody, headers(("Retry-After" = i64, description = "Seconds to wait"))),
        (status = "5XX", description = "`temporarily_unavailable` (503, with `Retry-After`) or `server_error` (500)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn change_password(
    state: web::Data<AppState>,
    user: AuthenticatedUser,
    caller: Caller,
    Json(input): Json<PasswordChange>,
) -> Result<HttpResponse, ApiError> {
    let svc = &state.services;
    let p = &svc.settings.password;
    let current = Password::parse_existing(input.current_password, p.max_length)?;
    let new = Password::parse_new(input.new_password, p.min_length, p.max_length)?;
    accounts::change_password(svc, user.sub, user.sid, &current, &new, &caller.meta).await?;
    Ok(HttpResponse::NoContent()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}
