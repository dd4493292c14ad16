//! How a request names and proves its OAuth client (RFC 6749 section 2.3.1):
//! HTTP Basic or form fields, never both, checked against registered clients.

use actix_web::HttpRequest;
use actix_web::http::header;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use secrecy::{ExposeSecret, SecretString};

use super::ApiError;
use super::state::AppState;
use crate::clients::{self, Client};

/// How a request names its client.
pub enum ClientCredentials {
    /// No client authentication.
    None,
    /// A public client naming itself with `client_id` and no secret.
    Public(String),
    /// `client_id` and `client_secret`, by HTTP Basic or in the form.
    Secret { id: String, secret: SecretString },
}

/// One value of an HTTP Basic pair, form-decoded as RFC 6749 section 2.3.1 asks.
fn basic_part(part: &str) -> Option<String> {
    if part.is_empty() || part.contains(['&', '=']) {
        return None;
    }
    form_urlencoded::parse(part.as_bytes())
        .next()
        .map(|(v, _)| v.into_owned())
}

/// The client credentials of the `Authorization: Basic` header, if it has one.
pub fn basic_credentials(req: &HttpRequest) -> Result<Option<(String, SecretString)>, ApiError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| ApiError::InvalidClient)?;
    let Some((scheme, encoded)) = value.split_once(' ') else {
        return Err(ApiError::InvalidClient);
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(ApiError::InvalidClient);
    }
    let decoded = STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or(ApiError::InvalidClient)?;
    let (id, secret) = decoded.split_once(':').ok_or(ApiError::InvalidClient)?;
    let id = basic_part(id).ok_or(ApiError::InvalidClient)?;
    let secret = basic_part(secret).ok_or(ApiError::InvalidClient)?;
    Ok(Some((id, SecretString::from(secret))))
}

/// The client credentials of a request: HTTP Basic, or form fields, never both.
pub fn client_credentials(
    req: &HttpRequest,
    form_id: Option<String>,
    form_secret: Option<String>,
) -> Result<ClientCredentials, ApiError> {
    let basic = basic_credentials(req)?;
    match (basic, form_id, form_secret) {
        (Some(_), _, Some(_)) => Err(ApiError::InvalidRequest(
            "authenticate the client either with HTTP Basic or with client_secret, not both".into(),
        )),
        (Some((id, secret)), form_id, None) => {
            if form_id.is_some_and(|f| f != id) {
                return Err(ApiError::InvalidRequest(
                    "client_id differs from the authenticated client".into(),
                ));
            }
            Ok(ClientCredentials::Secret { id, secret })
        }
        (None, Some(id), Some(secret)) => Ok(ClientCredentials::Secret {
            id,
            secret: SecretString::from(secret),
        }),
        (None, None, Some(_)) => Err(ApiError::InvalidRequest(
            "client_secret without client_id".into(),
        )),
        (None, Some(id), None) => Ok(ClientCredentials::Public(id)),
        (None, None, None) => Ok(ClientCredentials::None),
    }
}

/// The registered client these credentials prove, or `invalid_client`.
pub async fn registered_client(
    state: &AppState,
    id: &str,
    secret: &SecretString,
) -> Result<Client, ApiError> {
    match clients::authenticate(&state.services.store, id, secret.expose_secret()).await? {
        Some(client) => Ok(client),
        None => {
            tracing::info!("client authentication failed");
            Err(ApiError::InvalidClient)
        }
    }
}

/// A registered client must authenticate (client credentials, introspection,
/// the revocation feed).
pub async fn require_client(
    state: &AppState,
    credentials: ClientCredentials,
) -> Result<Client, ApiError> {
    match credentials {
        ClientCredentials::Secret { id, secret } => registered_client(state, &id, &secret).await,
        ClientCredentials::None | ClientCredentials::Public(_) => Err(ApiError::InvalidClient),
    }
}

/// A registered client must authenticate and hold one of `permissions`
/// (`clients::permissions`); an authenticated client without any of them is
/// `insufficient_scope` (403): it proved who it is, and that is not enough.
pub async fn require_permitted_client(
    state: &AppState,
    credentials: ClientCredentials,
    permissions: &[&'static str],
) -> Result<Client, ApiError> {
    let client = require_client(state, credentials).await?;
    if !permissions.iter().any(|p| client.may(p)) {
        tracing::info!(client = %client.id, ?permissions, "client lacks the permission");
        return Err(ApiError::InsufficientScope(
            permissions.first().copied().unwrap_or_default(),
        ));
    }
    Ok(client)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_parts_are_form_decoded_and_separators_refused() {
        assert_eq!(basic_part("a%20b+c").as_deref(), Some("a b c"));
        assert_eq!(basic_part(""), None);
        assert_eq!(basic_part("a&b"), None);
        assert_eq!(basic_part("a=b"), None);
    }
}
