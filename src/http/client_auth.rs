//! How a request names and proves its OAuth client (RFC 6749 section 2.3.1):
//! HTTP Basic or form fields, never both. Whether they prove a registered
//! client, and what it may do, is `oauth::permissions`.

use actix_web::HttpRequest;
use actix_web::http::header;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use secrecy::SecretString;

use super::ApiError;
pub use crate::oauth::ClientCredentials;

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
            Ok(ClientCredentials::Secret {
                id,
                secret,
                basic: true,
            })
        }
        (None, Some(id), Some(secret)) => Ok(ClientCredentials::Secret {
            id,
            secret: SecretString::from(secret),
            basic: false,
        }),
        (None, None, Some(_)) => Err(ApiError::InvalidRequest(
            "client_secret without client_id".into(),
        )),
        (None, Some(id), None) => Ok(ClientCredentials::Public(id)),
        (None, None, None) => Ok(ClientCredentials::None),
    }
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
