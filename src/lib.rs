//! authd: password sign-in, short-lived JWT access tokens, rotating refresh
//! tokens in families, on PostgreSQL or an embedded SQLite.
//!
//! Three layers, used in one direction (see ARCHITECTURE.md): `http`
//! (extractors, handlers, error mapping) calls the services (`accounts`,
//! `sessions`, `oauth`, `clients`, `audit`), which call `store`.

pub mod accounts;
pub mod admin;
pub mod app;
pub mod audit;
pub mod background;
pub mod cleanup;
pub mod cli;
pub mod clients;
pub mod clock;
pub mod config;
pub mod csrf;
pub mod domain;
pub mod error;
pub mod events;
pub mod factors;
pub mod http;
pub mod ids;
pub mod keys;
pub mod mail;
pub mod metrics;
pub mod oauth;
pub mod oidc;
pub mod passwords;
pub mod services;
pub mod sessions;
pub mod store;
pub mod telemetry;
pub mod templates;
pub mod throttle;
pub mod tokens;
