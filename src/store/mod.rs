//! Storage: plain functions, one module per table, each running its SQL on a
//! connection or a transaction the caller passes in, on PostgreSQL
//! (production, many instances) or SQLite (the embedded default).
//!
//! - [`Store::begin`] starts a transaction; service functions pass it to as
//!   many store functions as their change needs and commit once, so a
//!   multi-step change (a password change and the revocation it causes)
//!   commits or fails as one.
//! - [`Store::conn`] gives a pooled connection for reads outside a transaction.
//! - [`Store::write_conn`] gives one for a write that may not need a
//!   transaction (the rotation's compare-and-set), having taken this
//!   process's turn to write on SQLite (see `sqlite.rs`).
//!
//! Both databases run the same SQL text (`$n` placeholders work on both), so
//! each statement is written once, in the function that runs it; [`on_db!`]
//! compiles that one expression for each database. Where the SQL differs (row
//! locks, how a transaction begins), both versions stand side by side in an
//! explicit `match` on [`Db`].

pub mod account_tokens;
pub mod audit;
pub mod authorization_codes;
pub mod authorization_requests;
pub mod browser_session_clients;
pub mod browser_sessions;
pub mod clients;
pub mod code_tries;
pub mod consents;
pub mod erase;
mod error;
pub mod event_deliveries;
pub mod factors;
pub mod outbox;
pub mod passkeys;
mod postgres;
pub mod sessions;
mod sqlite;
pub mod throttle;
pub mod user_revocations;
pub mod user_roles;
pub mod users;
pub mod webhooks;

use std::time::Duration;

use secrecy::ExposeSecret;
use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, Postgres, Sqlite, SqliteConnection};
use tokio::sync::OwnedMutexGuard;

pub use error::StoreError;

use crate::config::DatabaseSettings;

/// The database: a pool of connections to PostgreSQL or to a SQLite file.
pub struct Store {
    backend: Backend,
}

enum Backend {
    Postgres(sqlx::PgPool),
    Sqlite(sqlite::SqlitePool),
}

/// A connection a statement runs on, from a [`Conn`] or a [`Tx`].
pub enum Db<'a> {
    Postgres(&'a mut PgConnection),
    Sqlite(&'a mut SqliteConnection),
}

/// What store functions take: a pooled connection or a transaction.
pub trait AsDb: Send {
    fn db(&mut self) -> Db<'_>;
}

/// Runs one sqlx expression on whichever database `$db` (an [`AsDb`]) is on,
/// with `$c` bound to its connection. The expression is written once and
/// compiled for each database, so a store function reads as its SQL and its
/// binds; it picks the connection and nothing else.
macro_rules! on_db {
    ($db:expr, |$c:ident| $run:expr) => {
        match $crate::store::AsDb::db($db) {
            $crate::store::Db::Postgres($c) => $run,
            $crate::store::Db::Sqlite($c) => $run,
        }
    };
}
pub(crate) use on_db;

/// A pooled connection, outside any transaction.
pub struct Conn {
    inner: ConnInner,
    /// SQLite: this process's turn to write, for connections from `write_conn`.
    _turn: Option<OwnedMutexGuard<()>>,
}

enum ConnInner {
    Postgres(PoolConnection<Postgres>),
    Sqlite(PoolConnection<Sqlite>),
}

/// A transaction: commit it, or drop it to roll back.
pub struct Tx<'c> {
    inner: TxInner<'c>,
    /// SQLite: this process's turn to write, held until commit or rollback.
    _turn: Option<OwnedMutexGuard<()>>,
}

enum TxInner<'c> {
    Postgres(sqlx::Transaction<'c, Postgres>),
    Sqlite(sqlx::Transaction<'c, Sqlite>),
}

impl AsDb for Conn {
    fn db(&mut self) -> Db<'_> {
        match &mut self.inner {
            ConnInner::Postgres(c) => Db::Postgres(c),
            ConnInner::Sqlite(c) => Db::Sqlite(c),
        }
    }
}

impl AsDb for Tx<'_> {
    fn db(&mut self) -> Db<'_> {
        match &mut self.inner {
            TxInner::Postgres(t) => Db::Postgres(t),
            TxInner::Sqlite(t) => Db::Sqlite(t),
        }
    }
}

impl Store {
    /// Opens the database the URL names (`sqlite:` or `postgres:`) and applies
    /// the embedded migrations.
    pub async fn connect(settings: &DatabaseSettings) -> Result<Self, StoreError> {
        let url = settings.url.expose_secret();
        let acquire = Duration::from_millis(settings.acquire_timeout_ms);
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite(
                sqlite::SqlitePool::connect(url, settings.max_connections, acquire).await?,
            )
        } else {
            Backend::Postgres(postgres::connect(url, settings.max_connections, acquire).await?)
        };
        let store = Self { backend };
        store.migrate().await?;
        Ok(store)
    }

    /// Applies the embedded migrations (also done by `connect`).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Postgres(pool) => postgres::MIGRATOR.run(pool).await?,
            Backend::Sqlite(s) => sqlite::MIGRATOR.run(&s.pool).await?,
        }
        Ok(())
    }

    /// One round trip, for `/readyz`.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        on_db!(&mut conn, |c| sqlx::query("SELECT 1")
            .execute(c)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// Connections in the pool, and how many of them are idle.
    pub fn pool_stats(&self) -> (u32, usize) {
        match &self.backend {
            Backend::Postgres(pool) => (pool.size(), pool.num_idle()),
            Backend::Sqlite(s) => (s.pool.size(), s.pool.num_idle()),
        }
    }

    /// A connection for reads.
    pub async fn conn(&self) -> Result<Conn, StoreError> {
        let inner = match &self.backend {
            Backend::Postgres(pool) => ConnInner::Postgres(pool.acquire().await?),
            Backend::Sqlite(s) => ConnInner::Sqlite(s.pool.acquire().await?),
        };
        Ok(Conn { inner, _turn: None })
    }

    /// A connection for writes outside a transaction. On SQLite it holds this
    /// process's turn to write (taken before the connection, so no writer
    /// holds a connection while it waits for its turn).
    pub async fn write_conn(&self) -> Result<Conn, StoreError> {
        match &self.backend {
            Backend::Postgres(pool) => Ok(Conn {
                inner: ConnInner::Postgres(pool.acquire().await?),
                _turn: None,
            }),
            Backend::Sqlite(s) => {
                let turn = s.write_turn().await;
                Ok(Conn {
                    inner: ConnInner::Sqlite(s.pool.acquire().await?),
                    _turn: Some(turn),
                })
            }
        }
    }

    /// A transaction for a change of one or more statements. Every write goes
    /// through one; see [`Conn::begin`] for how each database begins it.
    pub async fn begin(&self) -> Result<Tx<'static>, StoreError> {
        match &self.backend {
            Backend::Postgres(pool) => Ok(Tx {
                inner: TxInner::Postgres(pool.begin().await?),
                _turn: None,
            }),
            Backend::Sqlite(s) => {
                let turn = s.write_turn().await;
                let tx = s.pool.begin_with(sqlite::BEGIN_WRITE).await?;
                Ok(Tx {
                    inner: TxInner::Sqlite(tx),
                    _turn: Some(turn),
                })
            }
        }
    }
}

impl Conn {
    /// A transaction on this connection. PostgreSQL: a plain `BEGIN`; rows
    /// are locked by the statements that need it (`FOR UPDATE`). SQLite:
    /// `BEGIN IMMEDIATE`, which takes the database's write lock before the
    /// first read, so two transactions cannot both read a row and then both
    /// change it (a deferred transaction would read first and fail to upgrade).
    pub async fn begin(&mut self) -> Result<Tx<'_>, StoreError> {
        let inner = match &mut self.inner {
            ConnInner::Postgres(c) => TxInner::Postgres(sqlx::Connection::begin(&mut **c).await?),
            ConnInner::Sqlite(c) => {
                TxInner::Sqlite(sqlx::Connection::begin_with(&mut **c, sqlite::BEGIN_WRITE).await?)
            }
        };
        Ok(Tx { inner, _turn: None })
    }
}

impl Tx<'_> {
    pub async fn commit(self) -> Result<(), StoreError> {
        match self.inner {
            TxInner::Postgres(t) => t.commit().await?,
            TxInner::Sqlite(t) => t.commit().await?,
        }
        Ok(())
    }

    pub async fn rollback(self) -> Result<(), StoreError> {
        match self.inner {
            TxInner::Postgres(t) => t.rollback().await?,
            TxInner::Sqlite(t) => t.rollback().await?,
        }
        Ok(())
    }
}
