//! Accounts: registration (with its enumeration-safe mode), the credentials
//! check at login with its throttle, password change, password reset, email
//! verification, email change, sign-in with a one-time code (`otp`),
//! enrolment of a second factor at sign-in under `mfa.required`
//! (`enrolment`), and the user of a live session. `tokens` holds the rules
//! every emailed link and code shares. Each flow takes its input parsed (see `domain`), owns its
//! transactions, and leaves HTTP to `http`; `tokens`' functions take the
//! flow's connection or transaction, but for `check_code`, which counts a
//! try on a write connection of its own. The requests whose work would tell
//! whether an address has an account (forgot-password, resending a link, a
//! login code) do that work after the answer, through `svc.background`.

pub mod app_metadata;
pub mod claims;
pub mod disable;
mod email_change;
pub mod enrolment;
mod login;
pub mod lost_factors;
pub mod otp;
pub mod passkey_sign_in;
mod password;
mod proof;
mod reauthenticate;
mod register;
mod reset;
pub mod roles;
pub mod second_factor;
mod sign_in;
pub mod tokens;
mod verify;

pub(crate) use email_change::end_links_to_old_address;
pub use email_change::{confirm_email_change, request_email_change};
pub use login::{
    Authenticated, BrowserSignIn, authenticate, finish_login, login, login_in_browser,
};
pub use password::change_password;
pub use register::{Registered, register};
pub(crate) use reset::send_reset_in;
pub use reset::{ResetProof, forgot_password, reset_password, send_reset_to};
pub use sign_in::SignIn;
pub use verify::{resend_verification, verify_email};

use uuid::Uuid;

use crate::domain::Email;
use crate::error::ServiceError;
use crate::services::Services;
use crate::store::{self, users::User};

/// The user of a live session (not revoked, not expired): the session check
/// and the user in one query, for the hottest Bearer route (`GET /auth/me`)
/// and for introspection of a user's access token.
pub async fn user_of_live_session(
    svc: &Services,
    user: Uuid,
    session: Uuid,
) -> Result<User, ServiceError> {
    let mut conn = svc.store.conn().await?;
    store::users::find_by_live_session(&mut conn, session, user, svc.now())
        .await?
        .ok_or(ServiceError::SessionEnded)
}

/// The id of the account at `email`, if any: how an operator's tools find
/// the user they name.
pub async fn user_by_email(svc: &Services, email: &Email) -> Result<Option<Uuid>, ServiceError> {
    let mut conn = svc.store.conn().await?;
    Ok(store::users::find_by_email(&mut conn, email.as_str())
        .await?
        .map(|u| u.id))
}

/// An account's stored address as an `Email`: it was parsed before it was
/// stored, so a failure here is a bug (500), never the caller's input.
fn stored_email(address: &str) -> Result<Email, ServiceError> {
    Email::parse(address)
        .map_err(|_| ServiceError::internal(anyhow::anyhow!("a stored address does not parse")))
}

/// Counts a passkey ceremony begun without a session (passwordless, or a
/// passkey answering a sign-in challenge) from the client of `meta` against
/// `limits.ceremony_per_ip`, in memory, before the ceremony's row is
/// stored. Past it, `TooManyRequests` (429). Not `code_per_ip`: every view
/// of the login page begins one, and must not spend the tries of codes.
pub(crate) fn limit_ceremonies(
    svc: &Services,
    meta: &crate::audit::RequestMeta,
) -> Result<(), ServiceError> {
    svc.client_limits
        .ceremony(meta.ip_addr(), svc.now())
        .map_err(|retry_after_secs| {
            tracing::info!(
                retry_after_secs,
                "refused: too many passkey ceremonies begun from this client"
            );
            ServiceError::TooManyRequests { retry_after_secs }
        })
}

/// Counts a try of an emailed link or code from the client of `meta` against
/// `limits.code_per_ip`, in memory: called first, before any database work.
/// Past it, `TooManyRequests` (429), and nothing is looked up or counted.
pub(crate) fn limit_codes(
    svc: &Services,
    meta: &crate::audit::RequestMeta,
) -> Result<(), ServiceError> {
    svc.client_limits
        .code_try(meta.ip_addr(), svc.now())
        .map_err(|retry_after_secs| {
            tracing::info!(
                retry_after_secs,
                "refused: too many code tries from this client"
            );
            ServiceError::TooManyRequests { retry_after_secs }
        })
}

/// Counts a request that hashes a password (successful or not) from the
/// client of `meta` against `limits.hash_per_ip`, in memory: called first,
/// before any database work. Past it, `TooManyRequests` (429).
pub(crate) fn limit_hashing(
    svc: &Services,
    meta: &crate::audit::RequestMeta,
) -> Result<(), ServiceError> {
    svc.client_limits
        .hashing(meta.ip_addr(), svc.now())
        .map_err(|retry_after_secs| {
            tracing::info!(
                retry_after_secs,
                "refused: too many password hashes for this client"
            );
            ServiceError::TooManyRequests { retry_after_secs }
        })
}

/// Refuses a try of an emailed code from a locked-out client
/// (`LoginThrottle::check_client`), or past the address's tries of the day
/// for `key` (`Keys::login_code`, `Keys::reset_code`); otherwise counts it,
/// in a transaction of its own committed whatever the try does next. Past
/// either, `LockedOut` (429) and no code is tried.
pub(crate) async fn count_code_try(
    svc: &Services,
    keys: &crate::throttle::Keys,
    key: &str,
) -> Result<(), ServiceError> {
    let now = svc.now();
    let mut tx = svc.store.begin().await?;
    let mut verdict = svc.throttle.check_client(&mut tx, keys, now).await?;
    if verdict.is_ok() {
        verdict = svc.throttle.count_code_try(&mut tx, key, now).await?;
    }
    tx.commit().await?;
    verdict.map_err(|retry_after_secs| {
        tracing::info!(retry_after_secs, "code refused before it was tried");
        ServiceError::LockedOut { retry_after_secs }
    })
}
