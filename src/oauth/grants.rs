//! The grants of `POST /oauth/token`: `refresh_token` (RFC 6749 section 6),
//! for authd's own public client, and `client_credentials` (section 4.4), for
//! registered machine clients.

use std::net::IpAddr;

use super::permissions::{registered_client, require_client};
use super::{ClientCredentials, OAuthError};
use crate::audit::RequestMeta;
use crate::clients;
use crate::services::Services;
use crate::sessions::Session;
use crate::sessions::{delivery, rotate};
use crate::throttle::RateLimiter;

/// Who may use a refresh token: authd's first-party (public) client, named or
/// not. Another public `client_id` is `invalid_client`. A registered machine
/// client has no refresh tokens of its own: its credentials are checked (a
/// wrong secret is `invalid_client`), then refused as `unauthorized_client`.
async fn check_refresh_client(
    svc: &Services,
    credentials: &ClientCredentials,
) -> Result<(), OAuthError> {
    match credentials {
        ClientCredentials::None => Ok(()),
        ClientCredentials::Public(id) if *id == svc.settings.jwt.client_id => Ok(()),
        ClientCredentials::Public(_) => Err(OAuthError::InvalidClient),
        ClientCredentials::Secret { id, secret } => {
            registered_client(svc, id, secret).await?;
            Err(OAuthError::UnauthorizedClient(
                "refresh tokens belong to authd's first-party client, not to registered clients",
            ))
        }
    }
}

/// A refresh request of the token endpoint.
pub struct RefreshRequest<'a> {
    pub credentials: &'a ClientCredentials,
    pub token: &'a str,
    /// The `scope` parameter, which this grant refuses.
    pub scope: Option<&'a str>,
    /// The caller's address, for the per-client refresh limit.
    pub ip: Option<IpAddr>,
    pub meta: &'a RequestMeta,
}

/// The refresh grant: the client checked, then the server's body delivery
/// (off: `unsupported_grant_type`), the per-client refresh `limit`, the
/// absence of `scope` (a user's tokens carry none), and the rotation under
/// the rules of `/auth/refresh` (`sessions::rotate::exchange`). Returns the
/// rotated session, whose tokens go back in the body.
pub async fn refresh(
    svc: &Services,
    limit: &RateLimiter,
    request: RefreshRequest<'_>,
) -> Result<Session, OAuthError> {
    check_refresh_client(svc, request.credentials).await?;
    if !delivery::body_allowed(svc) {
        return Err(OAuthError::UnsupportedGrantType(
            "refresh tokens outside the cookie are disabled on this server",
        ));
    }
    if let Err(retry_after_secs) = limit.check(request.ip, svc.now()) {
        return Err(OAuthError::TooManyRequests { retry_after_secs });
    }
    if request.scope.is_some() {
        return Err(OAuthError::InvalidScope("a user's tokens carry no scope"));
    }
    rotate::exchange(svc, request.token, request.meta)
        .await?
        .ok_or(OAuthError::InvalidGrant(
            "the refresh token is invalid, expired or revoked",
        ))
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
