//! `POST /auth/email/change`.

use actix_web::{HttpResponse, web};
use secrecy::SecretString;
use serde::Deserialize;
use utoipa::ToSchema;

use super::Accepted;
use crate::accounts;
use crate::domain::{Email, Password};
use crate::http::ApiError;
use crate::http::error::ErrorBody;
use crate::http::extractors::{AuthenticatedUser, Caller, Json};
use crate::http::state::AppState;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailChange {
    /// The address to move to. Compared without regard to case.
    #[schema(example = "ada@example.org", format = Email, max_length = 254)]
    new_email: String,
    #[schema(value_type = String, format = Password)]
    current_password: SecretString,
}

/// Asks to change the email address.
///
/// Given the current password, sends a confirmation link to the new address
/// (`email.link_base?action=email_change_confirm&token=…`) and a notice to
/// the current one. The address changes only when the link is confirmed
/// (`POST /auth/email/change/confirm`); until then the account signs in with
/// the current address. A newer request replaces the pending link.
#[utoipa::path(
    post,
    path = "/auth/email/change",
    tag = "auth",
    request_body = EmailChange,
    responses(
        (status = 202, description = "Accepted: the confirmation link is on its way to the new address", body = Accepted),
        (status = 400, description = "`invalid_request`: a malformed body, an invalid address, or the account's current address", body = ErrorBody),
        (status = 401, description = "`invalid_token` (no valid Bearer token) or `invalid_credentials` (a wrong current password, or one changed by another request while this one was checking it) or `insufficient_user_authentication` (RFC 9470: the user has a second factor and this session did not sign in with one within `mfa.step_up_max_age_secs`; `WWW-Authenticate: Bearer error=\"insufficient_user_authentication\", acr_values=\"2\", max_age=N`: sign in again with the factor and retry with the new token)", body = ErrorBody),
        (status = 409, description = "`email_taken`: another account has the new address", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: the body is over `server.max_body_bytes`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: the body is not `application/json`", body = ErrorBody),
        (status = 429, description = "`too_many_requests`: too many wrong current passwords or failed logins for this account or client (the login counters), too many password hashes from this client (`limits.hash_per_ip`), or too many requests that may send mail from this client (past the new address's send budget the answer is still 202, and nothing is sent)", body = ErrorBody, headers(("Retry-After" = i64, description = "Seconds to wait"))),
        (status = "5XX", description = "`temporarily_unavailable` (503, with `Retry-After`) or `server_error` (500)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn change_email(
    state: web::Data<AppState>,
    user: AuthenticatedUser,
    caller: Caller,
    Json(input): Json<EmailChange>,
) -> Result<HttpResponse, ApiError> {
    let svc = &state.services;
    let new_email = Email::parse(&input.new_email)?;
    let password =
        Password::parse_existing(input.current_password, svc.settings.password.max_length)?;
    accounts::request_email_change(svc, user.sub, user.sid, &new_email, &password, &caller.meta)
        .await?;
    Ok(Accepted::response())
}
