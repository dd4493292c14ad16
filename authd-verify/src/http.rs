//! The HTTP reads this crate makes: only over https (or to loopback), never
//! redirected to another origin, bounded in time and in size.

use std::future::Future;
use std::net::IpAddr;
use std::time::Duration;

use reqwest::Url;
use reqwest::redirect::{Attempt, Policy};

/// Redirects followed at most in one request, all within its origin.
const MAX_REDIRECTS: usize = 5;

/// Why `url` may not be used, if it may not: it must be `https`, or `http` to
/// a loopback host (`localhost`, `127.0.0.0/8`, `[::1]`) unless
/// `allow_insecure_http`. Over plain http to another host, anyone on the
/// path could swap the keys (and forge any token) or read the feed's client
/// secret.
pub(crate) fn check_transport(
    what: &str,
    url: &str,
    allow_insecure_http: bool,
) -> Result<(), String> {
    let parsed = Url::parse(url).map_err(|e| format!("{what} {url:?} is not a URL: {e}"))?;
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if allow_insecure_http || is_loopback(&parsed) => Ok(()),
        "http" => Err(format!(
            "{what} {url:?} uses http:// to a host that is not loopback, so keys and \
             credentials would travel unprotected; use https (or allow_insecure_http())"
        )),
        scheme => Err(format!(
            "{what} {url:?} has scheme {scheme:?}; only https (and http to loopback) is used"
        )),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).to_canonical().is_loopback(),
        None => false,
    }
}

/// Whether a redirect from the chain that began at `first` to `next` may be
/// followed: only within `first`'s origin (scheme, host and port), so never
/// to another host, another port, or from https to http.
fn may_follow(first: &Url, next: &Url) -> bool {
    first.origin() == next.origin()
}

/// The redirect policy of the default HTTP client: redirects within the
/// origin of the first request are followed (up to 5), any other is not:
/// the 3xx answer is returned, and refused as a failed request.
///
/// A service passing its own client to
/// [`VerifierBuilder::http_client`](crate::VerifierBuilder::http_client)
/// should build it with this policy (or
/// [`Policy::none`](reqwest::redirect::Policy::none)): a client that follows
/// redirects anywhere still sends the request there, although the verifier
/// refuses what comes back from another origin.
pub fn redirect_policy() -> Policy {
    Policy::custom(|attempt: Attempt<'_>| {
        let followed = attempt.previous().len();
        match attempt.previous().first() {
            Some(first) if may_follow(first, attempt.url()) && followed <= MAX_REDIRECTS => {
                attempt.follow()
            }
            _ => attempt.stop(),
        }
    })
}

/// Refuses an answer that is a redirect (one the policy did not follow) or
/// that came from another origin than `url`'s (a caller's client that
/// followed a redirect away). The reason comes without the `GET url: `.
pub(crate) fn check_origin(response: &reqwest::Response, url: &str) -> Result<(), String> {
    if response.status().is_redirection() {
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        return Err(format!(
            "status {}, a redirect to {location:?} not followed: only redirects within the \
             same origin are, {MAX_REDIRECTS} at most",
            response.status()
        ));
    }
    let requested = Url::parse(url).map_err(|e| e.to_string())?;
    if !may_follow(&requested, response.url()) {
        return Err(format!(
            "the answer came from {}, another origin; refused",
            response.url()
        ));
    }
    Ok(())
}

/// Runs `request` (sending and reading the answer) for at most `bound`, so
/// that a server that accepts and never answers cannot stall the caller,
/// whatever timeouts the caller's `reqwest::Client` has.
pub(crate) async fn bounded<T>(
    bound: Duration,
    url: &str,
    request: impl Future<Output = Result<T, String>>,
) -> Result<T, String> {
    tokio::time::timeout(bound, request)
        .await
        .unwrap_or_else(|_| Err(format!("GET {url}: no complete answer within {bound:?}")))
}

/// The body of `response`, refused as soon as it is known to exceed `max`
/// bytes: at once from `Content-Length`, else while streaming, so an
/// oversized or endless body is never held in memory whole.
pub(crate) async fn read_capped(
    mut response: reqwest::Response,
    max: usize,
    url: &str,
) -> Result<Vec<u8>, String> {
    let too_large = || format!("GET {url}: body larger than {max} bytes");
    if response
        .content_length()
        .is_some_and(|length| length > max as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| format!("GET {url}: {e}"))?
    {
        if body.len() + chunk.len() > max {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn only_redirects_within_the_origin_are_followed() {
        let first = url("https://auth.example.com/.well-known/jwks.json");
        assert!(may_follow(&first, &url("https://auth.example.com/keys")));
        assert!(may_follow(
            &first,
            &url("https://auth.example.com:443/keys")
        ));
        assert!(!may_follow(&first, &url("http://auth.example.com/keys")));
        assert!(!may_follow(&first, &url("https://evil.example.com/keys")));
        assert!(!may_follow(
            &first,
            &url("https://auth.example.com:8443/keys")
        ));
        let loopback = url("http://127.0.0.1:8080/jwks");
        assert!(may_follow(&loopback, &url("http://127.0.0.1:8080/other")));
        assert!(!may_follow(&loopback, &url("http://127.0.0.1:8081/jwks")));
        assert!(!may_follow(&loopback, &url("http://localhost:8080/jwks")));
    }

    #[test]
    fn plain_http_is_allowed_only_to_loopback_unless_allowed() {
        for ok in [
            "https://auth.example.com",
            "http://127.0.0.1:8080",
            "http://127.3.4.5/x",
            "http://localhost:8080",
            "http://LOCALHOST",
            "http://[::1]:8080/jwks",
            "http://[::ffff:127.0.0.1]/",
        ] {
            assert_eq!(check_transport("issuer", ok, false), Ok(()), "{ok}");
        }
        for refused in [
            "http://auth.example.com",
            "http://10.0.0.1",
            "http://localhost.evil.example",
            "http://127.0.0.1.nip.io",
            "http://[::2]/",
            "ftp://auth.example.com",
            "file:///etc/keys",
            "not a url",
        ] {
            assert!(
                check_transport("issuer", refused, false).is_err(),
                "{refused}"
            );
        }
        assert_eq!(
            check_transport("issuer", "http://auth.example.com", true),
            Ok(())
        );
        assert!(check_transport("issuer", "ftp://auth.example.com", true).is_err());
    }
}
