//! The token answer (RFC 6749 section 5.1) of every endpoint that starts or
//! rotates a session: `/auth/login`, `/auth/otp/verify`,
//! `/auth/password/reset` with `accounts.reset_signs_in`, `/auth/refresh` and
//! `/oauth/token`'s refresh grant; how the refresh token travels in it, and
//! the origin check of a sign-in answering by cookie ([`check_delivery`];
//! whether it may answer in the body is `sessions::delivery`'s rule).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ApiError;
use super::cookies::{check_origin, set_refresh_cookie};
use super::state::AppState;
use crate::accounts::SignIn;
use crate::accounts::enrolment::Enrolled;
use crate::factors::{Challenge, recovery};
use crate::sessions::{self, Session};

/// How the refresh token travels. Browsers get it only in an HttpOnly cookie;
/// native clients ask for it in the body with `"token_delivery": "body"` when
/// they sign in, and present it in the body afterwards (which keeps body
/// delivery; `/oauth/token` always answers in the body).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Delivery {
    #[default]
    Cookie,
    Body,
}

/// Whether a sign-in may answer with `delivery`, checked before anything is
/// spent: a cookie only for an allowed `Origin` (403 `invalid_origin`), the
/// body as `sessions::delivery` rules (400 when off). Every endpoint that
/// starts a session calls it (login, a code sign-in, a reset that signs in).
pub fn check_delivery(
    state: &AppState,
    req: &HttpRequest,
    delivery: Delivery,
) -> Result<(), ApiError> {
    if delivery == Delivery::Cookie {
        check_origin(state, req)
    } else {
        Ok(sessions::delivery::check_sign_in_body(&state.services)?)
    }
}

/// RFC 6749 section 5.1.
#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    /// A JWT (RFC 9068, `typ: at+jwt`).
    access_token: String,
    #[schema(example = "Bearer")]
    token_type: &'static str,
    /// Seconds until the access token expires.
    expires_in: i64,
    /// Only with `token_delivery: body`; browsers get it in the cookie.
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    /// Seconds until the refresh token (the session) expires, unless rotated.
    refresh_expires_in: i64,
    /// Only from `POST /auth/mfa/enroll/totp/confirm` (a sign-in finished by
    /// enrolling a first factor under `mfa.required`): the ten recovery
    /// codes, shown this once.
    #[serde(skip_serializing_if = "Option::is_none")]
    recovery_codes: Option<Vec<String>>,
}

/// `Cache-Control: no-store` and `Pragma: no-cache`, which RFC 6749 section
/// 5.1 asks of every answer carrying tokens; the answers of revocation,
/// introspection and the revocation feed carry them too.
pub fn token_headers(
    mut response: actix_web::HttpResponseBuilder,
) -> actix_web::HttpResponseBuilder {
    response
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"));
    response
}

/// A sign-in's 401: the error body, and with the error code `mfa_required`
/// (the first proof was right, a second factor is due, no session started)
/// the challenge to finish it with at `POST /auth/mfa/verify`; with
/// `mfa_enrollment_required` (`mfa.required` is on and the user has no
/// second factor: no session started) the challenge to enrol one with at
/// `POST /auth/mfa/enroll/totp`, which finishes the sign-in.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "error": "mfa_required",
    "error_description": "this account asks for a second factor",
    "mfa_challenge": "q3Jm2cQ0k7lH1xYb3zv0pJ0rV0dS3KpQm1kq8bJ4m2A",
    "factors": ["totp", "recovery_code"],
    "expires_in": 300
}))]
pub struct SignInRefused {
    /// `mfa_required`, `mfa_enrollment_required`, or the endpoint's other
    /// 401 codes (`invalid_credentials`).
    error: &'static str,
    error_description: &'static str,
    /// With `mfa_required`: give it to `POST /auth/mfa/verify` with a code.
    /// With `mfa_enrollment_required`: give it to `POST
    /// /auth/mfa/enroll/totp` and `/auth/mfa/enroll/totp/confirm`. Single
    /// use; one kind is never accepted as the other.
    #[serde(skip_serializing_if = "Option::is_none")]
    mfa_challenge: Option<String>,
    /// With `mfa_required`: what the challenge can be answered with
    /// (`totp`, `recovery_code`). With `mfa_enrollment_required`: what can
    /// be enrolled (`totp`).
    #[serde(skip_serializing_if = "Option::is_none")]
    factors: Option<Vec<&'static str>>,
    /// With either: seconds until the challenge expires.
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_in: Option<i64>,
}

/// The answer to a sign-in: the tokens of its session once it is complete
/// (an access token, and its refresh token delivered as `delivery` says),
/// or the challenge of a second factor still due, or of one to enrol (no
/// session, no cookie).
pub async fn signed_in_response(
    state: &AppState,
    outcome: &SignIn,
    delivery: Delivery,
) -> Result<HttpResponse, ApiError> {
    match outcome {
        SignIn::Complete(session) => token_response(state, session, delivery).await,
        SignIn::SecondFactor(challenge) => Ok(challenge_response(
            "mfa_required",
            "this account asks for a second factor",
            challenge,
        )),
        SignIn::EnrolFactor(challenge) => Ok(challenge_response(
            "mfa_enrollment_required",
            "a second factor is required: enrol one to sign in",
            challenge,
        )),
    }
}

/// The answer to a sign-in finished by enrolling its first factor: as
/// [`signed_in_response`], with the recovery codes beside the tokens.
pub async fn enrolled_response(
    state: &AppState,
    enrolled: &Enrolled<SignIn>,
    delivery: Delivery,
) -> Result<HttpResponse, ApiError> {
    match &enrolled.outcome {
        SignIn::Complete(session) => {
            let codes = enrolled.recovery_codes.as_deref().map(recovery::shown);
            tokens_with(state, session, delivery, codes).await
        }
        other => signed_in_response(state, other, delivery).await,
    }
}

fn challenge_response(
    error: &'static str,
    error_description: &'static str,
    challenge: &Challenge,
) -> HttpResponse {
    let mut response = token_headers(HttpResponse::Unauthorized());
    response.insert_header((header::WWW_AUTHENTICATE, r#"Bearer realm="authd""#));
    response.json(SignInRefused {
        error,
        error_description,
        mfa_challenge: Some(challenge.token.expose_secret().to_owned()),
        factors: Some(challenge.factors.clone()),
        expires_in: Some(challenge.expires_in),
    })
}

/// Issues an access token for `session` and delivers its current refresh token.
pub async fn token_response(
    state: &AppState,
    session: &Session,
    delivery: Delivery,
) -> Result<HttpResponse, ApiError> {
    tokens_with(state, session, delivery, None).await
}

async fn tokens_with(
    state: &AppState,
    session: &Session,
    delivery: Delivery,
    recovery_codes: Option<Vec<String>>,
) -> Result<HttpResponse, ApiError> {
    let issued = sessions::issue_tokens(&state.services, session).await?;
    let refresh = issued.refresh_token.expose_secret().to_owned();
    let mut response = token_headers(HttpResponse::Ok());
    let body_token = match delivery {
        Delivery::Cookie => {
            response.cookie(set_refresh_cookie(
                state,
                refresh,
                issued.refresh_expires_in,
            ));
            None
        }
        Delivery::Body => Some(refresh),
    };
    Ok(response.json(TokenResponse {
        access_token: issued.access_token,
        token_type: "Bearer",
        expires_in: issued.expires_in,
        refresh_token: body_token,
        refresh_expires_in: issued.refresh_expires_in,
        recovery_codes,
    }))
}
