//! The passkeys' tables: `passkeys` (a user's registered WebAuthn
//! credentials, serialized as the relying-party library keeps them) and
//! `webauthn_ceremonies` (a registration or an assertion in progress: its
//! state, kept here and never with the client). The rules are
//! `crate::factors::passkey`'s.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{AsDb, StoreError, on_db};

/// A registered passkey as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PasskeyRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub credential_id: Vec<u8>,
    /// The library's `Passkey`, as JSON.
    pub passkey: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

macro_rules! passkey_columns {
    () => {
        "id, user_id, credential_id, passkey, name, created_at, last_used_at"
    };
}

/// Stores a new passkey; false (nothing written) when its credential id is
/// already registered (to this user or another).
#[tracing::instrument(skip_all, fields(user = %p.user_id))]
pub async fn insert(db: &mut impl AsDb, p: &PasskeyRow) -> Result<bool, StoreError> {
    const SQL: &str = concat!(
        "INSERT INTO passkeys (",
        passkey_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (credential_id) DO NOTHING"
    );
    let done = on_db!(db, |c| sqlx::query(SQL)
        .bind(p.id)
        .bind(p.user_id)
        .bind(&p.credential_id)
        .bind(&p.passkey)
        .bind(&p.name)
        .bind(p.created_at)
        .bind(p.last_used_at)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(done == 1)
}

/// The passkeys of `user`, oldest first.
#[tracing::instrument(skip_all, fields(user = %user))]
pub async fn list(db: &mut impl AsDb, user: Uuid) -> Result<Vec<PasskeyRow>, StoreError> {
    const SQL: &str = concat!(
        "SELECT ",
        passkey_columns!(),
        " FROM passkeys WHERE user_id = $1 ORDER BY created_at, id"
    );
    Ok(on_db!(db, |c| sqlx::query_as::<_, PasskeyRow>(SQL)
        .bind(user)
        .fetch_all(c)
        .await)?)
}

/// The passkey with this credential id, whoever's it is.
#[tracing::instrument(skip_all)]
pub async fn find_by_credential(
    db: &mut impl AsDb,
    credential_id: &[u8],
) -> Result<Option<PasskeyRow>, StoreError> {
    const SQL: &str = concat!(
        "SELECT ",
        passkey_columns!(),
        " FROM passkeys WHERE credential_id = $1"
    );
    Ok(on_db!(db, |c| sqlx::query_as::<_, PasskeyRow>(SQL)
        .bind(credential_id)
        .fetch_optional(c)
        .await)?)
}

/// How many passkeys `user` has.
#[tracing::instrument(skip_all, fields(user = %user))]
pub async fn count(db: &mut impl AsDb, user: Uuid) -> Result<i64, StoreError> {
    const SQL: &str = "SELECT COUNT(*) FROM passkeys WHERE user_id = $1";
    let (n,): (i64,) = on_db!(db, |c| sqlx::query_as(SQL).bind(user).fetch_one(c).await)?;
    Ok(n)
}

/// Records a use of passkey `id`: its credential as updated by the
/// assertion (counter, backup state) when `passkey` is given, and the time.
#[tracing::instrument(skip_all, fields(passkey = %id))]
pub async fn record_use(
    db: &mut impl AsDb,
    id: Uuid,
    passkey: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    const SQL: &str = "UPDATE passkeys SET passkey = COALESCE($2, passkey), last_used_at = $3 \
         WHERE id = $1";
    on_db!(db, |c| sqlx::query(SQL)
        .bind(id)
        .bind(passkey)
        .bind(now)
        .execute(c)
        .await
        .map(|_| ()))?;
    Ok(())
}

/// Renames passkey `id` of `user`; false when the user has no such passkey.
#[tracing::instrument(skip_all, fields(user = %user, passkey = %id))]
pub async fn rename(
    db: &mut impl AsDb,
    user: Uuid,
    id: Uuid,
    name: &str,
) -> Result<bool, StoreError> {
    const SQL: &str = "UPDATE passkeys SET name = $3 WHERE id = $1 AND user_id = $2";
    let done = on_db!(db, |c| sqlx::query(SQL)
        .bind(id)
        .bind(user)
        .bind(name)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(done == 1)
}

/// Deletes passkey `id` of `user`; false when the user has no such passkey.
#[tracing::instrument(skip_all, fields(user = %user, passkey = %id))]
pub async fn delete(db: &mut impl AsDb, user: Uuid, id: Uuid) -> Result<bool, StoreError> {
    const SQL: &str = "DELETE FROM passkeys WHERE id = $1 AND user_id = $2";
    let done = on_db!(db, |c| sqlx::query(SQL)
        .bind(id)
        .bind(user)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(done == 1)
}

/// Deletes every passkey of `user`; returns how many.
#[tracing::instrument(skip_all, fields(user = %user))]
pub async fn delete_all(db: &mut impl AsDb, user: Uuid) -> Result<u64, StoreError> {
    const SQL: &str = "DELETE FROM passkeys WHERE user_id = $1";
    Ok(on_db!(db, |c| sqlx::query(SQL)
        .bind(user)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?)
}

/// A WebAuthn ceremony in progress.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Ceremony {
    pub key_hash: Vec<u8>,
    pub user_id: Option<Uuid>,
    /// `register`, `second_factor` or `passwordless`.
    pub kind: String,
    /// The library's ceremony state, as JSON.
    pub state: String,
    /// The hash of the sign-in challenge a second factor answers.
    pub mfa_challenge: Option<Vec<u8>>,
    /// The session a passwordless sign-in starts: `refresh` or `browser`.
    pub start: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
}

macro_rules! ceremony_columns {
    () => {
        "key_hash, user_id, kind, state, mfa_challenge, start, created_at, expires_at, used_at"
    };
}

#[tracing::instrument(skip_all, fields(kind = %c.kind))]
pub async fn insert_ceremony(db: &mut impl AsDb, c: &Ceremony) -> Result<(), StoreError> {
    const SQL: &str = concat!(
        "INSERT INTO webauthn_ceremonies (",
        ceremony_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    );
    on_db!(db, |conn| sqlx::query(SQL)
        .bind(&c.key_hash)
        .bind(c.user_id)
        .bind(&c.kind)
        .bind(&c.state)
        .bind(&c.mfa_challenge)
        .bind(&c.start)
        .bind(c.created_at)
        .bind(c.expires_at)
        .bind(c.used_at)
        .execute(conn)
        .await
        .map(|_| ()))?;
    Ok(())
}

/// Spends the ceremony with this key if it is of `kind`, unused and
/// unexpired at `now`: one conditional UPDATE, so of two requests with the
/// same ceremony at most one gets it. The ceremony as it was, or none.
#[tracing::instrument(skip_all, fields(kind = %kind))]
pub async fn spend_ceremony(
    db: &mut impl AsDb,
    key_hash: &[u8],
    kind: &str,
    now: DateTime<Utc>,
) -> Result<Option<Ceremony>, StoreError> {
    const SQL: &str = concat!(
        "UPDATE webauthn_ceremonies SET used_at = $3 \
         WHERE key_hash = $1 AND kind = $2 AND used_at IS NULL AND expires_at > $3 \
         RETURNING ",
        ceremony_columns!()
    );
    Ok(on_db!(db, |c| sqlx::query_as::<_, Ceremony>(SQL)
        .bind(key_hash)
        .bind(kind)
        .bind(now)
        .fetch_optional(c)
        .await)?)
}

/// Deletes up to `limit` ceremonies that expired before `before`.
#[tracing::instrument(skip_all)]
pub async fn delete_expired_ceremonies(
    db: &mut impl AsDb,
    before: DateTime<Utc>,
    limit: i64,
) -> Result<u64, StoreError> {
    const SQL: &str = "DELETE FROM webauthn_ceremonies WHERE key_hash IN \
         (SELECT key_hash FROM webauthn_ceremonies WHERE expires_at < $1 LIMIT $2)";
    Ok(on_db!(db, |c| sqlx::query(SQL)
        .bind(before)
        .bind(limit)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?)
}
