//! `authd clients create|list|update|delete|rotate-secret`: the operator's
//! management of registered clients, through the services the admin API
//! calls (`clients::manage`), as an operator holding every permission.

use clap::Subcommand;
use secrecy::ExposeSecret;

use crate::clients::{self, manage};
use crate::config::Settings;
use crate::store::Store;

#[derive(Debug, Subcommand)]
pub enum ClientsCommand {
    /// Register a client; prints its id and, for a confidential or machine
    /// client, its secret, which is shown only once.
    Create {
        /// A name for people (the app or service that will use it; shown on
        /// the consent page).
        #[arg(long)]
        name: String,
        /// public (an SPA or native app: no secret, PKCE always),
        /// confidential (a web server with a secret), or machine (client
        /// credentials only).
        #[arg(long, value_enum, default_value_t = KindArg::Machine)]
        kind: KindArg,
        #[command(flatten)]
        scopes: ScopesArg,
        #[command(flatten)]
        settings: ClientArgs,
    },
    /// List registered clients (never their secrets): id, created, name,
    /// scopes, kind, redirect URIs, tab-separated.
    List,
    /// Change a client's settings; only the ones given change. Its id, kind
    /// and secret stay.
    Update {
        /// The client id.
        id: String,
        /// A new name.
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        scopes: ScopesArg,
        #[command(flatten)]
        settings: ClientArgs,
    },
    /// Delete a client: it can no longer get tokens, introspect or read the
    /// revocation feed. Tokens it already holds expire on their own.
    Delete {
        /// The client id.
        id: String,
    },
    /// Give a confidential or machine client a new secret, printed only
    /// once. The old secret stops at once (no grace period).
    RotateSecret {
        /// The client id.
        id: String,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum KindArg {
    Public,
    Confidential,
    Machine,
}

#[derive(Debug, clap::Args)]
pub struct ScopesArg {
    /// Space-separated scopes, repeatable: the ones the client may be granted
    /// in access tokens, and authd's permissions, which are never put in
    /// tokens: `authd:introspect` (POST /oauth/introspect),
    /// `authd:revocations` (the revocation feed, as authd-verify needs it),
    /// `authd:revocations:sub` (the feed with user ids), `authd:admin:users:read`
    /// and `authd:admin:users:write` (the admin API's reads and changes of
    /// users), `authd:admin:clients`. Without a permission
    /// the client is refused there (403 insufficient_scope). At update, the
    /// given scopes replace the client's.
    #[arg(long = "scopes", visible_alias = "scope")]
    scopes: Vec<String>,
}

impl ScopesArg {
    fn given(&self) -> Option<String> {
        (!self.scopes.is_empty()).then(|| self.scopes.join(" "))
    }
}

/// The settings of a public or confidential client (and a machine client's
/// access token lifetime). At update, a list given replaces the client's.
#[derive(Debug, clap::Args)]
pub struct ClientArgs {
    /// none (public), client_secret_basic (the default for confidential and
    /// machine clients) or client_secret_post.
    #[arg(long, value_name = "METHOD")]
    token_auth_method: Option<String>,
    /// A redirect URI, exactly as the app will send it; repeatable. https; a
    /// native app may use http://127.0.0.1 or http://[::1] (any port
    /// matches) or a private-use scheme like com.example.app:/callback.
    #[arg(long = "redirect-uri", value_name = "URI")]
    redirect_uris: Vec<String>,
    /// Where the app may ask to be sent after logout, exactly; repeatable.
    #[arg(long = "post-logout-redirect-uri", value_name = "URI")]
    post_logout_redirect_uris: Vec<String>,
    /// At update: remove every post-logout redirect URI.
    #[arg(long, conflicts_with = "post_logout_redirect_uris")]
    clear_post_logout_redirect_uris: bool,
    /// A web origin (https://app.example.com) whose pages may call the token
    /// and userinfo endpoints (CORS, without credentials); repeatable.
    #[arg(long = "web-origin", value_name = "ORIGIN")]
    web_origins: Vec<String>,
    /// At update: remove every web origin.
    #[arg(long, conflicts_with = "web_origins")]
    clear_web_origins: bool,
    /// The app is the operator's own: users are not asked for consent.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    first_party: Option<bool>,
    /// The ID token's signing algorithm: RS256, ES256 or EdDSA; `default`
    /// for the server's current signing key.
    #[arg(long, value_name = "ALG")]
    id_token_alg: Option<String>,
    /// The access token lifetime in seconds, or `default` for the server's.
    #[arg(long, value_name = "SECS")]
    access_token_ttl: Option<String>,
    /// The refresh token idle lifetime in seconds, or `default`.
    #[arg(long, value_name = "SECS")]
    refresh_idle_ttl: Option<String>,
    /// The refresh token absolute lifetime in seconds, or `default`.
    #[arg(long, value_name = "SECS")]
    refresh_absolute_ttl: Option<String>,
    /// Authorization requests must be pushed first (PAR, RFC 9126).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    require_par: Option<bool>,
    /// Exempt a confidential client from PKCE (warned about at every change
    /// and start-up); `--allow-no-pkce false` requires it again.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    allow_no_pkce: Option<bool>,
    /// Where logout tokens are POSTed (OpenID Connect Back-Channel Logout):
    /// https, http only to this machine; `none` removes it.
    #[arg(long, value_name = "URI")]
    backchannel_logout_uri: Option<String>,
    /// The client wants `sid` in its logout tokens (authd always sends it).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    backchannel_logout_session_required: Option<bool>,
}

/// A value or `default` (none: the server's setting).
fn optional<T: std::str::FromStr>(
    flag: &str,
    value: Option<String>,
) -> anyhow::Result<Option<Option<T>>> {
    match value.as_deref() {
        None => Ok(None),
        Some("default") => Ok(Some(None)),
        Some(v) => v
            .parse()
            .map(|v| Some(Some(v)))
            .map_err(|_| anyhow::anyhow!("--{flag} {v:?} is neither a value nor `default`")),
    }
}

impl ClientArgs {
    fn changes(self) -> anyhow::Result<clients::ClientChanges> {
        let list = |v: Vec<String>, clear: bool| (clear || !v.is_empty()).then_some(v);
        Ok(clients::ClientChanges {
            name: None,
            auth_method: self
                .token_auth_method
                .map(|m| {
                    clients::AuthMethod::parse(&m).ok_or_else(|| {
                        anyhow::anyhow!(
                            "--token-auth-method {m:?} is not none, client_secret_basic or client_secret_post"
                        )
                    })
                })
                .transpose()?,
            scopes: None,
            redirect_uris: list(self.redirect_uris, false),
            post_logout_redirect_uris: list(
                self.post_logout_redirect_uris,
                self.clear_post_logout_redirect_uris,
            ),
            web_origins: list(self.web_origins, self.clear_web_origins),
            first_party: self.first_party,
            id_token_alg: optional("id-token-alg", self.id_token_alg)?,
            access_token_ttl_secs: optional("access-token-ttl", self.access_token_ttl)?,
            refresh_idle_secs: optional("refresh-idle-ttl", self.refresh_idle_ttl)?,
            refresh_absolute_secs: optional("refresh-absolute-ttl", self.refresh_absolute_ttl)?,
            require_par: self.require_par,
            allow_no_pkce: self.allow_no_pkce,
            backchannel_logout_uri: self
                .backchannel_logout_uri
                .map(|uri| (uri != "none").then_some(uri)),
            backchannel_logout_session_required: self.backchannel_logout_session_required,
        })
    }
}

fn spec(
    name: String,
    kind: KindArg,
    scopes: ScopesArg,
    settings: ClientArgs,
) -> anyhow::Result<clients::ClientSpec> {
    let kind = match kind {
        KindArg::Public => clients::ClientKind::Public,
        KindArg::Confidential => clients::ClientKind::Confidential,
        KindArg::Machine => clients::ClientKind::Machine,
    };
    let c = settings.changes()?;
    Ok(clients::ClientSpec {
        name,
        kind,
        auth_method: c.auth_method,
        scopes: scopes.given().unwrap_or_default(),
        redirect_uris: c.redirect_uris.unwrap_or_default(),
        post_logout_redirect_uris: c.post_logout_redirect_uris.unwrap_or_default(),
        web_origins: c.web_origins.unwrap_or_default(),
        first_party: c.first_party.unwrap_or(false),
        id_token_alg: c.id_token_alg.flatten(),
        access_token_ttl_secs: c.access_token_ttl_secs.flatten(),
        refresh_idle_secs: c.refresh_idle_secs.flatten(),
        refresh_absolute_secs: c.refresh_absolute_secs.flatten(),
        require_par: c.require_par.unwrap_or(false),
        allow_no_pkce: c.allow_no_pkce.unwrap_or(false),
        backchannel_logout_uri: c.backchannel_logout_uri.flatten(),
        backchannel_logout_session_required: c.backchannel_logout_session_required.unwrap_or(false),
    })
}

/// A client's settings, one `key = value` a line (never its secret or hash).
fn print_client(client: &clients::Client) {
    let secs = |v: Option<i64>| v.map_or_else(|| "default".to_owned(), |s| s.to_string());
    println!("client_id     = {}", client.id);
    println!("name          = {}", client.name);
    println!("kind          = {}", client.kind.as_str());
    println!("scopes        = {}", client.scopes);
    if client.kind == clients::ClientKind::Machine {
        println!("token_endpoint_auth_method = client_secret_basic or client_secret_post");
        println!("access_token_ttl = {}", secs(client.access_token_ttl_secs));
        return;
    }
    println!(
        "token_endpoint_auth_method = {}",
        client.auth_method.as_str()
    );
    for uri in &client.redirect_uris {
        println!("redirect_uri  = {uri}");
    }
    for uri in &client.post_logout_redirect_uris {
        println!("post_logout_redirect_uri = {uri}");
    }
    for origin in &client.web_origins {
        println!("web_origin    = {origin}");
    }
    println!("first_party   = {}", client.first_party);
    println!(
        "id_token_alg  = {}",
        client.id_token_alg.as_deref().unwrap_or("default")
    );
    println!("access_token_ttl = {}", secs(client.access_token_ttl_secs));
    println!("refresh_idle_ttl = {}", secs(client.refresh_idle_secs));
    println!(
        "refresh_absolute_ttl = {}",
        secs(client.refresh_absolute_secs)
    );
    println!("require_par   = {}", client.require_par);
    println!("require_pkce  = {}", client.require_pkce);
    if let Some(uri) = &client.backchannel_logout_uri {
        println!("backchannel_logout_uri = {uri}");
    }
    let required = client.backchannel_logout_session_required;
    println!("backchannel_logout_session_required = {required}");
    if let Some(warning) = clients::pkce_exemption_warning(client) {
        eprintln!("warning: {warning}");
    }
}

pub async fn manage_clients(settings: &Settings, command: ClientsCommand) -> anyhow::Result<()> {
    let store = Store::connect(&settings.database).await?;
    // An http:// issuer is a development server: a web client may then
    // redirect to http:// on this machine.
    let policy = clients::Policy::of(settings);
    // The operator acts through the same audited services as the admin API
    // (`clients::manage`), holding every permission.
    let by = manage::Authority::operator();
    let now = chrono::Utc::now;
    // The server's keys, to refuse a client whose ID tokens none of them can
    // sign (`clients::check_id_token_key`), as the server would at start-up.
    let keys = || {
        crate::keys::KeySet::load(settings)
            .map_err(|e| anyhow::anyhow!("reading the server's keys (jwt.keys): {e}"))
    };
    match command {
        ClientsCommand::Create {
            name,
            kind,
            scopes,
            settings,
        } => {
            let spec = spec(name, kind, scopes, settings)?;
            let keys = keys()?;
            let (client, secret) = manage::create(&store, spec, policy, &keys, &by, now()).await?;
            print_client(&client);
            if let Some(secret) = secret {
                println!("client_secret = {}", secret.expose_secret());
                println!();
                println!("The secret is shown only this once; authd stores only its hash.");
            }
        }
        ClientsCommand::List => {
            for client in clients::list(&store).await? {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    client.id,
                    client.created_at.to_rfc3339(),
                    client.name,
                    client.scopes,
                    client.kind.as_str(),
                    client.redirect_uris.join(" ")
                );
            }
        }
        ClientsCommand::Update {
            id,
            name,
            scopes,
            settings,
        } => {
            let changes = clients::ClientChanges {
                name,
                scopes: scopes.given(),
                ..settings.changes()?
            };
            let keys = keys()?;
            let Some(client) =
                manage::update(&store, &id, changes, policy, &keys, &by, now()).await?
            else {
                anyhow::bail!("no client has the id {id:?}");
            };
            println!("updated {id}");
            print_client(&client);
        }
        ClientsCommand::Delete { id } => {
            if !manage::delete(&store, &id, &by, now()).await? {
                anyhow::bail!("no client has the id {id:?}");
            }
            println!("deleted {id}");
        }
        ClientsCommand::RotateSecret { id } => {
            let Some((_, secret)) = manage::rotate_secret(&store, &id, &by, now()).await? else {
                anyhow::bail!("no client has the id {id:?}");
            };
            println!("client_id     = {id}");
            println!("client_secret = {}", secret.expose_secret());
            println!();
            println!("The secret is shown only this once; the old one no longer works.");
        }
    }
    Ok(())
}
