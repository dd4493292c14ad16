//! The `event_deliveries` table: the event outbox (webhook events and
//! back-channel logout tokens waiting for delivery, and for a while the
//! record of those sent or given up). What is queued, claimed and retried,
//! and when, is decided in `crate::events`.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{AsDb, Db, StoreError, on_db};

/// A delivery to queue.
pub struct NewDelivery<'a> {
    pub id: Uuid,
    /// `webhook` or `backchannel_logout`.
    pub kind: &'a str,
    pub endpoint_id: Option<Uuid>,
    pub target_uri: Option<&'a str>,
    pub client_id: Option<&'a str>,
    pub event_type: Option<&'a str>,
    pub order_key: Option<&'a str>,
    pub user_id: Option<Uuid>,
    pub payload: &'a str,
    pub created_at: DateTime<Utc>,
}

/// A delivery claimed by one worker, until its lease ends.
#[derive(Clone, sqlx::FromRow)]
pub struct Claimed {
    pub id: Uuid,
    pub kind: String,
    pub endpoint_id: Option<Uuid>,
    pub target_uri: Option<String>,
    pub client_id: Option<String>,
    pub event_type: Option<String>,
    pub user_id: Option<Uuid>,
    pub payload: Option<String>,
    /// Attempts so far, this one included.
    pub attempts: i32,
}

/// What the outbox knows about one delivery (for operators and tests).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeliveryRecord {
    pub id: Uuid,
    pub kind: String,
    pub endpoint_id: Option<Uuid>,
    pub event_type: Option<String>,
    pub user_id: Option<Uuid>,
    /// `pending`, `sent` or `given_up`.
    pub state: String,
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
    pub next_attempt_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

#[tracing::instrument(skip_all, fields(id = %d.id, kind = d.kind))]
pub async fn insert(db: &mut impl AsDb, d: &NewDelivery<'_>) -> Result<(), StoreError> {
    const SQL: &str = "INSERT INTO event_deliveries (id, kind, endpoint_id, target_uri, client_id, \
         event_type, order_key, user_id, payload, state, attempts, created_at, next_attempt_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', 0, $10, $10)";
    on_db!(db, |c| sqlx::query(SQL)
        .bind(d.id)
        .bind(d.kind)
        .bind(d.endpoint_id)
        .bind(d.target_uri)
        .bind(d.client_id)
        .bind(d.event_type)
        .bind(d.order_key)
        .bind(d.user_id)
        .bind(d.payload)
        .bind(d.created_at)
        .execute(c)
        .await
        .map(|_| ()))?;
    Ok(())
}

/// Claims at most `batch` due deliveries for `claim` until `until`, counting
/// the attempt, in one statement. A delivery with an order key is due only
/// when no earlier delivery (by `seq`) of the same endpoint and order key is
/// still pending, claimed or not: a user's events reach an endpoint in the
/// order they were queued, even across retries and instances.
///
/// PostgreSQL: `FOR UPDATE SKIP LOCKED` and a `MATERIALIZED` pick, as
/// `store::outbox::claim` explains; the conditions are checked again on the
/// row as committed. SQLite: one writer at a time, so the statement alone is
/// the claim.
#[tracing::instrument(skip_all)]
pub async fn claim(
    db: &mut impl AsDb,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
    claim: Uuid,
    batch: i64,
) -> Result<Vec<Claimed>, StoreError> {
    // Both pick with the same condition; `d` is a candidate, `e` an earlier
    // pending delivery of its endpoint and order key.
    const POSTGRES: &str = "WITH picked AS MATERIALIZED (SELECT d.seq FROM event_deliveries d \
         WHERE d.state = 'pending' AND d.next_attempt_at <= $1 \
         AND (d.claimed_until IS NULL OR d.claimed_until <= $1) \
         AND (d.order_key IS NULL OR NOT EXISTS (SELECT 1 FROM event_deliveries e \
         WHERE e.state = 'pending' AND e.endpoint_id = d.endpoint_id \
         AND e.order_key = d.order_key AND e.seq < d.seq)) \
         ORDER BY d.seq LIMIT $4 FOR UPDATE OF d SKIP LOCKED) \
         UPDATE event_deliveries SET claimed_until = $2, claim = $3, \
         attempts = event_deliveries.attempts + 1 \
         FROM picked WHERE event_deliveries.seq = picked.seq \
         AND event_deliveries.state = 'pending' \
         AND (event_deliveries.claimed_until IS NULL OR event_deliveries.claimed_until <= $1) \
         RETURNING event_deliveries.id, event_deliveries.kind, event_deliveries.endpoint_id, \
         event_deliveries.target_uri, event_deliveries.client_id, event_deliveries.event_type, \
         event_deliveries.user_id, event_deliveries.payload, event_deliveries.attempts";
    const SQLITE: &str = "UPDATE event_deliveries SET claimed_until = $2, claim = $3, \
         attempts = attempts + 1 \
         WHERE seq IN (SELECT d.seq FROM event_deliveries d WHERE d.state = 'pending' \
         AND d.next_attempt_at <= $1 AND (d.claimed_until IS NULL OR d.claimed_until <= $1) \
         AND (d.order_key IS NULL OR NOT EXISTS (SELECT 1 FROM event_deliveries e \
         WHERE e.state = 'pending' AND e.endpoint_id = d.endpoint_id \
         AND e.order_key = d.order_key AND e.seq < d.seq)) \
         ORDER BY d.seq LIMIT $4) \
         RETURNING id, kind, endpoint_id, target_uri, client_id, event_type, user_id, payload, \
         attempts";
    let rows = match db.db() {
        Db::Postgres(c) => {
            sqlx::query_as(POSTGRES)
                .bind(now)
                .bind(until)
                .bind(claim)
                .bind(batch)
                .fetch_all(c)
                .await
        }
        Db::Sqlite(c) => {
            sqlx::query_as(SQLITE)
                .bind(now)
                .bind(until)
                .bind(claim)
                .bind(batch)
                .fetch_all(c)
                .await
        }
    }?;
    Ok(rows)
}

/// Settles a claimed delivery as `sent` or `given_up`; a back-channel
/// logout's token is deleted. False when the claim was lost (its lease ended
/// and another worker took it).
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn finish(
    db: &mut impl AsDb,
    id: Uuid,
    claim: Uuid,
    state: &str,
    now: DateTime<Utc>,
    error: Option<&str>,
) -> Result<bool, StoreError> {
    const SQL: &str = "UPDATE event_deliveries SET state = $3, finished_at = $4, \
         claimed_until = NULL, last_error = $5, \
         payload = CASE WHEN kind = 'backchannel_logout' THEN NULL ELSE payload END \
         WHERE id = $1 AND claim = $2 AND state = 'pending'";
    Ok(on_db!(db, |c| sqlx::query(SQL)
        .bind(id)
        .bind(claim)
        .bind(state)
        .bind(now)
        .bind(error)
        .execute(c)
        .await
        .map(|r| r.rows_affected() == 1))?)
}

/// Releases a claimed delivery to be tried again at `next`.
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn reschedule(
    db: &mut impl AsDb,
    id: Uuid,
    claim: Uuid,
    next: DateTime<Utc>,
    error: &str,
) -> Result<bool, StoreError> {
    const SQL: &str = "UPDATE event_deliveries SET next_attempt_at = $3, claimed_until = NULL, \
         last_error = $4 WHERE id = $1 AND claim = $2 AND state = 'pending'";
    Ok(on_db!(db, |c| sqlx::query(SQL)
        .bind(id)
        .bind(claim)
        .bind(next)
        .bind(error)
        .execute(c)
        .await
        .map(|r| r.rows_affected() == 1))?)
}

/// Deliveries waiting, and how many of them are due at `now` (not counting
/// order: a due delivery behind an earlier one still counts).
#[tracing::instrument(skip_all)]
pub async fn pending(db: &mut impl AsDb, now: DateTime<Utc>) -> Result<(i64, i64), StoreError> {
    const SQL: &str = "SELECT COUNT(*), COALESCE(SUM(CASE WHEN next_attempt_at <= $1 \
         AND (claimed_until IS NULL OR claimed_until <= $1) THEN 1 ELSE 0 END), 0) \
         FROM event_deliveries WHERE state = 'pending'";
    Ok(on_db!(db, |c| sqlx::query_as(SQL)
        .bind(now)
        .fetch_one(c)
        .await)?)
}

/// Every delivery still kept, oldest first (for operators and tests).
#[tracing::instrument(skip_all)]
pub async fn list(db: &mut impl AsDb, limit: i64) -> Result<Vec<DeliveryRecord>, StoreError> {
    const SQL: &str = "SELECT id, kind, endpoint_id, event_type, user_id, state, attempts, \
         created_at, next_attempt_at, finished_at, last_error FROM event_deliveries \
         ORDER BY seq LIMIT $1";
    Ok(on_db!(db, |c| sqlx::query_as(SQL)
        .bind(limit)
        .fetch_all(c)
        .await)?)
}

/// Deletes at most `batch` deliveries sent or given up before `before`.
#[tracing::instrument(skip_all)]
pub async fn purge_finished(
    db: &mut impl AsDb,
    before: DateTime<Utc>,
    batch: i64,
) -> Result<u64, StoreError> {
    const SQL: &str = "DELETE FROM event_deliveries WHERE seq IN (SELECT seq FROM event_deliveries \
         WHERE finished_at IS NOT NULL AND finished_at < $1 LIMIT $2)";
    Ok(on_db!(db, |c| sqlx::query(SQL)
        .bind(before)
        .bind(batch)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?)
}
