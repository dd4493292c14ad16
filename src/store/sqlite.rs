//! The SQLite store: the embedded default, one file, nothing else to install.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use uuid::Uuid;

use super::sql::{self, impl_store};
use super::{
    AuditEvent, AuditKind, AuditRecord, Credentials, NewUser, RequestMeta, Rotation, StoreError,
    User, reasons,
};
use crate::sessions::{Decision, RotationPolicy, Session, decide};

/// SQLite has one writer at a time; `BEGIN IMMEDIATE` takes the write lock
/// before the session is read, so two presentations of one token cannot both
/// read the same counter (a deferred transaction would read first and fail to
/// upgrade). Waiting writers queue on the busy timeout.
const BEGIN_ROTATION: &str = "BEGIN IMMEDIATE";
const LOCK_SESSION: &str = sql::SELECT_SESSION;

const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

pub struct SqliteStore {
    pool: sqlx::SqlitePool,
}

impl SqliteStore {
    pub async fn connect(
        url: &str,
        max_connections: u32,
        acquire_timeout: Duration,
    ) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(StoreError::Database)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        if !in_memory {
            let dir = options.get_filename().parent().map(|p| p.to_path_buf());
            if let Some(dir) = dir.filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(&dir)
                    .map_err(|e| StoreError::Database(sqlx::Error::Io(e)))?;
            }
        }
        let pool = SqlitePoolOptions::new()
            // Every connection to `:memory:` is its own database: keep one.
            .max_connections(if in_memory { 1 } else { max_connections })
            .acquire_timeout(acquire_timeout)
            .connect_with(options)
            .await?;
        Ok(Self { pool })
    }

    pub fn pool(&self) -> &sqlx::SqlitePool {
        &self.pool
    }
}

impl_store!(
    SqliteStore,
    sqlx::Sqlite,
    sqlx::migrate!("./migrations/sqlite")
);
