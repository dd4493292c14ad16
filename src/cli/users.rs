//! `authd users remove-factors|disable|enable|roles|app-metadata`: an
//! operator's work on user accounts, through the account services
//! (`accounts::*`), audited with the CLI as the actor.

use clap::Subcommand;

use crate::config::Settings;
use crate::store::Store;

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// For a user who lost both the device and the recovery codes: removes
    /// every second factor and recovery code of the account, ends every
    /// session of it, records the audit event `factor_removed` with the actor
    /// `operator:cli`, and queues the `factor_removed` notice to the account
    /// (a running server sends it). Check who is asking first: the user can
    /// then sign in with the password alone.
    RemoveFactors {
        /// The account's email address.
        email: String,
    },
    /// Disables an account: every session of it ends at once (one user
    /// revocation, listed by the revocation feed), and every sign-in is
    /// refused (403 account_disabled, after a right password) until
    /// `enable`. Audited as `user_disabled` by `operator:cli`.
    Disable {
        /// The account's email address.
        email: String,
    },
    /// Enables a disabled account: it may sign in again. Audited as
    /// `user_enabled` by `operator:cli`.
    Enable {
        /// The account's email address.
        email: String,
    },
    /// Prints an account's roles, one a line, after adding and removing the
    /// ones given. Tokens carry the change from their next refresh.
    Roles {
        /// The account's email address.
        email: String,
        /// A role to give ([a-z0-9_:.-], 1 to 64 characters); repeatable.
        #[arg(long = "add", value_name = "ROLE")]
        add: Vec<String>,
        /// A role to take away; repeatable.
        #[arg(long = "remove", value_name = "ROLE")]
        remove: Vec<String>,
    },
    /// Prints an account's app_metadata (a JSON object set by operators
    /// only, copied into tokens under tokens.app_metadata_claim), after
    /// replacing it with `--set`.
    AppMetadata {
        /// The account's email address.
        email: String,
        /// The new object, at most 4 KiB of JSON; `{}` removes it.
        #[arg(long, value_name = "JSON")]
        set: Option<String>,
    },
}

pub async fn manage_users(settings: Settings, command: UsersCommand) -> anyhow::Result<()> {
    use crate::accounts::lost_factors::{NotRemoved, remove_every_factor};
    use crate::accounts::{app_metadata, disable, roles};
    use crate::audit::Actor;
    let store = Store::connect(&settings.database).await?;
    let clock = std::sync::Arc::new(crate::clock::SystemClock);
    let svc = crate::app::build_services(settings, clock, store)?;
    let user_of = |email: String| {
        let svc = &svc;
        async move {
            let address = crate::domain::Email::parse(&email)
                .map_err(|_| anyhow::anyhow!("{email:?} is not an email address"))?;
            crate::accounts::user_by_email(svc, &address)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no account has the address {:?}", address.as_str()))
        }
    };
    match command {
        UsersCommand::Disable { email } => {
            let user = user_of(email).await?;
            match disable::disable(&svc, user, Actor::CLI).await? {
                Some(disable::Disabled::Now { sessions }) => {
                    println!("disabled user {user}; {sessions} sessions ended");
                }
                Some(disable::Disabled::Already(since)) => {
                    println!(
                        "user {user} is already disabled (since {})",
                        since.to_rfc3339()
                    );
                }
                None => anyhow::bail!("the account is gone"),
            }
        }
        UsersCommand::Enable { email } => {
            let user = user_of(email).await?;
            match disable::enable(&svc, user, Actor::CLI).await? {
                Some(true) => println!("enabled user {user}"),
                Some(false) => println!("user {user} was not disabled; nothing changed"),
                None => anyhow::bail!("the account is gone"),
            }
        }
        UsersCommand::Roles { email, add, remove } => {
            let user = user_of(email).await?;
            let changes = roles::RoleChanges { add, remove };
            let Some(now) = roles::change(&svc, user, &changes, Actor::CLI).await? else {
                anyhow::bail!("the account is gone");
            };
            for role in now {
                println!("{role}");
            }
        }
        UsersCommand::AppMetadata { email, set } => {
            let user = user_of(email).await?;
            if let Some(json) = set
                && app_metadata::set(&svc, user, &json, Actor::CLI)
                    .await?
                    .is_none()
            {
                anyhow::bail!("the account is gone");
            }
            let mut conn = svc.store.conn().await?;
            let current = app_metadata::get(&mut conn, user).await?;
            println!("{}", serde_json::Value::Object(current.unwrap_or_default()));
        }
        UsersCommand::RemoveFactors { email } => {
            let address = crate::domain::Email::parse(&email)
                .map_err(|_| anyhow::anyhow!("{email:?} is not an email address"))?;
            match remove_every_factor(&svc, &address, crate::audit::Actor::CLI).await? {
                Ok(done) => {
                    println!(
                        "removed every second factor of {} (user {}, {} recovery codes); \
                         {} sessions ended; the owner's notice is queued",
                        address.as_str(),
                        done.user,
                        done.recovery_codes,
                        done.sessions
                    );
                }
                Err(NotRemoved::NoSuchUser) => {
                    anyhow::bail!("no account has the address {:?}", address.as_str())
                }
                Err(NotRemoved::NoFactor) => anyhow::bail!(
                    "the account {:?} has no second factor; nothing changed",
                    address.as_str()
                ),
            }
        }
    }
    Ok(())
}
