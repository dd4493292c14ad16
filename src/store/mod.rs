//! The storage boundary: one trait, two implementations (PostgreSQL for
//! production, SQLite as the embedded default) that share every statement and
//! differ only in how a transaction locks a session row.

mod postgres;
mod sql;
mod sqlite;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;
use serde::Serialize;
use uuid::Uuid;

pub use postgres::PgStore;
pub use sqlite::SqliteStore;

use crate::config::DatabaseSettings;
use crate::sessions::{Decision, RotationPolicy, Session};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("email already registered")]
    EmailTaken,
    /// No connection could be had in time, or the connection broke: 503.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_) => Self::Unavailable(e),
            sqlx::Error::Database(ref db) if is_transient(db.code().as_deref()) => {
                Self::Unavailable(e)
            }
            sqlx::Error::Database(ref db)
                if db.is_unique_violation()
                    && (db.constraint() == Some(EMAIL_CONSTRAINT)
                        || db.message().contains("users.email")) =>
            {
                Self::EmailTaken
            }
            other => Self::Database(other),
        }
    }
}

/// The unique constraint on `users.email` (SQLite names the column instead).
const EMAIL_CONSTRAINT: &str = "users_email_key";

/// Errors that a retry can cure: the client gets 503 with `Retry-After`, not 500.
/// PostgreSQL: deadlock, serialization failure, lock not available, statement
/// timeout or cancel, too many connections, shutting down. SQLite: busy, locked.
fn is_transient(code: Option<&str>) -> bool {
    matches!(
        code,
        Some(
            "40P01"
                | "40001"
                | "55P03"
                | "57014"
                | "53300"
                | "57P01"
                | "57P03"
                | "5"
                | "6"
                | "517"
                | "262"
        )
    )
}

/// A user as the API shows it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub created_at: DateTime<Utc>,
}

/// A user with the stored password hash, for login only.
#[derive(Clone, sqlx::FromRow)]
pub struct Credentials {
    pub id: Uuid,
    pub password_hash: String,
}

pub struct NewUser<'a> {
    pub id: Uuid,
    pub email: &'a str,
    pub password_hash: &'a str,
    pub now: DateTime<Utc>,
}

/// Who made a request, as recorded with sessions and audit events.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// Kinds of audit events; the strings are stored and are part of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditKind {
    Registered,
    LoginSucceeded,
    LoginFailed,
    RefreshReuseDetected,
    Logout,
    SessionRevoked,
    PasswordChanged,
}

impl AuditKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Registered => "registered",
            Self::LoginSucceeded => "login_succeeded",
            Self::LoginFailed => "login_failed",
            Self::RefreshReuseDetected => "refresh_reuse_detected",
            Self::Logout => "logout",
            Self::SessionRevoked => "session_revoked",
            Self::PasswordChanged => "password_changed",
        }
    }
}

/// An audit event. Never holds a token or a password.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    pub user_id: Option<Uuid>,
    pub kind: AuditKind,
    pub session_id: Option<Uuid>,
    pub meta: RequestMeta,
    pub detail: Option<String>,
    pub at: DateTime<Utc>,
}

/// A stored audit event.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct AuditRecord {
    /// What happened, such as `login_failed` or `session_revoked`.
    pub kind: String,
    pub session_id: Option<Uuid>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub detail: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A registered machine client. `secret_hash` is the hex SHA-256 of its secret;
/// `scopes` the space-separated scopes it may ask for.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Client {
    pub id: String,
    pub name: String,
    pub secret_hash: String,
    pub scopes: String,
    pub created_at: DateTime<Utc>,
}

/// A revoked session, as the revocation feed lists it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Revocation {
    /// The session id: the `sid` of its access tokens.
    pub id: Uuid,
    pub user_id: Uuid,
    pub revoked_at: DateTime<Utc>,
}

/// The outcome of presenting refresh token `counter` of a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// A new current token; the session as it is now.
    Rotated(Session),
    /// The grace rule: the session unchanged, its current token to hand out again.
    Grace(Session),
    /// A rotated token again: every session of the user is revoked.
    Reused {
        user_id: Uuid,
        session_id: Uuid,
        revoked: u64,
    },
    /// Expired, revoked or unknown.
    Refused(Decision),
}

/// Why sessions are revoked; stored with them.
pub mod reasons {
    pub const LOGOUT: &str = "logout";
    pub const LOGOUT_GLOBAL: &str = "logout_global";
    pub const LOGOUT_OTHERS: &str = "logout_others";
    pub const REVOKED_BY_USER: &str = "revoked_by_user";
    pub const REUSE_DETECTED: &str = "reuse_detected";
    pub const PASSWORD_CHANGED: &str = "password_changed";
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Applies the embedded migrations.
    async fn migrate(&self) -> Result<(), StoreError>;
    /// One round trip, for `/readyz`.
    async fn ping(&self) -> Result<(), StoreError>;
    /// Connections in the pool, and how many of them are idle.
    fn pool_stats(&self) -> (u32, usize);

    async fn create_user(&self, user: NewUser<'_>) -> Result<User, StoreError>;
    async fn find_credentials(&self, email: &str) -> Result<Option<Credentials>, StoreError>;
    async fn find_user(&self, id: Uuid) -> Result<Option<User>, StoreError>;
    /// The user of `session` if it is `user`'s and live (not revoked, not
    /// expired at `now`): one query for a Bearer route that shows the user.
    async fn find_live_session_user(
        &self,
        session: Uuid,
        user: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Option<User>, StoreError>;
    async fn update_password_hash(
        &self,
        id: Uuid,
        hash: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    async fn create_session(&self, session: &Session) -> Result<(), StoreError>;
    async fn find_session(&self, id: Uuid) -> Result<Option<Session>, StoreError>;
    /// Applies the rotation rule to a presented token in one transaction that
    /// holds the session's row lock, so concurrent presentations of one token
    /// are serialized and no token is spent twice. On reuse, every session of
    /// the user is revoked and an audit event recorded in the same transaction.
    async fn rotate(
        &self,
        session: Uuid,
        presented: i64,
        now: DateTime<Utc>,
        policy: &RotationPolicy,
        meta: &RequestMeta,
    ) -> Result<Rotation, StoreError>;
    /// Revokes one live session of `user`; false if there was none.
    async fn revoke_session(
        &self,
        id: Uuid,
        user: Uuid,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Revokes every live session of `user` except `keep`, recording `event` in
    /// the same transaction; returns how many. Holds the user's row lock.
    async fn revoke_user_sessions(
        &self,
        user: Uuid,
        keep: Option<Uuid>,
        reason: &str,
        now: DateTime<Utc>,
        event: Option<&AuditEvent>,
    ) -> Result<u64, StoreError>;
    async fn list_active_sessions(
        &self,
        user: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Vec<Session>, StoreError>;

    async fn record_audit(&self, event: &AuditEvent) -> Result<(), StoreError>;
    async fn list_audit(&self, user: Uuid, limit: i64) -> Result<Vec<AuditRecord>, StoreError>;

    /// Deletes at most `batch` sessions whose current token expired before
    /// `expired_before`, revoked or not; returns how many. A revoked session is
    /// kept until then, so its tokens are still answered as revoked.
    async fn purge_sessions(
        &self,
        expired_before: DateTime<Utc>,
        batch: i64,
    ) -> Result<u64, StoreError>;
    /// The latest `blocked_until` still ahead of `now` among `keys`.
    async fn throttle_blocked_until(
        &self,
        keys: [&str; 2],
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, StoreError>;
    /// Counts a failed login against `key` in one atomic upsert; a count whose
    /// last failure was before `quiet_since` starts again. Returns the count.
    async fn count_failure(
        &self,
        key: &str,
        now: DateTime<Utc>,
        quiet_since: DateTime<Utc>,
    ) -> Result<i64, StoreError>;
    async fn block_key(&self, key: &str, until: DateTime<Utc>) -> Result<(), StoreError>;
    /// Forgets a key's failures (after a successful login).
    async fn clear_key(&self, key: &str) -> Result<(), StoreError>;
    /// Deletes at most `batch` counters whose window and block are over.
    async fn purge_throttle(
        &self,
        quiet_since: DateTime<Utc>,
        now: DateTime<Utc>,
        batch: i64,
    ) -> Result<u64, StoreError>;
    async fn create_client(&self, client: &Client) -> Result<(), StoreError>;
    async fn find_client(&self, id: &str) -> Result<Option<Client>, StoreError>;
    async fn list_clients(&self) -> Result<Vec<Client>, StoreError>;
    /// Deletes a client; false if there was none.
    async fn delete_client(&self, id: &str) -> Result<bool, StoreError>;
    /// At most `limit` sessions revoked after `after` (a revocation time and a
    /// session id, compared in that order), oldest first.
    async fn list_revocations(
        &self,
        after: (DateTime<Utc>, Uuid),
        limit: i64,
    ) -> Result<Vec<Revocation>, StoreError>;

    /// Deletes at most `batch` audit events older than `before`; returns how many.
    async fn purge_audit(&self, before: DateTime<Utc>, batch: i64) -> Result<u64, StoreError>;
}

/// Opens the store the URL names and applies its migrations.
pub async fn connect(settings: &DatabaseSettings) -> Result<Arc<dyn Store>, StoreError> {
    let url = settings.url.expose_secret();
    let acquire = Duration::from_millis(settings.acquire_timeout_ms);
    let store: Arc<dyn Store> = if url.starts_with("sqlite:") {
        Arc::new(SqliteStore::connect(url, settings.max_connections, acquire).await?)
    } else {
        Arc::new(PgStore::connect(url, settings.max_connections, acquire).await?)
    };
    store.migrate().await?;
    Ok(store)
}
