//! The operator's path for a user who lost both the device and the recovery
//! codes (`authd users remove-factors EMAIL`): every factor and recovery code
//! of the user goes, every session ends (one user revocation, so the
//! revocation feed covers them), the change is audited with the operator as
//! its actor, and the owner is told (`factor_removed`), all in one
//! transaction. The user then signs in with the password alone and may enrol
//! again. Whoever runs it must have checked who is asking first: it is the
//! one way past a second factor without it.

use uuid::Uuid;

use crate::audit::{self, Actor, AuditEvent, AuditKind, RequestMeta};
use crate::domain::Email;
use crate::error::ServiceError;
use crate::factors;
use crate::mail::Mail;
use crate::services::Services;
use crate::sessions::logout::{reasons, revoke_every_session};
use crate::store::{self, Tx};

/// What `remove_every_factor` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactorsRemoved {
    pub user: Uuid,
    /// Recovery codes deleted, used or not.
    pub recovery_codes: u64,
    /// Sessions ended.
    pub sessions: u64,
}

/// Why the operator's removal changed nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotRemoved {
    /// No account has the address.
    NoSuchUser,
    /// The account has no second factor, confirmed or pending, and no
    /// recovery code: nothing to remove, no session is ended.
    NoFactor,
}

/// Removes every second factor and recovery code of the account at `email`
/// and ends every session of it, for `actor` (the operator), in one
/// transaction with the audit event `factor_removed` (detail `all`) and the
/// `factor_removed` notice.
pub async fn remove_every_factor(
    svc: &Services,
    email: &Email,
    actor: Actor,
) -> Result<Result<FactorsRemoved, NotRemoved>, ServiceError> {
    let mut conn = svc.store.conn().await?;
    let Some(found) = store::users::find_credentials_by_email(&mut conn, email.as_str()).await?
    else {
        return Ok(Err(NotRemoved::NoSuchUser));
    };
    drop(conn);
    remove_every_factor_of(svc, found.id, actor).await
}

/// [`remove_every_factor`] for the account `user`, by id (the admin API's
/// `DELETE /admin/users/{id}/factors`, with the admin as the actor).
pub async fn remove_every_factor_of(
    svc: &Services,
    user: Uuid,
    actor: Actor,
) -> Result<Result<FactorsRemoved, NotRemoved>, ServiceError> {
    let mut tx = svc.store.begin().await?;
    let removed = remove_every_factor_in(svc, &mut tx, user, actor).await?;
    if let Ok(removed) = &removed {
        tx.commit().await?;
        removed_committed(svc, removed);
    }
    Ok(removed)
}

/// What [`remove_every_factor_of`] does, in `tx` (which takes the lock of
/// `user`, or holds it already: the admin API checks the account's roles
/// under it first). Nothing is to be committed unless it returns `Ok`;
/// once it is, [`removed_committed`] wakes the mailer, counts and logs.
pub(crate) async fn remove_every_factor_in(
    svc: &Services,
    tx: &mut Tx<'_>,
    user: Uuid,
    actor: Actor,
) -> Result<Result<FactorsRemoved, NotRemoved>, ServiceError> {
    let now = svc.now();
    if store::users::lock(&mut *tx, user).await?.is_none() {
        return Ok(Err(NotRemoved::NoSuchUser));
    }
    let totp = store::factors::delete_totp(&mut *tx, user).await?;
    let recovery_codes = store::factors::delete_recovery_codes(&mut *tx, user).await?;
    let passkeys = store::passkeys::delete_all(&mut *tx, user).await?;
    if !totp && recovery_codes == 0 && passkeys == 0 {
        return Ok(Err(NotRemoved::NoFactor));
    }
    let reason = reasons::FACTORS_REMOVED;
    let sessions = revoke_every_session(svc, tx, user, reason, now).await?;
    let event = AuditEvent::new(
        AuditKind::FactorRemoved,
        Some(user),
        None,
        &RequestMeta::default(),
        now,
    )
    .with_actor(actor)
    .with_detail("all");
    audit::record(&mut *tx, &event).await?;
    let removed = Mail::FactorRemoved {
        factor: "every second factor",
        at: now,
    };
    factors::notify(svc, tx, user, &removed).await?;
    Ok(Ok(FactorsRemoved {
        user,
        recovery_codes,
        sessions,
    }))
}

/// The mailer woken, the metrics and the log line of a committed
/// [`remove_every_factor_in`].
pub(crate) fn removed_committed(svc: &Services, removed: &FactorsRemoved) {
    svc.mail.wake();
    svc.metrics
        .revoked(reasons::FACTORS_REMOVED, removed.sessions);
    tracing::info!(user = %removed.user, sessions = removed.sessions, "every second factor removed by an operator");
}
