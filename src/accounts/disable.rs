//! Disabling and enabling an account, by an operator (`authd users disable`,
//! `enable`; later the admin API, with its own actor).
//!
//! Disabling sets `users.disabled_at` and ends every session of the user at
//! once through the user revocation (`sessions::logout::revoke_every_session`),
//! so the revocation feed lists it and every refresh is refused from then
//! on, in one transaction with the audit event `user_disabled` naming the
//! actor. A disabled account signs in nowhere: every sign-in passes through
//! `accounts::sign_in`, which refuses it with [`ServiceError::AccountDisabled`]
//! after the flow's own proof was found right (a wrong password stays
//! `invalid_credentials`, so the refusal tells nothing to whoever does not
//! know the password); the authorization code grant refuses a code issued
//! before the account was disabled. Enabling clears the column; the sessions
//! stay ended.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::audit::{self, Actor, AuditEvent, AuditKind, RequestMeta};
use crate::error::ServiceError;
use crate::services::Services;
use crate::sessions::logout::{reasons, revoke_every_session};
use crate::store::{self, AsDb, Tx};

/// What [`disable`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disabled {
    /// Disabled now; this many sessions ended.
    Now { sessions: u64 },
    /// It was already disabled, since then: nothing changed.
    Already(DateTime<Utc>),
}

/// Disables account `user` for `actor`: the column set, every session ended
/// as one user revocation, audited, in one transaction. `Ok(None)`: no such
/// account.
pub async fn disable(
    svc: &Services,
    user: Uuid,
    actor: Actor,
) -> Result<Option<Disabled>, ServiceError> {
    let mut tx = svc.store.begin().await?;
    if store::users::lock(&mut tx, user).await?.is_none() {
        return Ok(None);
    }
    let done = disable_locked(svc, &mut tx, user, actor).await?;
    tx.commit().await?;
    disable_committed(svc, user, done);
    Ok(Some(done))
}

/// What [`disable`] does in `tx`, which holds the lock of `user`
/// (`store::users::lock`), for a caller that checks something of the
/// account under that lock first (the admin API: `admin::status`). Once
/// `tx` commits, [`disable_committed`] counts and logs it.
pub(crate) async fn disable_locked(
    svc: &Services,
    tx: &mut Tx<'_>,
    user: Uuid,
    actor: Actor,
) -> Result<Disabled, ServiceError> {
    let now = svc.now();
    if let Some(since) = store::users::disabled_at(&mut *tx, user).await? {
        return Ok(Disabled::Already(since));
    }
    store::users::set_disabled_at(&mut *tx, user, Some(now), now).await?;
    let sessions = revoke_every_session(svc, tx, user, reasons::USER_DISABLED, now).await?;
    let event = AuditEvent::new(
        AuditKind::UserDisabled,
        Some(user),
        None,
        &RequestMeta::default(),
        now,
    )
    .with_actor(actor);
    audit::record(&mut *tx, &event).await?;
    Ok(Disabled::Now { sessions })
}

/// The metrics and the log line of a committed [`disable_locked`].
pub(crate) fn disable_committed(svc: &Services, user: Uuid, done: Disabled) {
    if let Disabled::Now { sessions } = done {
        svc.metrics.revoked(reasons::USER_DISABLED, sessions);
        tracing::info!(user = %user, sessions, "account disabled");
    }
}

/// Enables account `user` again for `actor`, audited. `Ok(None)`: no such
/// account; `Ok(Some(false))`: it was not disabled (nothing changed).
pub async fn enable(
    svc: &Services,
    user: Uuid,
    actor: Actor,
) -> Result<Option<bool>, ServiceError> {
    let mut tx = svc.store.begin().await?;
    if store::users::lock(&mut tx, user).await?.is_none() {
        return Ok(None);
    }
    let enabled = enable_locked(svc, &mut tx, user, actor).await?;
    tx.commit().await?;
    if enabled {
        tracing::info!(user = %user, "account enabled");
    }
    Ok(Some(enabled))
}

/// What [`enable`] does in `tx`, which holds the lock of `user`; `false`:
/// it was not disabled (nothing changed).
pub(crate) async fn enable_locked(
    svc: &Services,
    tx: &mut Tx<'_>,
    user: Uuid,
    actor: Actor,
) -> Result<bool, ServiceError> {
    let now = svc.now();
    if store::users::disabled_at(&mut *tx, user).await?.is_none() {
        return Ok(false);
    }
    store::users::set_disabled_at(&mut *tx, user, None, now).await?;
    let event = AuditEvent::new(
        AuditKind::UserEnabled,
        Some(user),
        None,
        &RequestMeta::default(),
        now,
    )
    .with_actor(actor);
    audit::record(&mut *tx, &event).await?;
    Ok(true)
}

/// Refuses a sign-in of `user` with `AccountDisabled` when the account is
/// disabled. Called in the sign-in's transaction, after the user's row lock
/// (which `disable` takes too): a sign-in and a disabling are ordered, and
/// a session started first is ended by the disabling.
pub(crate) async fn refuse_if_disabled(db: &mut impl AsDb, user: Uuid) -> Result<(), ServiceError> {
    match store::users::disabled_at(db, user).await? {
        Some(_) => Err(ServiceError::AccountDisabled),
        None => Ok(()),
    }
}
