//! The admin API on a user's sessions: the list of the live ones (`GET
//! /admin/users/{id}/sessions`, the keyset pages of `sessions::list`) and
//! ending every one of them (`POST /admin/users/{id}/sessions/revoke`).

use uuid::Uuid;

use super::{Admin, AdminError};
use crate::audit::{self, AuditEvent, AuditKind, RequestMeta};
use crate::services::Services;
use crate::sessions::Session;
use crate::sessions::list::{self, PageCursor};
use crate::sessions::logout::{reasons, revoke_every_session};
use crate::store;

/// A page of a user's live sessions, newest first.
pub struct SessionPage {
    pub sessions: Vec<Session>,
    /// The cursor of the next page; present exactly when more follow.
    pub next_cursor: Option<String>,
}

/// A page of the live sessions of `user`: `limit` 1 to
/// `sessions::list::MAX_PAGE` (refused outside, never clamped), from the
/// `next_cursor` of the previous page. An unknown user is `NoSuchUser`.
pub async fn list_live(
    svc: &Services,
    user: Uuid,
    cursor: Option<&str>,
    limit: Option<i64>,
) -> Result<SessionPage, AdminError> {
    let limit = limit.unwrap_or(list::DEFAULT_PAGE);
    if !(1..=list::MAX_PAGE).contains(&limit) {
        return Err(AdminError::InvalidQuery(format!(
            "limit must be 1 to {}; page with the cursor",
            list::MAX_PAGE
        )));
    }
    let after =
        match cursor {
            Some(text) => Some(PageCursor::parse(text).ok_or_else(|| {
                AdminError::InvalidQuery("cursor is not one this API gave".into())
            })?),
            None => None,
        };
    let mut conn = svc.store.conn().await?;
    if store::users::find(&mut conn, user).await?.is_none() {
        return Err(AdminError::NoSuchUser);
    }
    drop(conn);
    let page = list::page(svc, user, after, limit).await?;
    Ok(SessionPage {
        sessions: page.sessions,
        next_cursor: page.next.map(|c| c.encode()),
    })
}

/// Ends every session of `user` for `admin`, as the user's own global
/// logout does: one transaction holding the user's lock (an account holding
/// a permission `admin` lacks: `Forbidden`, `update::begin_act_on`), one user
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
    // An account holding a permission `admin` lacks: `Forbidden`.
    let mut tx = super::update::begin_act_on(svc, admin, user).await?;
    let ended = revoke_every_session(svc, &mut tx, user, reason, now).await?;
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
