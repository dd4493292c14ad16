//! The OAuth 2.0 protocol rules, as a service: what a presented token is
//! (`classify`), who may use which grant and what it answers (`grants`), who
//! may revoke what (`revocation`), when a token is active and what
//! introspection says of it (`introspection`), and which of authd's
//! permissions lets a registered client call what (`permissions`).
//!
//! The handlers of `http::oauth` and `http::revocations` extract the request
//! (the form, the client's credentials as [`ClientCredentials`]), call one
//! function here, and turn an [`OAuthError`] into its answer in `http::error`.
//! Sessions still rotate and end through `sessions`, exactly as on `/auth/*`;
//! clients are registered and checked through `clients`.

pub mod authorize;
pub mod classify;
pub mod client_family;
pub mod code_grant;
pub mod codes;
pub mod consent;
pub mod end_session;
pub mod flow;
pub mod grants;
pub mod introspection;
pub mod par;
pub mod permissions;
pub mod revocation;
pub mod user_grants;

use secrecy::SecretString;

use crate::error::ServiceError;
use crate::store::StoreError;

/// How a request names its client (RFC 6749 section 2.3.1), as the HTTP
/// layer read it from HTTP Basic or the form.
pub enum ClientCredentials {
    /// No client authentication.
    None,
    /// A public client naming itself with `client_id` and no secret.
    Public(String),
    /// `client_id` and `client_secret`, by HTTP Basic or in the form.
    Secret {
        id: String,
        secret: SecretString,
        /// By HTTP Basic (`client_secret_basic`), else in the form.
        basic: bool,
    },
}

/// What an OAuth rule refuses with: the error codes of RFC 6749 section 5.2,
/// RFC 7009 section 2.2.1 and RFC 6750 section 3.1. Each variant's doc comment
/// names the status `http::error` answers it with; the text is the
/// `error_description`.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// 400 `invalid_request`: a parameter missing, repeated or malformed.
    #[error("{0}")]
    InvalidRequest(String),
    /// 401 `invalid_client` with `WWW-Authenticate: Basic`: client
    /// authentication failed, or was required and missing.
    #[error("client authentication failed")]
    InvalidClient,
    /// 400 `invalid_grant`: the refresh token is invalid, expired, revoked or
    /// reused.
    #[error("{0}")]
    InvalidGrant(&'static str),
    /// 400 `unauthorized_client`: the authenticated client may not use this
    /// grant, or the token was not issued to it.
    #[error("{0}")]
    UnauthorizedClient(&'static str),
    /// 400 `unsupported_grant_type`: a grant authd does not serve, or one
    /// switched off here.
    #[error("{0}")]
    UnsupportedGrantType(&'static str),
    /// 400 `invalid_scope`: a scope malformed, not held, or not allowed on
    /// this grant.
    #[error("{0}")]
    InvalidScope(&'static str),
    /// 400 `unsupported_token_type` (RFC 7009 section 2.2.1): a token authd
    /// cannot revoke.
    #[error("{0}")]
    UnsupportedTokenType(&'static str),
    /// 403 `insufficient_scope` (RFC 6750 section 3.1): an authenticated
    /// client without the permission the endpoint needs (named).
    #[error("this client lacks the permission {0}")]
    InsufficientScope(&'static str),
    /// 429 `too_many_requests` with `Retry-After`: too many refreshes from
    /// this client.
    #[error("too many requests; retry after {retry_after_secs} seconds")]
    TooManyRequests { retry_after_secs: i64 },
    /// Whatever the services underneath fail with, answered as they are
    /// everywhere else (503, 500, ...).
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl From<StoreError> for OAuthError {
    fn from(e: StoreError) -> Self {
        Self::Service(e.into())
    }
}

impl OAuthError {
    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        Self::Service(ServiceError::internal(e))
    }
}
