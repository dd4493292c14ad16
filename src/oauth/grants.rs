//! The grants of `POST /oauth/token`: `refresh_token` (RFC 6749 section 6),
//! for authd's own public client and for the families of registered clients,
//! `authorization_code` (section 4.1.3, `code_grant.rs`), and
//! `client_credentials` (section 4.4), for registered machine clients.

use std::net::IpAddr;

use super::client_family;
pub use super::code_grant::{ClientTokens, CodeRequest, Issue, authorization_code, client_tokens};
use super::permissions::require_client;
use super::{ClientCredentials, OAuthError};
use crate::audit::RequestMeta;
use crate::clients;
use crate::services::Services;
use crate::sessions::Session;
use crate::sessions::delivery;
use crate::sessions::rotate::{self, Exchange, Holder};
use crate::store;
use crate::throttle::RateLimiter;

/// A refresh request of the token endpoint.
pub struct RefreshRequest<'a> {
    pub credentials: &'a ClientCredentials,
    pub token: &'a str,
    /// The `scope` parameter: refused for a first-party family (a user's
    /// tokens carry none); for a client family, a subset of its scopes.
    pub scope: Option<&'a str>,
    /// The caller's address, for the per-client refresh limit.
    pub ip: Option<IpAddr>,
    pub meta: &'a RequestMeta,
}

/// What a refresh gave.
pub enum Refreshed {
    /// A first-party family, rotated: its tokens go back as `/auth/refresh`'s.
    FirstParty(Session),
    /// A client family, rotated, with its tokens.
    Client(ClientTokens),
}

/// The refresh grant. Who presents the token: authd's first-party client
/// (no credentials, or its own `client_id`), or a registered client that
/// authenticates (`client_family::token_client`; a wrong secret is
/// `invalid_client`). A family is refreshed only by its holder
/// (`sessions::rotate::Holder`), before anything is spent:
/// - a first-party family presented by a registered client:
///   `unauthorized_client`, as before client families existed;
/// - a client family presented by another client, or by the first party:
///   `invalid_grant`.
///
/// Then the server's body delivery (off: `unsupported_grant_type`, for the
/// first party only: a client family's refresh tokens only ever travel in
/// the body), the per-client refresh `limit`, the `scope` (see
/// [`RefreshRequest`]; wider than the family's: `invalid_scope`), and the
/// rotation under the rules of `/auth/refresh` (`sessions::rotate`).
pub async fn refresh(
    svc: &Services,
    limit: &RateLimiter,
    request: RefreshRequest<'_>,
) -> Result<Refreshed, OAuthError> {
    let client = client_family::token_client(svc, request.credentials).await?;
    if client.is_none() && !delivery::body_allowed(svc) {
        return Err(OAuthError::UnsupportedGrantType(
            "refresh tokens outside the cookie are disabled on this server",
        ));
    }
    if let Err(retry_after_secs) = limit.check(request.ip, svc.now()) {
        return Err(OAuthError::TooManyRequests { retry_after_secs });
    }
    let Some(client) = client else {
        if request.scope.is_some() {
            return Err(OAuthError::InvalidScope("a user's tokens carry no scope"));
        }
        return match rotate::exchange_as(svc, request.token, Holder::FirstParty, request.meta)
            .await?
        {
            Exchange::Delivered(session) => Ok(Refreshed::FirstParty(session)),
            Exchange::Refused | Exchange::NotHeld { .. } => Err(OAuthError::InvalidGrant(REFUSED)),
        };
    };
    let narrowed = match request.scope {
        Some(asked) => Some(narrowed_scope(svc, request.token, &client.id, asked).await?),
        None => None,
    };
    let holder = Holder::Client(&client.id);
    let session = match rotate::exchange_as(svc, request.token, holder, request.meta).await? {
        Exchange::Delivered(session) => session,
        Exchange::NotHeld { first_party: true } => {
            return Err(OAuthError::UnauthorizedClient(
                "refresh tokens of authd's first-party client are not for registered clients",
            ));
        }
        Exchange::Refused | Exchange::NotHeld { first_party: false } => {
            return Err(OAuthError::InvalidGrant(REFUSED));
        }
    };
    let scope = narrowed
        .or_else(|| session.scope.clone())
        .unwrap_or_default();
    let tokens = client_tokens(svc, &session, &client, &scope, &Issue::Refresh).await?;
    Ok(Refreshed::Client(tokens))
}

const REFUSED: &str = "the refresh token is invalid, expired or revoked";

/// The scope `asked` for at a refresh of a client family: a subset of the
/// family's scopes (`invalid_scope` otherwise: a refresh never widens). Read
/// before the rotation, so a refused scope spends nothing; what a family is
/// bound to never changes, so the read stays true. A token that is not the
/// client's is left to the rotation to refuse.
async fn narrowed_scope(
    svc: &Services,
    token: &str,
    client: &str,
    asked: &str,
) -> Result<String, OAuthError> {
    let Some(claims) = svc.refresh.decode(token) else {
        return Err(OAuthError::InvalidGrant(REFUSED));
    };
    let mut conn = svc.store.conn().await?;
    let family = store::sessions::find(&mut conn, claims.session).await?;
    drop(conn);
    let Some(granted) = family
        .filter(|f| f.client_id.as_deref() == Some(client))
        .and_then(|f| f.scope)
    else {
        return Err(OAuthError::InvalidGrant(REFUSED));
    };
    let asked = clients::parse_scopes(asked)
        .map_err(|_| OAuthError::InvalidScope("the requested scope is malformed"))?;
    if asked.is_empty() {
        return Err(OAuthError::InvalidScope("the requested scope is empty"));
    }
    if asked.iter().any(|s| !granted.split(' ').any(|g| g == *s)) {
        return Err(OAuthError::InvalidScope(
            "a refresh may narrow the scope granted, never widen it",
        ));
    }
    Ok(asked.join(" "))
}

/// A client's own access token (client credentials grant).
pub struct ClientToken {
    pub access_token: String,
    pub expires_in: i64,
    /// The scope granted, if any.
    pub scope: Option<String>,
}

/// The client credentials grant: a registered client must authenticate and
/// hold at least one grantable scope (one holding only `authd:*` permissions
/// is `unauthorized_client`: a token of its own would be accepted wherever any
/// valid token is, and permissions are never put in a token); it is granted
/// the scope `clients::granted_scope` gives (`invalid_scope` otherwise). The
/// token's `sub` is the client; there is no refresh token and no session.
pub async fn client_credentials(
    svc: &Services,
    credentials: ClientCredentials,
    scope: Option<&str>,
) -> Result<ClientToken, OAuthError> {
    let client = require_client(svc, credentials).await?;
    if !client.may_use_client_credentials() {
        return Err(OAuthError::UnauthorizedClient(
            "only machine clients may use the client credentials grant",
        ));
    }
    if clients::grantable_scopes(&client).next().is_none() {
        return Err(OAuthError::UnauthorizedClient(
            "this client has no scopes to grant (authd:* permissions are never granted in tokens)",
        ));
    }
    let scope = clients::granted_scope(&client, scope).map_err(|_| {
        OAuthError::InvalidScope("the requested scope is malformed or not granted to this client")
    })?;
    let access = svc
        .access
        .issue_client(&client.id, scope.clone(), svc.now())
        .map_err(OAuthError::internal)?;
    tracing::info!(client = %client.id, "client credentials token issued");
    Ok(ClientToken {
        access_token: access.token,
        expires_in: access.expires_in,
        scope,
    })
}
