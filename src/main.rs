use std::process::ExitCode;
use std::sync::Arc;

use authd::cli::{Cli, ClientsCommand, Command, KeysCommand};
use authd::clock::SystemClock;
use authd::config::{Settings, Sources};
use authd::startup::Application;
use clap::Parser;
use secrecy::ExposeSecret;

#[tokio::main]
async fn main() -> ExitCode {
    bound_hash_memory();
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("authd: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::load(&Sources::from_process(cli.config)?)?;
    authd::telemetry::init(&settings.log);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let app = Application::build(settings, Arc::new(SystemClock)).await?;
            tracing::info!(port = app.port(), "authd listening");
            app.run_until_stopped().await?;
            tracing::info!("authd stopped");
        }
        Command::Migrate => {
            authd::store::connect(&settings.database).await?;
            println!("migrations applied");
        }
        Command::Healthcheck => healthcheck(&settings.server.host, settings.server.port).await?,
        Command::Keys {
            command: KeysCommand::Generate { alg, kid, out },
        } => generate_key(&settings, &alg, kid, out)?,
        Command::Clients { command } => manage_clients(&settings, command).await?,
    }
    Ok(())
}

async fn manage_clients(settings: &Settings, command: ClientsCommand) -> anyhow::Result<()> {
    let store = authd::store::connect(&settings.database).await?;
    match command {
        ClientsCommand::Create { name, scope } => {
            let (client, secret) =
                authd::clients::create(store.as_ref(), &name, &scope, chrono::Utc::now()).await?;
            println!("client_id     = {}", client.id);
            println!("client_secret = {}", secret.expose_secret());
            println!("scopes        = {}", client.scopes);
            println!();
            println!("The secret is shown only this once; authd stores only its hash.");
        }
        ClientsCommand::List => {
            for client in store.list_clients().await? {
                println!(
                    "{}\t{}\t{}\t{}",
                    client.id,
                    client.created_at.to_rfc3339(),
                    client.name,
                    client.scopes
                );
            }
        }
        ClientsCommand::Delete { id } => {
            if !store.delete_client(&id).await? {
                anyhow::bail!("no client has the id {id:?}");
            }
            println!("deleted {id}");
        }
    }
    Ok(())
}

fn generate_key(
    settings: &Settings,
    alg: &str,
    kid: Option<String>,
    out: Option<std::path::PathBuf>,
) -> anyhow::Result<()> {
    let algorithm = authd::keys::parse_alg(alg)
        .ok_or_else(|| anyhow::anyhow!("--alg {alg:?} is not one of HS256, RS256, ES256, EdDSA"))?;
    let name = authd::keys::alg_name(algorithm);
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
    let key = authd::keys::generate(algorithm)?;
    authd::keys::write_private_file(&out, key.expose_secret().as_bytes())?;
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
    Ok(())
}

/// A plain HTTP/1.1 GET of /healthz on the server's own address: the runtime image
/// has no shell or curl, so the binary checks itself.
async fn healthcheck(host: &str, port: u16) -> anyhow::Result<()> {
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

/// Makes glibc return every large allocation to the system when it is freed.
///
/// Each Argon2id run allocates `m_cost` KiB (19 MiB by default). glibc raises
/// its mmap threshold after the first such block is freed, and from then on
/// serves them from heap arenas that never shrink: a login flood measured
/// 254 MB of peak resident memory. With the threshold fixed at 128 KiB the same
/// flood peaked at 63 MB.
fn bound_hash_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; it is called first
    // thing in main, before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}
