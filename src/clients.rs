//! Registered machine clients: their ids and secrets (generated here, stored
//! only as hashes), the scopes they may be granted, and how a request proves
//! to be one of them.
//!
//! A client secret is 256 random bits, so a plain SHA-256 of it is as strong as
//! a slow password hash (there is nothing to guess) and costs no Argon2id run
//! per request.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};

pub use crate::store::clients::Client;
use crate::store::{self, Store, StoreError};

/// Client ids start with this, so they never look like user ids (UUIDs) in `sub`.
pub const ID_PREFIX: &str = "client_";
const MAX_NAME: usize = 100;
const MAX_SCOPES_BYTES: usize = 1024;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ClientError {
    #[error("the client name must be 1 to {MAX_NAME} printable characters")]
    Name,
    #[error(
        "scopes are space-separated tokens of printable ASCII without quotes or backslashes (RFC 6749 section 3.3), {MAX_SCOPES_BYTES} bytes at most"
    )]
    Scope,
    #[error("no randomness available")]
    Random,
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

/// A new client and its secret. The secret is shown to the operator once and
/// only its hash is stored.
pub fn generate(
    name: &str,
    scopes: &str,
    now: DateTime<Utc>,
) -> Result<(Client, SecretString), ClientError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(ClientError::Name);
    }
    let scopes = parse_scopes(scopes)?.join(" ");
    let mut id = [0u8; 16];
    let mut secret = [0u8; 32];
    aws_lc_rs::rand::fill(&mut id).map_err(|_| ClientError::Random)?;
    aws_lc_rs::rand::fill(&mut secret).map_err(|_| ClientError::Random)?;
    let secret = SecretString::from(URL_SAFE_NO_PAD.encode(secret));
    let client = Client {
        id: format!("{ID_PREFIX}{}", hex(&id)),
        name: name.to_owned(),
        secret_hash: hash_secret(secret.expose_secret()),
        scopes,
        created_at: now,
    };
    Ok((client, secret))
}

/// Registers a new client in `store`; returns it with its secret.
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

/// Every registered client, oldest first.
pub async fn list(store: &Store) -> Result<Vec<Client>, StoreError> {
    store::clients::list(&mut store.conn().await?).await
}

/// Whether client `id` is (still) registered.
pub async fn exists(store: &Store, id: &str) -> Result<bool, StoreError> {
    Ok(store::clients::find(&mut store.conn().await?, id)
        .await?
        .is_some())
}

/// Deletes a client; false if there was none. Its tokens stop being active
/// at introspection at once.
pub async fn delete(store: &Store, id: &str) -> Result<bool, StoreError> {
    let mut tx = store.begin().await?;
    let deleted = store::clients::delete(&mut tx, id).await?;
    tx.commit().await?;
    Ok(deleted)
}

/// The stored form of a secret: hex SHA-256.
pub fn hash_secret(secret: &str) -> String {
    hex(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, secret.as_bytes()).as_ref())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The client with this id and secret, or `None` when either is wrong (the
/// caller cannot tell which). The secret's hash is computed and compared in
/// constant time whether or not the id exists.
pub async fn authenticate(
    store: &Store,
    id: &str,
    secret: &str,
) -> Result<Option<Client>, StoreError> {
    let presented = hash_secret(secret);
    let client = if id.starts_with(ID_PREFIX) && id.len() <= 64 {
        store::clients::find(&mut store.conn().await?, id).await?
    } else {
        None
    };
    let stored = client.as_ref().map_or("", |c| c.secret_hash.as_str());
    let matches = stored.len() == presented.len()
        && aws_lc_rs::constant_time::verify_slices_are_equal(
            stored.as_bytes(),
            presented.as_bytes(),
        )
        .is_ok();
    Ok(client.filter(|_| matches))
}

/// The scope to grant `client` for a request: all of its scopes when none is
/// asked for, else the requested ones, each of which it must hold.
pub fn granted_scope(
    client: &Client,
    requested: Option<&str>,
) -> Result<Option<String>, ClientError> {
    let allowed = parse_scopes(&client.scopes)?;
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
}
