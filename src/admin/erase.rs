//! Erasing an account (`DELETE /admin/users/{id}`): the personal data goes,
//! the record of what happened stays, pseudonymous.
//!
//! In one transaction under the user's lock:
//!
//! 1. the account's login-throttle counts and code tries, keyed by its
//!    address's hash, are cleared (`credentials::clear_counts`);
//! 2. every session ends through the user revocation
//!    (`sessions::logout::revoke_every_session`), so the revocation feed lists
//!    it, as when an admin ends every session; then factors, passkeys, roles,
//!    consents, account tokens, authorization codes and requests, and the
//!    user's mail (queued or kept) are deleted, and the sessions keep no
//!    address or user agent (`store::erase`);
//! 4. the `users` row becomes a tombstone (`store::users::erase`): the
//!    address replaced by `deleted:<id>` (so the address can register
//!    again), a password hash nothing matches, no verification, no
//!    app_metadata, disabled, `deleted_at` set. Every read of a user leaves
//!    tombstones out, and `store::users::lock` reads one as no user, so every
//!    later change or sign-in finds no account.
//! 5. the user's audit events move to a fresh random id recorded nowhere
//!    else, their address and user agent erased, and so do the actors naming
//!    the user: the trail stays linkable within itself;
//! 6. `user_deleted` is recorded under that pseudonym, the admin its actor.
//!
//! Why a tombstone and not a deleted row: `sessions` and `user_revocations`
//! reference `users` with `ON DELETE CASCADE`, and the revocation feed is
//! read from them; deleting the row would take the user's revocation off the
//! feed, and verifiers would keep honouring the access tokens still in
//! flight until they expire. The tombstone holds no personal data: its id
//! is random, and only the ended sessions and the feed still name it (the
//! audit trail has the pseudonym instead).

use uuid::Uuid;

use super::{Admin, AdminError};
use crate::audit::{AuditEvent, AuditKind, RequestMeta};
use crate::services::Services;
use crate::sessions::logout::{reasons, revoke_every_session};
use crate::store;

/// What an erasure did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Erased {
    /// Sessions it ended.
    pub sessions: u64,
    /// The id the account's audit events now carry.
    pub pseudonym: Uuid,
}

/// Erases the account `user` for `admin` (see the module). An unknown or
/// already erased account is `NoSuchUser`; one holding a permission `admin`
/// lacks is `Forbidden` (`update::may_act_on`).
pub async fn erase(svc: &Services, admin: &Admin, user: Uuid) -> Result<Erased, AdminError> {
    let now = svc.now();
    let mut tx = super::update::begin_act_on(svc, admin, user).await?;
    let account = store::users::find(&mut tx, user)
        .await?
        .ok_or(AdminError::NoSuchUser)?;
    // The lock order: the user's row, its throttle counters and code tries,
    // then its sessions.
    super::credentials::clear_counts(svc, &mut tx, &account.email, None).await?;
    let reason = reasons::USER_DELETED;
    let sessions = revoke_every_session(svc, &mut tx, user, reason, now).await?;
    store::erase::personal_rows(&mut tx, user).await?;
    store::users::erase(&mut tx, user, &svc.hasher.unusable_hash(), now).await?;
    let pseudonym = Uuid::new_v4();
    store::erase::pseudonymize_audit(&mut tx, user, pseudonym).await?;
    // No address or user agent of the admin's request either: the event is
    // the account's, and the account's events keep none.
    let event = AuditEvent::new(
        AuditKind::UserDeleted,
        Some(pseudonym),
        None,
        &RequestMeta::default(),
        now,
    )
    .with_actor(admin.actor())
    .with_detail(format!("{sessions} sessions ended"));
    // The trail keeps the pseudonym; the `user.deleted` event names the
    // account's own id (its `sub`), so that the apps receiving it can erase
    // what they hold of it, and it is queued behind the account's earlier
    // events.
    store::audit::insert(&mut tx, &event).await?;
    let named = AuditEvent {
        user_id: Some(user),
        ..event
    };
    crate::events::queue::on_audit(&mut tx, &named).await?;
    tx.commit().await?;
    svc.metrics.revoked(reason, sessions);
    tracing::info!(admin = admin.id(), user = %user, sessions, "account erased by an admin");
    Ok(Erased {
        sessions,
        pseudonym,
    })
}
