//! Opening the PostgreSQL store: production and multi-instance deployments.
//! PostgreSQL takes concurrent writers and queues them on row locks, so no
//! turn to write is taken in process.

use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use super::StoreError;

pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// Statements slower than this are cancelled, so a stuck database turns into
/// errors (503) instead of piled-up requests.
const STATEMENT_TIMEOUT: &str = "5s";

pub async fn connect(
    url: &str,
    max_connections: u32,
    acquire_timeout: Duration,
) -> Result<sqlx::PgPool, StoreError> {
    let options = PgConnectOptions::from_str(url)
        .map_err(StoreError::Database)?
        .application_name("authd")
        .options([("statement_timeout", STATEMENT_TIMEOUT)]);
    Ok(PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(acquire_timeout)
        .connect_with(options)
        .await?)
}
