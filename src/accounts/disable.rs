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
use crate::store::{self, AsDb};

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
    let now = svc.now();
    let mut tx = svc.store.begin().await?;
    if store::users::lock(&mut tx, user).await?.is_none() {
        return Ok(None);
    }
    if let Some(since) = store::users::disabled_at(&mut tx, user).await? {
        return Ok(Some(Disabled::Already(since)));
    }
    store::users::set_disabled_at(&mut tx, user, Some(now), now).await?;
    let reason = reasons::USER_DISABLED;
    let sessions = revoke_every_session(svc, &mut tx, user, reason, now).await?;
    let event = AuditEvent::new(
        AuditKind::UserDisabled,
        Some(user),
        None,
        &RequestMeta::default(),
        now,
    )
    .with_actor(actor);
    audit::record(&mut tx, &event).await?;
    tx.commit().await?;
    svc.metrics.revoked(reason, sessions);
    tracing::info!(user = %user, sessions, "account disabled");
    Ok(Some(Disabled::Now { sessions }))
}

/// Enables account `user` again for `actor`, audited. `Ok(None)`: no such
/// account; `Ok(Some(false))`: it was not disabled (nothing changed).
pub async fn enable(
    svc: &Services,
    user: Uuid,
    actor: Actor,
) -> Result<Option<bool>, ServiceError> {
    let now = svc.now();
    let mut tx = svc.store.begin().await?;
    if store::users::lock(&mut tx, user).await?.is_none() {
        return Ok(None);
    }
    if store::users::disabled_at(&mut tx, user).await?.is_none() {
        return Ok(Some(false));
    }
    store::users::set_disabled_at(&mut tx, user, None, now).await?;
    let event = AuditEvent::new(
        AuditKind::UserEnabled,
        Some(user),
        None,
        &RequestMeta::default(),
        now,
    )
    .with_actor(actor);
    audit::record(&mut tx, &event).await?;
    tx.commit().await?;
    tracing::info!(user = %user, "account enabled");
    Ok(Some(true))
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
