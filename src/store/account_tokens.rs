//! The `account_tokens` table: the links and codes authd emails, stored as
//! hashes. What a token may do, and when it is spent, is decided in
//! `crate::accounts::tokens`.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{AsDb, StoreError, on_db};

/// A token to store.
pub struct NewToken<'a> {
    pub id: Uuid,
    pub user_id: Uuid,
    pub purpose: &'a str,
    pub email: &'a str,
    pub credential_version: i64,
    pub token_hash: Option<&'a [u8]>,
    pub code_hash: Option<&'a [u8]>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A stored token that is still live: not spent, not replaced, not expired.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LiveToken {
    pub id: Uuid,
    pub user_id: Uuid,
    pub email: String,
    pub credential_version: i64,
    pub code_hash: Option<Vec<u8>>,
    pub code_attempts: i32,
    pub expires_at: DateTime<Utc>,
}

/// The columns of [`LiveToken`].
macro_rules! live_columns {
    () => {
        "SELECT id, user_id, email, credential_version, code_hash, code_attempts, expires_at \
         FROM account_tokens "
    };
}

#[tracing::instrument(skip_all, fields(id = %t.id, purpose = t.purpose))]
pub async fn insert(db: &mut impl AsDb, t: &NewToken<'_>) -> Result<(), StoreError> {
    const SQL: &str = "INSERT INTO account_tokens (id, user_id, purpose, email, credential_version, \
         token_hash, code_hash, code_attempts, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $9)";
    on_db!(db, |c| sqlx::query(SQL)
        .bind(t.id)
        .bind(t.user_id)
        .bind(t.purpose)
        .bind(t.email)
        .bind(t.credential_version)
        .bind(t.token_hash)
        .bind(t.code_hash)
        .bind(t.created_at)
        .bind(t.expires_at)
        .execute(c)
        .await
        .map(|_| ()))?;
    Ok(())
}

/// Ends every live token of `user` for `purpose` (one was used, or the
/// address changed). Returns how many it ended.
#[tracing::instrument(skip_all, fields(user = %user, purpose))]
pub async fn end_live(
    db: &mut impl AsDb,
    user: Uuid,
    purpose: &str,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    const SQL: &str = "UPDATE account_tokens SET used_at = $3 \
         WHERE user_id = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3";
    Ok(on_db!(db, |c| sqlx::query(SQL)
        .bind(user)
        .bind(purpose)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?)
}

/// Makes every live token of `user` for `purpose` that would outlive `by`
/// expire at `by` (a newer one was issued: they keep a grace, or with `by`
/// now, end). Returns how many it cut short.
#[tracing::instrument(skip_all, fields(user = %user, purpose))]
pub async fn expire_live_by(
    db: &mut impl AsDb,
    user: Uuid,
    purpose: &str,
    by: DateTime<Utc>,
) -> Result<u64, StoreError> {
    const SQL: &str = "UPDATE account_tokens SET expires_at = $3 \
         WHERE user_id = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3";
    Ok(on_db!(db, |c| sqlx::query(SQL)
        .bind(user)
        .bind(purpose)
        .bind(by)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?)
}

/// The live token of `purpose` whose link token hashes to `hash`.
#[tracing::instrument(skip_all, fields(purpose))]
pub async fn find_live_by_hash(
    db: &mut impl AsDb,
    purpose: &str,
    hash: &[u8],
    now: DateTime<Utc>,
) -> Result<Option<LiveToken>, StoreError> {
    const SQL: &str = concat!(
        live_columns!(),
        "WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3"
    );
    Ok(on_db!(db, |c| sqlx::query_as::<_, LiveToken>(SQL)
        .bind(hash)
        .bind(purpose)
        .bind(now)
        .fetch_optional(c)
        .await)?)
}

/// Counts one attempt on every live token of `user` for `purpose` that
/// carries a code and has attempts left below `max_attempts`, and returns
/// them. One statement, so concurrent guesses cannot share an attempt: each
/// row is counted only while its count is below the limit, checked again on
/// the row as it stands once its lock is taken (PostgreSQL) or in the one
/// write turn (SQLite).
#[tracing::instrument(skip_all, fields(user = %user, purpose))]
pub async fn count_code_attempts(
    db: &mut impl AsDb,
    user: Uuid,
    purpose: &str,
    max_attempts: i32,
    now: DateTime<Utc>,
) -> Result<Vec<LiveToken>, StoreError> {
    const SQL: &str = "UPDATE account_tokens SET code_attempts = code_attempts + 1 \
         WHERE user_id = $1 AND purpose = $2 AND code_hash IS NOT NULL AND code_attempts < $3 \
         AND used_at IS NULL AND expires_at > $4 \
         RETURNING id, user_id, email, credential_version, code_hash, code_attempts, expires_at";
    Ok(on_db!(db, |c| sqlx::query_as::<_, LiveToken>(SQL)
        .bind(user)
        .bind(purpose)
        .bind(max_attempts)
        .bind(now)
        .fetch_all(c)
        .await)?)
}

/// Spends token `id`: `true` if it was live and is now used, `false` if it
/// was spent, replaced or expired meanwhile (so of two requests spending one
/// token, exactly one gets `true`).
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn spend(db: &mut impl AsDb, id: Uuid, now: DateTime<Utc>) -> Result<bool, StoreError> {
    const SQL: &str = "UPDATE account_tokens SET used_at = $2 \
         WHERE id = $1 AND used_at IS NULL AND expires_at > $2";
    Ok(on_db!(db, |c| sqlx::query(SQL)
        .bind(id)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected() == 1))?)
}

/// Deletes up to `batch` tokens that expired before `before` (the cleanup
/// sweep); a spent token is kept until it expires, then goes the same way.
#[tracing::instrument(skip_all)]
pub async fn purge_expired(
    db: &mut impl AsDb,
    before: DateTime<Utc>,
    batch: i64,
) -> Result<u64, StoreError> {
    const SQL: &str = "DELETE FROM account_tokens WHERE id IN (SELECT id FROM account_tokens \
         WHERE expires_at < $1 LIMIT $2)";
    Ok(on_db!(db, |c| sqlx::query(SQL)
        .bind(before)
        .bind(batch)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?)
}
