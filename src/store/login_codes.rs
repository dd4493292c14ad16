//! The `login_code_failures` table: tries of emailed login codes per address,
//! in a window of a day, shared by every instance. The policy is in
//! `crate::throttle` (`LoginThrottle::count_code_try`).

use chrono::{DateTime, Utc};

use super::{AsDb, StoreError, on_db};

/// Counts one more try against `key` in one atomic upsert, so concurrent
/// tries cannot share a count; a window that began at or before
/// `window_since` starts again with this try. Returns the count and when its
/// window began.
#[tracing::instrument(skip_all)]
pub async fn count_try(
    db: &mut impl AsDb,
    key: &str,
    now: DateTime<Utc>,
    window_since: DateTime<Utc>,
) -> Result<(i64, DateTime<Utc>), StoreError> {
    const SQL: &str = "INSERT INTO login_code_failures (key, window_start, failures) VALUES ($1, $2, 1) \
         ON CONFLICT (key) DO UPDATE SET \
         failures = CASE WHEN login_code_failures.window_start <= $3 THEN 1 ELSE login_code_failures.failures + 1 END, \
         window_start = CASE WHEN login_code_failures.window_start <= $3 THEN $2 ELSE login_code_failures.window_start END \
         RETURNING failures, window_start";
    Ok(on_db!(db, |c| sqlx::query_as(SQL)
        .bind(key)
        .bind(now)
        .bind(window_since)
        .fetch_one(c)
        .await)?)
}

/// Forgets a key's tries (after a code sign-in).
#[tracing::instrument(skip_all)]
pub async fn clear(db: &mut impl AsDb, key: &str) -> Result<(), StoreError> {
    const SQL: &str = "DELETE FROM login_code_failures WHERE key = $1";
    on_db!(db, |c| sqlx::query(SQL)
        .bind(key)
        .execute(c)
        .await
        .map(|_| ()))?;
    Ok(())
}

/// Deletes at most `batch` counts whose window began at or before `before`.
#[tracing::instrument(skip_all)]
pub async fn purge(
    db: &mut impl AsDb,
    before: DateTime<Utc>,
    batch: i64,
) -> Result<u64, StoreError> {
    const SQL: &str = "DELETE FROM login_code_failures WHERE key IN (SELECT key FROM login_code_failures \
         WHERE window_start <= $1 LIMIT $2)";
    Ok(on_db!(db, |c| sqlx::query(SQL)
        .bind(before)
        .bind(batch)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?)
}
