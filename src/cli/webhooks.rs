//! `authd webhooks create|list|delete|disable|enable|rotate-secret`: the operator's
//! management of webhook endpoints, through the services the admin API
//! calls (`events::webhooks`).

use clap::Subcommand;
use secrecy::ExposeSecret;
use uuid::Uuid;

use crate::audit::Actor;
use crate::config::Settings;
use crate::events::webhooks::{self, Endpoint, NewEndpoint};
use crate::store::Store;

#[derive(Debug, Subcommand)]
pub enum WebhooksCommand {
    /// Register an endpoint; prints its signing secret, this once.
    Create {
        /// Where events are POSTed (https; http only to localhost or a
        /// loopback address unless webhooks.allow_http).
        url: String,
        /// An event type it takes (repeat for more); none: every type.
        #[arg(long = "event")]
        events: Vec<String>,
        /// A note for operators.
        #[arg(long)]
        description: Option<String>,
    },
    /// List the endpoints (never their secrets).
    List,
    /// Delete an endpoint and its deliveries, pending ones included.
    Delete { id: Uuid },
    /// Disable an endpoint: no event is queued for it, and its pending
    /// deliveries are given up.
    Disable { id: Uuid },
    /// Enable a disabled endpoint again (events from now on).
    Enable { id: Uuid },
    /// Give an endpoint a new secret (printed this once); the previous one
    /// signs alongside it for webhooks.rotation_grace_secs.
    RotateSecret { id: Uuid },
}

pub async fn manage_webhooks(settings: Settings, command: WebhooksCommand) -> anyhow::Result<()> {
    let store = Store::connect(&settings.database).await?;
    let clock = std::sync::Arc::new(crate::clock::SystemClock);
    let svc = crate::app::build_services(settings, clock, store)?;
    match command {
        WebhooksCommand::Create {
            url,
            events,
            description,
        } => {
            let (endpoint, secret) = webhooks::create(
                &svc,
                NewEndpoint {
                    url,
                    event_types: events,
                    description,
                },
                &Actor::CLI,
            )
            .await?;
            print_endpoint(&endpoint);
            println!("secret = {}", secret.expose_secret());
            println!();
            println!("The secret is shown only this once; authd stores it sealed.");
        }
        WebhooksCommand::List => {
            for endpoint in webhooks::list(&svc).await? {
                print_endpoint(&endpoint);
            }
        }
        WebhooksCommand::Delete { id } => {
            webhooks::delete(&svc, id, &Actor::CLI).await?;
            println!("deleted {id}");
        }
        WebhooksCommand::Disable { id } => {
            print_endpoint(&webhooks::set_disabled(&svc, id, true, &Actor::CLI).await?);
        }
        WebhooksCommand::Enable { id } => {
            print_endpoint(&webhooks::set_disabled(&svc, id, false, &Actor::CLI).await?);
        }
        WebhooksCommand::RotateSecret { id } => {
            let (secret, until) = webhooks::rotate_secret(&svc, id, &Actor::CLI).await?;
            println!("secret = {}", secret.expose_secret());
            println!("previous secret signs too until {}", until.to_rfc3339());
        }
    }
    Ok(())
}

fn print_endpoint(e: &Endpoint) {
    println!(
        "{}\t{}\t{}\t{}{}",
        e.id,
        e.created_at.to_rfc3339(),
        e.url,
        e.event_types.join(" "),
        if e.disabled { "\tdisabled" } else { "" }
    );
}
