//! The client of a token request and what its family's tokens say: who the
//! client is (authenticated by its kind's method), the RFC 9068 access token
//! of an app's user, and the OpenID Connect ID token in the algorithm the
//! client was registered with.

use jsonwebtoken::Algorithm;
use secrecy::ExposeSecret;
use serde_json::{Map, Value};

use super::{ClientCredentials, OAuthError};
use crate::clients::{self, Client, ClientKind, Presented};
use crate::oidc::id_token::{self, IdTokenRequest};
use crate::services::Services;
use crate::sessions::Session;
use crate::store;
use crate::tokens::access::{ClientUserGrant, SignedAccessToken};

/// The registered client `credentials` prove, authenticated by its kind's
/// method (a public client by its `client_id` alone, a confidential client
/// by its secret in its registered way), or `None` for authd's own
/// first-party client (no credentials, or its `client_id` alone). Any
/// failure is `invalid_client`, the reason only logged. A machine client has
/// no users: `unauthorized_client`.
pub async fn token_client(
    svc: &Services,
    credentials: &ClientCredentials,
) -> Result<Option<Client>, OAuthError> {
    let client = authenticated_client(svc, credentials).await?;
    if client
        .as_ref()
        .is_some_and(|c| c.kind == ClientKind::Machine)
    {
        return Err(OAuthError::UnauthorizedClient(
            "a machine client has no users: it uses the client credentials grant",
        ));
    }
    Ok(client)
}

/// The client of `credentials` as [`token_client`] authenticates it, of any
/// kind (a machine client by its secret, either way): `None` for authd's own
/// first-party client, `invalid_client` for any failure. Revocation
/// (`oauth::revocation`) authenticates its caller this way.
pub async fn authenticated_client(
    svc: &Services,
    credentials: &ClientCredentials,
) -> Result<Option<Client>, OAuthError> {
    let (id, presented) = match credentials {
        ClientCredentials::None => return Ok(None),
        ClientCredentials::Public(id) if *id == svc.settings.jwt.client_id => return Ok(None),
        ClientCredentials::Public(id) => (id, Presented::Nothing),
        ClientCredentials::Secret { id, secret, basic } => {
            let secret = secret.expose_secret();
            let presented = if *basic {
                Presented::Basic(secret)
            } else {
                Presented::Post(secret)
            };
            (id, presented)
        }
    };
    match clients::authenticate_client(&svc.store, id, presented).await? {
        Ok(client) => Ok(Some(client)),
        Err(reason) => {
            tracing::info!(?reason, "client authentication failed");
            Err(OAuthError::InvalidClient)
        }
    }
}

/// The access token of client family `session`, with the claims from the
/// account `extra` (`accounts::claims`), carrying `scope` (the
/// family's, or a narrower one asked for at a refresh), living as long as
/// the client's own access-token lifetime when it is shorter than the
/// server's.
pub fn access_token(
    svc: &Services,
    session: &Session,
    client: &Client,
    scope: &str,
    extra: &Map<String, Value>,
) -> Result<SignedAccessToken, OAuthError> {
    let amr = session.auth_methods.amr();
    svc.access
        .issue_for_client(
            &ClientUserGrant {
                user: session.user_id,
                session: session.id,
                started: session.authenticated_at(),
                amr: &amr,
                client_id: &client.id,
                scope,
                ttl: client.access_token_ttl_secs.map(chrono::Duration::seconds),
                extra,
            },
            svc.now(),
        )
        .map_err(OAuthError::internal)
}

/// The algorithm of `client`'s ID tokens (`KeySet::id_token_alg_for`). A
/// client needing one on a server with no key for it (HS256 keys only, or
/// its algorithm's key removed) is refused at start-up and registration
/// (`clients::check_id_token_keys`); one registered another way is
/// `unauthorized_client` here, never a server error.
pub fn id_token_alg(svc: &Services, client: &Client) -> Result<Algorithm, OAuthError> {
    svc.access
        .keys()
        .id_token_alg_for(client.id_token_alg.as_deref())
        .map_err(|e| {
            tracing::warn!(client = %client.id, error = %e, "no key signs this client's ID tokens");
            OAuthError::UnauthorizedClient(
                "this server has no key to sign this client's ID tokens (HS256 keys never \
                 sign them): its operator must add an RS256, ES256 or EdDSA key",
            )
        })
}

/// The ID token of client family `session` for `client` (OpenID Connect
/// Core section 2): `sid` is the browser session the user signed in with.
pub async fn id_token(
    svc: &Services,
    session: &Session,
    client: &Client,
    nonce: Option<&str>,
    access_token: &str,
    extra: Map<String, Value>,
) -> Result<String, OAuthError> {
    let mut conn = svc.store.conn().await?;
    let user = store::users::find(&mut conn, session.user_id)
        .await?
        .ok_or(OAuthError::InvalidGrant("the user no longer exists"))?;
    drop(conn);
    let amr = session.auth_methods.amr();
    let acr = crate::tokens::access::acr_of(&amr);
    let request = IdTokenRequest {
        user: &user,
        client_id: &client.id,
        alg: id_token_alg(svc, client)?,
        session: session.browser_session_id.unwrap_or(session.id),
        auth_time: session.authenticated_at(),
        nonce,
        amr: &amr,
        acr: Some(&acr),
        scope: session.scope.as_deref().unwrap_or_default(),
        access_token: Some(access_token),
        extra,
    };
    Ok(id_token::issue(svc, &request)?)
}
