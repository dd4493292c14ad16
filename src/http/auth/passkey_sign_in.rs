//! Passwordless sign-in with a passkey: `POST /auth/passkey/start` and
//! `POST /auth/passkey/finish`. The rules are `accounts::passkey_sign_in`'s.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use webauthn_rs::prelude::{PublicKeyCredential, RequestChallengeResponse};

use crate::accounts;
use crate::http::ApiError;
use crate::http::body::bounded;
use crate::http::error::ErrorBody;
use crate::http::extractors::{Caller, Json};
use crate::http::state::AppState;
use crate::http::tokens::{Delivery, TokenResponse, check_delivery, signed_in_response};

/// An assertion begun: what `navigator.credentials.get` needs.
#[derive(Serialize, ToSchema)]
pub struct AssertionStarted {
    /// The ceremony's id: send it back with the authenticator's answer.
    ceremony: String,
    /// `PublicKeyCredentialRequestOptions` as JSON (`{"publicKey": {...},
    /// "mediation": ...}`, binary fields base64url).
    #[schema(value_type = Object)]
    options: RequestChallengeResponse,
    /// Seconds the ceremony lasts.
    expires_in: i64,
}

impl AssertionStarted {
    pub fn from(c: crate::factors::passkey::Ceremony<RequestChallengeResponse>) -> Self {
        Self {
            ceremony: c.id.expose_secret().to_owned(),
            options: c.options,
            expires_in: c.expires_in,
        }
    }

    pub fn response(self) -> HttpResponse {
        HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(self)
    }
}

/// Begins a passwordless sign-in.
///
/// The options name no user and no credential (a discoverable assertion,
/// user verification required, `mediation: "conditional"` for autofill:
/// drop it for a modal prompt).
#[utoipa::path(
    post,
    path = "/auth/passkey/start",
    operation_id = "passkey_sign_in_start",
    tag = "passkeys",
    responses(
        (status = 200, description = "The options for `navigator.credentials.get`", body = AssertionStarted),
        (status = 404, description = "`not_enabled`: passkeys are off on this server", body = ErrorBody),
        (status = 429, description = "`too_many_requests`: too many passkey ceremonies begun from this client (`limits.ceremony_per_ip`)", body = ErrorBody, headers(("Retry-After" = i64, description = "Seconds to wait"))),
        (status = "5XX", description = "`temporarily_unavailable` (503, with `Retry-After`) or `server_error` (500)", body = ErrorBody),
    ),
    security(())
)]
#[tracing::instrument(skip_all)]
pub async fn start(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let c = accounts::passkey_sign_in::start(&state.services, &caller.meta).await?;
    Ok(AssertionStarted::from(c).response())
}

/// The authenticator's answer to a passwordless sign-in.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeyFinish {
    #[schema(value_type = String, min_length = 1, max_length = 128)]
    ceremony: SecretString,
    /// The `PublicKeyCredential` of `navigator.credentials.get`, as JSON
    /// (`credential.toJSON()`: binary fields base64url).
    #[schema(value_type = Object)]
    credential: Box<PublicKeyCredential>,
    /// `cookie` (default, browsers) or `body` (native clients), as at login.
    #[serde(default)]
    token_delivery: Delivery,
}

/// Finishes a passwordless sign-in.
///
/// Answers exactly as `POST /auth/login` does; the session's tokens carry
/// `amr` `["swk", "mfa"]` and `acr` `"2"`. The ceremony works once, whatever
/// the outcome.
#[utoipa::path(
    post,
    path = "/auth/passkey/finish",
    operation_id = "passkey_sign_in_finish",
    tag = "passkeys",
    request_body = PasskeyFinish,
    responses(
        (status = 200, description = "Logged in", body = TokenResponse, headers(
                ("Set-Cookie" = String, description = "The refresh token when it travels by cookie (see `/auth/login`)"),
                ("Cache-Control" = String, description = "`no-store`"),
            )),
        (status = 400, description = "`invalid_request`: a malformed body, or body delivery disabled", body = ErrorBody),
        (status = 401, description = "`invalid_ceremony` (unknown, expired, already used, not a passwordless sign-in's, or made for the hosted page) or `invalid_passkey` (an unknown passkey, a wrong origin or relying-party id, a bad signature, user verification missing)", body = ErrorBody),
        (status = 403, description = "`invalid_origin`: cookie delivery requested from an origin not allowed", body = ErrorBody),
        (status = 404, description = "`not_enabled`: passkeys are off on this server", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: the body is over `server.max_body_bytes`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: the body is not `application/json`", body = ErrorBody),
        (status = 429, description = "`too_many_requests`: too many tries from this client, or too many failed logins for the passkey's account (checked before the assertion)", body = ErrorBody, headers(("Retry-After" = i64, description = "Seconds to wait"))),
        (status = "5XX", description = "`temporarily_unavailable` (503, with `Retry-After`) or `server_error` (500)", body = ErrorBody),
    ),
    security(())
)]
#[tracing::instrument(skip_all)]
pub async fn finish(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    Json(input): Json<PasskeyFinish>,
) -> Result<HttpResponse, ApiError> {
    let delivery = input.token_delivery;
    check_delivery(&state, &req, delivery)?;
    let ceremony = bounded("ceremony", input.ceremony, 128)?;
    let outcome = accounts::passkey_sign_in::finish(
        &state.services,
        ceremony.expose_secret(),
        &input.credential,
        &caller.meta,
    )
    .await?;
    signed_in_response(&state, &outcome, delivery).await
}
