//! `POST /auth/email/verify/resend`: asking for a new verification link.

use actix_web::{HttpResponse, web};

use super::{Accepted, EmailAddress};
use crate::accounts;
use crate::domain::Email;
use crate::http::ApiError;
use crate::http::error::ErrorBody;
use crate::http::extractors::{Caller, Json};
use crate::http::state::AppState;

/// Sends a new email verification link.
///
/// Answers 202 alike whether or not the address has an account, and whether
/// or not it is verified: an account with this address that is not verified
/// yet gets a new link (the previous one stops working); any other address
/// gets nothing.
#[utoipa::path(
    post,
    path = "/auth/email/verify/resend",
    tag = "auth",
    request_body = EmailAddress,
    responses(
        (status = 202, description = "Accepted: if an unverified account has this address, a new link is on its way", body = Accepted,
            headers(("Cache-Control" = String, description = "`no-store`"))),
        (status = 400, description = "`invalid_request`: a malformed body or email", body = ErrorBody),
        (status = 404, description = "`not_enabled`: `accounts.email_verification` is `off`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: the body is over `server.max_body_bytes`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: the body is not `application/json`", body = ErrorBody),
        (status = 429, description = "`too_many_requests`: too many requests that may send mail from this client (`email.per_ip_limit`; past an address's send budget the answer is still 202, and nothing is sent)", body = ErrorBody, headers(("Retry-After" = i64, description = "Seconds to wait"))),
        (status = "5XX", description = "`temporarily_unavailable` (503, with `Retry-After`: too much work queued, or the database) or `server_error` (500)", body = ErrorBody),
    ),
    security(())
)]
#[tracing::instrument(skip_all)]
pub async fn resend_verification(
    state: web::Data<AppState>,
    caller: Caller,
    Json(input): Json<EmailAddress>,
) -> Result<HttpResponse, ApiError> {
    let email = Email::parse(&input.email)?;
    accounts::resend_verification(&state.services, &email, &caller.meta).await?;
    Ok(Accepted::response())
}
