//! The `login_throttle` table: failed-login counters per account and client,
//! per account and per client IP, shared by every instance. The policy is in `crate::throttle`.

use chrono::{DateTime, Utc};

use super::{AsDb, StoreError, on_db};

/// The latest `blocked_until` still ahead of `now` among `keys`.
#[tracing::instrument(skip_all)]
pub async fn blocked_until(
    db: &mut impl AsDb,
    keys: [&str; 3],
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    const SQL: &str =
        "SELECT blocked_until FROM login_throttle WHERE key IN ($1, $2, $3) AND blocked_until > $4";
    let rows: Vec<(DateTime<Utc>,)> = on_db!(db, |c| sqlx::query_as(SQL)
        .bind(keys[0])
        .bind(keys[1])
        .bind(keys[2])
        .bind(now)
        .fetch_all(c)
        .await)?;
    Ok(rows.into_iter().map(|(t,)| t).max())
}

/// Counts one more attempt against `key` in one atomic upsert; a count whose
/// last attempt was before `quiet_since` starts again. Returns the count and
/// the key's `blocked_until` as the row stood when it was counted (on
/// PostgreSQL the upsert waits for a concurrent writer of the row and sees
/// what it committed).
#[tracing::instrument(skip_all)]
pub async fn count_attempt(
    db: &mut impl AsDb,
    key: &str,
    now: DateTime<Utc>,
    quiet_since: DateTime<Utc>,
) -> Result<(i64, Option<DateTime<Utc>>), StoreError> {
    const SQL: &str = "INSERT INTO login_throttle (key, last_failure_at, failures) VALUES ($1, $2, 1) \
         ON CONFLICT (key) DO UPDATE SET \
         failures = CASE WHEN login_throttle.last_failure_at <= $3 THEN 1 ELSE login_throttle.failures + 1 END, \
         last_failure_at = $2 \
         RETURNING failures, blocked_until";
    Ok(on_db!(db, |c| sqlx::query_as(SQL)
        .bind(key)
        .bind(now)
        .bind(quiet_since)
        .fetch_one(c)
        .await)?)
}

/// Gives back one counted attempt (refused, unchecked, or right).
#[tracing::instrument(skip_all)]
pub async fn release(db: &mut impl AsDb, key: &str) -> Result<(), StoreError> {
    const SQL: &str =
        "UPDATE login_throttle SET failures = failures - 1 WHERE key = $1 AND failures > 0";
    on_db!(db, |c| sqlx::query(SQL)
        .bind(key)
        .execute(c)
        .await
        .map(|_| ()))?;
    Ok(())
}

/// Lifts a key's lockout.
#[tracing::instrument(skip_all)]
pub async fn unblock(db: &mut impl AsDb, key: &str) -> Result<(), StoreError> {
    const SQL: &str = "UPDATE login_throttle SET blocked_until = NULL WHERE key = $1";
    on_db!(db, |c| sqlx::query(SQL)
        .bind(key)
        .execute(c)
        .await
        .map(|_| ()))?;
    Ok(())
}

#[tracing::instrument(skip_all)]
pub async fn block(db: &mut impl AsDb, key: &str, until: DateTime<Utc>) -> Result<(), StoreError> {
    const SQL: &str = "UPDATE login_throttle SET blocked_until = $2 WHERE key = $1";
    on_db!(db, |c| sqlx::query(SQL)
        .bind(key)
        .bind(until)
        .execute(c)
        .await
        .map(|_| ()))?;
    Ok(())
}

/// Forgets a key's failures (after a successful login).
#[tracing::instrument(skip_all)]
pub async fn clear(db: &mut impl AsDb, key: &str) -> Result<(), StoreError> {
    const SQL: &str = "DELETE FROM login_throttle WHERE key = $1";
    on_db!(db, |c| sqlx::query(SQL)
        .bind(key)
        .execute(c)
        .await
        .map(|_| ()))?;
    Ok(())
}

/// Deletes at most `batch` counters whose window and block are over.
#[tracing::instrument(skip_all)]
pub async fn purge(
    db: &mut impl AsDb,
    quiet_since: DateTime<Utc>,
    now: DateTime<Utc>,
    batch: i64,
) -> Result<u64, StoreError> {
    const SQL: &str = "DELETE FROM login_throttle WHERE key IN (SELECT key FROM login_throttle \
         WHERE last_failure_at < $1 AND (blocked_until IS NULL OR blocked_until < $2) LIMIT $3)";
    Ok(on_db!(db, |c| sqlx::query(SQL)
        .bind(quiet_since)
        .bind(now)
        .bind(batch)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?)
}
