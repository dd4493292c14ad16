//! What a store function can fail with, and which database errors a retry cures.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("email already registered")]
    EmailTaken,
    /// No connection could be had in time, the connection broke, or the
    /// database gave up on a lock: 503, worth a retry.
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
