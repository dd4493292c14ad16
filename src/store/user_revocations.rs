//! The `user_revocations` table: one row per revocation of every session of a
//! user at once that ended at least one, written only by
//! `sessions::logout::revoke_every_session` (a global logout, refresh-token
//! reuse, a password reset, the first proof of an address; a password change
//! keeps the current session and writes none). The revocation feed lists each
//! row as one user entry, a new session starts no earlier than the latest
//! `started_before` (`sessions::start`), and the cleanup sweep purges rows
//! older than twice `AccessTokens::max_acceptance`. Why an entry covers
//! exactly the sessions it ended is argued in `crate::sessions::feed`.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{AsDb, StoreError, on_db};

/// The user's sessions that started before `started_before` are revoked.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct UserRevocation {
    pub id: Uuid,
    pub user_id: Uuid,
    /// A whole second: sessions whose start (`auth_time`) is earlier are revoked.
    pub started_before: DateTime<Utc>,
    pub revoked_at: DateTime<Utc>,
}

#[tracing::instrument(skip_all, fields(user = %r.user_id))]
pub async fn insert(db: &mut impl AsDb, r: &UserRevocation) -> Result<(), StoreError> {
    const SQL: &str = "INSERT INTO user_revocations (id, user_id, started_before, revoked_at) \
         VALUES ($1, $2, $3, $4)";
    on_db!(db, |c| sqlx::query(SQL)
        .bind(r.id)
        .bind(r.user_id)
        .bind(r.started_before)
        .bind(r.revoked_at)
        .execute(c)
        .await
        .map(|_| ()))?;
    Ok(())
}

/// The latest `started_before` of the user's stored revocations: a session
/// started now must not start earlier. For a caller holding the user's lock.
#[tracing::instrument(skip_all, fields(user = %user))]
pub async fn latest_started_before(
    db: &mut impl AsDb,
    user: Uuid,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    const SQL: &str = "SELECT started_before FROM user_revocations WHERE user_id = $1 \
         ORDER BY started_before DESC LIMIT 1";
    Ok(on_db!(db, |c| sqlx::query_scalar::<_, DateTime<Utc>>(SQL)
        .bind(user)
        .fetch_optional(c)
        .await)?)
}

/// At most `limit` revocations after `after` (a revocation time, then an id),
/// oldest first.
#[tracing::instrument(skip_all)]
pub async fn list_since(
    db: &mut impl AsDb,
    after: (DateTime<Utc>, Uuid),
    limit: i64,
) -> Result<Vec<UserRevocation>, StoreError> {
    const SQL: &str = "SELECT id, user_id, started_before, revoked_at FROM user_revocations \
         WHERE revoked_at > $1 OR (revoked_at = $1 AND id > $2) \
         ORDER BY revoked_at, id LIMIT $3";
    Ok(on_db!(db, |c| sqlx::query_as::<_, UserRevocation>(SQL)
        .bind(after.0)
        .bind(after.1)
        .bind(limit)
        .fetch_all(c)
        .await)?)
}

/// Deletes at most `batch` revocations made before `before`; returns how many.
#[tracing::instrument(skip_all)]
pub async fn purge(
    db: &mut impl AsDb,
    before: DateTime<Utc>,
    batch: i64,
) -> Result<u64, StoreError> {
    const SQL: &str = "DELETE FROM user_revocations WHERE id IN \
         (SELECT id FROM user_revocations WHERE revoked_at < $1 LIMIT $2)";
    Ok(on_db!(db, |c| sqlx::query(SQL)
        .bind(before)
        .bind(batch)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?)
}
