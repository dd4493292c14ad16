//! The `audit_events` table. What is recorded, and when, is decided in
//! `crate::audit`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::{AsDb, StoreError, on_db};
use crate::audit::AuditEvent;

/// A stored audit event.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct AuditRecord {
    /// What happened, such as `login_failed` or `session_revoked`.
    pub kind: String,
    pub session_id: Option<Uuid>,
    /// Who did it: `user:<uuid>` for the user themselves, `operator:cli`
    /// for an operator's command, `admin:<client_id>` for a caller of the
    /// admin API; none for attempts anyone could make, authd's own reactions,
    /// and events recorded before actors were.
    pub actor: Option<String>,
    /// The OAuth client the event concerns, if any.
    pub client_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub detail: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[tracing::instrument(skip_all, fields(kind = event.kind.as_str()))]
pub async fn insert(db: &mut impl AsDb, event: &AuditEvent) -> Result<(), StoreError> {
    const SQL: &str = "INSERT INTO audit_events (user_id, kind, session_id, actor, client_id, ip, user_agent, detail, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
    let actor = event.actor.as_ref().map(|a| a.to_text());
    on_db!(db, |c| sqlx::query(SQL)
        .bind(event.user_id)
        .bind(event.kind.as_str())
        .bind(event.session_id)
        .bind(actor.as_deref())
        .bind(event.client_id.as_deref())
        .bind(event.meta.ip.as_deref())
        .bind(event.meta.user_agent.as_deref())
        .bind(event.detail.as_deref())
        .bind(event.at)
        .execute(c)
        .await
        .map(|_| ()))?;
    Ok(())
}

/// The user's newest `limit` events, newest first.
#[tracing::instrument(skip_all, fields(user = %user))]
pub async fn list_of_user(
    db: &mut impl AsDb,
    user: Uuid,
    limit: i64,
) -> Result<Vec<AuditRecord>, StoreError> {
    const SQL: &str = "SELECT kind, session_id, actor, client_id, ip, user_agent, detail, created_at FROM audit_events \
         WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2";
    Ok(on_db!(db, |c| sqlx::query_as::<_, AuditRecord>(SQL)
        .bind(user)
        .bind(limit)
        .fetch_all(c)
        .await)?)
}

/// The newest `limit` events about client `id` (its registration and
/// changes), newest first. No index backs it: for an operator's rare look
/// and for tests, never a request path.
#[tracing::instrument(skip_all)]
pub async fn list_of_client(
    db: &mut impl AsDb,
    id: &str,
    limit: i64,
) -> Result<Vec<AuditRecord>, StoreError> {
    const SQL: &str = "SELECT kind, session_id, actor, client_id, ip, user_agent, detail, created_at FROM audit_events \
         WHERE client_id = $1 AND user_id IS NULL ORDER BY created_at DESC, id DESC LIMIT $2";
    Ok(on_db!(db, |c| sqlx::query_as::<_, AuditRecord>(SQL)
        .bind(id)
        .bind(limit)
        .fetch_all(c)
        .await)?)
}

/// The newest `limit` events of `kind` about no user (an operator's acts on
/// webhook endpoints, say), newest first. No index backs it: for an
/// operator's rare look and for tests, never a request path.
#[tracing::instrument(skip_all, fields(kind = kind))]
pub async fn list_of_kind(
    db: &mut impl AsDb,
    kind: &str,
    limit: i64,
) -> Result<Vec<AuditRecord>, StoreError> {
    const SQL: &str = "SELECT kind, session_id, actor, client_id, ip, user_agent, detail, created_at FROM audit_events \
         WHERE kind = $1 AND user_id IS NULL ORDER BY created_at DESC, id DESC LIMIT $2";
    Ok(on_db!(db, |c| sqlx::query_as::<_, AuditRecord>(SQL)
        .bind(kind)
        .bind(limit)
        .fetch_all(c)
        .await)?)
}

/// A stored audit event with its row id, the tie-breaker of keyset pages.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditRow {
    pub id: i64,
    #[sqlx(flatten)]
    pub record: AuditRecord,
}

/// At most `limit` of the user's events, newest first (by time, then id),
/// from just after `after` (the time and id of the last event of the previous
/// page) or from the newest. The row comparison is a range of
/// `audit_events_user_id_idx` on both databases.
#[tracing::instrument(skip_all, fields(user = %user))]
pub async fn list_of_user_page(
    db: &mut impl AsDb,
    user: Uuid,
    after: Option<(DateTime<Utc>, i64)>,
    limit: i64,
) -> Result<Vec<AuditRow>, StoreError> {
    const FIRST: &str = "SELECT id, kind, session_id, actor, client_id, ip, user_agent, detail, \
         created_at FROM audit_events WHERE user_id = $1 \
         ORDER BY created_at DESC, id DESC LIMIT $2";
    const NEXT: &str = "SELECT id, kind, session_id, actor, client_id, ip, user_agent, detail, \
         created_at FROM audit_events WHERE user_id = $1 AND (created_at, id) < ($3, $4) \
         ORDER BY created_at DESC, id DESC LIMIT $2";
    Ok(match after {
        None => on_db!(db, |c| sqlx::query_as::<_, AuditRow>(FIRST)
            .bind(user)
            .bind(limit)
            .fetch_all(c)
            .await)?,
        Some((at, id)) => on_db!(db, |c| sqlx::query_as::<_, AuditRow>(NEXT)
            .bind(user)
            .bind(limit)
            .bind(at)
            .bind(id)
            .fetch_all(c)
            .await)?,
    })
}

/// Deletes at most `batch` events older than `before`; returns how many.
#[tracing::instrument(skip_all)]
pub async fn purge_older_than(
    db: &mut impl AsDb,
    before: DateTime<Utc>,
    batch: i64,
) -> Result<u64, StoreError> {
    const SQL: &str = "DELETE FROM audit_events WHERE id IN (SELECT id FROM audit_events WHERE created_at < $1 LIMIT $2)";
    Ok(on_db!(db, |c| sqlx::query(SQL)
        .bind(before)
        .bind(batch)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?)
}
