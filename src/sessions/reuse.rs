//! Reuse: a rotated-away refresh token presented again (at refresh, logout or
//! OAuth revocation) is taken as theft, and every session of the user ends.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::Session;
use crate::audit::{self, AuditEvent, AuditKind, RequestMeta};
use crate::services::Services;
use crate::store::{StoreError, Tx};

/// Why sessions end this way; stored with them.
pub const REASON: &str = "reuse_detected";

/// Revokes every session of `session`'s user (with the one user revocation
/// that tells the feed, see `logout::revoke_every_session`) and records the
/// detection, in
/// `tx`, which must hold the user's lock (`store::users::lock`) and have read
/// `session` under it: the verdict, the revocation and the audit event commit
/// as one. Returns how many sessions were revoked. The caller tells the
/// clients the user signed in to (`oidc::backchannel`), in `tx`.
pub async fn revoke_every_session(
    tx: &mut Tx<'_>,
    session: &Session,
    presented: i64,
    presented_at: &str,
    meta: &RequestMeta,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let revoked = super::logout::revoke_untold(tx, session.user_id, REASON, now).await?;
    let event = AuditEvent::new(
        AuditKind::RefreshReuseDetected,
        Some(session.user_id),
        Some(session.id),
        meta,
        now,
    )
    .with_detail(format!(
        "token {presented} presented at {presented_at}, current {}",
        session.counter
    ));
    audit::record(tx, &event).await?;
    Ok(revoked)
}

/// Logs and counts a detected reuse, once its transaction has committed.
pub fn detected(svc: &Services, user: Uuid, session: Uuid, revoked: u64, presented_at: &str) {
    tracing::warn!(user = %user, session = %session, revoked, presented_at, "refresh token reuse: every session of the user revoked");
    svc.metrics
        .refreshes
        .with_label_values(&["reuse_detected"])
        .inc();
    svc.metrics.revoked(REASON, revoked);
}
