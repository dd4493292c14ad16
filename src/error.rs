//! What a service refuses or fails with. `http::error` turns each variant into
//! its answer; the status named in each doc comment is that answer's.

use crate::domain::InputError;
use crate::passwords::HashError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// 400 `invalid_request`: an email or password that does not parse.
    #[error(transparent)]
    Input(#[from] InputError),
    /// 400 `weak_password`: a new password too easy to guess, and why.
    #[error("{0}")]
    WeakPassword(String),
    /// 401 `invalid_credentials`: wrong email or password (never says which).
    #[error("invalid email or password")]
    InvalidCredentials,
    /// 429 `too_many_requests`: the account or the client is locked out.
    #[error("locked out for {retry_after_secs} s")]
    LockedOut { retry_after_secs: i64 },
    /// 429 `too_many_requests` with `Retry-After`: too many messages asked
    /// from this client (`mail::check_client_limit`).
    #[error("too many messages requested; retry after {retry_after_secs} s")]
    SendLimited { retry_after_secs: i64 },
    /// 429 `too_many_requests` with `Retry-After`: too many requests of a
    /// kind from this client (an in-memory limit checked before any database
    /// work: `accounts::limit_codes`, `accounts::limit_hashing`).
    #[error("too many requests; retry after {retry_after_secs} s")]
    TooManyRequests { retry_after_secs: i64 },
    /// 400 `invalid_account_token`: an emailed link or code that is not
    /// (or no longer) valid for what it was presented for (`accounts::tokens`).
    #[error("the link or code is invalid, expired or already used")]
    InvalidAccountToken,
    /// 403 `email_not_verified`: sign-in is refused until the address is verified.
    #[error("the email address is not verified")]
    EmailNotVerified,
    /// 403 `account_disabled`: the account is disabled (`accounts::disable`);
    /// only said to whoever proved to be its user (a right password, code or
    /// passkey).
    #[error("the account is disabled")]
    AccountDisabled,
    /// 404 `not_enabled`: a feature switched off by a setting (named).
    #[error("{0} is not enabled")]
    NotEnabled(&'static str),
    /// 401 `invalid_mfa_challenge`: a sign-in challenge that is unknown,
    /// expired, already used, made for another kind of sign-in, or made
    /// before the password changed.
    #[error("the sign-in challenge is invalid, expired or already used; sign in again")]
    InvalidChallenge,
    /// 401 `invalid_mfa_code`: a wrong, reused or too old second-factor code
    /// at sign-in.
    #[error("the code is not right")]
    WrongSecondFactor,
    /// 400 `invalid_mfa_code`: a wrong or too old code confirming an enrolment.
    #[error("the code is not right; check the device's clock and try the next code")]
    WrongEnrolmentCode,
    /// 409 `factor_exists`: a TOTP factor is already enrolled.
    #[error("a TOTP factor is already enrolled; remove it first")]
    FactorExists,
    /// 401 `invalid_ceremony`: a WebAuthn ceremony id that is unknown,
    /// expired, already used, of another kind (a registration presented at
    /// sign-in), or not made for this sign-in challenge and user.
    #[error("the passkey ceremony is invalid, expired or already used; start again")]
    InvalidCeremony,
    /// 401 `invalid_passkey`: a passkey assertion refused: an unknown
    /// credential, another user's, a wrong origin or relying-party id, a bad
    /// signature, or user verification missing.
    #[error("the passkey was not accepted")]
    InvalidPasskey,
    /// 400 `invalid_passkey`: a passkey registration refused (a wrong origin
    /// or relying-party id, user verification missing, a malformed answer).
    #[error("the passkey registration was not accepted")]
    InvalidPasskeyRegistration,
    /// 404 `not_found`: no such factor (or enrolment waiting) for the user.
    #[error("no such factor")]
    NoSuchFactor,
    /// 401 `insufficient_user_authentication` (RFC 9470): a sensitive change
    /// by a user with a second factor, from a session not signed in with one
    /// within `max_age_secs` (`factors::step_up`).
    #[error("this change needs a recent sign-in with a second factor")]
    StepUpRequired { max_age_secs: u64 },
    /// 401 `invalid_token`: the access token's session has ended.
    #[error("the session has ended")]
    SessionEnded,
    /// 409, 503 or 500, as `http::error` maps store errors.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// 503 when hashing is saturated, else 500.
    #[error(transparent)]
    Hash(#[from] HashError),
    /// 503 `temporarily_unavailable`: too much work after answers is running
    /// (`crate::background`); the same for every request, retry later.
    #[error("too busy; retry later")]
    Busy,
    /// 500: opaque to the client, logged with its cause chain.
    #[error("internal error: {0}")]
    Internal(anyhow::Error),
}

impl ServiceError {
    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        Self::Internal(e.into())
    }
}
