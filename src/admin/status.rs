//! The admin API on whether an account may sign in: disabling and enabling
//! it (`POST /admin/users/{id}/disable`, `/enable`), through
//! `accounts::disable` with the admin as the audited actor.

use uuid::Uuid;

use super::{Admin, AdminError};
use crate::accounts::disable::{self, Disabled};
use crate::services::Services;

/// Disables `user` for `admin`: every session ends at once as one user
/// revocation (the feed lists it) and every sign-in is refused from now on;
/// the sessions it ended (0 when it was disabled already: nothing changes).
pub async fn disable(svc: &Services, admin: &Admin, user: Uuid) -> Result<u64, AdminError> {
    match disable::disable(svc, user, admin.actor()).await? {
        Some(Disabled::Now { sessions }) => Ok(sessions),
        Some(Disabled::Already(_)) => Ok(0),
        None => Err(AdminError::NoSuchUser),
    }
}

/// Enables `user` again for `admin` (nothing changes when it was not
/// disabled). The sessions the disabling ended stay ended.
pub async fn enable(svc: &Services, admin: &Admin, user: Uuid) -> Result<(), AdminError> {
    match disable::enable(svc, user, admin.actor()).await? {
        Some(_) => Ok(()),
        None => Err(AdminError::NoSuchUser),
    }
}
