//! The `authorization_codes` table: codes stored as the SHA-256 of the code.
//! Their lifetime, binding and single use are decided in
//! `crate::oauth::codes`.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{AsDb, StoreError, on_db};

/// One stored code: what it was issued for.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AuthorizationCode {
    pub code_hash: Vec<u8>,
    pub client_id: String,
    pub redirect_uri: String,
    pub code_challenge: Option<String>,
    pub nonce: Option<String>,
    /// The scopes granted, space-separated.
    pub scope: String,
    pub user_id: Uuid,
    pub browser_session_id: Uuid,
    pub auth_time: DateTime<Utc>,
    /// The sign-in methods, stored names, space-separated.
    pub methods: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    /// The family made when the code was redeemed.
    pub session_id: Option<Uuid>,
}

/// The columns of [`AuthorizationCode`], in its order.
macro_rules! columns {
    () => {
        "code_hash, client_id, redirect_uri, code_challenge, nonce, scope, user_id, \
         browser_session_id, auth_time, methods, created_at, expires_at, used_at, session_id"
    };
}

#[tracing::instrument(skip_all, fields(client = %code.client_id))]
pub async fn insert(db: &mut impl AsDb, code: &AuthorizationCode) -> Result<(), StoreError> {
    const SQL: &str = concat!(
        "INSERT INTO authorization_codes (",
        columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
    );
    on_db!(db, |c| sqlx::query(SQL)
        .bind(&code.code_hash)
        .bind(&code.client_id)
        .bind(&code.redirect_uri)
        .bind(&code.code_challenge)
        .bind(&code.nonce)
        .bind(&code.scope)
        .bind(code.user_id)
        .bind(code.browser_session_id)
        .bind(code.auth_time)
        .bind(&code.methods)
        .bind(code.created_at)
        .bind(code.expires_at)
        .bind(code.used_at)
        .bind(code.session_id)
        .execute(c)
        .await
        .map(|_| ()))?;
    Ok(())
}

/// The code with this hash, used or not, expired or not: the caller decides.
#[tracing::instrument(skip_all)]
pub async fn find(
    db: &mut impl AsDb,
    code_hash: &[u8],
) -> Result<Option<AuthorizationCode>, StoreError> {
    const SQL: &str = concat!(
        "SELECT ",
        columns!(),
        " FROM authorization_codes WHERE code_hash = $1"
    );
    Ok(on_db!(db, |c| sqlx::query_as::<_, AuthorizationCode>(SQL)
        .bind(code_hash)
        .fetch_optional(c)
        .await)?)
}

/// Spends the code if it is unused and unexpired at `now`: one conditional
/// UPDATE, so of two racing redemptions exactly one wins. False otherwise.
#[tracing::instrument(skip_all)]
pub async fn spend(
    db: &mut impl AsDb,
    code_hash: &[u8],
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    const SQL: &str = "UPDATE authorization_codes SET used_at = $2 \
         WHERE code_hash = $1 AND used_at IS NULL AND expires_at > $2";
    let done = on_db!(db, |c| sqlx::query(SQL)
        .bind(code_hash)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(done == 1)
}

/// Records the family made from a spent code, so that a second presentation
/// of the code can end it.
#[tracing::instrument(skip_all, fields(session = %session))]
pub async fn set_session(
    db: &mut impl AsDb,
    code_hash: &[u8],
    session: Uuid,
) -> Result<(), StoreError> {
    const SQL: &str = "UPDATE authorization_codes SET session_id = $2 WHERE code_hash = $1";
    on_db!(db, |c| sqlx::query(SQL)
        .bind(code_hash)
        .bind(session)
        .execute(c)
        .await
        .map(|_| ()))?;
    Ok(())
}

/// Deletes up to `limit` codes that expired before `before`; returns how many.
#[tracing::instrument(skip_all)]
pub async fn delete_expired(
    db: &mut impl AsDb,
    before: DateTime<Utc>,
    limit: i64,
) -> Result<u64, StoreError> {
    const SQL: &str = "DELETE FROM authorization_codes WHERE code_hash IN \
         (SELECT code_hash FROM authorization_codes WHERE expires_at < $1 LIMIT $2)";
    Ok(on_db!(db, |c| sqlx::query(SQL)
        .bind(before)
        .bind(limit)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?)
}
