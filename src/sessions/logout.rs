//! Ending sessions on request: one session (logout, `DELETE /auth/sessions/{id}`,
//! OAuth revocation), every session of the user, or every other one.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::rotate::Holder;
use super::{Decision, decide, feed, reuse};
use crate::audit::{self, AuditEvent, AuditKind, RequestMeta};
use crate::ids::{SessionId, UserId};
use crate::oidc::backchannel::{self, Ended};
use crate::services::Services;
use crate::store::user_revocations::UserRevocation;
use crate::store::{self, StoreError, Tx};
use crate::tokens::refresh::RefreshClaims;

/// Why sessions end; stored with them.
pub mod reasons {
    pub const LOGOUT: &str = "logout";
    pub const LOGOUT_GLOBAL: &str = "logout_global";
    pub const LOGOUT_OTHERS: &str = "logout_others";
    pub const REVOKED_BY_USER: &str = "revoked_by_user";
    pub const PASSWORD_CHANGED: &str = "password_changed";
    /// Every session, at a password reset by an emailed link or code.
    pub const PASSWORD_RESET: &str = "password_reset";
    /// The oldest live session, at a login beyond `refresh.max_sessions_per_user`.
    pub const SESSION_LIMIT: &str = "session_limit";
    /// A code sign-in or a verification link proved an address nobody had
    /// proven: the sessions of whoever registered it without proving it end
    /// (`accounts::proof`).
    pub const UNPROVEN_REGISTRATION: &str = "unproven_registration";
    /// An email change was confirmed: the new address's first proof ends
    /// every session begun before it (`accounts::proof`).
    pub const EMAIL_CHANGED: &str = "email_changed";
    /// A client family, when the authorization code it was made from is
    /// presented again (`oauth::codes::redeem`).
    pub const CODE_REUSED: &str = "code_reused";
    /// The user revoked an app's grant (`DELETE /auth/grants/{client_id}`):
    /// that client's families end.
    pub const GRANT_REVOKED: &str = "grant_revoked";
    /// RP-initiated logout (`/oauth/logout`): the browser session and every
    /// session signed in through it end.
    pub const END_SESSION: &str = "end_session";
    /// An operator removed every second factor of the user
    /// (`authd users remove-factors`).
    pub const FACTORS_REMOVED: &str = "factors_removed";
    /// An admin ended every session of the user (the admin API).
    pub const ADMIN_REVOKED: &str = "admin_revoked";
    /// The account was disabled (`accounts::disable`).
    pub const USER_DISABLED: &str = "user_disabled";
    /// The account was erased by an admin (`admin::erase`).
    pub const USER_DELETED: &str = "user_deleted";
    pub use crate::sessions::reuse::REASON as REUSE_DETECTED;
}

/// Which sessions `end_all` ends (a logout of one session is `end_one`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every session of the user.
    Global,
    /// Every session of the user but the current one.
    Others,
}

/// Ends session `session` of `user` if it is live, recording `kind` in the
/// same transaction; false if there was nothing to end.
pub async fn end_one(
    svc: &Services,
    session: SessionId,
    user: UserId,
    kind: AuditKind,
    reason: &str,
    meta: &RequestMeta,
) -> Result<bool, StoreError> {
    end_one_telling(
        svc,
        session,
        user,
        kind,
        reason,
        meta,
        Ended::BrowserSession(session.0),
    )
    .await
}

/// [`end_one`], telling the clients `tell` names (`oidc::backchannel`) in
/// the same transaction: a family ended as a code's reuse tells its client.
pub async fn end_one_telling(
    svc: &Services,
    session: SessionId,
    user: UserId,
    kind: AuditKind,
    reason: &str,
    meta: &RequestMeta,
    tell: Ended<'_>,
) -> Result<bool, StoreError> {
    let (SessionId(session), UserId(user)) = (session, user);
    let now = svc.now();
    let mut tx = svc.store.begin().await?;
    if !store::sessions::revoke(&mut tx, session, user, reason, now).await? {
        return Ok(false);
    }
    backchannel::ended(svc, &mut tx, tell).await?;
    let event = AuditEvent::new(kind, Some(user), Some(session), meta, now);
    audit::record(&mut tx, &event).await?;
    tx.commit().await?;
    tracing::info!(user = %user, session = %session, reason, "session ended");
    svc.metrics.revoked(reason, 1);
    Ok(true)
}

/// Ends every session of `user` (`Global`) or every one but `current`
/// (`Others`), with the audit event, in one transaction; returns how many.
pub async fn end_all(
    svc: &Services,
    user: UserId,
    current: SessionId,
    scope: Scope,
    meta: &RequestMeta,
) -> Result<u64, StoreError> {
    let (UserId(user), SessionId(current)) = (user, current);
    let (keep, reason) = match scope {
        Scope::Others => (Some(current), reasons::LOGOUT_OTHERS),
        Scope::Global => (None, reasons::LOGOUT_GLOBAL),
    };
    let now = svc.now();
    let mut tx = svc.store.begin().await?;
    store::users::lock(&mut tx, user).await?;
    let revoked = match keep {
        None => revoke_every_session(svc, &mut tx, user, reason, now).await?,
        Some(keep) => {
            let keep = Some(keep);
            backchannel::ended(svc, &mut tx, Ended::User { user, keep }).await?;
            store::sessions::revoke_all_of_user(&mut tx, user, keep, reason, now, false).await?
        }
    };
    let event = AuditEvent::new(AuditKind::Logout, Some(user), Some(current), meta, now)
        .with_detail(reason);
    audit::record(&mut tx, &event).await?;
    tx.commit().await?;
    tracing::info!(user = %user, revoked, ?scope, "logout");
    svc.metrics.revoked(reason, revoked);
    Ok(revoked)
}

/// Revokes every session of `user`, in `tx`, which must hold the user's lock
/// (`store::users::lock`), and writes the one user revocation that covers
/// them all, so the revocation feed lists one entry however many sessions
/// end (the argument is in `sessions::feed`). Returns how many were revoked.
/// A global logout and a password reset (`accounts::reset`) end sessions this way.
/// Every client the user signed in to is told (`oidc::backchannel`).
pub async fn revoke_every_session(
    svc: &Services,
    tx: &mut Tx<'_>,
    user: Uuid,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    backchannel::ended(svc, tx, Ended::User { user, keep: None }).await?;
    revoke_untold(tx, user, reason, now).await
}

/// [`revoke_every_session`] without telling the clients: for a caller that
/// tells them itself, or has no one to tell.
pub(super) async fn revoke_untold(
    tx: &mut Tx<'_>,
    user: Uuid,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let latest = store::sessions::latest_start(tx, user).await?;
    let revoked = store::sessions::revoke_all_of_user(tx, user, None, reason, now, true).await?;
    if revoked > 0 {
        let revocation = UserRevocation {
            id: Uuid::new_v4(),
            user_id: user,
            started_before: feed::started_before(now, latest),
            revoked_at: now,
        };
        store::user_revocations::insert(tx, &revocation).await?;
    }
    Ok(revoked)
}

/// Ends every live family of `user` made for `client`, in `tx`; returns the
/// ids ended. They are revoked one by one (no user revocation covers them),
/// so the revocation feed lists each.
pub async fn end_client_families(
    tx: &mut Tx<'_>,
    user: Uuid,
    client: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Vec<Uuid>, StoreError> {
    store::sessions::revoke_client_families(tx, user, client, reason, now).await
}

/// Ends browser session `browser` of `user` and every session signed in
/// through it (the client families whose `browser_session_id` it is), with
/// one `logout` audit event naming `client` (the app that asked, if known),
/// in one transaction. First-party sessions (`/auth/login`) and families
/// signed in through another browser are left alone. Returns how many
/// sessions ended, the browser session included.
pub async fn end_browser_session(
    svc: &Services,
    browser: SessionId,
    user: UserId,
    client: Option<&str>,
    meta: &RequestMeta,
) -> Result<u64, StoreError> {
    let (SessionId(browser), UserId(user)) = (browser, user);
    let now = svc.now();
    let reason = reasons::END_SESSION;
    let mut tx = svc.store.begin().await?;
    let own = store::sessions::revoke(&mut tx, browser, user, reason, now).await?;
    let through =
        store::sessions::revoke_signed_in_through(&mut tx, user, browser, reason, now).await?;
    backchannel::ended(svc, &mut tx, Ended::BrowserSession(browser)).await?;
    let ended = u64::from(own) + through.len() as u64;
    let mut event = AuditEvent::new(AuditKind::Logout, Some(user), Some(browser), meta, now)
        .with_detail(reason);
    if let Some(client) = client {
        event = event.with_client(client);
    }
    audit::record(&mut tx, &event).await?;
    tx.commit().await?;
    tracing::info!(user = %user, browser = %browser, ended, "browser session ended");
    svc.metrics.revoked(reason, ended);
    Ok(ended)
}

/// Logs out the session of a refresh token presented by `holder`. Only its
/// current token, or its predecessor inside the grace window, may do so; an
/// older token is reuse, as on `/auth/refresh`, and ends every session of the
/// user. Invalid, expired or already revoked tokens, and a session `holder`
/// does not hold (a client family at `/auth/logout`), end nothing.
pub async fn end_by_refresh_token(
    svc: &Services,
    claims: RefreshClaims,
    holder: Holder<'_>,
    presented_at: &str,
    meta: &RequestMeta,
) -> Result<(), StoreError> {
    let now = svc.now();
    let mut conn = svc.store.conn().await?;
    let Some(seen) = store::sessions::find(&mut conn, claims.session).await? else {
        return Ok(());
    };
    drop(conn);
    if !holder.holds(&seen) {
        tracing::info!(session = %seen.id, presented_at, "a session the presenter does not hold: nothing ends");
        return Ok(());
    }
    match decide(&seen, claims.counter, now, &svc.policy) {
        Decision::Rotate { .. } | Decision::Grace => {
            end_one(
                svc,
                SessionId(seen.id),
                UserId(seen.user_id),
                AuditKind::Logout,
                reasons::LOGOUT,
                meta,
            )
            .await?;
        }
        Decision::Reuse => {
            // Judged again under the locks, with the revocation, as one.
            let mut tx = svc.store.begin().await?;
            store::users::lock(&mut tx, seen.user_id).await?;
            let Some(session) = store::sessions::lock(&mut tx, seen.id).await? else {
                return Ok(());
            };
            if decide(&session, claims.counter, now, &svc.policy) != Decision::Reuse {
                return Ok(());
            }
            let user = session.user_id;
            backchannel::ended(svc, &mut tx, Ended::User { user, keep: None }).await?;
            let revoked = reuse::revoke_every_session(
                &mut tx,
                &session,
                claims.counter,
                presented_at,
                meta,
                now,
            )
            .await?;
            tx.commit().await?;
            reuse::detected(svc, session.user_id, session.id, revoked, presented_at);
        }
        Decision::Expired | Decision::Revoked | Decision::Unknown => {}
    }
    Ok(())
}
