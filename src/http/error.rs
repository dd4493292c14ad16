//! The API error: one variant per stable error code, each rendered as
//! `{"error": "<code>", "error_description": "..."}` (RFC 6749 section 5.2 shape).

use actix_web::cookie::Cookie;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::admin::AdminError;
use crate::domain::InputError;
use crate::error::ServiceError;
use crate::oauth::OAuthError;
use crate::passwords::HashError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400 `invalid_request`: malformed JSON, a missing or invalid field.
    #[error("{0}")]
    InvalidRequest(String),
    /// 400 `weak_password`: a new password that is too easy to guess.
    #[error("{0}")]
    WeakPassword(String),
    /// 401 `invalid_credentials`: wrong email or password (never says which).
    #[error("invalid email or password")]
    InvalidCredentials,
    /// 401 `invalid_grant`: a refresh token that is missing, expired, revoked,
    /// unknown or reused. Carries the cookie removal when the token came by cookie.
    #[error("the refresh token is invalid, expired or revoked")]
    InvalidGrant {
        clear_cookie: Option<Box<Cookie<'static>>>,
    },
    /// 401 `invalid_client` with `WWW-Authenticate: Basic`: client
    /// authentication failed or was required and missing (RFC 6749 section 5.2).
    #[error("client authentication failed")]
    InvalidClient,
    /// 400 with an OAuth error code (RFC 6749 section 5.2, RFC 7009 section
    /// 2.2.1): `invalid_grant`, `unsupported_grant_type`, `invalid_scope`,
    /// `unauthorized_client` or `unsupported_token_type`.
    #[error("{description}")]
    OAuth {
        code: &'static str,
        description: String,
    },
    /// 401 `invalid_token` with `WWW-Authenticate: Bearer error="invalid_token"`.
    #[error("the access token is invalid or expired")]
    InvalidToken,
    /// 401 `invalid_token` without an error attribute (RFC 6750 section 3.1):
    /// no credentials were presented at all.
    #[error("a bearer access token is required")]
    MissingToken,
    /// 403 `insufficient_scope` (RFC 6750 section 3.1): an authenticated
    /// registered client without the permission this endpoint needs.
    #[error("this client lacks the permission {0}")]
    InsufficientScope(&'static str),
    /// 400 `invalid_account_token`: an emailed link or code that is unknown,
    /// expired, already used, replaced by a newer one, out of attempts, or no
    /// longer matches the account (its password or address changed since).
    #[error("the link or code is invalid, expired or already used")]
    InvalidAccountToken,
    /// 403 `email_not_verified`: sign-in waits until the address is verified
    /// (`accounts.email_verification = "required"`); a new link can be asked
    /// for at `POST /auth/email/verify/resend`.
    #[error(
        "the email address is not verified yet; follow the link sent to it, or ask for a new one"
    )]
    EmailNotVerified,
    /// 403 `account_disabled`: the account is disabled by an operator; only
    /// said after a right proof (a wrong password is `invalid_credentials`).
    #[error("this account is disabled; contact the service's operator")]
    AccountDisabled,
    /// 404 `not_enabled`: the endpoint's feature is switched off here.
    #[error("{0} is not enabled on this server")]
    NotEnabled(&'static str),
    /// 403 `invalid_origin`: a cookie-authenticated request from an origin not
    /// in the allow-list.
    #[error("this origin may not use the refresh cookie")]
    ForbiddenOrigin,
    /// 404 `not_found`.
    #[error("not found")]
    NotFound,
    /// 401 `invalid_mfa_challenge`: see `ServiceError::InvalidChallenge`.
    #[error("the sign-in challenge is invalid, expired or already used; sign in again")]
    InvalidChallenge,
    /// 401 `invalid_mfa_code`: a wrong or reused second-factor code at sign-in.
    #[error("the code is not right")]
    WrongSecondFactor,
    /// 400 `invalid_mfa_code`: a wrong code confirming an enrolment.
    #[error("the code is not right; check the device's clock and try the next code")]
    WrongEnrolmentCode,
    /// 409 `factor_exists`: a TOTP factor is already enrolled.
    #[error("a TOTP factor is already enrolled; remove it first")]
    FactorExists,
    /// 401 `invalid_ceremony`: see `ServiceError::InvalidCeremony`.
    #[error("the passkey ceremony is invalid, expired or already used; start again")]
    InvalidCeremony,
    /// 401 `invalid_passkey`: see `ServiceError::InvalidPasskey`.
    #[error("the passkey was not accepted")]
    InvalidPasskey,
    /// 400 `invalid_passkey`: see `ServiceError::InvalidPasskeyRegistration`.
    #[error("the passkey registration was not accepted")]
    InvalidPasskeyRegistration,
    /// 401 `mfa_required`: the sign-in needs a second factor (the API's
    /// answer carries a challenge; see `http::tokens`).
    #[error("this account asks for a second factor")]
    MfaRequired,
    /// 401 `mfa_enrollment_required`: with `mfa.required`, a sign-in of a
    /// user without a second factor, who must enrol one first (the API's
    /// answer carries an enrolment challenge; see `http::tokens`).
    #[error("a second factor is required: enrol one to sign in")]
    MfaEnrollmentRequired,
    /// 401 `insufficient_user_authentication` (RFC 9470) with
    /// `WWW-Authenticate: Bearer error="insufficient_user_authentication",
    /// acr_values="2", max_age=N`: see `ServiceError::StepUpRequired`. The
    /// client signs in again with the second factor and retries.
    #[error(
        "this change needs a sign-in with a second factor at most {max_age_secs} seconds ago; sign in again with it"
    )]
    InsufficientUserAuthentication { max_age_secs: u64 },
    /// 405 `method_not_allowed`.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 400 `invalid_webhook_url`: see `events::webhooks::WebhookError::InvalidUrl`.
    #[error("{0}")]
    InvalidWebhookUrl(String),
    /// 400 `invalid_event_type`: a webhook event type authd does not send.
    #[error("{0}")]
    InvalidEventType(String),
    /// 409 `email_taken`.
    #[error("an account with this email already exists")]
    EmailTaken,
    /// 413 `payload_too_large`.
    #[error("the request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// 415 `unsupported_media_type`: the body is not `application/json`.
    #[error("the request body must be application/json")]
    UnsupportedMediaType,
    /// 429 `too_many_requests` with `Retry-After`: too many failed logins for
    /// this account or client, too many registrations or refreshes from it,
    /// or too many requests that may send mail from it.
    #[error("too many requests; retry after {retry_after_secs} seconds")]
    TooManyRequests { retry_after_secs: i64 },
    /// 503 `temporarily_unavailable` with `Retry-After`: overloaded or the
    /// database is unreachable.
    #[error("the service is temporarily unavailable")]
    Unavailable { retry_after_secs: u32 },
    /// 500 `server_error`: opaque to the client, logged with its cause chain.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

/// The body of every error response (RFC 6749 section 5.2 shape).
#[derive(Serialize, utoipa::ToSchema)]
#[schema(
    example = json!({"error": "invalid_request", "error_description": "malformed JSON"})
)]
pub struct ErrorBody<'a> {
    /// A stable, machine-readable code.
    #[schema(schema_with = error_code_schema)]
    error: &'a str,
    /// For humans; may change between versions.
    error_description: String,
}

/// Every code [`ApiError::code`] can return; the OpenAPI document lists them.
pub const ERROR_CODES: &[&str] = &[
    "invalid_request",
    "weak_password",
    "invalid_account_token",
    "email_not_verified",
    "account_disabled",
    "not_enabled",
    "invalid_credentials",
    "invalid_grant",
    "invalid_token",
    "invalid_client",
    "unsupported_grant_type",
    "invalid_scope",
    "unauthorized_client",
    "unsupported_token_type",
    "insufficient_scope",
    "invalid_origin",
    "not_found",
    "method_not_allowed",
    "invalid_mfa_challenge",
    "invalid_mfa_code",
    "factor_exists",
    "invalid_ceremony",
    "invalid_passkey",
    "mfa_required",
    "mfa_enrollment_required",
    "insufficient_user_authentication",
    "email_taken",
    "invalid_webhook_url",
    "invalid_event_type",
    "payload_too_large",
    "unsupported_media_type",
    "too_many_requests",
    "temporarily_unavailable",
    "server_error",
];

/// The codes of [`ApiError::OAuth`] (RFC 6749 section 5.2, RFC 7009 section 2.2.1).
pub const OAUTH_CODES: &[&str] = &[
    "invalid_grant",
    "unsupported_grant_type",
    "invalid_scope",
    "unauthorized_client",
    "unsupported_token_type",
];

fn error_code_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(ERROR_CODES.iter().copied()))
        .build()
}

impl ApiError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) => "invalid_request",
            Self::WeakPassword(_) => "weak_password",
            Self::InvalidAccountToken => "invalid_account_token",
            Self::EmailNotVerified => "email_not_verified",
            Self::AccountDisabled => "account_disabled",
            Self::NotEnabled(_) => "not_enabled",
            Self::InvalidCredentials => "invalid_credentials",
            Self::InvalidGrant { .. } => "invalid_grant",
            Self::InvalidToken | Self::MissingToken => "invalid_token",
            Self::InvalidClient => "invalid_client",
            Self::OAuth { code, .. } => code,
            Self::InsufficientScope(_) => "insufficient_scope",
            Self::ForbiddenOrigin => "invalid_origin",
            Self::NotFound => "not_found",
            Self::InvalidChallenge => "invalid_mfa_challenge",
            Self::WrongSecondFactor | Self::WrongEnrolmentCode => "invalid_mfa_code",
            Self::FactorExists => "factor_exists",
            Self::InvalidCeremony => "invalid_ceremony",
            Self::InvalidPasskey | Self::InvalidPasskeyRegistration => "invalid_passkey",
            Self::MfaRequired => "mfa_required",
            Self::MfaEnrollmentRequired => "mfa_enrollment_required",
            Self::InsufficientUserAuthentication { .. } => "insufficient_user_authentication",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::EmailTaken => "email_taken",
            Self::InvalidWebhookUrl(_) => "invalid_webhook_url",
            Self::InvalidEventType(_) => "invalid_event_type",
            Self::PayloadTooLarge(_) => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::TooManyRequests { .. } => "too_many_requests",
            Self::Unavailable { .. } => "temporarily_unavailable",
            Self::Internal(_) => "server_error",
        }
    }

    /// A 400 with an OAuth error code, one of [`OAUTH_CODES`].
    pub fn oauth(code: &'static str, description: impl Into<String>) -> Self {
        debug_assert!(OAUTH_CODES.contains(&code), "{code} is not an OAuth code");
        Self::OAuth {
            code,
            description: description.into(),
        }
    }

    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        Self::Internal(e.into())
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::InvalidRequest(_)
            | Self::WeakPassword(_)
            | Self::OAuth { .. }
            | Self::InvalidAccountToken
            | Self::WrongEnrolmentCode
            | Self::InvalidPasskeyRegistration
            | Self::InvalidWebhookUrl(_)
            | Self::InvalidEventType(_) => StatusCode::BAD_REQUEST,
            Self::InvalidCredentials
            | Self::InvalidGrant { .. }
            | Self::InvalidToken
            | Self::InvalidClient
            | Self::MissingToken
            | Self::InvalidChallenge
            | Self::WrongSecondFactor
            | Self::InvalidCeremony
            | Self::InvalidPasskey
            | Self::MfaRequired
            | Self::MfaEnrollmentRequired
            | Self::InsufficientUserAuthentication { .. } => StatusCode::UNAUTHORIZED,
            Self::ForbiddenOrigin
            | Self::InsufficientScope(_)
            | Self::EmailNotVerified
            | Self::AccountDisabled => StatusCode::FORBIDDEN,
            Self::NotFound | Self::NotEnabled(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::EmailTaken | Self::FactorExists => StatusCode::CONFLICT,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let Self::Internal(e) = self {
            tracing::error!(error = format!("{e:#}"), "request failed");
        }
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CACHE_CONTROL, "no-store"));
        match self {
            Self::InvalidToken => {
                response.insert_header((
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(r#"Bearer realm="authd", error="invalid_token""#),
                ));
            }
            Self::MissingToken
            | Self::InvalidCredentials
            | Self::InvalidGrant { .. }
            | Self::InvalidChallenge
            | Self::WrongSecondFactor
            | Self::InvalidCeremony
            | Self::InvalidPasskey
            | Self::MfaRequired
            | Self::MfaEnrollmentRequired => {
                response.insert_header((
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(r#"Bearer realm="authd""#),
                ));
            }
            Self::InvalidClient => {
                response.insert_header((
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(r#"Basic realm="authd""#),
                ));
            }
            Self::InsufficientUserAuthentication { max_age_secs } => {
                response.insert_header((
                    header::WWW_AUTHENTICATE,
                    format!(
                        r#"Bearer realm="authd", error="insufficient_user_authentication", error_description="a recent sign-in with a second factor is required", acr_values="2", max_age={max_age_secs}"#
                    ),
                ));
            }
            Self::Unavailable { retry_after_secs } => {
                response.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
            }
            Self::TooManyRequests { retry_after_secs } => {
                response.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
            }
            _ => {}
        }
        if let Self::InvalidGrant {
            clear_cookie: Some(cookie),
        } = self
        {
            response.cookie(cookie.as_ref().clone());
        }
        response.json(ErrorBody {
            error: self.code(),
            error_description: self.to_string(),
        })
    }
}

impl From<InputError> for ApiError {
    fn from(e: InputError) -> Self {
        Self::InvalidRequest(e.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::EmailTaken => Self::EmailTaken,
            StoreError::Unavailable(e) => {
                tracing::warn!(error = %e, "database unavailable");
                Self::Unavailable {
                    retry_after_secs: 1,
                }
            }
            other => Self::internal(other),
        }
    }
}

impl From<HashError> for ApiError {
    fn from(e: HashError) -> Self {
        match e {
            HashError::Overloaded => Self::Unavailable {
                retry_after_secs: 1,
            },
            other => Self::internal(other),
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Input(e) => e.into(),
            ServiceError::WeakPassword(why) => Self::WeakPassword(why),
            ServiceError::InvalidCredentials => Self::InvalidCredentials,
            ServiceError::LockedOut { retry_after_secs }
            | ServiceError::SendLimited { retry_after_secs }
            | ServiceError::TooManyRequests { retry_after_secs } => {
                Self::TooManyRequests { retry_after_secs }
            }
            ServiceError::SessionEnded => Self::InvalidToken,
            ServiceError::StepUpRequired { max_age_secs } => {
                Self::InsufficientUserAuthentication { max_age_secs }
            }
            ServiceError::InvalidAccountToken => Self::InvalidAccountToken,
            ServiceError::EmailNotVerified => Self::EmailNotVerified,
            ServiceError::AccountDisabled => Self::AccountDisabled,
            ServiceError::NotEnabled(what) => Self::NotEnabled(what),
            ServiceError::InvalidChallenge => Self::InvalidChallenge,
            ServiceError::WrongSecondFactor => Self::WrongSecondFactor,
            ServiceError::WrongEnrolmentCode => Self::WrongEnrolmentCode,
            ServiceError::FactorExists => Self::FactorExists,
            ServiceError::NoSuchFactor => Self::NotFound,
            ServiceError::InvalidCeremony => Self::InvalidCeremony,
            ServiceError::InvalidPasskey => Self::InvalidPasskey,
            ServiceError::InvalidPasskeyRegistration => Self::InvalidPasskeyRegistration,
            ServiceError::Store(e) => e.into(),
            ServiceError::Hash(e) => e.into(),
            ServiceError::Busy => Self::Unavailable {
                retry_after_secs: 1,
            },
            ServiceError::Internal(e) => Self::Internal(e),
        }
    }
}

impl From<AdminError> for ApiError {
    fn from(e: AdminError) -> Self {
        match e {
            AdminError::InvalidClient => Self::InvalidClient,
            AdminError::Forbidden(permission) => Self::InsufficientScope(permission.name()),
            AdminError::TooManyRequests { retry_after_secs } => {
                Self::TooManyRequests { retry_after_secs }
            }
            AdminError::InvalidQuery(why) => Self::InvalidRequest(why),
            AdminError::NoSuchUser => Self::NotFound,
            AdminError::Service(e) => e.into(),
        }
    }
}

impl From<crate::events::webhooks::WebhookError> for ApiError {
    fn from(e: crate::events::webhooks::WebhookError) -> Self {
        use crate::events::webhooks::WebhookError;
        match e {
            WebhookError::InvalidUrl(why) => Self::InvalidWebhookUrl(why),
            WebhookError::InvalidEventType(why) => Self::InvalidEventType(why),
            WebhookError::InvalidRequest(why) => Self::InvalidRequest(why),
            WebhookError::NoSuchEndpoint => Self::NotFound,
            WebhookError::Service(e) => e.into(),
        }
    }
}

impl From<OAuthError> for ApiError {
    fn from(e: OAuthError) -> Self {
        let oauth = |code, description: &str| Self::oauth(code, description);
        match e {
            OAuthError::InvalidRequest(why) => Self::InvalidRequest(why),
            OAuthError::InvalidClient => Self::InvalidClient,
            OAuthError::InvalidGrant(why) => oauth("invalid_grant", why),
            OAuthError::UnauthorizedClient(why) => oauth("unauthorized_client", why),
            OAuthError::UnsupportedGrantType(why) => oauth("unsupported_grant_type", why),
            OAuthError::InvalidScope(why) => oauth("invalid_scope", why),
            OAuthError::UnsupportedTokenType(why) => oauth("unsupported_token_type", why),
            OAuthError::InsufficientScope(permission) => Self::InsufficientScope(permission),
            OAuthError::TooManyRequests { retry_after_secs } => {
                Self::TooManyRequests { retry_after_secs }
            }
            OAuthError::Service(e) => e.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One error of every variant: the exhaustive match makes a new variant a
    /// compile error here until it is added, so its code is checked below.
    fn one_of_each() -> Vec<ApiError> {
        let all = vec![
            ApiError::InvalidRequest(String::new()),
            ApiError::WeakPassword(String::new()),
            ApiError::InvalidAccountToken,
            ApiError::EmailNotVerified,
            ApiError::AccountDisabled,
            ApiError::NotEnabled(""),
            ApiError::InvalidCredentials,
            ApiError::InvalidGrant { clear_cookie: None },
            ApiError::InvalidToken,
            ApiError::MissingToken,
            ApiError::InvalidClient,
            ApiError::InsufficientScope(""),
            ApiError::ForbiddenOrigin,
            ApiError::NotFound,
            ApiError::InvalidChallenge,
            ApiError::WrongSecondFactor,
            ApiError::WrongEnrolmentCode,
            ApiError::FactorExists,
            ApiError::InvalidCeremony,
            ApiError::InvalidPasskey,
            ApiError::InvalidPasskeyRegistration,
            ApiError::MfaRequired,
            ApiError::MfaEnrollmentRequired,
            ApiError::InsufficientUserAuthentication { max_age_secs: 900 },
            ApiError::MethodNotAllowed,
            ApiError::EmailTaken,
            ApiError::InvalidWebhookUrl(String::new()),
            ApiError::InvalidEventType(String::new()),
            ApiError::PayloadTooLarge(0),
            ApiError::UnsupportedMediaType,
            ApiError::TooManyRequests {
                retry_after_secs: 0,
            },
            ApiError::Unavailable {
                retry_after_secs: 0,
            },
            ApiError::Internal(anyhow::anyhow!("x")),
        ]
        .into_iter()
        .chain(OAUTH_CODES.iter().map(|code| ApiError::oauth(code, "")))
        .collect::<Vec<_>>();
        for e in &all {
            match e {
                ApiError::InvalidRequest(_)
                | ApiError::WeakPassword(_)
                | ApiError::InvalidAccountToken
                | ApiError::EmailNotVerified
                | ApiError::AccountDisabled
                | ApiError::NotEnabled(_)
                | ApiError::InvalidCredentials
                | ApiError::InvalidGrant { .. }
                | ApiError::InvalidToken
                | ApiError::MissingToken
                | ApiError::InvalidClient
                | ApiError::OAuth { .. }
                | ApiError::InsufficientScope(_)
                | ApiError::ForbiddenOrigin
                | ApiError::NotFound
                | ApiError::InvalidChallenge
                | ApiError::WrongSecondFactor
                | ApiError::WrongEnrolmentCode
                | ApiError::FactorExists
                | ApiError::InvalidCeremony
                | ApiError::InvalidPasskey
                | ApiError::InvalidPasskeyRegistration
                | ApiError::InvalidWebhookUrl(_)
                | ApiError::InvalidEventType(_)
                | ApiError::MfaRequired
                | ApiError::MfaEnrollmentRequired
                | ApiError::InsufficientUserAuthentication { .. }
                | ApiError::MethodNotAllowed
                | ApiError::EmailTaken
                | ApiError::PayloadTooLarge(_)
                | ApiError::UnsupportedMediaType
                | ApiError::TooManyRequests { .. }
                | ApiError::Unavailable { .. }
                | ApiError::Internal(_) => {}
            }
        }
        all
    }

    #[test]
    fn the_documented_error_codes_are_exactly_the_codes_errors_have() {
        let mut codes: Vec<&str> = one_of_each().iter().map(ApiError::code).collect();
        codes.sort_unstable();
        codes.dedup();
        let mut documented = ERROR_CODES.to_vec();
        documented.sort_unstable();
        assert_eq!(codes, documented);
    }
}
