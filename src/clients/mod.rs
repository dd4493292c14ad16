//! Registered clients: public (an SPA or a native app, no secret, PKCE
//! always), confidential (a web server with a secret) and machine (client
//! credentials only). This module owns their scopes (what they may be
//! granted in tokens, and the `authd:*` permissions of what they may do at
//! authd), their registration and changes (`registration`), how a presented
//! redirect URI or origin is matched (`redirect`), how a request proves to
//! be one of them (`auth`), the demo's client checked at start-up
//! (`demo`), and the operator's and admins' acts on clients, audited, with
//! the rule that nobody hands over a permission they lack (`manage`).
//!
//! A client secret is 256 random bits, so a plain SHA-256 of it is as strong as
//! a slow password hash (there is nothing to guess) and costs no Argon2id run
//! per request.

mod auth;
pub mod demo;
pub mod manage;
pub mod permissions;
pub mod redirect;
pub mod registration;

use chrono::{DateTime, Utc};
use secrecy::SecretString;

pub use self::auth::{AuthRefusal, Presented, authenticate, authenticate_client};
pub use self::permissions::Permission;
pub use self::redirect::{
    post_logout_redirect_uri_matches, redirect_uri_matches, web_origin_matches,
};
pub use self::registration::{ClientChanges, ClientSpec, Policy, pkce_exemption_warning};
use crate::keys::KeySet;
pub use crate::store::clients::{AuthMethod, Client, ClientKind};
use crate::store::{self, Store, StoreError};

/// Client ids start with this, so they never look like user ids (UUIDs) in `sub`.
pub const ID_PREFIX: &str = "client_";
const MAX_SCOPES_BYTES: usize = 1024;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ClientError {
    #[error("the client name must be 1 to 100 printable characters")]
    Name,
    #[error(
        "scopes are space-separated tokens of printable ASCII without quotes or backslashes (RFC 6749 section 3.3), {MAX_SCOPES_BYTES} bytes at most"
    )]
    Scope,
    #[error("{0:?} is not one of authd's permissions ({names})", names = permissions::all_names())]
    UnknownPermission(String),
    #[error("a public client holds no authd:* permission: it has no secret to prove itself with")]
    PublicPermission,
    #[error("the redirect URI {uri:?} {reason}")]
    RedirectUri { uri: String, reason: &'static str },
    #[error("the backchannel_logout_uri {uri:?} {reason}")]
    BackchannelLogoutUri { uri: String, reason: &'static str },
    #[error("the web origin {origin:?} {reason}")]
    WebOrigin {
        origin: String,
        reason: &'static str,
    },
    #[error("a {} client needs at least one redirect URI", .0.as_str())]
    NoRedirectUri(ClientKind),
    #[error("at most {0} URIs or origins in one list")]
    TooMany(usize),
    #[error(
        "a machine client uses client credentials only and takes no {0} (register a confidential or public client for sign-in)"
    )]
    NotForMachine(&'static str),
    #[error(
        "a {} client cannot use that token endpoint auth method (public: none; confidential and machine: client_secret_basic or client_secret_post)",
        .0.as_str()
    )]
    AuthMethod(ClientKind),
    #[error("a public client always uses PKCE; only a confidential client may be exempted")]
    PublicWithoutPkce,
    #[error("{0:?} is not an ID token algorithm authd signs with (RS256, ES256, EdDSA)")]
    IdTokenAlg(String),
    #[error("{what} must be {min} to {max} seconds")]
    Lifetime {
        what: &'static str,
        min: i64,
        max: i64,
    },
    #[error("the refresh idle lifetime cannot exceed the absolute one")]
    IdleAboveAbsolute,
    #[error("no randomness available")]
    Random,
    #[error("client {client} may be granted openid, but {reason}")]
    NoIdTokenKey { client: String, reason: String },
}

impl Client {
    /// Whether the client holds `permission`.
    pub fn may(&self, permission: Permission) -> bool {
        stored_scopes(&self.scopes).any(|s| s == permission.name())
    }

    /// Whether the client may get tokens of its own by the client
    /// credentials grant: machine clients only.
    pub fn may_use_client_credentials(&self) -> bool {
        self.kind == ClientKind::Machine
    }
}

/// The scopes of a stored list; unlike [`parse_scopes`], not checked again.
fn stored_scopes(list: &str) -> impl Iterator<Item = &str> {
    list.split(' ').filter(|s| !s.is_empty())
}

/// The scopes of a new or changed client, normalized: the syntax checked, and
/// every `authd:*` scope one of authd's permissions (a misspelt permission
/// would otherwise be silently useless).
pub fn normalize_scopes(list: &str) -> Result<String, ClientError> {
    let scopes = parse_scopes(list)?;
    if let Some(unknown) = scopes
        .iter()
        .find(|s| permissions::is_reserved(s) && Permission::parse(s).is_none())
    {
        return Err(ClientError::UnknownPermission((*unknown).to_owned()));
    }
    Ok(scopes.join(" "))
}

/// The scopes of a space-separated list, each checked against the syntax of
/// RFC 6749 section 3.3; duplicates are dropped, the order kept.
pub fn parse_scopes(list: &str) -> Result<Vec<&str>, ClientError> {
    if list.len() > MAX_SCOPES_BYTES {
        return Err(ClientError::Scope);
    }
    let mut scopes: Vec<&str> = Vec::new();
    for scope in list.split(' ').filter(|s| !s.is_empty()) {
        let valid = scope
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b));
        if !valid {
            return Err(ClientError::Scope);
        }
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    Ok(scopes)
}

/// A new machine client and its secret. The secret is shown to the operator
/// once and only its hash is stored.
pub fn generate(
    name: &str,
    scopes: &str,
    now: DateTime<Utc>,
) -> Result<(Client, SecretString), ClientError> {
    let (client, secret) =
        registration::generate(ClientSpec::machine(name, scopes), Policy::default(), now)?;
    // A machine client always has a secret.
    Ok((client, secret.ok_or(ClientError::Random)?))
}

/// Registers a new machine client in `store`; returns it with its secret.
pub async fn create(
    store: &Store,
    name: &str,
    scopes: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<(Client, SecretString)> {
    let (client, secret) = generate(name, scopes, now)?;
    let mut tx = store.begin().await?;
    store::clients::insert(&mut tx, &client).await?;
    tx.commit().await?;
    Ok((client, secret))
}

/// Registers a new client of any kind; returns it with its secret (none for a
/// public client). A PKCE exemption is logged as a warning. Neither audited
/// nor checked against the server's keys: the operator's and admins'
/// registrations go through [`manage::create`].
pub async fn register(
    store: &Store,
    spec: ClientSpec,
    policy: Policy,
    now: DateTime<Utc>,
) -> anyhow::Result<(Client, Option<SecretString>)> {
    let (client, secret) = registration::generate(spec, policy, now)?;
    let mut tx = store.begin().await?;
    store::clients::insert(&mut tx, &client).await?;
    tx.commit().await?;
    if let Some(warning) = pkce_exemption_warning(&client) {
        tracing::warn!("{warning}");
    }
    tracing::info!(client = %client.id, kind = client.kind.as_str(), "client registered");
    Ok((client, secret))
}

/// Changes client `id`'s settings (never its kind or secret); returns it as
/// stored, or `None` if there is no such client. Tokens it already holds
/// keep what they were issued with until they expire. Neither audited nor
/// checked against the server's keys: the operator's and admins' changes go
/// through [`manage::update`].
pub async fn update(
    store: &Store,
    id: &str,
    changes: ClientChanges,
    policy: Policy,
) -> anyhow::Result<Option<Client>> {
    let mut tx = store.begin().await?;
    let Some(client) = store::clients::find(&mut tx, id).await? else {
        return Ok(None);
    };
    let client = registration::apply(client, changes, policy)?;
    if !store::clients::update(&mut tx, &client).await? {
        return Ok(None);
    }
    tx.commit().await?;
    if let Some(warning) = pkce_exemption_warning(&client) {
        tracing::warn!("{warning}");
    }
    Ok(Some(client))
}

/// Replaces the scopes (and so the permissions) of client `id`; returns them
/// as stored, or `None` if there is no such client. Tokens it already holds
/// keep their scopes until they expire.
pub async fn set_scopes(store: &Store, id: &str, scopes: &str) -> anyhow::Result<Option<String>> {
    let changes = ClientChanges {
        scopes: Some(scopes.to_owned()),
        ..ClientChanges::default()
    };
    Ok(update(store, id, changes, Policy::default())
        .await?
        .map(|c| c.scopes))
}

/// Every registered client, oldest first.
pub async fn list(store: &Store) -> Result<Vec<Client>, StoreError> {
    store::clients::list(&mut store.conn().await?).await
}

/// The client with this id, if registered.
pub async fn find(store: &Store, id: &str) -> Result<Option<Client>, StoreError> {
    if !plausible_id(id) {
        return Ok(None);
    }
    store::clients::find(&mut store.conn().await?, id).await
}

/// Whether `id` could be a client id at all (checked before any query).
fn plausible_id(id: &str) -> bool {
    id.starts_with(ID_PREFIX) && id.len() <= 64
}

/// Whether client `id` is (still) registered.
pub async fn exists(store: &Store, id: &str) -> Result<bool, StoreError> {
    Ok(find(store, id).await?.is_some())
}

/// Deletes a client; false if there was none. Its tokens stop being active
/// at introspection at once. Not audited: the operator's and admins'
/// deletions go through [`manage::delete`].
pub async fn delete(store: &Store, id: &str) -> Result<bool, StoreError> {
    let mut tx = store.begin().await?;
    let deleted = store::clients::delete(&mut tx, id).await?;
    tx.commit().await?;
    Ok(deleted)
}

/// Logs a warning for every confidential client exempted from PKCE (at
/// start-up, so an exemption is never forgotten).
pub async fn warn_pkce_exemptions(store: &Store) -> Result<(), StoreError> {
    for client in list(store).await? {
        if let Some(warning) = pkce_exemption_warning(&client) {
            tracing::warn!("{warning}");
        }
    }
    Ok(())
}

/// A public or confidential client that may be granted `openid` needs a key
/// that signs its ID tokens: one of its registered algorithm, or any
/// asymmetric one (`KeySet::id_token_alg_for`). HS256 keys never sign ID
/// tokens, so on a server whose keys are HS256 only such a client could sign
/// nobody in; it is refused when registered or changed, and the server
/// refuses to start with one ([`first_without_id_token_key`]).
pub fn check_id_token_key(client: &Client, keys: &KeySet) -> Result<(), ClientError> {
    let openid = stored_scopes(&client.scopes).any(|s| s == "openid");
    if client.kind == ClientKind::Machine || !openid {
        return Ok(());
    }
    keys.id_token_alg_for(client.id_token_alg.as_deref())
        .map(|_| ())
        .map_err(|e| ClientError::NoIdTokenKey {
            client: client.id.clone(),
            reason: e.to_string(),
        })
}

/// The first registered client whose ID tokens `keys` cannot sign
/// ([`check_id_token_key`]), checked at start-up.
pub async fn first_without_id_token_key(
    store: &Store,
    keys: &KeySet,
) -> Result<Option<ClientError>, StoreError> {
    Ok(list(store)
        .await?
        .iter()
        .find_map(|client| check_id_token_key(client, keys).err()))
}

/// Whether some client registered `origin` (a request's `Origin` header) as
/// a web origin allowed to call the token and userinfo endpoints (CORS,
/// never with credentials).
pub async fn origin_allowed(store: &Store, origin: &str) -> Result<bool, StoreError> {
    let origins = store::clients::web_origins(&mut store.conn().await?).await?;
    Ok(origins.iter().any(|o| o == origin))
}

/// The stored form of a secret: hex SHA-256.
pub fn hash_secret(secret: &str) -> String {
    hex(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, secret.as_bytes()).as_ref())
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The scopes `client` may be granted in an access token: its scopes but
/// authd's permissions.
pub fn grantable_scopes(client: &Client) -> impl Iterator<Item = &str> {
    stored_scopes(&client.scopes).filter(|s| !permissions::is_reserved(s))
}

/// The scope to grant `client` for a request: all of its grantable scopes when
/// none is asked for, else the requested ones, each of which it must hold and
/// none of which may be an `authd:*` permission.
pub fn granted_scope(
    client: &Client,
    requested: Option<&str>,
) -> Result<Option<String>, ClientError> {
    let allowed: Vec<&str> = grantable_scopes(client).collect();
    let granted = match requested {
        None => allowed,
        Some(list) => {
            let asked = parse_scopes(list)?;
            if asked.iter().any(|s| !allowed.contains(s)) {
                return Err(ClientError::Scope);
            }
            asked
        }
    };
    Ok((!granted.is_empty()).then(|| granted.join(" ")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn scopes_follow_rfc_6749_syntax_and_duplicates_are_dropped() {
        assert_eq!(parse_scopes(" a  b:read a ").unwrap(), vec!["a", "b:read"]);
        assert_eq!(parse_scopes("").unwrap(), Vec::<&str>::new());
        for bad in ["a\"b", "a\\b", "caf\u{e9}", "a\tb", "a\nb"] {
            assert_eq!(parse_scopes(bad), Err(ClientError::Scope), "{bad:?}");
        }
    }

    #[test]
    fn a_generated_client_stores_only_the_hash_of_its_secret() {
        let (client, secret) = generate("orders", "orders:read", Utc::now()).unwrap();
        assert!(client.id.starts_with(ID_PREFIX));
        assert_eq!(client.id.len(), ID_PREFIX.len() + 32);
        assert_eq!(secret.expose_secret().len(), 43);
        assert_ne!(client.secret_hash, *secret.expose_secret());
        assert_eq!(client.secret_hash, hash_secret(secret.expose_secret()));
        assert_eq!(
            generate(" ", "", Utc::now()).unwrap_err(),
            ClientError::Name
        );
    }

    #[test]
    fn a_client_is_granted_only_scopes_it_holds() {
        let (client, _) = generate("c", "a b", Utc::now()).unwrap();
        assert_eq!(
            granted_scope(&client, None).unwrap().as_deref(),
            Some("a b")
        );
        assert_eq!(
            granted_scope(&client, Some("b")).unwrap().as_deref(),
            Some("b")
        );
        assert_eq!(granted_scope(&client, Some("a c")), Err(ClientError::Scope));
        let (bare, _) = generate("c", "", Utc::now()).unwrap();
        assert_eq!(granted_scope(&bare, None).unwrap(), None);
    }

    #[test]
    fn permissions_are_never_granted_in_tokens_and_unknown_ones_are_refused() {
        let (client, _) =
            generate("c", "a authd:introspect authd:revocations", Utc::now()).unwrap();
        assert!(client.may(Permission::Introspect));
        assert!(client.may(Permission::Revocations));
        assert!(!client.may(Permission::RevocationsSub));
        assert_eq!(granted_scope(&client, None).unwrap().as_deref(), Some("a"));
        for asked in ["authd:introspect", "a authd:revocations"] {
            assert_eq!(
                granted_scope(&client, Some(asked)),
                Err(ClientError::Scope),
                "{asked}"
            );
        }
        let (only, _) = generate("c", "authd:revocations", Utc::now()).unwrap();
        assert_eq!(granted_scope(&only, None).unwrap(), None);
        assert_eq!(
            generate("c", "authd:introspection", Utc::now()).unwrap_err(),
            ClientError::UnknownPermission("authd:introspection".into())
        );
    }
}
