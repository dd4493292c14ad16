use std::process::ExitCode;
use std::sync::Arc;

use authd::app::Application;
use authd::cli::{Cli, Command, KeysCommand};
use authd::clock::SystemClock;
use authd::config::{Settings, Sources};
use clap::Parser;

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
            tracing::info!(
                port = app.port(),
                metrics_port = app.metrics_port(),
                "authd listening"
            );
            app.run_until_stopped().await?;
            tracing::info!("authd stopped");
        }
        Command::Migrate => {
            authd::store::Store::connect(&settings.database).await?;
            println!("migrations applied");
        }
        Command::Healthcheck => {
            authd::cli::healthcheck(&settings.server.host, settings.server.port).await?
        }
        Command::Keys {
            command: KeysCommand::Generate { alg, kid, out },
        } => authd::cli::generate_key(&settings, &alg, kid, out)?,
        Command::Clients { command } => authd::cli::manage_clients(&settings, command).await?,
        Command::Users { command } => authd::cli::manage_users(settings, command).await?,
        Command::Webhooks { command } => authd::cli::manage_webhooks(settings, command).await?,
    }
    Ok(())
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
