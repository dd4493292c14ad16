//! The command line: `authd serve` (the default), `authd migrate`,
//! `authd keys generate`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "authd",
    version,
    about = "Password sign-in with short-lived JWTs and rotating refresh tokens"
)]
pub struct Cli {
    /// An extra TOML configuration file (also AUTHD_CONFIG).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply migrations and serve (the default).
    Serve,
    /// Apply the database migrations and exit.
    Migrate,
    /// Exit 0 if the local server answers /healthz (for container health checks).
    Healthcheck,
    /// Manage JWT signing keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Write a new key (mode 0600) and print the configuration that uses it.
    Generate {
        /// HS256, RS256, ES256 or EdDSA.
        #[arg(long)]
        alg: String,
        /// The key id; default: the algorithm and today's date.
        #[arg(long)]
        kid: Option<String>,
        /// Where to write the key; default: `<data_dir>/keys/<kid>.pem` (`.secret` for HS256).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}
