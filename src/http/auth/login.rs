//! `POST /auth/login`.

use actix_web::{HttpRequest, HttpResponse, web};

use super::Credentials;
use crate::accounts;
use crate::domain::{Email, Password};
use crate::http::ApiError;
use crate::http::error::ErrorBody;
use crate::http::extractors::{Caller, Json};
use crate::http::state::AppState;
use crate::http::tokens::{SignInRefused, TokenResponse, check_delivery, signed_in_response};

/// Logs in with an email and password.
///
/// Answers an access token and starts a session whose refresh token comes in
/// the cookie (default) or in the body (`"token_delivery": "body"`).
#[utoipa::path(
    post,
    path = "/auth/login",
    tag = "auth",
    request_body = Credentials,
    responses(
        (status = 200, description = "Logged in", body = TokenResponse, headers(
                ("Set-Cookie" = String, description = "The refresh token when it travels by cookie: `__Host-authd_refresh` by default, HttpOnly, Secure, SameSite=Strict, Path=/, no Domain (see the `refresh_cookie` security scheme)"),
                ("Cache-Control" = String, description = "`no-store`"),
            )),
        (status = 400, description = "`invalid_request`: a malformed body, or body delivery disabled", body = ErrorBody),
        (status = 401, description = "`invalid_credentials`: wrong email or password (never says which), or a password changed while this login was checking it; or `mfa_required`. With `mfa_required`, the body carries `mfa_challenge`, `factors` and `expires_in`: the right first proof of an account with a second factor; no session started, finish at `POST /auth/mfa/verify`. Or, with `mfa.required` and no factor yet, `mfa_enrollment_required` with the same fields: enrol at `POST /auth/mfa/enroll/totp` and `/confirm`, which finishes the sign-in", body = SignInRefused),
        (status = 403, description = "`invalid_origin`: cookie delivery requested from an origin not allowed; or `email_not_verified`: the password is right, but `accounts.email_verification` is `required` and the address is not verified yet (no session starts)", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: the body is over `server.max_body_bytes`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: the body is not `application/json`", body = ErrorBody),
        (status = 429, description = "`too_many_requests`: too many failed logins for this account from this client, for this account from everywhere, or from this client; or too many password hashes from this client (`limits.hash_per_ip`, successful logins too)", body = ErrorBody, headers(("Retry-After" = i64, description = "Seconds to wait"))),
        (status = "5XX", description = "`temporarily_unavailable` (503, with `Retry-After`) or `server_error` (500)", body = ErrorBody),
    ),
    security(())
)]
#[tracing::instrument(skip_all)]
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    Json(input): Json<Credentials>,
) -> Result<HttpResponse, ApiError> {
    let svc = &state.services;
    let delivery = input.token_delivery;
    check_delivery(&state, &req, delivery)?;
    let email = Email::parse(&input.email)?;
    let password = Password::parse_existing(input.password, svc.settings.password.max_length)?;
    let outcome = accounts::login(svc, &email, &password, &caller.meta).await?;
    signed_in_response(&state, &outcome, delivery).await
}
