//! Opening the SQLite store: the embedded default, one file, nothing else to
//! install; and the in-process queue its writers take turns in.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use tokio::sync::{Mutex, OwnedMutexGuard};

use super::StoreError;

pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

/// How every SQLite transaction begins: with the write lock taken (see
/// `Conn::begin`).
pub const BEGIN_WRITE: &str = "BEGIN IMMEDIATE";

const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

pub struct SqlitePool {
    pub pool: sqlx::SqlitePool,
    /// Writers of this process take turns here, first come first served,
    /// before they touch the database. SQLite admits one writer at a time, and
    /// a connection that finds the write lock taken polls for it with sleeps
    /// of up to 100 ms (its busy handler), so contending writers used to wait
    /// far longer than the write itself took: a refresh p99 of 80 ms and
    /// stalls of over a second under 16 concurrent refreshes. Queued here, each
    /// waits only for the writes ahead of it. Readers never take a turn (WAL
    /// lets them read beside the writer); the busy timeout still covers other
    /// processes (the `authd` CLI) writing to the same file.
    writer: Arc<Mutex<()>>,
}

impl SqlitePool {
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
            // Deleted and overwritten content (a sent message's sealed text,
            // a spent token's row) is zeroed in the database file rather
            // than left in free space; what the WAL still holds until a
            // checkpoint is ciphertext or hashes.
            .pragma("secure_delete", "ON")
            .busy_timeout(BUSY_TIMEOUT);
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        if !in_memory {
            create_private_file(options.get_filename())
                .map_err(|e| StoreError::Database(sqlx::Error::Io(e)))?;
        }
        let pool = SqlitePoolOptions::new()
            // Every connection to `:memory:` is its own database: keep one.
            .max_connections(if in_memory { 1 } else { max_connections })
            .acquire_timeout(acquire_timeout)
            .connect_with(options)
            .await?;
        Ok(Self {
            pool,
            writer: Arc::new(Mutex::new(())),
        })
    }

    /// This process's turn to write; held until the write is committed.
    pub async fn write_turn(&self) -> OwnedMutexGuard<()> {
        self.writer.clone().lock_owned().await
    }
}

/// Creates the database file readable by its owner only (0600), in a directory
/// created 0700 if missing: it holds password hashes. SQLite gives its WAL and
/// shared-memory files the same mode as the database file.
fn create_private_file(path: &std::path::Path) -> std::io::Result<()> {
    if let Some(dir) = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty() && !d.exists())
    {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}
