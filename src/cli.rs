//! The command line: `authd serve` (the default), `authd migrate`,
//! `authd healthcheck`, `authd keys generate`, `authd clients create|list|update|delete`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use secrecy::ExposeSecret;

use crate::clients;
use crate::config::Settings;
use crate::store::Store;

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
        #[command(flatten)]
        scopes: ScopesArg,
    },
    /// List registered clients (never their secrets).
    List,
    /// Replace a client's scopes and permissions; its id and secret stay.
    Update {
        /// The client id.
        id: String,
        #[command(flatten)]
        scopes: ScopesArg,
    },
    /// Delete a client: it can no longer get tokens, introspect or read the
    /// revocation feed. Tokens it already holds expire on their own.
    Delete {
        /// The client id.
        id: String,
    },
}

#[derive(Debug, clap::Args)]
pub struct ScopesArg {
    /// Space-separated scopes: the ones the client may be granted in access
    /// tokens (client credentials), and authd's permissions, which are never
    /// put in tokens: `authd:introspect` (POST /oauth/introspect),
    /// `authd:revocations` (the revocation feed, as authd-verify needs it),
    /// `authd:revocations:sub` (the feed with user ids). Without a permission
    /// the client is refused there (403 insufficient_scope).
    #[arg(long = "scopes", visible_alias = "scope", default_value = "")]
    scopes: String,
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

pub async fn manage_clients(settings: &Settings, command: ClientsCommand) -> anyhow::Result<()> {
    let store = Store::connect(&settings.database).await?;
    match command {
        ClientsCommand::Create { name, scopes } => {
            let (client, secret) =
                clients::create(&store, &name, &scopes.scopes, chrono::Utc::now()).await?;
            println!("client_id     = {}", client.id);
            println!("client_secret = {}", secret.expose_secret());
            println!("scopes        = {}", client.scopes);
            println!();
            println!("The secret is shown only this once; authd stores only its hash.");
        }
        ClientsCommand::List => {
            for client in clients::list(&store).await? {
                println!(
                    "{}\t{}\t{}\t{}",
                    client.id,
                    client.created_at.to_rfc3339(),
                    client.name,
                    client.scopes
                );
            }
        }
        ClientsCommand::Update { id, scopes } => {
            let Some(stored) = clients::set_scopes(&store, &id, &scopes.scopes).await? else {
                anyhow::bail!("no client has the id {id:?}");
            };
            println!("updated {id}: scopes = {stored}");
        }
        ClientsCommand::Delete { id } => {
            if !clients::delete(&store, &id).await? {
                anyhow::bail!("no client has the id {id:?}");
            }
            println!("deleted {id}");
        }
    }
    Ok(())
}

pub fn generate_key(
    settings: &Settings,
    alg: &str,
    kid: Option<String>,
    out: Option<std::path::PathBuf>,
) -> anyhow::Result<()> {
    let algorithm = crate::keys::parse_alg(alg)
        .ok_or_else(|| anyhow::anyhow!("--alg {alg:?} is not one of HS256, RS256, ES256, EdDSA"))?;
    let name = crate::keys::alg_name(algorithm);
    let kid = kid.unwrap_or_else(|| {
        format!(
            "{}-{}",
            name.to_lowercase(),
            chrono::Utc::now().format("%Y%m%d%H%M%S")
        )
    });
    let hmac = name == "HS256";
    let out = out.unwrap_or_else(|| {
        settings
            .data_path("keys")
            .join(format!("{kid}.{}", if hmac { "secret" } else { "pem" }))
    });
    let key = crate::keys::generate(algorithm)?;
    crate::keys::write_private_file(&out, key.expose_secret().as_bytes())?;
    let field = if hmac {
        "secret_file"
    } else {
        "private_key_file"
    };
    println!("wrote a new {name} key to {} (mode 0600)", out.display());
    println!();
    println!("[[jwt.keys]]");
    println!("kid = {kid:?}");
    println!("alg = {name:?}");
    println!("{field} = {:?}", out.display().to_string());
    if !hmac {
        println!();
        println!("# make it jwt.signing_kid (access tokens), or add {kid:?} to");
        println!("# jwt.signing_kids to sign {name} ID tokens beside the current signer");
    }
    Ok(())
}

/// A plain HTTP/1.1 GET of /healthz on the server's own address: the runtime image
/// has no shell or curl, so the binary checks itself.
pub async fn healthcheck(host: &str, port: u16) -> anyhow::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // A wildcard listener answers on loopback; a specific address only on itself.
    let host = match host {
        "0.0.0.0" | "::" | "[::]" => "127.0.0.1",
        other => other,
    };
    let check = async {
        let mut stream = tokio::net::TcpStream::connect((host, port)).await?;
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .await?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await?;
        anyhow::Ok(response.starts_with(b"HTTP/1.1 200"))
    };
    match tokio::time::timeout(std::time::Duration::from_secs(2), check).await {
        Ok(Ok(true)) => Ok(()),
        Ok(Ok(false)) => anyhow::bail!("/healthz did not answer 200"),
        Ok(Err(e)) => Err(e.context("/healthz unreachable")),
        Err(_) => anyhow::bail!("/healthz timed out"),
    }
}
