//! The integration suite: every test runs the real server on a random port,
//! once against a fresh SQLite file and once against a fresh PostgreSQL database.

mod helpers;

mod access_tokens;
mod account;
mod binary;
mod browser;
mod crash;
mod faults;
mod input;
mod limits;
mod mobile;
mod oauth;
mod observability;
mod openapi;
mod refresh;
mod revocation;
mod sessions;
mod stress;
