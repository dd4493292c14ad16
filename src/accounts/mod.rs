//! Accounts: registration, the credentials check at login with its throttle,
//! password change, password reset, email verification, email change, and
//! sign-in with a one-time code (`otp`). Each function parses nothing (the values come in
//! parsed, see `domain`), owns its transaction, and leaves HTTP to `http`.

mod email_change;
mod login;
pub mod otp;
mod password;
mod proof;
mod register;
mod reset;
pub mod tokens;
mod verify;

pub use email_change::{confirm_email_change, request_email_change};
pub use login::{Authenticated, authenticate, login, sign_in};
pub use password::change_password;
pub use register::{Registered, register};
pub use reset::{ResetProof, forgot_password, reset_password};
pub use verify::{resend_verification, verify_email};

use uuid::Uuid;

use crate::domain::Email;
use crate::error::ServiceError;
use crate::services::Services;
use crate::store::{self, users::User};

/// The user of a live session (not revoked, not expired): the session check
/// and the user in one query, for the hottest Bearer route (`GET /auth/me`).
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

/// An account's stored address as an `Email`: it was parsed before it was
/// stored, so a failure here is a bug (500), never the caller's input.
fn stored_email(address: &str) -> Result<Email, ServiceError> {
    Email::parse(address)
        .map_err(|_| ServiceError::internal(anyhow::anyhow!("a stored address does not parse")))
}
