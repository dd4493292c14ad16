//! The `users` table: accounts and their password hashes.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::{AsDb, Db, StoreError, on_db};

/// A user as the API shows it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    /// Whether the address was proven by a link sent to it (email
    /// verification, or the confirmation of an email change).
    pub email_verified: bool,
    pub created_at: DateTime<Utc>,
}

/// The columns of [`User`], for `SELECT` and `RETURNING`.
macro_rules! user_columns {
    () => {
        "id, email, (email_verified_at IS NOT NULL) AS email_verified, created_at"
    };
}

/// A user with the stored password hash, for checking a password only, and
/// the version of the credentials that hash belongs to (see
/// [`set_new_password`]).
#[derive(Clone, sqlx::FromRow)]
pub struct Credentials {
    pub id: Uuid,
    pub email: String,
    pub password_hash: String,
    pub credential_version: i64,
    pub email_verified: bool,
}

pub struct NewUser<'a> {
    pub id: Uuid,
    pub email: &'a str,
    pub password_hash: &'a str,
    pub now: DateTime<Utc>,
}

/// Fails with [`StoreError::EmailTaken`] when the email has an account.
#[tracing::instrument(skip_all)]
pub async fn insert(db: &mut impl AsDb, user: NewUser<'_>) -> Result<User, StoreError> {
    const SQL: &str = concat!(
        "INSERT INTO users (id, email, password_hash, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $4) RETURNING ",
        user_columns!()
    );
    Ok(on_db!(db, |c| sqlx::query_as::<_, User>(SQL)
        .bind(user.id)
        .bind(user.email)
        .bind(user.password_hash)
        .bind(user.now)
        .fetch_one(c)
        .await)?)
}

#[tracing::instrument(skip_all)]
pub async fn find_credentials_by_email(
    db: &mut impl AsDb,
    email: &str,
) -> Result<Option<Credentials>, StoreError> {
    const SQL: &str = "SELECT id, email, password_hash, credential_version, \
         (email_verified_at IS NOT NULL) AS email_verified FROM users \
         WHERE email = $1 AND deleted_at IS NULL";
    Ok(on_db!(db, |c| sqlx::query_as::<_, Credentials>(SQL)
        .bind(email)
        .fetch_optional(c)
        .await)?)
}

#[tracing::instrument(skip_all, fields(user = %id))]
pub async fn find_credentials(
    db: &mut impl AsDb,
    id: Uuid,
) -> Result<Option<Credentials>, StoreError> {
    const SQL: &str = "SELECT id, email, password_hash, credential_version, \
         (email_verified_at IS NOT NULL) AS email_verified FROM users \
         WHERE id = $1 AND deleted_at IS NULL";
    Ok(on_db!(db, |c| sqlx::query_as::<_, Credentials>(SQL)
        .bind(id)
        .fetch_optional(c)
        .await)?)
}

#[tracing::instrument(skip_all, fields(user = %id))]
pub async fn find(db: &mut impl AsDb, id: Uuid) -> Result<Option<User>, StoreError> {
    const SQL: &str = concat!(
        "SELECT ",
        user_columns!(),
        " FROM users WHERE id = $1 AND deleted_at IS NULL"
    );
    Ok(on_db!(db, |c| sqlx::query_as::<_, User>(SQL)
        .bind(id)
        .fetch_optional(c)
        .await)?)
}

/// The user of session `session` if it is `user`'s and live (not revoked,
/// not expired at `now`): the session check and the user in one query, for
/// the hottest Bearer route.
#[tracing::instrument(skip_all, fields(session = %session))]
pub async fn find_by_live_session(
    db: &mut impl AsDb,
    session: Uuid,
    user: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<User>, StoreError> {
    const SQL: &str = "SELECT u.id, u.email, (u.email_verified_at IS NOT NULL) AS email_verified, \
         u.created_at FROM sessions s JOIN users u ON u.id = s.user_id \
         WHERE s.id = $1 AND s.user_id = $2 AND s.revoked_at IS NULL AND s.expires_at > $3 \
         AND u.deleted_at IS NULL";
    Ok(on_db!(db, |c| sqlx::query_as::<_, User>(SQL)
        .bind(session)
        .bind(user)
        .bind(now)
        .fetch_optional(c)
        .await)?)
}

/// Stores a re-hash of the same password (new parameters): the credential
/// version stays, so logins checked against the old hash still start sessions.
#[tracing::instrument(skip_all, fields(user = %id))]
pub async fn set_password_hash(
    db: &mut impl AsDb,
    id: Uuid,
    hash: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    const SQL: &str = "UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1";
    on_db!(db, |c| sqlx::query(SQL)
        .bind(id)
        .bind(hash)
        .bind(now)
        .execute(c)
        .await
        .map(|_| ()))?;
    Ok(())
}

/// Stores the hash of a new password and moves the credential version on:
/// every password checked against an earlier version is stale from here on.
/// For a caller holding the user's lock.
#[tracing::instrument(skip_all, fields(user = %id))]
pub async fn set_new_password(
    db: &mut impl AsDb,
    id: Uuid,
    hash: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    const SQL: &str = "UPDATE users SET password_hash = $2, updated_at = $3, \
         credential_version = credential_version + 1 WHERE id = $1";
    on_db!(db, |c| sqlx::query(SQL)
        .bind(id)
        .bind(hash)
        .bind(now)
        .execute(c)
        .await
        .map(|_| ()))?;
    Ok(())
}

/// Locks the user's row until the transaction ends, and reads its credential
/// version as it stands under the lock (`None`: no such user). Every change
/// to several sessions of one user takes it first, so such changes queue on
/// the user instead of locking session rows in different orders (a deadlock);
/// a login takes it to check, against a concurrent password change, that the
/// password it verified is still the current one.
/// SQLite: `BEGIN IMMEDIATE` already serializes every writer; the read keeps
/// the statement sequence the same. An erased account's row (a tombstone,
/// `deleted_at` set) is locked too, so the order holds, but reads as `None`:
/// no change applies to it.
#[tracing::instrument(skip_all, fields(user = %id))]
pub async fn lock(db: &mut impl AsDb, id: Uuid) -> Result<Option<i64>, StoreError> {
    const PG: &str =
        "SELECT credential_version, (deleted_at IS NOT NULL) FROM users WHERE id = $1 FOR UPDATE";
    const SQLITE: &str =
        "SELECT credential_version, (deleted_at IS NOT NULL) FROM users WHERE id = $1";
    let row: Option<(i64, bool)> = match db.db() {
        Db::Postgres(c) => sqlx::query_as(PG).bind(id).fetch_optional(c).await?,
        Db::Sqlite(c) => sqlx::query_as(SQLITE).bind(id).fetch_optional(c).await?,
    };
    Ok(row.and_then(|(version, deleted)| (!deleted).then_some(version)))
}

/// The user with address `email`, if any.
#[tracing::instrument(skip_all)]
pub async fn find_by_email(db: &mut impl AsDb, email: &str) -> Result<Option<User>, StoreError> {
    const SQL: &str = concat!(
        "SELECT ",
        user_columns!(),
        " FROM users WHERE email = $1 AND deleted_at IS NULL"
    );
    Ok(on_db!(db, |c| sqlx::query_as::<_, User>(SQL)
        .bind(email)
        .fetch_optional(c)
        .await)?)
}

/// Marks the address of `id` verified at `now`, if it is still `email` (a
/// link proves the address it was sent to, not whatever the account has since
/// moved to). Returns whether it did.
#[tracing::instrument(skip_all, fields(user = %id))]
pub async fn set_email_verified(
    db: &mut impl AsDb,
    id: Uuid,
    email: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    const SQL: &str = "UPDATE users SET email_verified_at = COALESCE(email_verified_at, $3), \
         updated_at = $3 WHERE id = $1 AND email = $2";
    Ok(on_db!(db, |c| sqlx::query(SQL)
        .bind(id)
        .bind(email)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected() == 1))?)
}

/// Moves the account to `email`, proven by a link sent to it (so it is
/// verified). Fails with [`StoreError::EmailTaken`] when another account has
/// the address.
#[tracing::instrument(skip_all, fields(user = %id))]
pub async fn set_email(
    db: &mut impl AsDb,
    id: Uuid,
    email: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    const SQL: &str =
        "UPDATE users SET email = $2, email_verified_at = $3, updated_at = $3 WHERE id = $1";
    on_db!(db, |c| sqlx::query(SQL)
        .bind(id)
        .bind(email)
        .bind(now)
        .execute(c)
        .await
        .map(|_| ()))?;
    Ok(())
}

/// What the admin API's user list keeps: each `None` keeps every user.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    /// A `LIKE` pattern, escaped with `\` by the caller (`prefix%`).
    pub email_like: Option<String>,
    pub verified: Option<bool>,
    pub has_second_factor: Option<bool>,
    /// Created at or after this.
    pub created_from: Option<DateTime<Utc>>,
    /// Created strictly before this.
    pub created_before: Option<DateTime<Utc>>,
    /// Disabled (`Some(true)`) or not (`Some(false)`).
    pub disabled: Option<bool>,
}

/// The conditions of [`UserFilter`], `$1` to `$6`, shared by the page and the
/// count so both keep the same users; erased accounts (tombstones) are never
/// kept. A second factor is a confirmed TOTP
/// factor or a passkey, as `store::factors::has_confirmed` counts it.
macro_rules! user_filter {
    () => {
        "($1 IS NULL OR email LIKE $1 ESCAPE '\\') \
         AND ($2 IS NULL OR (email_verified_at IS NOT NULL) = $2) \
         AND ($3 IS NULL OR (EXISTS (SELECT 1 FROM totp_factors t \
              WHERE t.user_id = users.id AND t.confirmed_at IS NOT NULL) \
              OR EXISTS (SELECT 1 FROM passkeys p WHERE p.user_id = users.id)) = $3) \
         AND ($4 IS NULL OR created_at >= $4) \
         AND ($5 IS NULL OR created_at < $5) \
         AND ($6 IS NULL OR (disabled_at IS NOT NULL) = $6) \
         AND deleted_at IS NULL"
    };
}

/// At most `limit` users kept by `filter`, in the order (created_at, id),
/// after the position `after` (from the first without it). The order is
/// total and read from `users_created_id_idx`; the row comparison
/// `(created_at, id) > (...)` is a range of that index on both databases.
#[tracing::instrument(skip_all)]
pub async fn list_page(
    db: &mut impl AsDb,
    filter: &UserFilter,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<User>, StoreError> {
    const FIRST: &str = concat!(
        "SELECT ",
        user_columns!(),
        " FROM users WHERE ",
        user_filter!(),
        " ORDER BY created_at, id LIMIT $7"
    );
    const NEXT: &str = concat!(
        "SELECT ",
        user_columns!(),
        " FROM users WHERE ",
        user_filter!(),
        " AND (created_at, id) > ($8, $9) ORDER BY created_at, id LIMIT $7"
    );
    let (sql, cursor) = match after {
        None => (FIRST, None),
        Some(c) => (NEXT, Some(c)),
    };
    Ok(on_db!(db, |c| {
        let query = sqlx::query_as::<_, User>(sql)
            .bind(filter.email_like.as_deref())
            .bind(filter.verified)
            .bind(filter.has_second_factor)
            .bind(filter.created_from)
            .bind(filter.created_before)
            .bind(filter.disabled)
            .bind(limit);
        let query = match cursor {
            Some((created_at, id)) => query.bind(created_at).bind(id),
            None => query,
        };
        query.fetch_all(c).await
    })?)
}

/// How many users `filter` keeps: an exact count, which reads every one of
/// them (the admin API asks for it only on request).
#[tracing::instrument(skip_all)]
pub async fn count(db: &mut impl AsDb, filter: &UserFilter) -> Result<i64, StoreError> {
    const SQL: &str = concat!("SELECT COUNT(*) FROM users WHERE ", user_filter!());
    let (n,): (i64,) = on_db!(db, |c| sqlx::query_as(SQL)
        .bind(filter.email_like.as_deref())
        .bind(filter.verified)
        .bind(filter.has_second_factor)
        .bind(filter.created_from)
        .bind(filter.created_before)
        .bind(filter.disabled)
        .fetch_one(c)
        .await)?;
    Ok(n)
}

/// When the account `id` was disabled: `Ok(None)` for an enabled one (or
/// none at all).
#[tracing::instrument(skip_all, fields(user = %id))]
pub async fn disabled_at(
    db: &mut impl AsDb,
    id: Uuid,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    const SQL: &str = "SELECT disabled_at FROM users WHERE id = $1";
    let row: Option<Option<DateTime<Utc>>> = on_db!(db, |c| sqlx::query_scalar(SQL)
        .bind(id)
        .fetch_optional(c)
        .await)?;
    Ok(row.flatten())
}

/// Sets (`Some`) or clears (`None`) the time account `id` was disabled.
#[tracing::instrument(skip_all, fields(user = %id))]
pub async fn set_disabled_at(
    db: &mut impl AsDb,
    id: Uuid,
    at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    const SQL: &str = "UPDATE users SET disabled_at = $2, updated_at = $3 WHERE id = $1";
    on_db!(db, |c| sqlx::query(SQL)
        .bind(id)
        .bind(at)
        .bind(now)
        .execute(c)
        .await
        .map(|_| ()))?;
    Ok(())
}

/// The `app_metadata` of account `id`, as stored (a JSON object's text).
#[tracing::instrument(skip_all, fields(user = %id))]
pub async fn app_metadata(db: &mut impl AsDb, id: Uuid) -> Result<Option<String>, StoreError> {
    const SQL: &str = "SELECT app_metadata FROM users WHERE id = $1";
    let row: Option<Option<String>> = on_db!(db, |c| sqlx::query_scalar(SQL)
        .bind(id)
        .fetch_optional(c)
        .await)?;
    Ok(row.flatten())
}

/// Replaces the `app_metadata` of account `id` (`None`: removes it).
#[tracing::instrument(skip_all, fields(user = %id))]
pub async fn set_app_metadata(
    db: &mut impl AsDb,
    id: Uuid,
    json: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    const SQL: &str = "UPDATE users SET app_metadata = $2, updated_at = $3 WHERE id = $1";
    on_db!(db, |c| sqlx::query(SQL)
        .bind(id)
        .bind(json)
        .bind(now)
        .execute(c)
        .await
        .map(|_| ()))?;
    Ok(())
}

/// Moves account `id` to `email` for an admin, verified or not as
/// `verified_at` says. Fails with [`StoreError::EmailTaken`] when another
/// account has the address.
#[tracing::instrument(skip_all, fields(user = %id))]
pub async fn set_email_as_admin(
    db: &mut impl AsDb,
    id: Uuid,
    email: &str,
    verified_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    const SQL: &str =
        "UPDATE users SET email = $2, email_verified_at = $3, updated_at = $4 WHERE id = $1";
    on_db!(db, |c| sqlx::query(SQL)
        .bind(id)
        .bind(email)
        .bind(verified_at)
        .bind(now)
        .execute(c)
        .await
        .map(|_| ()))?;
    Ok(())
}

/// Marks the address of `id` verified at `now` (kept when it was already)
/// or not verified (`verified` false), whatever it is.
#[tracing::instrument(skip_all, fields(user = %id))]
pub async fn set_verified(
    db: &mut impl AsDb,
    id: Uuid,
    verified: bool,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    const SQL: &str = "UPDATE users SET email_verified_at = CASE WHEN $2 \
         THEN COALESCE(email_verified_at, $3) ELSE NULL END, updated_at = $3 WHERE id = $1";
    on_db!(db, |c| sqlx::query(SQL)
        .bind(id)
        .bind(verified)
        .bind(now)
        .execute(c)
        .await
        .map(|_| ()))?;
    Ok(())
}

/// Turns account `id` into a tombstone: the address becomes `deleted:<id>`
/// (no address: it never matches a login and frees the real one), the
/// password hash `unusable_hash` (one no password matches), the credential version moves on,
/// and verification, app_metadata are erased; disabled and deleted at `now`.
#[tracing::instrument(skip_all, fields(user = %id))]
pub async fn erase(
    db: &mut impl AsDb,
    id: Uuid,
    unusable_hash: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    const SQL: &str = "UPDATE users SET email = $2, password_hash = $4, \
         credential_version = credential_version + 1, email_verified_at = NULL, \
         app_metadata = NULL, disabled_at = $3, deleted_at = $3, updated_at = $3 WHERE id = $1";
    let tombstone = format!("deleted:{}", id.simple());
    on_db!(db, |c| sqlx::query(SQL)
        .bind(id)
        .bind(&tombstone)
        .bind(now)
        .bind(unusable_hash)
        .execute(c)
        .await
        .map(|_| ()))?;
    Ok(())
}
