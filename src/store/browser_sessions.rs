//! Browser sessions at authd: the `sessions` rows of kind `browser`. They are
//! inserted as any session, of kind `browser` (`store::sessions::insert`,
//! under the cap of the user's browser sessions in `sessions::start`);
//! they end as any session (every "end all sessions" path
//! revokes them with the rest). What makes one usable is decided in
//! `crate::sessions::browser`.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{AsDb, StoreError, on_db};

/// A browser session as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct BrowserSessionRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub created_at: DateTime<Utc>,
    /// When it was last used (the idle limit counts from here).
    pub last_rotated_at: DateTime<Utc>,
    /// The idle limit, capped by the absolute one.
    pub expires_at: DateTime<Utc>,
    pub absolute_expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// When the user signed in.
    pub auth_time: Option<DateTime<Utc>>,
    /// The stored names of the sign-in methods, space-separated.
    pub auth_methods: String,
}

/// The browser session `id`; `None` for an unknown id or a session of another
/// kind.
#[tracing::instrument(skip_all, fields(session = %id))]
pub async fn find(db: &mut impl AsDb, id: Uuid) -> Result<Option<BrowserSessionRow>, StoreError> {
    const SQL: &str = "SELECT id, user_id, created_at, last_rotated_at, expires_at, \
         absolute_expires_at, revoked_at, auth_time, auth_methods FROM sessions \
         WHERE id = $1 AND kind = 'browser'";
    Ok(on_db!(db, |c| sqlx::query_as::<_, BrowserSessionRow>(SQL)
        .bind(id)
        .fetch_optional(c)
        .await)?)
}

/// Moves the idle limit of live browser session `id` to `expires_at`, used
/// at `now`; false if it is no longer live.
#[tracing::instrument(skip_all, fields(session = %id))]
pub async fn touch(
    db: &mut impl AsDb,
    id: Uuid,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    const SQL: &str = "UPDATE sessions SET expires_at = $2, last_rotated_at = $3 \
         WHERE id = $1 AND kind = 'browser' AND revoked_at IS NULL AND expires_at > $3";
    let done = on_db!(db, |c| sqlx::query(SQL)
        .bind(id)
        .bind(expires_at)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(done == 1)
}
