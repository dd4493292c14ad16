//! The passkeys of the Bearer token's user: registration
//! (`POST /auth/passkeys/register/start`, `.../register/finish`), the list
//! (`GET /auth/passkeys`), a new name (`PATCH /auth/passkeys/{id}`) and
//! removal (`DELETE /auth/passkeys/{id}`). The rules are
//! `factors::passkey`'s and `accounts::second_factor`'s.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use webauthn_rs::prelude::{CreationChallengeResponse, RegisterPublicKeyCredential};

use crate::accounts;
use crate::domain::Password;
use crate::factors;
use crate::http::ApiError;
use crate::http::body::bounded;
use crate::http::error::ErrorBody;
use crate::http::extractors::{AuthenticatedUser, Caller, Json};
use crate::http::state::AppState;

/// A registration begun.
#[derive(Serialize, ToSchema)]
pub struct RegistrationStarted {
    /// The ceremony's id: send it back with the authenticator's answer.
    ceremony: String,
    /// `PublicKeyCredentialCreationOptions` as JSON (`{"publicKey": {...}}`,
    /// binary fields base64url): decode them for `navigator.credentials.create`,
    /// or hand them to `PublicKeyCredential.parseCreationOptionsFromJSON`.
    #[schema(value_type = Object)]
    options: CreationChallengeResponse,
    /// Seconds the ceremony lasts.
    expires_in: i64,
}

const STEP_UP_401: &str = "`invalid_token` (no valid Bearer token, or its session has ended) or `insufficient_user_authentication` (RFC 9470: the user has a second factor and this session did not sign in with one within `mfa.step_up_max_age_secs`: sign in again with the factor and retry with the new token)";

/// Begins the registration of a passkey.
///
/// A user who has a second factor needs a recent sign-in with one (step-up).
/// The passkeys already registered are excluded.
#[utoipa::path(
    post,
    path = "/auth/passkeys/register/start",
    tag = "passkeys",
    responses(
        (status = 200, description = "The options for `navigator.credentials.create`", body = RegistrationStarted),
        (status = 401, description = STEP_UP_401, body = ErrorBody),
        (status = 404, description = "`not_enabled`: passkeys are off on this server (see `[webauthn]`)", body = ErrorBody),
        (status = "5XX", description = "`temporarily_unavailable` (503, with `Retry-After`) or `server_error` (500)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn register_start(
    state: web::Data<AppState>,
    user: AuthenticatedUser,
) -> Result<HttpResponse, ApiError> {
    let c = factors::passkey::start_registration(&state.services, user.sub, user.sid).await?;
    Ok(no_store(HttpResponse::Ok()).json(RegistrationStarted {
        ceremony: c.id.expose_secret().to_owned(),
        options: c.options,
        expires_in: c.expires_in,
    }))
}

/// The authenticator's answer to a registration.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistrationFinish {
    #[schema(value_type = String, min_length = 1, max_length = 128)]
    ceremony: SecretString,
    /// The `PublicKeyCredential` of `navigator.credentials.create`, as JSON
    /// (`credential.toJSON()`: binary fields base64url).
    #[schema(value_type = Object)]
    credential: Box<RegisterPublicKeyCredential>,
    /// The passkey's name (1 to 64 characters); default "Passkey".
    #[schema(max_length = 64)]
    name: Option<String>,
}

/// A passkey registered.
#[derive(Serialize, ToSchema)]
pub struct Registered {
    id: Uuid,
    name: String,
    /// The ten recovery codes, shown this once: only when the passkey is
    /// the user's first factor.
    #[serde(skip_serializing_if = "Option::is_none")]
    recovery_codes: Option<Vec<String>>,
}

/// Finishes the registration of a passkey.
///
/// From now on every sign-in of the user asks for a second factor (a passkey
/// among them), and the passkey can sign in alone. The first factor of a
/// user brings ten recovery codes, shown this once.
#[utoipa::path(
    post,
    path = "/auth/passkeys/register/finish",
    tag = "passkeys",
    request_body = RegistrationFinish,
    responses(
        (status = 200, description = "Registered", body = Registered),
        (status = 400, description = "`invalid_request` (a malformed body or name) or `invalid_passkey` (the authenticator's answer is refused: a wrong origin or relying-party id, user verification missing, a malformed credential; the ceremony is spent)", body = ErrorBody),
        (status = 401, description = "`invalid_token` (no valid Bearer token) or `invalid_ceremony` (unknown, expired, already used, another user's or not a registration)", body = ErrorBody),
        (status = 404, description = "`not_enabled`: passkeys are off on this server", body = ErrorBody),
        (status = 409, description = "`factor_exists`: this passkey is already registered", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: the body is over `server.max_body_bytes`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: the body is not `application/json`", body = ErrorBody),
        (status = "5XX", description = "`temporarily_unavailable` (503, with `Retry-After`) or `server_error` (500)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn register_finish(
    state: web::Data<AppState>,
    user: AuthenticatedUser,
    caller: Caller,
    Json(input): Json<RegistrationFinish>,
) -> Result<HttpResponse, ApiError> {
    let ceremony = bounded("ceremony", input.ceremony, 128)?;
    let r = factors::passkey::finish_registration(
        &state.services,
        user.sub,
        user.sid,
        ceremony.expose_secret(),
        &input.credential,
        input.name.as_deref(),
        &caller.meta,
    )
    .await?;
    Ok(no_store(HttpResponse::Ok()).json(Registered {
        id: r.id,
        name: r.name,
        recovery_codes: r.recovery_codes.as_deref().map(factors::recovery::shown),
    }))
}

/// A registered passkey.
#[derive(Serialize, ToSchema)]
pub struct PasskeyView {
    id: Uuid,
    name: String,
    created_at: DateTime<Utc>,
    /// The last sign-in with it; absent if never used.
    #[serde(skip_serializing_if = "Option::is_none")]
    last_used_at: Option<DateTime<Utc>>,
}

/// The user's passkeys.
#[derive(Serialize, ToSchema)]
pub struct PasskeyList {
    passkeys: Vec<PasskeyView>,
}

/// Lists the user's passkeys, oldest first.
#[utoipa::path(
    get,
    path = "/auth/passkeys",
    tag = "passkeys",
    responses(
        (status = 200, description = "The passkeys", body = PasskeyList),
        (status = 401, description = "`invalid_token`: no valid Bearer token, or its session has ended", body = ErrorBody),
        (status = "5XX", description = "`temporarily_unavailable` (503, with `Retry-After`) or `server_error` (500)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn list(
    state: web::Data<AppState>,
    user: AuthenticatedUser,
) -> Result<HttpResponse, ApiError> {
    let passkeys = factors::passkey::list(&state.services, user.sub).await?;
    Ok(no_store(HttpResponse::Ok()).json(PasskeyList {
        passkeys: passkeys
            .into_iter()
            .map(|p| PasskeyView {
                id: p.id,
                name: p.name,
                created_at: p.created_at,
                last_used_at: p.last_used_at,
            })
            .collect(),
    }))
}

/// A passkey's new name.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rename {
    #[schema(min_length = 1, max_length = 64, example = "Work laptop")]
    name: String,
}

/// Renames a passkey.
#[utoipa::path(
    patch,
    path = "/auth/passkeys/{id}",
    tag = "passkeys",
    params(("id" = Uuid, Path, description = "A passkey id from `GET /auth/passkeys`")),
    request_body = Rename,
    responses(
        (status = 204, description = "Renamed"),
        (status = 400, description = "`invalid_request`: a malformed body, or a name that is empty, over 64 characters or with control characters", body = ErrorBody),
        (status = 401, description = "`invalid_token`: no valid Bearer token, or its session has ended", body = ErrorBody),
        (status = 404, description = "`not_found`: no such passkey of this user (a malformed id too)", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: the body is over `server.max_body_bytes`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: the body is not `application/json`", body = ErrorBody),
        (status = "5XX", description = "`temporarily_unavailable` (503, with `Retry-After`) or `server_error` (500)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn rename(
    state: web::Data<AppState>,
    user: AuthenticatedUser,
    path: web::Path<String>,
    Json(input): Json<Rename>,
) -> Result<HttpResponse, ApiError> {
    let id = Uuid::parse_str(&path).map_err(|_| ApiError::NotFound)?;
    factors::passkey::rename(&state.services, user.sub, id, &input.name).await?;
    Ok(no_store(HttpResponse::NoContent()).finish())
}

/// The password, given again to remove a passkey.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Removal {
    #[schema(value_type = String, format = Password)]
    password: SecretString,
}

/// Removes a passkey.
///
/// Needs the password again, and a session signed in with a second factor
/// recently (step-up). The recovery codes go when no factor is left.
#[utoipa::path(
    delete,
    path = "/auth/passkeys/{id}",
    tag = "passkeys",
    params(("id" = Uuid, Path, description = "A passkey id from `GET /auth/passkeys`")),
    request_body = Removal,
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "`invalid_request`: a malformed body", body = ErrorBody),
        (status = 401, description = "`invalid_token` (no valid Bearer token), `invalid_credentials` (a wrong password) or `insufficient_user_authentication` (RFC 9470: no recent sign-in with a second factor)", body = ErrorBody),
        (status = 404, description = "`not_found`: no such passkey of this user (a malformed id too)", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: the body is over `server.max_body_bytes`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: the body is not `application/json`", body = ErrorBody),
        (status = 429, description = "`too_many_requests`: too many wrong passwords or failed logins for this account or client, or too many password hashes from this client", body = ErrorBody, headers(("Retry-After" = i64, description = "Seconds to wait"))),
        (status = "5XX", description = "`temporarily_unavailable` (503, with `Retry-After`) or `server_error` (500)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn remove(
    state: web::Data<AppState>,
    user: AuthenticatedUser,
    caller: Caller,
    path: web::Path<String>,
    Json(input): Json<Removal>,
) -> Result<HttpResponse, ApiError> {
    let svc = &state.services;
    let id = Uuid::parse_str(&path).map_err(|_| ApiError::NotFound)?;
    let password = Password::parse_existing(input.password, svc.settings.password.max_length)?;
    accounts::second_factor::remove_passkey(svc, user.sub, user.sid, id, &password, &caller.meta)
        .await?;
    Ok(no_store(HttpResponse::NoContent()).finish())
}

fn no_store(mut builder: actix_web::HttpResponseBuilder) -> actix_web::HttpResponseBuilder {
    builder.insert_header((header::CACHE_CONTROL, "no-store"));
    builder
}
