//! The `mail_outbox` table (messages waiting for delivery, and for a while the
//! record of those sent or given up) and `mail_send_counts` (messages per
//! recipient, kind and client). What is queued, claimed and retried, and
//! when, is decided in `crate::mail`.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{AsDb, Db, StoreError, on_db};

/// A message to queue: who it goes to and its whole RFC 5322 text, sealed
/// together (`mail::seal`), with the id of the ring key and the nonce they
/// were sealed with.
pub struct NewMessage<'a> {
    pub id: Uuid,
    pub kind: &'a str,
    pub user_id: Option<Uuid>,
    pub recipient_hash: &'a str,
    pub sealed_key_id: i32,
    pub sealed_nonce: &'a [u8],
    pub sealed: &'a [u8],
    pub created_at: DateTime<Utc>,
}

/// A message claimed by one sender, until its lease ends.
#[derive(sqlx::FromRow)]
pub struct Claimed {
    pub id: Uuid,
    pub kind: String,
    pub user_id: Option<Uuid>,
    pub recipient_hash: String,
    /// The sealed address and text (`mail::seal`), while they are kept.
    pub sealed_key_id: Option<i32>,
    pub sealed_nonce: Option<Vec<u8>>,
    pub sealed: Option<Vec<u8>>,
    /// The address and text in clear, only in a row queued before the outbox
    /// was sealed (never written since).
    pub recipient: Option<String>,
    pub message: Option<String>,
    /// Attempts so far, this one included.
    pub attempts: i32,
}

/// What the outbox knows about one message (for operators and tests).
#[derive(Clone, sqlx::FromRow)]
pub struct OutboxRecord {
    pub id: Uuid,
    pub kind: String,
    /// `pending`, `sent` or `given_up`.
    pub state: String,
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
    pub next_attempt_at: DateTime<Utc>,
    pub claimed_until: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    /// The sealed address and text, while they are kept (`mail::seal::open_record`
    /// opens them).
    pub sealed_key_id: Option<i32>,
    pub sealed_nonce: Option<Vec<u8>>,
    pub sealed: Option<Vec<u8>>,
}

impl OutboxRecord {
    /// Whether the address and the text are still kept (sealed).
    pub fn holds_text(&self) -> bool {
        self.sealed.is_some()
    }
}

/// The record without its ciphertext's bytes.
impl std::fmt::Debug for OutboxRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxRecord")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("state", &self.state)
            .field("attempts", &self.attempts)
            .field("created_at", &self.created_at)
            .field("next_attempt_at", &self.next_attempt_at)
            .field("claimed_until", &self.claimed_until)
            .field("finished_at", &self.finished_at)
            .field("last_error", &self.last_error)
            .field("sealed_key_id", &self.sealed_key_id)
            .field("sealed_bytes", &self.sealed.as_ref().map(Vec::len))
            .finish()
    }
}

#[tracing::instrument(skip_all, fields(id = %m.id, kind = m.kind))]
pub async fn insert(db: &mut impl AsDb, m: &NewMessage<'_>) -> Result<(), StoreError> {
    const SQL: &str = "INSERT INTO mail_outbox (id, kind, user_id, recipient_hash, sealed_key_id, \
         sealed_nonce, sealed, state, attempts, created_at, next_attempt_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', 0, $8, $8)";
    on_db!(db, |c| sqlx::query(SQL)
        .bind(m.id)
        .bind(m.kind)
        .bind(m.user_id)
        .bind(m.recipient_hash)
        .bind(m.sealed_key_id)
        .bind(m.sealed_nonce)
        .bind(m.sealed)
        .bind(m.created_at)
        .execute(c)
        .await
        .map(|_| ()))?;
    Ok(())
}

/// Claims at most `batch` due messages for `claim` until `until`, counting
/// the attempt, in one statement.
///
/// PostgreSQL: `FOR UPDATE SKIP LOCKED` passes over rows another instance is
/// claiming at this moment instead of waiting for them, and the conditions
/// are checked again on the row as committed, so a row another instance
/// claimed first is left to it. The pick is a `MATERIALIZED` CTE: as an
/// `IN (subquery)` the planner may run it once per row, each run locking the
/// next `batch` rows, and claim far more than `batch`. SQLite: one writer at a
/// time, so the statement alone is the claim.
#[tracing::instrument(skip_all)]
pub async fn claim(
    db: &mut impl AsDb,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
    claim: Uuid,
    batch: i64,
) -> Result<Vec<Claimed>, StoreError> {
    const POSTGRES: &str = "WITH picked AS MATERIALIZED (SELECT id FROM mail_outbox \
         WHERE state = 'pending' AND next_attempt_at <= $1 AND (claimed_until IS NULL OR claimed_until <= $1) \
         ORDER BY next_attempt_at LIMIT $4 FOR UPDATE SKIP LOCKED) \
         UPDATE mail_outbox SET claimed_until = $2, claim = $3, attempts = mail_outbox.attempts + 1 \
         FROM picked WHERE mail_outbox.id = picked.id AND mail_outbox.state = 'pending' \
         AND (mail_outbox.claimed_until IS NULL OR mail_outbox.claimed_until <= $1) \
         RETURNING mail_outbox.id, mail_outbox.kind, mail_outbox.user_id, mail_outbox.recipient_hash, \
         mail_outbox.sealed_key_id, mail_outbox.sealed_nonce, mail_outbox.sealed, \
         mail_outbox.recipient, mail_outbox.message, mail_outbox.attempts";
    const SQLITE: &str = "UPDATE mail_outbox SET claimed_until = $2, claim = $3, attempts = attempts + 1 \
         WHERE state = 'pending' AND next_attempt_at <= $1 AND (claimed_until IS NULL OR claimed_until <= $1) \
         AND id IN (SELECT id FROM mail_outbox WHERE state = 'pending' AND next_attempt_at <= $1 \
         AND (claimed_until IS NULL OR claimed_until <= $1) ORDER BY next_attempt_at LIMIT $4) \
         RETURNING id, kind, user_id, recipient_hash, sealed_key_id, sealed_nonce, sealed, \
         recipient, message, attempts";
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

/// Marks a claimed message sent and deletes its address and text (sealed, or
/// in clear from before sealing). False when the claim was lost (its lease
/// ended and another sender took it).
///
/// An overwrite, not a delete: the row is the record of the message for
/// `email.retention_days` (`purge_finished` deletes it). The bytes it held
/// may linger in old row versions, the WAL or free pages, but they are
/// ciphertext under a key that is not in the database.
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn mark_sent(
    db: &mut impl AsDb,
    id: Uuid,
    claim: Uuid,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    const SQL: &str = "UPDATE mail_outbox SET state = 'sent', finished_at = $3, sealed_key_id = NULL, \
         sealed_nonce = NULL, sealed = NULL, recipient = NULL, message = NULL, claimed_until = NULL, \
         last_error = NULL WHERE id = $1 AND claim = $2";
    Ok(on_db!(db, |c| sqlx::query(SQL)
        .bind(id)
        .bind(claim)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected() == 1))?)
}

/// Gives a claimed message up and deletes its address and text; false when
/// the claim was lost.
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn mark_given_up(
    db: &mut impl AsDb,
    id: Uuid,
    claim: Uuid,
    now: DateTime<Utc>,
    error: &str,
) -> Result<bool, StoreError> {
    const SQL: &str = "UPDATE mail_outbox SET state = 'given_up', finished_at = $3, sealed_key_id = NULL, \
         sealed_nonce = NULL, sealed = NULL, recipient = NULL, message = NULL, claimed_until = NULL, \
         last_error = $4 WHERE id = $1 AND claim = $2";
    Ok(on_db!(db, |c| sqlx::query(SQL)
        .bind(id)
        .bind(claim)
        .bind(now)
        .bind(error)
        .execute(c)
        .await
        .map(|r| r.rows_affected() == 1))?)
}

/// Releases a claimed message to be tried again at `next`.
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn reschedule(
    db: &mut impl AsDb,
    id: Uuid,
    claim: Uuid,
    next: DateTime<Utc>,
    error: &str,
) -> Result<bool, StoreError> {
    const SQL: &str = "UPDATE mail_outbox SET next_attempt_at = $3, claimed_until = NULL, \
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

/// Messages waiting, and how many of them are due at `now`.
#[tracing::instrument(skip_all)]
pub async fn pending(db: &mut impl AsDb, now: DateTime<Utc>) -> Result<(i64, i64), StoreError> {
    const SQL: &str = "SELECT COUNT(*), COALESCE(SUM(CASE WHEN next_attempt_at <= $1 \
         AND (claimed_until IS NULL OR claimed_until <= $1) THEN 1 ELSE 0 END), 0) \
         FROM mail_outbox WHERE state = 'pending'";
    Ok(on_db!(db, |c| sqlx::query_as(SQL)
        .bind(now)
        .fetch_one(c)
        .await)?)
}

/// One message, if it is still kept.
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn find(db: &mut impl AsDb, id: Uuid) -> Result<Option<OutboxRecord>, StoreError> {
    const SQL: &str = "SELECT id, kind, state, attempts, created_at, next_attempt_at, claimed_until, \
         finished_at, last_error, sealed_key_id, sealed_nonce, sealed FROM mail_outbox WHERE id = $1";
    Ok(on_db!(db, |c| sqlx::query_as(SQL)
        .bind(id)
        .fetch_optional(c)
        .await)?)
}

/// Deletes at most `batch` messages sent or given up before `before`.
#[tracing::instrument(skip_all)]
pub async fn purge_finished(
    db: &mut impl AsDb,
    before: DateTime<Utc>,
    batch: i64,
) -> Result<u64, StoreError> {
    const SQL: &str = "DELETE FROM mail_outbox WHERE id IN (SELECT id FROM mail_outbox \
         WHERE finished_at IS NOT NULL AND finished_at < $1 LIMIT $2)";
    Ok(on_db!(db, |c| sqlx::query(SQL)
        .bind(before)
        .bind(batch)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?)
}

/// Counts one message against `key` if it is within `limit`, in one atomic
/// upsert; a window that began at or before `window_since` starts again at
/// `now`. `true` when counted; `false` when the window's count had reached
/// `limit`, and then nothing changes (the `WHERE` of `DO UPDATE` leaves the
/// row as it was and `RETURNING` gives no row, on both databases).
///
/// Concurrency: the upsert locks the row (PostgreSQL) or runs in the one
/// write turn (SQLite) until the caller's transaction ends, so two messages
/// cannot both take the last place.
#[tracing::instrument(skip_all)]
pub async fn count_send_within(
    db: &mut impl AsDb,
    key: &str,
    now: DateTime<Utc>,
    window_since: DateTime<Utc>,
    limit: i64,
) -> Result<bool, StoreError> {
    const SQL: &str = "INSERT INTO mail_send_counts (key, window_start, count) VALUES ($1, $2, 1) \
         ON CONFLICT (key) DO UPDATE SET \
         count = CASE WHEN mail_send_counts.window_start <= $3 THEN 1 ELSE mail_send_counts.count + 1 END, \
         window_start = CASE WHEN mail_send_counts.window_start <= $3 THEN $2 ELSE mail_send_counts.window_start END \
         WHERE mail_send_counts.window_start <= $3 OR mail_send_counts.count < $4 \
         RETURNING count";
    let counted: Option<(i64,)> = on_db!(db, |c| sqlx::query_as(SQL)
        .bind(key)
        .bind(now)
        .bind(window_since)
        .bind(limit)
        .fetch_optional(c)
        .await)?;
    Ok(counted.is_some())
}

/// Takes back one message counted against `key` by [`count_send_within`] in
/// the same transaction (the message was not sent after all).
#[tracing::instrument(skip_all)]
pub async fn uncount_send(db: &mut impl AsDb, key: &str) -> Result<(), StoreError> {
    const SQL: &str = "UPDATE mail_send_counts SET count = count - 1 WHERE key = $1 AND count > 0";
    on_db!(db, |c| sqlx::query(SQL)
        .bind(key)
        .execute(c)
        .await
        .map(|_| ()))?;
    Ok(())
}

/// Deletes at most `batch` send counts whose window began before `before`.
#[tracing::instrument(skip_all)]
pub async fn purge_send_counts(
    db: &mut impl AsDb,
    before: DateTime<Utc>,
    batch: i64,
) -> Result<u64, StoreError> {
    const SQL: &str = "DELETE FROM mail_send_counts WHERE key IN (SELECT key FROM mail_send_counts \
         WHERE window_start < $1 LIMIT $2)";
    Ok(on_db!(db, |c| sqlx::query(SQL)
        .bind(before)
        .bind(batch)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?)
}
