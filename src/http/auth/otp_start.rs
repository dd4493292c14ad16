//! `POST /auth/otp/start`.

use actix_web::{HttpResponse, web};

use super::{Accepted, EmailAddress};
use crate::accounts;
use crate::domain::Email;
use crate::http::ApiError;
use crate::http::error::ErrorBody;
use crate::http::extractors::{Caller, Json};
use crate::http::state::AppState;

/// Asks for a one-time login code by email.
///
/// Answers 202 alike for every address; if it has an account, a code of
/// `accounts.otp_digits` digits, valid `accounts.otp_ttl_secs`, is on its way
/// to it, and replaces any earlier one. Sign in with it at
/// `POST /auth/otp/verify`. Only when `accounts.otp_enabled` is on.
#[utoipa::path(
    post,
    path = "/auth/otp/start",
    tag = "auth",
    request_body = EmailAddress,
    responses(
        (status = 202, description = "Accepted, whether or not the address has an account", body = Accepted),
        (status = 400, description = "`invalid_request`: a malformed body or an invalid address", body = ErrorBody),
        (status = 404, description = "`not_enabled`: sign-in with a code is off (`accounts.otp_enabled`)", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: the body is over `server.max_body_bytes`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: the body is not `application/json`", body = ErrorBody),
        (status = 429, description = "`too_many_requests`: too many requests that may send mail from this client (`email.per_ip_limit`; past an address's send budget the answer is still 202, and nothing is sent)", body = ErrorBody, headers(("Retry-After" = i64, description = "Seconds to wait"))),
        (status = "5XX", description = "`temporarily_unavailable` (503, with `Retry-After`) or `server_error` (500)", body = ErrorBody),
    ),
    security(())
)]
#[tracing::instrument(skip_all)]
pub async fn otp_start(
    state: web::Data<AppState>,
    caller: Caller,
    Json(input): Json<EmailAddress>,
) -> Result<HttpResponse, ApiError> {
    let email = Email::parse(&input.email)?;
    accounts::otp::start(&state.services, &email, &caller.meta).await?;
    Ok(Accepted::response())
}
