//! Which registered client may call what at authd: client authentication
//! (`clients::authenticate`) and the `authd:*` permissions
//! (`clients::permissions`) that let a client introspect tokens and read the
//! revocation feed, and that show it the feed's `sub`.

use secrecy::ExposeSecret;

use super::{ClientCredentials, OAuthError};
use crate::clients::{self, Client, Permission};
use crate::services::Services;

/// The registered client that `id` and `secret` prove, or `invalid_client`.
pub async fn registered_client(
    svc: &Services,
    id: &str,
    secret: &secrecy::SecretString,
) -> Result<Client, OAuthError> {
    match clients::authenticate(&svc.store, id, secret.expose_secret()).await? {
        Some(client) => Ok(client),
        None => {
            tracing::info!("client authentication failed");
            Err(OAuthError::InvalidClient)
        }
    }
}

/// A registered client must authenticate (client credentials, introspection,
/// the revocation feed): no credentials, or a public client, is
/// `invalid_client`.
pub async fn require_client(
    svc: &Services,
    credentials: ClientCredentials,
) -> Result<Client, OAuthError> {
    match credentials {
        ClientCredentials::Secret { id, secret, .. } => registered_client(svc, &id, &secret).await,
        ClientCredentials::None | ClientCredentials::Public(_) => Err(OAuthError::InvalidClient),
    }
}

/// A registered client must authenticate and hold one of `wanted`; an
/// authenticated client without any of them is `insufficient_scope` (403): it
/// proved who it is, and that is not enough.
pub async fn require_permitted_client(
    svc: &Services,
    credentials: ClientCredentials,
    wanted: &[Permission],
) -> Result<Client, OAuthError> {
    let client = require_client(svc, credentials).await?;
    if !wanted.iter().any(|&p| client.may(p)) {
        tracing::info!(client = %client.id, permissions = ?wanted, "client lacks the permission");
        return Err(OAuthError::InsufficientScope(
            wanted.first().map(|p| p.name()).unwrap_or_default(),
        ));
    }
    Ok(client)
}

/// The client allowed to introspect: it holds `authd:introspect`.
pub async fn introspector(
    svc: &Services,
    credentials: ClientCredentials,
) -> Result<Client, OAuthError> {
    require_permitted_client(svc, credentials, &[Permission::Introspect]).await
}

/// A client allowed to read the revocation feed, and whether it sees the
/// entries' `sub`.
pub struct FeedReader {
    pub client: Client,
    /// It holds `authd:revocations:sub`: user ids are shown to it.
    pub with_sub: bool,
}

/// The client allowed to read the revocation feed: it holds
/// `authd:revocations` or `authd:revocations:sub` (which implies the first).
pub async fn feed_reader(
    svc: &Services,
    credentials: ClientCredentials,
) -> Result<FeedReader, OAuthError> {
    let client = require_permitted_client(
        svc,
        credentials,
        &[Permission::Revocations, Permission::RevocationsSub],
    )
    .await?;
    let with_sub = client.may(Permission::RevocationsSub);
    Ok(FeedReader { client, with_sub })
}
