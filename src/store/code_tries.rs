//! The `code_tries` table: tries of emailed codes per address and kind, in
//! a window of a day, shared by every instance. The policy is in
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
    const SQL: &str = "INSERT INTO code_tries (key, window_start, tries) VALUES ($1, $2, 1) \
         ON CONFLICT (key) DO UPDATE SET \
         tries = CASE WHEN code_tries.window_start <= $3 THEN 1 ELSE code_tries.tries + 1 END, \
         window_start = CASE WHEN code_tries.window_start <= $3 THEN $2 ELSE code_tries.window_start END \
         RETURNING tries, window_start";
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
    const SQL: &str = "DELETE FROM code_tries WHERE key = $1";
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
    const SQL: &str = "DELETE FROM code_tries WHERE key IN (SELECT key FROM code_tries \
         WHERE window_start <= $1 LIMIT $2)";
    Ok(on_db!(db, |c| sqlx::query(SQL)
        .bind(before)
        .bind(batch)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?)
}
