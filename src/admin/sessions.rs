//! The admin API's acts on a user's sessions: ending every one of them
//! (`POST /admin/users/{id}/sessions/revoke`).

use uuid::Uuid;

use super::{Admin, AdminError};
use crate::audit::{self, AuditEvent, AuditKind, RequestMeta};
use crate::services::Services;
use crate::sessions::logout::{reasons, revoke_every_session};
use crate::store;

/// Ends every session of `user` for `admin`, as the user's own global
/// logout does: one transaction holding the user's lock, one user
/// revocation that the revocation feed lists at once, and the audit event
/// `sessions_revoked_by_admin` naming the admin as its actor (the detail, how
/// many ended). Returns how many sessions ended.
pub async fn end_every_session(
    svc: &Services,
    admin: &Admin,
    user: Uuid,
    meta: &RequestMeta,
) -> Result<u64, AdminError> {
    let now = svc.now();
    let reason = reasons::ADMIN_REVOKED;
    let mut tx = svc.store.begin().await?;
    if store::users::lock(&mut tx, user).await?.is_none() {
        return Err(AdminError::NoSuchUser);
    }
    let ended = revoke_every_session(&mut tx, user, reason, now).await?;
    let event = AuditEvent::new(
        AuditKind::SessionsRevokedByAdmin,
        Some(user),
        None,
        meta,
        now,
    )
    .with_actor(admin.actor())
    .with_detail(ended.to_string());
    audit::record(&mut tx, &event).await?;
    tx.commit().await?;
    svc.metrics.revoked(reason, ended);
    tracing::info!(admin = admin.id(), user = %user, ended, "every session ended by an admin");
    Ok(ended)
}
