//! The command line: `authd serve` (the default), `authd migrate`,
//! `authd healthcheck`, `authd keys generate`, `authd clients create|list|update|delete|rotate-secret`,
//! `authd users remove-factors|disable|enable|roles|app-metadata`, `authd webhooks
//! create|list|delete|rotate-secret`. The parser's top level lives here; each
//! subcommand's arguments and work in a module of its own: `clients`,
//! `users`, `keys`, `healthcheck`, `webhooks`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

mod clients;
mod healthcheck;
mod keys;
mod users;
mod webhooks;

pub use clients::{ClientArgs, ClientsCommand, KindArg, ScopesArg, manage_clients};
pub use healthcheck::healthcheck;
pub use keys::{KeysCommand, generate_key};
pub use users::{UsersCommand, manage_users};
pub use webhooks::{WebhooksCommand, manage_webhooks};

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

// Parsed once at start-up: the size of the clients' settings costs nothing.
#[allow(clippy::large_enum_variant)]
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
    /// Manage registered clients: public and confidential apps that sign
    /// users in, and machine clients (client credentials, introspection, the
    /// revocation feed).
    Clients {
        #[command(subcommand)]
        command: ClientsCommand,
    },
    /// An operator's work on user accounts.
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Manage webhook endpoints and their signing secrets.
    Webhooks {
        #[command(subcommand)]
        command: WebhooksCommand,
    },
}
