//! The `authorization_requests` table: authorization requests kept on the
//! server while the user signs in and consents. What a request may ask for,
//! and when it is spent, is decided in `crate::oauth::authorize`.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{AsDb, StoreError, on_db};

/// One stored authorization request.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AuthorizationRequest {
    pub id: Uuid,
    pub client_id: String,
    pub redirect_uri: String,
    /// The scopes asked for, space-separated.
    pub scope: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    /// The S256 PKCE challenge, when the client sent one.
    pub code_challenge: Option<String>,
    /// `prompt`, space-separated values.
    pub prompt: Option<String>,
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
    pub acr_values: Option<String>,
    /// Pushed at `/oauth/par` (RFC 9126).
    pub pushed: bool,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub consumed_at: Option<DateTime<Utc>>,
}

/// The columns of [`AuthorizationRequest`], in its order.
macro_rules! columns {
    () => {
        "id, client_id, redirect_uri, scope, state, nonce, code_challenge, prompt, \
         max_age, login_hint, acr_values, pushed, created_at, expires_at, consumed_at"
    };
}

#[tracing::instrument(skip_all, fields(id = %r.id, client = %r.client_id))]
pub async fn insert(db: &mut impl AsDb, r: &AuthorizationRequest) -> Result<(), StoreError> {
    const SQL: &str = concat!(
        "INSERT INTO authorization_requests (",
        columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
    );
    on_db!(db, |c| sqlx::query(SQL)
        .bind(r.id)
        .bind(&r.client_id)
        .bind(&r.redirect_uri)
        .bind(&r.scope)
        .bind(&r.state)
        .bind(&r.nonce)
        .bind(&r.code_challenge)
        .bind(&r.prompt)
        .bind(r.max_age)
        .bind(&r.login_hint)
        .bind(&r.acr_values)
        .bind(r.pushed)
        .bind(r.created_at)
        .bind(r.expires_at)
        .bind(r.consumed_at)
        .execute(c)
        .await
        .map(|_| ()))?;
    Ok(())
}

/// The request `id` if it is neither consumed nor expired at `now`.
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn find_live(
    db: &mut impl AsDb,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<AuthorizationRequest>, StoreError> {
    const SQL: &str = concat!(
        "SELECT ",
        columns!(),
        " FROM authorization_requests WHERE id = $1 AND consumed_at IS NULL AND expires_at > $2"
    );
    Ok(on_db!(db, |c| sqlx::query_as::<_, AuthorizationRequest>(
        SQL
    )
    .bind(id)
    .bind(now)
    .fetch_optional(c)
    .await)?)
}

/// Marks the request consumed if it was live; false if another request did
/// first (or it expired). One conditional UPDATE: of two racing uses, one wins.
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn consume(db: &mut impl AsDb, id: Uuid, now: DateTime<Utc>) -> Result<bool, StoreError> {
    const SQL: &str = "UPDATE authorization_requests SET consumed_at = $2 \
         WHERE id = $1 AND consumed_at IS NULL AND expires_at > $2";
    let done = on_db!(db, |c| sqlx::query(SQL)
        .bind(id)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(done == 1)
}

/// Deletes up to `limit` requests that expired before `before`; returns how many.
#[tracing::instrument(skip_all)]
pub async fn delete_expired(
    db: &mut impl AsDb,
    before: DateTime<Utc>,
    limit: i64,
) -> Result<u64, StoreError> {
    const SQL: &str = "DELETE FROM authorization_requests WHERE id IN \
         (SELECT id FROM authorization_requests WHERE expires_at < $1 LIMIT $2)";
    Ok(on_db!(db, |c| sqlx::query(SQL)
        .bind(before)
        .bind(limit)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?)
}

/// Who a request is answered for: the user, and the browser session at authd
/// they signed in with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct SignedIn {
    pub user_id: Uuid,
    pub browser_session_id: Uuid,
}

/// Marks live request `id` as answered for `signed_in`; false if it is no
/// longer live.
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn set_signed_in(
    db: &mut impl AsDb,
    id: Uuid,
    signed_in: SignedIn,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    const SQL: &str = "UPDATE authorization_requests SET user_id = $2, browser_session_id = $3 \
         WHERE id = $1 AND consumed_at IS NULL AND expires_at > $4";
    let done = on_db!(db, |c| sqlx::query(SQL)
        .bind(id)
        .bind(signed_in.user_id)
        .bind(signed_in.browser_session_id)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(done == 1)
}

/// Whom request `id` is answered for, if it was marked ([`set_signed_in`]).
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn signed_in(db: &mut impl AsDb, id: Uuid) -> Result<Option<SignedIn>, StoreError> {
    const SQL: &str = "SELECT user_id, browser_session_id FROM authorization_requests \
         WHERE id = $1 AND user_id IS NOT NULL AND browser_session_id IS NOT NULL";
    Ok(on_db!(db, |c| sqlx::query_as::<_, SignedIn>(SQL)
        .bind(id)
        .fetch_optional(c)
        .await)?)
}
