//! authd: password sign-in, short-lived JWT access tokens, rotating refresh
//! tokens in families, on PostgreSQL or an embedded SQLite.

pub mod cli;
pub mod clients;
pub mod clock;
pub mod config;
pub mod domain;
pub mod http;
pub mod keys;
pub mod metrics;
pub mod passwords;
pub mod refresh;
pub mod sessions;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod throttle;
pub mod tokens;
