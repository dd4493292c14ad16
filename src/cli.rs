//! The command line: `authd serve` (the default), `authd migrate`,
//! `authd keys generate`, `authd clients create|list|delete`.

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
    /// Manage registered machine clients (client credentials, introspection,
    /// the revocation feed).
    Clients {
        #[command(subcommand)]
        command: ClientsCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum ClientsCommand {
    /// Register a client; prints its id and its secret, which is shown only once.
    Create {
        /// A name for people (the service that will use it).
        #[arg(long)]
        name: String,
        /// Space-separated scopes the client may be granted.
        #[arg(long, default_value = "")]
        scope: String,
    },
    /// List registered clients (never their secrets).
    List,
    /// Delete a client: it can no longer get tokens, introspect or read the
    /// revocation feed. Tokens it already holds expire on their own.
    Delete {
        /// The client id.
        id: String,
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
