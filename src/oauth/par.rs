//! Pushed authorization requests (RFC 9126): a client posts the parameters
//! of an authorization request to `/oauth/par`, authenticated as at the token
//! endpoint, and gets a `request_uri` to send the browser with instead. The
//! parameters never pass through the browser, so they cannot be read or
//! changed there; the `request_uri` is bound to its client, short-lived
//! (`authorize::PUSHED_LIFETIME_SECS`) and starts one authorization only.

use super::authorize::{self, PAR_URN_PREFIX, PUSHED_LIFETIME_SECS};
use super::client_family::token_client;
use super::flow::ErrorCode;
use super::{ClientCredentials, OAuthError};
use crate::services::Services;

/// The answer of RFC 9126 section 2.2.
pub struct Pushed {
    pub request_uri: String,
    pub expires_in: i64,
}

/// Authenticates the client (public by its `client_id`, confidential by its
/// secret; authd's first-party client and no client at all are
/// `invalid_client`, a machine client `unauthorized_client`), checks and keeps
/// the request.
pub async fn push(
    svc: &Services,
    credentials: &ClientCredentials,
    params: &[(String, String)],
) -> Result<Pushed, OAuthError> {
    let client = token_client(svc, credentials)
        .await?
        .ok_or(OAuthError::InvalidClient)?;
    let request =
        authorize::push(svc, &client, params)
            .await
            .map_err(|(code, text)| match code {
                ErrorCode::InvalidScope => OAuthError::InvalidScope(
                    "the requested scope is malformed or not granted to this client",
                ),
                ErrorCode::ServerError => OAuthError::internal(anyhow::anyhow!(text)),
                _ => OAuthError::InvalidRequest(text),
            })?;
    tracing::info!(client = %client.id, "authorization request pushed");
    Ok(Pushed {
        request_uri: format!("{PAR_URN_PREFIX}{}", request.id),
        expires_in: PUSHED_LIFETIME_SECS,
    })
}
