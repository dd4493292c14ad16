//! The `sessions` table: one row per session (refresh-token family), whatever
//! the number of rotations. The rules that change these rows are in
//! `crate::sessions`; this module only runs their statements.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{AsDb, Db, StoreError, on_db};
use crate::sessions::Session;

/// A revoked session, as the revocation feed lists it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Revocation {
    /// The session id: the `sid` of its access tokens.
    pub id: Uuid,
    pub user_id: Uuid,
    pub revoked_at: DateTime<Utc>,
}

#[tracing::instrument(skip_all, fields(session = %s.id))]
pub async fn insert(db: &mut impl AsDb, s: &Session) -> Result<(), StoreError> {
    const SQL: &str = "INSERT INTO sessions (id, user_id, counter, created_at, last_rotated_at, \
         expires_at, absolute_expires_at, revoked_at, revoked_reason, user_agent, ip, auth_methods, kind, client_id, \
         scope, browser_session_id, auth_time, idle_secs) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)";
    on_db!(db, |c| sqlx::query(SQL)
        .bind(s.id)
        .bind(s.user_id)
        .bind(s.counter)
        .bind(s.created_at)
        .bind(s.last_rotated_at)
        .bind(s.expires_at)
        .bind(s.absolute_expires_at)
        .bind(s.revoked_at)
        .bind(s.revoked_reason.as_deref())
        .bind(s.user_agent.as_deref())
        .bind(s.ip.as_deref())
        .bind(s.auth_methods.to_string())
        .bind(s.kind.as_str())
        .bind(s.client_id.as_deref())
        .bind(s.scope.as_deref())
        .bind(s.browser_session_id)
        .bind(s.auth_time)
        .bind(s.idle_secs)
        .execute(c)
        .await
        .map(|_| ()))?;
    Ok(())
}

/// The session as it is, without a lock.
#[tracing::instrument(skip_all, fields(session = %id))]
pub async fn find(db: &mut impl AsDb, id: Uuid) -> Result<Option<Session>, StoreError> {
    const SQL: &str = "SELECT id, user_id, counter, created_at, last_rotated_at, expires_at, \
         absolute_expires_at, revoked_at, revoked_reason, user_agent, ip, auth_methods, \
         kind, client_id, scope, browser_session_id, auth_time, idle_secs FROM sessions WHERE id = $1";
    Ok(on_db!(db, |c| sqlx::query_as::<_, Session>(SQL)
        .bind(id)
        .fetch_optional(c)
        .await)?)
}

/// The session, its row locked until the transaction ends. PostgreSQL:
/// `FOR UPDATE` makes a second presentation of the same token wait until the
/// first commits, then read the counter as it left it. SQLite: the
/// transaction holds the write lock already (`BEGIN IMMEDIATE`).
#[tracing::instrument(skip_all, fields(session = %id))]
pub async fn lock(db: &mut impl AsDb, id: Uuid) -> Result<Option<Session>, StoreError> {
    const PG: &str = "SELECT id, user_id, counter, created_at, last_rotated_at, expires_at, \
         absolute_expires_at, revoked_at, revoked_reason, user_agent, ip, auth_methods, \
         kind, client_id, scope, browser_session_id, auth_time, idle_secs FROM sessions WHERE id = $1 \
         FOR UPDATE";
    const SQLITE: &str = "SELECT id, user_id, counter, created_at, last_rotated_at, expires_at, \
         absolute_expires_at, revoked_at, revoked_reason, user_agent, ip, auth_methods, \
         kind, client_id, scope, browser_session_id, auth_time, idle_secs FROM sessions WHERE id = $1";
    Ok(match db.db() {
        Db::Postgres(c) => {
            sqlx::query_as::<_, Session>(PG)
                .bind(id)
                .fetch_optional(c)
                .await?
        }
        Db::Sqlite(c) => {
            sqlx::query_as::<_, Session>(SQLITE)
                .bind(id)
                .fetch_optional(c)
                .await?
        }
    })
}

/// Makes token `counter` current, issued at `now`, valid until `expires_at`.
/// For a caller holding the row's lock.
#[tracing::instrument(skip_all, fields(session = %id))]
pub async fn set_current(
    db: &mut impl AsDb,
    id: Uuid,
    counter: i64,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    const SQL: &str =
        "UPDATE sessions SET counter = $2, last_rotated_at = $3, expires_at = $4 WHERE id = $1";
    on_db!(db, |c| sqlx::query(SQL)
        .bind(id)
        .bind(counter)
        .bind(now)
        .bind(expires_at)
        .execute(c)
        .await
        .map(|_| ()))?;
    Ok(())
}

/// Like [`set_current`], without a lock: applied only if the row still has
/// counter `seen` and is not revoked. False when another writer moved first.
/// Why that is enough is argued in `crate::sessions::rotate`.
#[tracing::instrument(skip_all, fields(session = %id))]
pub async fn set_current_if(
    db: &mut impl AsDb,
    id: Uuid,
    seen: i64,
    counter: i64,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<bool, StoreError> {
    const SQL: &str = "UPDATE sessions SET counter = $2, last_rotated_at = $3, expires_at = $4 \
         WHERE id = $1 AND counter = $5 AND revoked_at IS NULL";
    let done = on_db!(db, |c| sqlx::query(SQL)
        .bind(id)
        .bind(counter)
        .bind(now)
        .bind(expires_at)
        .bind(seen)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(done == 1)
}

/// Revokes session `id` of `user` if it is live; false if there was none.
#[tracing::instrument(skip_all, fields(session = %id, user = %user))]
pub async fn revoke(
    db: &mut impl AsDb,
    id: Uuid,
    user: Uuid,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    const SQL: &str = "UPDATE sessions SET revoked_at = $3, revoked_reason = $4 \
         WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL AND expires_at > $3";
    let done = on_db!(db, |c| sqlx::query(SQL)
        .bind(id)
        .bind(user)
        .bind(now)
        .bind(reason)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(done == 1)
}

/// Revokes every unrevoked session of `user` but `keep`; returns how many.
/// `with_user`: a `user_revocations` row written in the same transaction
/// covers them, so the feed need not list them one by one (see
/// `crate::sessions::feed`). Take the user's lock first (`users::lock`).
#[tracing::instrument(skip_all, fields(user = %user))]
pub async fn revoke_all_of_user(
    db: &mut impl AsDb,
    user: Uuid,
    keep: Option<Uuid>,
    reason: &str,
    now: DateTime<Utc>,
    with_user: bool,
) -> Result<u64, StoreError> {
    // `$4` is the session to keep, or the nil UUID to keep none.
    const SQL: &str = "UPDATE sessions SET revoked_at = $2, revoked_reason = $3, \
         revoked_with_user = $5 WHERE user_id = $1 AND revoked_at IS NULL AND id <> $4";
    Ok(on_db!(db, |c| sqlx::query(SQL)
        .bind(user)
        .bind(now)
        .bind(reason)
        .bind(keep.unwrap_or(Uuid::nil()))
        .bind(with_user)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?)
}

/// When the user's latest session started, revoked or not. For a caller
/// holding the user's lock.
#[tracing::instrument(skip_all, fields(user = %user))]
pub async fn latest_start(
    db: &mut impl AsDb,
    user: Uuid,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    const SQL: &str =
        "SELECT created_at FROM sessions WHERE user_id = $1 ORDER BY created_at DESC LIMIT 1";
    Ok(on_db!(db, |c| sqlx::query_scalar::<_, DateTime<Utc>>(SQL)
        .bind(user)
        .fetch_optional(c)
        .await)?)
}

/// Revokes the user's live sessions of `kind` held by `client` (`None`:
/// no client, authd's own) but the `keep` newest (by start, then id);
/// returns the ids it revoked. For a caller holding the user's lock.
#[tracing::instrument(skip_all, fields(user = %user, kind))]
pub async fn revoke_beyond_newest(
    db: &mut impl AsDb,
    user: Uuid,
    kind: &str,
    client: Option<&str>,
    keep: i64,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Vec<Uuid>, StoreError> {
    // The same statement but for how "skip `keep`, take the rest" and "equal,
    // NULL included" are said.
    const PG: &str = "UPDATE sessions SET revoked_at = $3, revoked_reason = $4 WHERE id IN \
         (SELECT id FROM sessions WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $3 \
         AND kind = $5 AND client_id IS NOT DISTINCT FROM $6 \
         ORDER BY created_at DESC, id DESC OFFSET $2) RETURNING id";
    const SQLITE: &str = "UPDATE sessions SET revoked_at = $3, revoked_reason = $4 WHERE id IN \
         (SELECT id FROM sessions WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $3 \
         AND kind = $5 AND client_id IS $6 \
         ORDER BY created_at DESC, id DESC LIMIT -1 OFFSET $2) RETURNING id";
    Ok(match db.db() {
        Db::Postgres(c) => {
            sqlx::query_scalar::<_, Uuid>(PG)
                .bind(user)
                .bind(keep)
                .bind(now)
                .bind(reason)
                .bind(kind)
                .bind(client)
                .fetch_all(c)
                .await?
        }
        Db::Sqlite(c) => {
            sqlx::query_scalar::<_, Uuid>(SQLITE)
                .bind(user)
                .bind(keep)
                .bind(now)
                .bind(reason)
                .bind(kind)
                .bind(client)
                .fetch_all(c)
                .await?
        }
    })
}

/// The user's live sessions, newest first.
#[tracing::instrument(skip_all, fields(user = %user))]
pub async fn list_live(
    db: &mut impl AsDb,
    user: Uuid,
    now: DateTime<Utc>,
) -> Result<Vec<Session>, StoreError> {
    const SQL: &str = "SELECT id, user_id, counter, created_at, last_rotated_at, expires_at, \
         absolute_expires_at, revoked_at, revoked_reason, user_agent, ip, auth_methods, \
         kind, client_id, scope, browser_session_id, auth_time, idle_secs FROM sessions \
         WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 ORDER BY created_at DESC, id";
    Ok(on_db!(db, |c| sqlx::query_as::<_, Session>(SQL)
        .bind(user)
        .bind(now)
        .fetch_all(c)
        .await)?)
}

/// How many live sessions the user has (of every kind and holder).
#[tracing::instrument(skip_all, fields(user = %user))]
pub async fn count_live(
    db: &mut impl AsDb,
    user: Uuid,
    now: DateTime<Utc>,
) -> Result<i64, StoreError> {
    const SQL: &str = "SELECT COUNT(*) FROM sessions \
         WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2";
    let (n,): (i64,) = on_db!(db, |c| sqlx::query_as(SQL)
        .bind(user)
        .bind(now)
        .fetch_one(c)
        .await)?;
    Ok(n)
}

/// At most `limit` of the user's live sessions, newest first (by start, then
/// id), from just after `after` (the start and id of the last one of the
/// previous page) or from the newest.
#[tracing::instrument(skip_all, fields(user = %user))]
pub async fn list_live_page(
    db: &mut impl AsDb,
    user: Uuid,
    now: DateTime<Utc>,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<Session>, StoreError> {
    const FIRST: &str = "SELECT id, user_id, counter, created_at, last_rotated_at, expires_at, \
         absolute_expires_at, revoked_at, revoked_reason, user_agent, ip, auth_methods, \
         kind, client_id, scope, browser_session_id, auth_time, idle_secs FROM sessions \
         WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 \
         ORDER BY created_at DESC, id DESC LIMIT $3";
    const NEXT: &str = "SELECT id, user_id, counter, created_at, last_rotated_at, expires_at, \
         absolute_expires_at, revoked_at, revoked_reason, user_agent, ip, auth_methods, \
         kind, client_id, scope, browser_session_id, auth_time, idle_secs FROM sessions \
         WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 \
         AND (created_at < $4 OR (created_at = $4 AND id < $5)) \
         ORDER BY created_at DESC, id DESC LIMIT $3";
    Ok(match after {
        None => on_db!(db, |c| sqlx::query_as::<_, Session>(FIRST)
            .bind(user)
            .bind(now)
            .bind(limit)
            .fetch_all(c)
            .await)?,
        Some((created_at, id)) => on_db!(db, |c| sqlx::query_as::<_, Session>(NEXT)
            .bind(user)
            .bind(now)
            .bind(limit)
            .bind(created_at)
            .bind(id)
            .fetch_all(c)
            .await)?,
    })
}

/// Like [`list_revoked_since`], without the sessions a user revocation
/// covers (`revoked_with_user`): what the feed lists one by one to readers of
/// user entries. Served by the partial index `sessions_revoked_alone_idx`.
#[tracing::instrument(skip_all)]
pub async fn list_revoked_alone_since(
    db: &mut impl AsDb,
    after: (DateTime<Utc>, Uuid),
    limit: i64,
) -> Result<Vec<Revocation>, StoreError> {
    const SQL: &str = "SELECT id, user_id, revoked_at FROM sessions \
         WHERE revoked_at IS NOT NULL AND revoked_with_user = FALSE \
         AND (revoked_at > $1 OR (revoked_at = $1 AND id > $2)) \
         ORDER BY revoked_at, id LIMIT $3";
    Ok(on_db!(db, |c| sqlx::query_as::<_, Revocation>(SQL)
        .bind(after.0)
        .bind(after.1)
        .bind(limit)
        .fetch_all(c)
        .await)?)
}

/// At most `limit` sessions revoked after `after` (a revocation time, then a
/// session id), oldest first; served by the partial index on `revoked_at`.
#[tracing::instrument(skip_all)]
pub async fn list_revoked_since(
    db: &mut impl AsDb,
    after: (DateTime<Utc>, Uuid),
    limit: i64,
) -> Result<Vec<Revocation>, StoreError> {
    const SQL: &str = "SELECT id, user_id, revoked_at FROM sessions \
         WHERE revoked_at IS NOT NULL AND (revoked_at > $1 OR (revoked_at = $1 AND id > $2)) \
         ORDER BY revoked_at, id LIMIT $3";
    Ok(on_db!(db, |c| sqlx::query_as::<_, Revocation>(SQL)
        .bind(after.0)
        .bind(after.1)
        .bind(limit)
        .fetch_all(c)
        .await)?)
}

/// Deletes at most `batch` sessions whose current token expired before
/// `expired_before`, revoked or not; returns how many.
#[tracing::instrument(skip_all)]
pub async fn purge_expired(
    db: &mut impl AsDb,
    expired_before: DateTime<Utc>,
    batch: i64,
) -> Result<u64, StoreError> {
    const SQL: &str =
        "DELETE FROM sessions WHERE id IN (SELECT id FROM sessions WHERE expires_at < $1 LIMIT $2)";
    Ok(on_db!(db, |c| sqlx::query(SQL)
        .bind(expired_before)
        .bind(batch)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?)
}

/// How many live client families (`kind = 'refresh'` rows with a
/// `client_id`) the user holds, per client.
#[tracing::instrument(skip_all, fields(user = %user))]
pub async fn count_live_families_by_client(
    db: &mut impl AsDb,
    user: Uuid,
    now: DateTime<Utc>,
) -> Result<Vec<(String, i64)>, StoreError> {
    const SQL: &str = "SELECT client_id, COUNT(*) FROM sessions \
         WHERE user_id = $1 AND kind = 'refresh' AND client_id IS NOT NULL \
         AND revoked_at IS NULL AND expires_at > $2 GROUP BY client_id ORDER BY client_id";
    Ok(on_db!(db, |c| sqlx::query_as::<_, (String, i64)>(SQL)
        .bind(user)
        .bind(now)
        .fetch_all(c)
        .await)?)
}

/// Revokes every unrevoked family of `user` made for `client`; returns the
/// ids revoked. Each is listed by the revocation feed on its own.
#[tracing::instrument(skip_all, fields(user = %user, client = client))]
pub async fn revoke_client_families(
    db: &mut impl AsDb,
    user: Uuid,
    client: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Vec<Uuid>, StoreError> {
    const SQL: &str = "UPDATE sessions SET revoked_at = $3, revoked_reason = $4 \
         WHERE user_id = $1 AND client_id = $2 AND kind = 'refresh' AND revoked_at IS NULL \
         RETURNING id";
    Ok(on_db!(db, |c| sqlx::query_scalar::<_, Uuid>(SQL)
        .bind(user)
        .bind(client)
        .bind(now)
        .bind(reason)
        .fetch_all(c)
        .await)?)
}

/// What a session row says about the browser session it belongs to: the
/// row's kind, user, and the browser session a client family was signed in
/// through.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct BrowserLink {
    pub id: Uuid,
    pub user_id: Uuid,
    pub kind: String,
    pub browser_session_id: Option<Uuid>,
}

/// The kind, user and browser session of session `id`, live or not.
#[tracing::instrument(skip_all, fields(session = %id))]
pub async fn find_browser_link(
    db: &mut impl AsDb,
    id: Uuid,
) -> Result<Option<BrowserLink>, StoreError> {
    const SQL: &str = "SELECT id, user_id, kind, browser_session_id FROM sessions WHERE id = $1";
    Ok(on_db!(db, |c| sqlx::query_as::<_, BrowserLink>(SQL)
        .bind(id)
        .fetch_optional(c)
        .await)?)
}

/// Revokes every unrevoked session of `user` signed in through browser
/// session `browser` (its client families); returns the ids revoked.
#[tracing::instrument(skip_all, fields(user = %user, browser = %browser))]
pub async fn revoke_signed_in_through(
    db: &mut impl AsDb,
    user: Uuid,
    browser: Uuid,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Vec<Uuid>, StoreError> {
    const SQL: &str = "UPDATE sessions SET revoked_at = $3, revoked_reason = $4 \
         WHERE user_id = $1 AND browser_session_id = $2 AND revoked_at IS NULL RETURNING id";
    Ok(on_db!(db, |c| sqlx::query_scalar::<_, Uuid>(SQL)
        .bind(user)
        .bind(browser)
        .bind(now)
        .bind(reason)
        .fetch_all(c)
        .await)?)
}
