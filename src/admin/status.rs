//! The admin API on whether an account may sign in: disabling and enabling
//! it (`POST /admin/users/{id}/disable`, `/enable`), through
//! `accounts::disable` with the admin as the audited actor, in the
//! transaction `update::begin_act_on` opens: an account holding a
//! permission the caller lacks is neither disabled nor enabled by it.

use uuid::Uuid;

use super::update::begin_act_on;
use super::{Admin, AdminError};
use crate::accounts::disable::{self, Disabled};
use crate::services::Services;

/// Disables `user` for `admin`: every session ends at once as one user
/// revocation (the feed lists it) and every sign-in is refused from now on;
/// the sessions it ended (0 when it was disabled already: nothing changes).
pub async fn disable(svc: &Services, admin: &Admin, user: Uuid) -> Result<u64, AdminError> {
    let mut tx = begin_act_on(svc, admin, user).await?;
    let done = disable::disable_locked(svc, &mut tx, user, admin.actor()).await?;
    tx.commit().await?;
    disable::disable_committed(svc, user, done);
    match done {
        Disabled::Now { sessions } => Ok(sessions),
        Disabled::Already(_) => Ok(0),
    }
}

/// Enables `user` again for `admin` (nothing changes when it was not
/// disabled). The sessions the disabling ended stay ended.
pub async fn enable(svc: &Services, admin: &Admin, user: Uuid) -> Result<(), AdminError> {
    let mut tx = begin_act_on(svc, admin, user).await?;
    if disable::enable_locked(svc, &mut tx, user, admin.actor()).await? {
        tx.commit().await?;
        tracing::info!(admin = admin.id(), user = %user, "account enabled by an admin");
    }
    Ok(())
}
