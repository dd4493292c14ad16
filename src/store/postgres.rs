//! The PostgreSQL store: production and multi-instance deployments.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use uuid::Uuid;

use super::sql::{self, impl_store};
use super::{
    AuditEvent, AuditKind, AuditRecord, Client, Credentials, NewUser, RequestMeta, Revocation,
    Rotation, StoreError, User, reasons,
};
use crate::sessions::{Decision, RotationPolicy, Session, decide};

/// A plain transaction; the row lock comes from `FOR UPDATE`, which makes a
/// second presentation of the same token wait until the first commits, then
/// see the rotated counter.
const BEGIN_ROTATION: &str = "BEGIN";
const LOCK_SESSION: &str = "SELECT id, user_id, counter, created_at, last_rotated_at, expires_at, \
     absolute_expires_at, revoked_at, revoked_reason, user_agent, ip FROM sessions WHERE id = $1 FOR UPDATE";

/// Taken before any change to several sessions of one user, so such changes
/// queue on the user instead of locking session rows in different orders.
const LOCK_USER: &str = "SELECT id FROM users WHERE id = $1 FOR UPDATE";

/// Statements slower than this are cancelled, so a stuck database turns into
/// errors instead of piled-up requests.
const STATEMENT_TIMEOUT: &str = "5s";

pub struct PgStore {
    pool: sqlx::PgPool,
}

impl PgStore {
    pub async fn connect(
        url: &str,
        max_connections: u32,
        acquire_timeout: Duration,
    ) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url)
            .map_err(StoreError::Database)?
            .application_name("authd")
            .options([("statement_timeout", STATEMENT_TIMEOUT)]);
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(acquire_timeout)
            .connect_with(options)
            .await?;
        Ok(Self { pool })
    }

    pub fn pool(&self) -> &sqlx::PgPool {
        &self.pool
    }

    /// PostgreSQL takes concurrent writers and queues them on row locks:
    /// nothing to wait for here.
    async fn write_turn(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        None
    }
}

impl_store!(
    PgStore,
    sqlx::Postgres,
    sqlx::migrate!("./migrations/postgres")
);
