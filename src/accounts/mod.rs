//! Accounts: registration, the credentials check at login with its throttle,
//! password change, and password reset by email. Each function parses nothing (the values come in
//! parsed, see `domain`), owns its transaction, and leaves HTTP to `http`.

mod login;
mod password;
mod register;
mod reset;
pub mod tokens;

pub use login::{Authenticated, authenticate, login, sign_in};
pub use password::change_password;
pub use register::register;
pub use reset::{ResetProof, forgot_password, reset_password};

use uuid::Uuid;

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
