//! The second factors' tables: `totp_factors` (a user's TOTP factor, its
//! secret sealed), `recovery_codes` (keyed hashes) and `mfa_challenges` (a
//! sign-in waiting for its second factor). The rules (what a code is worth,
//! when a challenge may finish) are `crate::factors`'.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{AsDb, StoreError, on_db};

/// A user's TOTP factor as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TotpFactor {
    pub id: Uuid,
    pub user_id: Uuid,
    pub sealed_key_id: i32,
    pub sealed_nonce: Vec<u8>,
    pub sealed_secret: Vec<u8>,
    pub created_at: DateTime<Utc>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub last_used_step: i64,
}

macro_rules! totp_columns {
    () => {
        "id, user_id, sealed_key_id, sealed_nonce, sealed_secret, created_at, confirmed_at, \
         last_used_step"
    };
}

/// The TOTP factor of `user`, confirmed or not.
#[tracing::instrument(skip_all, fields(user = %user))]
pub async fn find_totp(db: &mut impl AsDb, user: Uuid) -> Result<Option<TotpFactor>, StoreError> {
    const SQL: &str = concat!(
        "SELECT ",
        totp_columns!(),
        " FROM totp_factors WHERE user_id = $1"
    );
    Ok(on_db!(db, |c| sqlx::query_as::<_, TotpFactor>(SQL)
        .bind(user)
        .fetch_optional(c)
        .await)?)
}

/// Stores a new, unconfirmed factor, replacing an unconfirmed one of the same
/// user; false (nothing written) when the user has a confirmed factor.
#[tracing::instrument(skip_all, fields(user = %f.user_id))]
pub async fn insert_pending_totp(db: &mut impl AsDb, f: &TotpFactor) -> Result<bool, StoreError> {
    const DELETE: &str = "DELETE FROM totp_factors WHERE user_id = $1 AND confirmed_at IS NULL";
    const INSERT: &str = "INSERT INTO totp_factors (id, user_id, sealed_key_id, sealed_nonce, \
         sealed_secret, created_at, confirmed_at, last_used_step) \
         SELECT $1, $2, $3, $4, $5, $6, NULL, 0 \
         WHERE NOT EXISTS (SELECT 1 FROM totp_factors WHERE user_id = $2)";
    on_db!(db, |c| sqlx::query(DELETE)
        .bind(f.user_id)
        .execute(&mut *c)
        .await
        .map(|_| ()))?;
    let done = on_db!(db, |c| sqlx::query(INSERT)
        .bind(f.id)
        .bind(f.user_id)
        .bind(f.sealed_key_id)
        .bind(&f.sealed_nonce)
        .bind(&f.sealed_secret)
        .bind(f.created_at)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(done == 1)
}

/// Spends the time step `step` of the factor `id`: one conditional UPDATE
/// that moves `last_used_step` forward, so of two requests with the same
/// code (or an older one) at most one wins. With `confirm`, the factor is
/// also marked confirmed (its first code); without, only a confirmed factor
/// is spent. True if this request won.
#[tracing::instrument(skip_all, fields(factor = %id))]
pub async fn spend_totp_step(
    db: &mut impl AsDb,
    id: Uuid,
    step: i64,
    confirm: bool,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    const USE: &str = "UPDATE totp_factors SET last_used_step = $2 \
         WHERE id = $1 AND last_used_step < $2 AND confirmed_at IS NOT NULL";
    const CONFIRM: &str = "UPDATE totp_factors SET last_used_step = $2, confirmed_at = $3 \
         WHERE id = $1 AND last_used_step < $2 AND confirmed_at IS NULL";
    let sql = if confirm { CONFIRM } else { USE };
    let done = on_db!(db, |c| sqlx::query(sql)
        .bind(id)
        .bind(step)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(done == 1)
}

/// Deletes the TOTP factor of `user`; true if there was one.
#[tracing::instrument(skip_all, fields(user = %user))]
pub async fn delete_totp(db: &mut impl AsDb, user: Uuid) -> Result<bool, StoreError> {
    const SQL: &str = "DELETE FROM totp_factors WHERE user_id = $1";
    let done = on_db!(db, |c| sqlx::query(SQL)
        .bind(user)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(done > 0)
}

/// Whether `user` has a confirmed second factor: a confirmed TOTP factor or
/// a passkey (`store::passkeys`).
#[tracing::instrument(skip_all, fields(user = %user))]
pub async fn has_confirmed(db: &mut impl AsDb, user: Uuid) -> Result<bool, StoreError> {
    const SQL: &str = "SELECT (SELECT COUNT(*) FROM totp_factors \
         WHERE user_id = $1 AND confirmed_at IS NOT NULL) \
         + (SELECT COUNT(*) FROM passkeys WHERE user_id = $1)";
    let (n,): (i64,) = on_db!(db, |c| sqlx::query_as(SQL).bind(user).fetch_one(c).await)?;
    Ok(n > 0)
}

/// Ends every recovery code of `user` (used or not); returns how many.
#[tracing::instrument(skip_all, fields(user = %user))]
pub async fn delete_recovery_codes(db: &mut impl AsDb, user: Uuid) -> Result<u64, StoreError> {
    const SQL: &str = "DELETE FROM recovery_codes WHERE user_id = $1";
    Ok(on_db!(db, |c| sqlx::query(SQL)
        .bind(user)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?)
}

/// Stores one recovery code's keyed hash.
#[tracing::instrument(skip_all, fields(user = %user))]
pub async fn insert_recovery_code(
    db: &mut impl AsDb,
    user: Uuid,
    code_hash: &[u8],
    key_id: i32,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    const SQL: &str = "INSERT INTO recovery_codes (user_id, code_hash, key_id, created_at) \
         VALUES ($1, $2, $3, $4)";
    on_db!(db, |c| sqlx::query(SQL)
        .bind(user)
        .bind(code_hash)
        .bind(key_id)
        .bind(now)
        .execute(c)
        .await
        .map(|_| ()))?;
    Ok(())
}

/// Spends the unused code of `user` with this hash made under ring key
/// `key_id`: one conditional UPDATE, so of two racing requests with the same
/// code exactly one wins. True if this one did.
#[tracing::instrument(skip_all, fields(user = %user))]
pub async fn spend_recovery_code(
    db: &mut impl AsDb,
    user: Uuid,
    code_hash: &[u8],
    key_id: i32,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    const SQL: &str = "UPDATE recovery_codes SET used_at = $4 \
         WHERE user_id = $1 AND code_hash = $2 AND key_id = $3 AND used_at IS NULL";
    let done = on_db!(db, |c| sqlx::query(SQL)
        .bind(user)
        .bind(code_hash)
        .bind(key_id)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(done == 1)
}

/// How many unused recovery codes `user` has.
#[tracing::instrument(skip_all, fields(user = %user))]
pub async fn recovery_codes_left(db: &mut impl AsDb, user: Uuid) -> Result<i64, StoreError> {
    const SQL: &str = "SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL";
    let (n,): (i64,) = on_db!(db, |c| sqlx::query_as(SQL).bind(user).fetch_one(c).await)?;
    Ok(n)
}

/// A sign-in waiting for its second factor.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Challenge {
    pub token_hash: Vec<u8>,
    pub user_id: Uuid,
    pub credential_version: i64,
    /// `refresh` or `browser`.
    pub start: String,
    /// The stored names of the methods used so far.
    pub methods: String,
    pub detail: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    /// `sign_in` (a second factor is due) or `enrol` (one must be enrolled).
    pub purpose: String,
}

macro_rules! challenge_columns {
    () => {
        "token_hash, user_id, credential_version, start, methods, detail, created_at, \
         expires_at, used_at, purpose"
    };
}

#[tracing::instrument(skip_all, fields(user = %ch.user_id))]
pub async fn insert_challenge(db: &mut impl AsDb, ch: &Challenge) -> Result<(), StoreError> {
    const SQL: &str = concat!(
        "INSERT INTO mfa_challenges (",
        challenge_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    );
    on_db!(db, |c| sqlx::query(SQL)
        .bind(&ch.token_hash)
        .bind(ch.user_id)
        .bind(ch.credential_version)
        .bind(&ch.start)
        .bind(&ch.methods)
        .bind(&ch.detail)
        .bind(ch.created_at)
        .bind(ch.expires_at)
        .bind(ch.used_at)
        .bind(&ch.purpose)
        .execute(c)
        .await
        .map(|_| ()))?;
    Ok(())
}

/// The challenge with this hash, used or not, expired or not.
#[tracing::instrument(skip_all)]
pub async fn find_challenge(
    db: &mut impl AsDb,
    token_hash: &[u8],
) -> Result<Option<Challenge>, StoreError> {
    const SQL: &str = concat!(
        "SELECT ",
        challenge_columns!(),
        " FROM mfa_challenges WHERE token_hash = $1"
    );
    Ok(on_db!(db, |c| sqlx::query_as::<_, Challenge>(SQL)
        .bind(token_hash)
        .fetch_optional(c)
        .await)?)
}

/// Spends the challenge if it is unused and unexpired at `now`: one
/// conditional UPDATE, so of two racing verifications at most one wins.
#[tracing::instrument(skip_all)]
pub async fn spend_challenge(
    db: &mut impl AsDb,
    token_hash: &[u8],
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    const SQL: &str = "UPDATE mfa_challenges SET used_at = $2 \
         WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2";
    let done = on_db!(db, |c| sqlx::query(SQL)
        .bind(token_hash)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(done == 1)
}

/// Deletes up to `limit` challenges that expired before `before`.
#[tracing::instrument(skip_all)]
pub async fn delete_expired_challenges(
    db: &mut impl AsDb,
    before: DateTime<Utc>,
    limit: i64,
) -> Result<u64, StoreError> {
    const SQL: &str = "DELETE FROM mfa_challenges WHERE token_hash IN \
         (SELECT token_hash FROM mfa_challenges WHERE expires_at < $1 LIMIT $2)";
    Ok(on_db!(db, |c| sqlx::query(SQL)
        .bind(before)
        .bind(limit)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?)
}

/// Up to `limit` TOTP factors sealed under ring key `key_id` whose id is
/// after `after` (keyset order): what a re-seal moves to the current key.
#[tracing::instrument(skip_all, fields(key_id = key_id))]
pub async fn totp_sealed_under(
    db: &mut impl AsDb,
    key_id: i32,
    after: Uuid,
    limit: i64,
) -> Result<Vec<TotpFactor>, StoreError> {
    const SQL: &str = concat!(
        "SELECT ",
        totp_columns!(),
        " FROM totp_factors WHERE sealed_key_id = $1 AND id > $2 ORDER BY id LIMIT $3"
    );
    Ok(on_db!(db, |c| sqlx::query_as::<_, TotpFactor>(SQL)
        .bind(key_id)
        .bind(after)
        .bind(limit)
        .fetch_all(c)
        .await)?)
}

/// Replaces the sealed secret of factor `id`, only if it is still sealed
/// under `from_key_id` (another instance may have moved it first): whether
/// this call moved it.
#[tracing::instrument(skip_all, fields(factor = %id))]
pub async fn reseal_totp(
    db: &mut impl AsDb,
    id: Uuid,
    from_key_id: i32,
    to_key_id: i32,
    nonce: &[u8],
    sealed: &[u8],
) -> Result<bool, StoreError> {
    const SQL: &str = "UPDATE totp_factors SET sealed_key_id = $1, sealed_nonce = $2, \
         sealed_secret = $3 WHERE id = $4 AND sealed_key_id = $5";
    let done = on_db!(db, |c| sqlx::query(SQL)
        .bind(to_key_id)
        .bind(nonce)
        .bind(sealed)
        .bind(id)
        .bind(from_key_id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(done == 1)
}

/// How many users have unused recovery codes keyed under ring key `key_id`.
#[tracing::instrument(skip_all, fields(key_id = key_id))]
pub async fn users_with_recovery_codes_under(
    db: &mut impl AsDb,
    key_id: i32,
) -> Result<i64, StoreError> {
    const SQL: &str = "SELECT COUNT(DISTINCT user_id) FROM recovery_codes \
         WHERE key_id = $1 AND used_at IS NULL";
    Ok(on_db!(db, |c| sqlx::query_scalar::<_, i64>(SQL)
        .bind(key_id)
        .fetch_one(c)
        .await)?)
}

/// The ring key ids that TOTP secrets or unused recovery codes are keyed
/// under, each once, in order.
#[tracing::instrument(skip_all)]
pub async fn factor_key_ids(db: &mut impl AsDb) -> Result<Vec<i32>, StoreError> {
    const SQL: &str = "SELECT sealed_key_id FROM totp_factors \
         UNION SELECT key_id FROM recovery_codes WHERE used_at IS NULL ORDER BY 1";
    Ok(on_db!(db, |c| sqlx::query_scalar::<_, i32>(SQL)
        .fetch_all(c)
        .await)?)
}
