//! The admin API on an account's ways in: its login lockout cleared (`POST
//! /admin/users/{id}/lockout/clear`), a password-reset link and code sent to
//! its address (`POST /admin/users/{id}/password_reset`), every second
//! factor removed (`DELETE /admin/users/{id}/factors`). Each is audited with
//! the admin as the actor. A reset link or the removal of the factors of an
//! account holding a permission the caller lacks is refused
//! (`update::begin_act_on`, the roles read under the user's lock in the
//! act's own transaction): with a changed address they would hand it over.
//!
//! A lockout (`throttle::login`) is counted under keys derived from the
//! keyed hash of the address: the account-wide count (`account:`), the
//! account with one client (`account-ip:`, a hash of both, so it can be
//! found only with the client's address), and the day's tries of emailed
//! login and reset codes. Clearing clears the account-wide count and the
//! code tries, and the count of the account with the client the admin names
//! (`ip`), if any; other clients' counts of their own failures stay.

use std::net::IpAddr;

use uuid::Uuid;

use super::update::begin_act_on;
use super::{Admin, AdminError};
use crate::accounts::lost_factors::{NotRemoved, remove_every_factor_in, removed_committed};
use crate::accounts::send_reset_in;
use crate::audit::{self, AuditEvent, AuditKind, RequestMeta};
use crate::error::ServiceError;
use crate::services::Services;
use crate::store::{self, AsDb};
use crate::throttle::Keys;

/// Clears the login lockout of the account at `email` in `db`: its
/// account-wide failures, its login- and reset-code tries of the day, and,
/// with `ip`, its failures from that client.
pub(crate) async fn clear_counts(
    svc: &Services,
    db: &mut impl AsDb,
    email: &str,
    ip: Option<IpAddr>,
) -> Result<(), ServiceError> {
    let ip = ip.map(|ip| ip.to_string());
    let keys = Keys::new(&svc.refresh, email, ip.as_deref());
    store::throttle::clear(db, &keys.account).await?;
    if ip.is_some() {
        store::throttle::clear(db, &keys.pair).await?;
    }
    store::code_tries::clear(db, &keys.login_code()).await?;
    store::code_tries::clear(db, &keys.reset_code()).await?;
    Ok(())
}

/// Clears the login lockout of `user` (see the module), audited as
/// `lockout_cleared` (the detail says whether a client's count was).
pub async fn clear_lockout(
    svc: &Services,
    admin: &Admin,
    user: Uuid,
    ip: Option<IpAddr>,
    meta: &RequestMeta,
) -> Result<(), AdminError> {
    let now = svc.now();
    // Clearing an account's lockout lifts the throttle on guessing its
    // password: not for an account more powerful than the caller.
    let mut tx = begin_act_on(svc, admin, user).await?;
    let account = store::users::find(&mut tx, user)
        .await?
        .ok_or(AdminError::NoSuchUser)?;
    clear_counts(svc, &mut tx, &account.email, ip).await?;
    let detail = match ip {
        Some(_) => "account-wide, code tries and one client's",
        None => "account-wide and code tries",
    };
    let event = AuditEvent::new(AuditKind::LockoutCleared, Some(user), None, meta, now)
        .with_actor(admin.actor())
        .with_detail(detail);
    audit::record(&mut tx, &event).await?;
    tx.commit().await?;
    tracing::info!(admin = admin.id(), user = %user, "login lockout cleared by an admin");
    Ok(())
}

/// Sends `user` a password-reset link and code, as a forgot-password request
/// does (`accounts::send_reset_in`: the same token, message, send budget),
/// at once and with no concern for enumeration: an unknown user is
/// `NoSuchUser`. `Ok(false)`: the address's reset budget is spent, nothing
/// was sent.
pub async fn send_password_reset(
    svc: &Services,
    admin: &Admin,
    user: Uuid,
    meta: &RequestMeta,
) -> Result<bool, AdminError> {
    let mut tx = begin_act_on(svc, admin, user).await?;
    match send_reset_in(svc, &mut tx, user, meta, Some(admin.actor())).await? {
        None => Err(AdminError::NoSuchUser),
        Some(false) => Ok(false),
        Some(true) => {
            tx.commit().await?;
            svc.mail.wake();
            tracing::info!(admin = admin.id(), user = %user, "password reset link and code sent by an admin");
            Ok(true)
        }
    }
}

/// Removes every second factor and recovery code of `user`, ending every
/// session (`accounts::lost_factors`, the admin as the actor). The sessions
/// ended; `Ok(None)`: the account had no factor, and nothing changed.
pub async fn remove_factors(
    svc: &Services,
    admin: &Admin,
    user: Uuid,
) -> Result<Option<u64>, AdminError> {
    let mut tx = begin_act_on(svc, admin, user).await?;
    match remove_every_factor_in(svc, &mut tx, user, admin.actor()).await? {
        Ok(removed) => {
            tx.commit().await?;
            removed_committed(svc, &removed);
            Ok(Some(removed.sessions))
        }
        Err(NotRemoved::NoFactor) => Ok(None),
        Err(NotRemoved::NoSuchUser) => Err(AdminError::NoSuchUser),
    }
}
