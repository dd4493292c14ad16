//! The addresses a client registers and how a presented one is matched:
//! redirect URIs, post-logout redirect URIs and web origins. Matching is an
//! exact comparison of strings with no normalization at all (RFC 9700
//! section 4.1.3), with one exception: a public native client's loopback
//! redirect matches any port (RFC 8252 section 7.3). What may be registered
//! is checked here too, so that what is stored can be matched this strictly.

use super::{Client, ClientError, ClientKind};

/// The longest URI accepted at registration.
const MAX_URI: usize = 2000;
/// The loopback hosts a native app may redirect to over http (RFC 8252
/// section 7.3); `localhost` is not one of them (section 8.3).
const LOOPBACK_LITERALS: [&str; 2] = ["127.0.0.1", "[::1]"];

/// Whether `presented` is one of the client's redirect URIs.
pub fn redirect_uri_matches(client: &Client, presented: &str) -> bool {
    if presented.contains('#') {
        return false;
    }
    client.redirect_uris.iter().any(|registered| {
        registered == presented
            || (client.kind == ClientKind::Public && loopback_matches(registered, presented))
    })
}

/// Whether `presented` is one of the client's post-logout redirect URIs
/// (exactly; no port is left open).
pub fn post_logout_redirect_uri_matches(client: &Client, presented: &str) -> bool {
    client
        .post_logout_redirect_uris
        .iter()
        .any(|registered| registered == presented)
}

/// Whether `origin` (a request's `Origin` header) is one of the client's web
/// origins.
pub fn web_origin_matches(client: &Client, origin: &str) -> bool {
    client.web_origins.iter().any(|o| o == origin)
}

/// A loopback redirect split around its port: the host literal, the port (if
/// written) and the rest (path and query).
fn loopback_parts(uri: &str) -> Option<(&str, Option<&str>, &str)> {
    let after = uri.strip_prefix("http://")?;
    let host = LOOPBACK_LITERALS
        .into_iter()
        .find(|h| after.starts_with(h))?;
    let after = &after[host.len()..];
    let (port, rest) = match after.strip_prefix(':') {
        Some(p) => {
            let end = p.find(['/', '?']).unwrap_or(p.len());
            (Some(&p[..end]), &p[end..])
        }
        None => (None, after),
    };
    if !(rest.is_empty() || rest.starts_with(['/', '?'])) {
        return None;
    }
    Some((host, port, rest))
}

/// A port as a browser writes it: 1 to 65535 in decimal, no leading zero.
fn canonical_port(port: &str) -> bool {
    port.parse::<u16>()
        .is_ok_and(|n| n != 0 && n.to_string() == port)
}

/// RFC 8252 section 7.3: the same loopback literal, path and query, any port.
fn loopback_matches(registered: &str, presented: &str) -> bool {
    let (Some((host, _, rest)), Some((p_host, p_port, p_rest))) =
        (loopback_parts(registered), loopback_parts(presented))
    else {
        return false;
    };
    host == p_host && rest == p_rest && p_port.is_none_or(canonical_port)
}

/// Whether `host` (from a URI's authority, without the port) names this
/// machine.
fn is_loopback_host(host: &str) -> bool {
    host == "localhost" || LOOPBACK_LITERALS.contains(&host)
}

/// A URI's scheme (lowercase letters, digits, `+`, `-`, `.`, starting with a
/// letter) and what follows its colon.
fn split_scheme(uri: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = uri.split_once(':')?;
    let mut chars = scheme.chars();
    let first = chars.next()?;
    (first.is_ascii_lowercase()
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.".contains(c)))
    .then_some((scheme, rest))
}

/// An http(s) URI's host and port (the authority) and the rest.
fn split_authority(after_scheme: &str) -> Option<(&str, &str)> {
    let after = after_scheme.strip_prefix("//")?;
    let end = after.find(['/', '?']).unwrap_or(after.len());
    Some((&after[..end], &after[end..]))
}

/// The host of an authority (`host[:port]`), checked: no userinfo, lowercase,
/// and a port, if any, written as browsers write it.
fn authority_host(authority: &str) -> Result<&str, &'static str> {
    if authority.contains('@') {
        return Err("must not carry userinfo (user:password@)");
    }
    let (host, port) = match authority.rfind(':') {
        Some(i) if !authority[i..].contains(']') => (&authority[..i], Some(&authority[i + 1..])),
        _ => (authority, None),
    };
    if host.is_empty() {
        return Err("has no host");
    }
    if host.chars().any(|c| c.is_ascii_uppercase()) {
        return Err("must write its host in lowercase");
    }
    if port.is_some_and(|p| !canonical_port(p)) {
        return Err("has a malformed port");
    }
    Ok(host)
}

/// Checks one redirect (or post-logout redirect) URI a client of `kind`
/// registers; `development` allows a confidential or public client `http://`
/// on this machine, `localhost` included.
pub fn check_redirect_uri(
    kind: ClientKind,
    uri: &str,
    development: bool,
) -> Result<(), ClientError> {
    let refuse = |reason: &'static str| ClientError::RedirectUri {
        uri: uri.to_owned(),
        reason,
    };
    if kind == ClientKind::Machine {
        return Err(ClientError::NotForMachine("redirect URIs"));
    }
    if uri.is_empty() || uri.len() > MAX_URI {
        return Err(refuse("must be 1 to 2000 characters"));
    }
    if !uri.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(refuse(
            "must be printable ASCII without spaces (percent-encode anything else)",
        ));
    }
    if uri.contains('#') {
        return Err(refuse("must not have a fragment"));
    }
    if uri.contains('*') {
        return Err(refuse(
            "must not have a wildcard: every URI is registered exactly",
        ));
    }
    let (scheme, rest) = split_scheme(uri).ok_or_else(|| {
        refuse("must be absolute, with a lowercase scheme (https://, or a private-use scheme)")
    })?;
    match scheme {
        "https" | "http" => {
            let (authority, path) = split_authority(rest)
                .ok_or_else(|| refuse("must have a host (scheme://host/...)"))?;
            let host = authority_host(authority).map_err(refuse)?;
            if !(path.is_empty() || path.starts_with('/')) {
                return Err(refuse("must have a path starting with /"));
            }
            if scheme == "https" {
                return Ok(());
            }
            match kind {
                ClientKind::Public if LOOPBACK_LITERALS.contains(&host) => Ok(()),
                // A browser app in development (the demo of a `cargo run`
                // among them) runs on http://localhost: exact, any port left
                // open only for the literals above.
                _ if development && is_loopback_host(host) => Ok(()),
                ClientKind::Public => Err(refuse(
                    "must be https; http only to a loopback literal, http://127.0.0.1 or http://[::1] (RFC 8252 section 7.3; not localhost, but on a development server with an http:// issuer)",
                )),
                _ => Err(refuse(
                    "must be https (http only to this machine, on a development server with an http:// issuer)",
                )),
            }
        }
        _ if kind == ClientKind::Public && scheme.contains('.') && !rest.is_empty() => Ok(()),
        _ if kind == ClientKind::Public => Err(refuse(
            "must be https, a loopback http://127.0.0.1 or http://[::1], or a private-use scheme in reverse domain order like com.example.app:/callback (RFC 8252 section 7.1)",
        )),
        _ => Err(refuse("must be https")),
    }
}

/// Checks a client's `backchannel_logout_uri` (OpenID Connect Back-Channel
/// Logout 1.0 section 2.2): absolute, no fragment, https; http only to this
/// machine (`localhost`, `127.0.0.1`, `[::1]`), where no network sees the
/// logout token. authd POSTs to it, so it is never a private-use scheme.
pub fn check_backchannel_logout_uri(uri: &str) -> Result<(), ClientError> {
    let refuse = |reason: &'static str| ClientError::BackchannelLogoutUri {
        uri: uri.to_owned(),
        reason,
    };
    if uri.is_empty() || uri.len() > MAX_URI {
        return Err(refuse("must be 1 to 2000 characters"));
    }
    if !uri.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(refuse(
            "must be printable ASCII without spaces (percent-encode anything else)",
        ));
    }
    if uri.contains('#') {
        return Err(refuse("must not have a fragment"));
    }
    let Some((scheme @ ("https" | "http"), rest)) = split_scheme(uri) else {
        return Err(refuse("must be an absolute https:// URI"));
    };
    let (authority, path) =
        split_authority(rest).ok_or_else(|| refuse("must have a host (https://host/...)"))?;
    let host = authority_host(authority).map_err(refuse)?;
    if !(path.is_empty() || path.starts_with('/')) {
        return Err(refuse("must have a path starting with /"));
    }
    if scheme == "http" && !is_loopback_host(host) {
        return Err(refuse(
            "must be https (http only to this machine: localhost, 127.0.0.1 or [::1])",
        ));
    }
    Ok(())
}

/// A web origin as registered, normalized to what browsers send in `Origin`:
/// `scheme://host[:port]`, lowercase, no trailing slash. http only for this
/// machine on a development server.
pub fn normalize_origin(origin: &str, development: bool) -> Result<String, ClientError> {
    let refuse = |reason: &'static str| ClientError::WebOrigin {
        origin: origin.to_owned(),
        reason,
    };
    let lower = origin.trim().to_ascii_lowercase();
    let lower = lower.strip_suffix('/').unwrap_or(&lower);
    if !lower.bytes().all(|b| b.is_ascii_graphic()) || lower.contains('*') {
        return Err(refuse(
            "must be printable ASCII, without spaces or wildcards",
        ));
    }
    let (scheme, rest) = lower
        .split_once("://")
        .ok_or_else(|| refuse("must be scheme://host[:port]"))?;
    if rest.contains(['/', '?', '#']) {
        return Err(refuse("must have no path, query or fragment"));
    }
    let host = authority_host(rest).map_err(refuse)?;
    match scheme {
        "https" => {}
        "http" if development && is_loopback_host(host) => {}
        _ => {
            return Err(refuse(
                "must be https (http only for this machine, on a development server)",
            ));
        }
    }
    Ok(lower.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::registration::tests::client_of;

    fn web() -> Client {
        client_of(
            ClientKind::Confidential,
            &["https://app.example.com/cb?x=1"],
        )
    }

    fn native() -> Client {
        client_of(
            ClientKind::Public,
            &[
                "http://127.0.0.1/cb",
                "http://[::1]:8080/cb",
                "com.example.app:/oauth",
            ],
        )
    }

    #[test]
    fn the_registered_uri_matches_exactly() {
        assert!(redirect_uri_matches(
            &web(),
            "https://app.example.com/cb?x=1"
        ));
        assert!(redirect_uri_matches(&native(), "com.example.app:/oauth"));
    }

    #[test]
    fn anything_but_the_same_string_is_refused() {
        for presented in [
            "https://app.example.com/cb?x=1x",
            "https://app.example.com/cb?x=1/evil",
            "https://app.example.com/cb?x=1&y=2",
            "https://app.example.com:443/cb?x=1",
            "https://app.example.com:8443/cb?x=1",
            "https://app.example.com/cb?x=1#frag",
            "https://app.example.com/cb?x=1#",
            "https://APP.example.com/cb?x=1",
            "HTTPS://app.example.com/cb?x=1",
            "https://app.example.com/CB?x=1",
            "https://app.example.com/%63b?x=1",
            "https://app.example.com/cb?x=%31",
            "https://user@app.example.com/cb?x=1",
            "https://app.example.com@evil.example/cb?x=1",
            "https://app.example.com.evil.example/cb?x=1",
            "https://app.example.com/cb",
            "http://app.example.com/cb?x=1",
            "",
        ] {
            assert!(!redirect_uri_matches(&web(), presented), "{presented}");
        }
    }

    #[test]
    fn a_native_loopback_redirect_matches_any_port_and_nothing_else() {
        let app = native();
        for presented in [
            "http://127.0.0.1/cb",
            "http://127.0.0.1:51234/cb",
            "http://[::1]/cb",
            "http://[::1]:1/cb",
        ] {
            assert!(redirect_uri_matches(&app, presented), "{presented}");
        }
        for presented in [
            "http://localhost:51234/cb",
            "http://127.0.0.1:51234/cb/",
            "http://127.0.0.1:51234/cb?x",
            "http://127.0.0.1:51234/cb#f",
            "http://127.0.0.1:051234/cb",
            "http://127.0.0.1:0/cb",
            "http://127.0.0.1:70000/cb",
            "http://127.0.0.1:/cb",
            "http://127.0.0.1:51234/CB",
            "http://127.0.0.1:51234/%63b",
            "http://user@127.0.0.1:51234/cb",
            "http://127.0.0.1.evil.example/cb",
            "https://127.0.0.1:51234/cb",
            "http://[::1]:51234/cb?",
            "http://127.0.0.2/cb",
        ] {
            assert!(!redirect_uri_matches(&app, presented), "{presented}");
        }
        // Not for a web client: its port is part of the exact URI.
        let mut web = native();
        web.kind = ClientKind::Confidential;
        assert!(!redirect_uri_matches(&web, "http://127.0.0.1:51234/cb"));
        assert!(redirect_uri_matches(&web, "http://127.0.0.1/cb"));
    }

    #[test]
    fn a_public_localhost_redirect_of_a_development_server_matches_only_its_own_port() {
        let spa = client_of(ClientKind::Public, &["http://localhost:8080/demo/"]);
        assert!(redirect_uri_matches(&spa, "http://localhost:8080/demo/"));
        for presented in [
            "http://localhost:8081/demo/",
            "http://localhost/demo/",
            "http://127.0.0.1:8080/demo/",
            "http://localhost:8080/demo",
        ] {
            assert!(!redirect_uri_matches(&spa, presented), "{presented}");
        }
    }

    #[test]
    fn post_logout_redirects_match_exactly_without_open_ports() {
        let mut app = native();
        app.post_logout_redirect_uris = vec!["http://127.0.0.1/bye".into()];
        assert!(post_logout_redirect_uri_matches(
            &app,
            "http://127.0.0.1/bye"
        ));
        for presented in [
            "http://127.0.0.1:5000/bye",
            "http://127.0.0.1/bye?x",
            "http://127.0.0.1/bye#",
            "http://127.0.0.1/cb",
        ] {
            assert!(
                !post_logout_redirect_uri_matches(&app, presented),
                "{presented}"
            );
        }
    }

    #[test]
    fn registration_refuses_what_cannot_be_matched_exactly() {
        use ClientKind::{Confidential, Machine, Public};
        for (kind, uri, dev) in [
            (Confidential, "https://app.example.com/cb", false),
            (Confidential, "http://localhost:3000/cb", true),
            (Confidential, "http://127.0.0.1:3000/cb", true),
            (Public, "https://spa.example.com/", false),
            (Public, "http://127.0.0.1/cb", false),
            (Public, "http://[::1]:8080/cb", false),
            (Public, "com.example.app:/oauth2redirect", false),
            (Public, "http://localhost:8080/demo/", true),
        ] {
            assert_eq!(check_redirect_uri(kind, uri, dev), Ok(()), "{uri}");
        }
        for (kind, uri, dev) in [
            (Confidential, "/cb", false),
            (Confidential, "app.example.com/cb", false),
            (Confidential, "https://app.example.com/cb#x", false),
            (Confidential, "https://*.example.com/cb", false),
            (Confidential, "https://app.example.com/*", false),
            (Confidential, "https://user:pw@app.example.com/cb", false),
            (Confidential, "https://App.example.com/cb", false),
            (Confidential, "HTTPS://app.example.com/cb", false),
            (Confidential, "https://app.example.com/c b", false),
            (Confidential, "https://app.example.com:0/cb", false),
            (Confidential, "http://localhost:3000/cb", false),
            (Confidential, "http://app.example.com/cb", true),
            (Confidential, "com.example.app:/cb", false),
            (Public, "http://localhost:3000/cb", false),
            (Public, "http://app.example.com/cb", true),
            (Public, "myapp:/cb", false),
            (Public, "javascript:alert(1)", false),
            (Public, "com.example.app:", false),
            (Machine, "https://app.example.com/cb", false),
        ] {
            assert!(check_redirect_uri(kind, uri, dev).is_err(), "{uri}");
        }
    }

    #[test]
    fn origins_are_normalized_to_what_browsers_send() {
        assert_eq!(
            normalize_origin("https://SPA.example.com/", false).unwrap(),
            "https://spa.example.com"
        );
        assert_eq!(
            normalize_origin("http://localhost:5173", true).unwrap(),
            "http://localhost:5173"
        );
        for bad in [
            "https://spa.example.com/app",
            "https://spa.example.com?x",
            "spa.example.com",
            "https://*.example.com",
            "http://spa.example.com",
            "https://u@spa.example.com",
        ] {
            assert!(normalize_origin(bad, true).is_err(), "{bad}");
        }
        assert!(normalize_origin("http://localhost:5173", false).is_err());
    }

    #[test]
    fn a_backchannel_logout_uri_is_https_or_http_to_this_machine_without_fragment() {
        for ok in [
            "https://rp.example.com/backchannel",
            "https://rp.example.com:8443/bc?x=1",
            "http://localhost:8080/bc",
            "http://127.0.0.1:5000/bc",
            "http://[::1]/bc",
        ] {
            assert_eq!(check_backchannel_logout_uri(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "http://rp.example.com/bc",
            "https://rp.example.com/bc#frag",
            "/relative/bc",
            "rp.example.com/bc",
            "com.example.app:/bc",
            "ftp://rp.example.com/bc",
            "https://user:pw@rp.example.com/bc",
            "https://RP.example.com/bc",
            "https://rp.example.com/b c",
        ] {
            assert!(
                matches!(
                    check_backchannel_logout_uri(bad),
                    Err(ClientError::BackchannelLogoutUri { .. })
                ),
                "{bad}"
            );
        }
    }
}
