//! `POST /auth/password/forgot`.

use actix_web::{HttpResponse, web};

use super::{Accepted, EmailAddress};
use crate::accounts;
use crate::domain::Email;
use crate::http::ApiError;
use crate::http::error::ErrorBody;
use crate::http::extractors::{Caller, Json};
use crate::http::state::AppState;

/// Asks for a password-reset email.
///
/// If the address has an account, a message with a link (for the app's reset
/// page) and a code (for apps that cannot open links) is sent to it; both are
/// valid for `accounts.reset_ttl_secs` and once. The answer is the same, and
/// comes as fast, whether or not the address has an account.
#[utoipa::path(
    post,
    path = "/auth/password/forgot",
    tag = "auth",
    request_body = EmailAddress,
    responses(
        (status = 202, description = "Accepted: if the address has an account, the message is on its way", body = Accepted,
            headers(("Cache-Control" = String, description = "`no-store`"))),
        (status = 400, description = "`invalid_request`: a malformed body or email", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: the body is over `server.max_body_bytes`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: the body is not `application/json`", body = ErrorBody),
        (status = 429, description = "`too_many_requests`: too many requests that may send mail from this client (`email.per_ip_limit`, for any address, with an account or not; past an address's send budget the answer is still 202, and nothing is sent)", body = ErrorBody, headers(("Retry-After" = i64, description = "Seconds to wait"))),
        (status = "5XX", description = "`temporarily_unavailable` (503, with `Retry-After`) or `server_error` (500)", body = ErrorBody),
    ),
    security(())
)]
#[tracing::instrument(skip_all)]
pub async fn forgot_password(
    state: web::Data<AppState>,
    caller: Caller,
    Json(input): Json<EmailAddress>,
) -> Result<HttpResponse, ApiError> {
    let email = Email::parse(&input.email)?;
    accounts::forgot_password(&state.services, &email, &caller.meta).await?;
    Ok(Accepted::response())
}
