//! The discovery document (RFC 8414 / OpenID Connect Discovery): fetched
//! once at build, trusted only if it names the configured issuer and only
//! for URLs that pass the transport rule.

use std::time::Duration;

use serde::Deserialize;

use crate::error::BuildError;
use crate::http;

/// A discovery document larger than this is refused.
const MAX_DISCOVERY_BYTES: usize = 64 * 1024;

#[derive(Deserialize)]
pub(crate) struct Discovery {
    issuer: String,
    pub jwks_uri: String,
    #[serde(default)]
    pub revocation_feed_endpoint: Option<String>,
}

/// Reads the discovery document at `url`, which must name `issuer`, and
/// checks the transport of the URLs it names (as for configured ones).
pub(crate) async fn discover(
    http: &reqwest::Client,
    url: &str,
    issuer: &str,
    timeout: Duration,
    allow_insecure_http: bool,
) -> Result<Discovery, BuildError> {
    let fail = |e: String| BuildError::Discovery(format!("GET {url}: {e}"));
    let body = http::bounded(timeout, url, async {
        let response = http.get(url).send().await.map_err(|e| e.to_string())?;
        http::check_origin(&response, url)?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("status {status}"));
        }
        http::read_capped(response, MAX_DISCOVERY_BYTES, url).await
    })
    .await
    .map_err(fail)?;
    let document: Discovery = serde_json::from_slice(&body).map_err(|e| fail(e.to_string()))?;
    // RFC 8414 section 3.3: the document must name the issuer it was fetched for.
    if document.issuer != issuer {
        return Err(fail(format!(
            "the document names issuer {:?}, not {issuer:?}",
            document.issuer
        )));
    }
    let transport = |what: &str, url: &str| {
        http::check_transport(what, url, allow_insecure_http).map_err(BuildError::InsecureTransport)
    };
    transport("the discovered jwks_uri", &document.jwks_uri)?;
    if let Some(feed) = &document.revocation_feed_endpoint {
        transport("the discovered revocation_feed_endpoint", feed)?;
    }
    Ok(document)
}
