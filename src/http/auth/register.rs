//! `POST /auth/register`.

use actix_web::http::header;
use actix_web::{HttpResponse, web};

use super::{Accepted, NewAccount};
use crate::accounts::{self, Registered};
use crate::domain::{Email, Password};
use crate::http::ApiError;
use crate::http::error::ErrorBody;
use crate::http::extractors::{Caller, Json};
use crate::http::state::AppState;
use crate::store::users::User;

/// Creates an account.
///
/// The password must be long enough and hard to guess; the new user is not
/// logged in. With `accounts.email_verification` `send` or `required`, a
/// verification link is sent to the address.
///
/// By default the answer is 201 with the user, or 409 `email_taken`. With
/// `accounts.enumeration_safe_registration = true` it is 202 Accepted, the
/// same body and headers whether or not the address has an account: a new
/// address gets its account and its verification link, one that has an
/// account gets nothing created and its owner an email that links to the
/// app's forgot-password page.
#[utoipa::path(
    post,
    path = "/auth/register",
    tag = "auth",
    request_body = NewAccount,
    responses(
        (status = 201, description = "The new user (the default mode)", body = User,
            headers(("Location" = String, description = "`/auth/me`"))),
        (status = 202, description = "Accepted (`accounts.enumeration_safe_registration`): the account was created, or the address has one and its owner was told; the answer does not say which", body = Accepted,
            headers(("Cache-Control" = String, description = "`no-store`"))),
        (status = 400, description = "`invalid_request` (a malformed body or email, a password too short or too long) or `weak_password`", body = ErrorBody),
        (status = 409, description = "`email_taken` (the default mode only)", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: the body is over `server.max_body_bytes`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: the body is not `application/json`", body = ErrorBody),
        (status = 429, description = "`too_many_requests`: too many registrations or password hashes from this client (`limits.hash_per_ip`), or (when a message may be sent) too many requests that may send mail from this client", body = ErrorBody, headers(("Retry-After" = i64, description = "Seconds to wait"))),
        (status = "5XX", description = "`temporarily_unavailable` (503, with `Retry-After`) or `server_error` (500)", body = ErrorBody),
    ),
    security(())
)]
#[tracing::instrument(skip_all)]
pub async fn register(
    state: web::Data<AppState>,
    caller: Caller,
    Json(input): Json<NewAccount>,
) -> Result<HttpResponse, ApiError> {
    let svc = &state.services;
    if let Err(retry_after_secs) = state.register_limit.check(caller.ip, svc.now()) {
        return Err(ApiError::TooManyRequests { retry_after_secs });
    }
    let email = Email::parse(&input.email)?;
    let p = &svc.settings.password;
    let password = Password::parse_new(input.password, p.min_length, p.max_length)?;
    match accounts::register(svc, &email, &password, &caller.meta).await? {
        Registered::Created(user) => Ok(HttpResponse::Created()
            .insert_header((header::LOCATION, "/auth/me"))
            .json(user)),
        Registered::Accepted => Ok(Accepted::response()),
    }
}
