//! Consent: when a user must be asked before a client gets their scopes,
//! what is remembered of the answer (per user and client, the union of the
//! scopes granted, `consents`), and how a scope is put in words on the
//! consent page.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::clients::Client;
use crate::store::consents::{self, Consent};
use crate::store::{AsDb, StoreError};

/// Whether `user` must be asked before `client` gets `scope`
/// (space-separated): never for a first-party client, else unless a
/// remembered consent covers every scope.
pub async fn needed(
    db: &mut impl AsDb,
    client: &Client,
    user: Uuid,
    scope: &str,
) -> Result<bool, StoreError> {
    if client.first_party {
        return Ok(false);
    }
    let Some(given) = consents::find(db, user, &client.id).await? else {
        return Ok(true);
    };
    let granted: Vec<&str> = given.scope.split(' ').collect();
    Ok(scope
        .split(' ')
        .filter(|s| !s.is_empty())
        .any(|s| !granted.contains(&s)))
}

/// Remembers that `user` granted `scope` to `client`: the union with what
/// was granted before, sorted.
pub async fn record(
    db: &mut impl AsDb,
    client: &Client,
    user: Uuid,
    scope: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let before = consents::find(db, user, &client.id).await?;
    let mut scopes: Vec<&str> = before
        .as_ref()
        .map(|c| c.scope.split(' ').collect())
        .unwrap_or_default();
    scopes.extend(scope.split(' '));
    scopes.retain(|s| !s.is_empty());
    scopes.sort_unstable();
    scopes.dedup();
    consents::upsert(
        db,
        &Consent {
            user_id: user,
            client_id: client.id.clone(),
            scope: scopes.join(" "),
            granted_at: now,
        },
    )
    .await
}

/// A scope as the consent page says it.
pub fn in_words(scope: &str) -> &str {
    match scope {
        "openid" => "Know who you are (your account's identifier)",
        "email" => "See your email address",
        "profile" => "See your basic profile",
        "offline_access" => "Stay connected to your account while you are away",
        other => other,
    }
}
