//! Who the client is: its address, believed from `X-Forwarded-For` only
//! through trusted proxies, and the key it is counted under.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

/// An `X-Forwarded-For` from a trusted proxy with a hop that is not an IP
/// address: the proxy chain is misconfigured or the header was tampered with
/// past the proxy, and no client address can be believed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("X-Forwarded-For from a trusted proxy holds {hop:?}, which is not an IP address")]
pub struct InvalidForwardedFor {
    /// The offending hop, cut short.
    pub hop: String,
}

/// Longest part of a malformed hop quoted back.
const MAX_QUOTED_HOP: usize = 64;

/// The client's address: the peer, or, when the peer is a trusted proxy, the
/// nearest address in `X-Forwarded-For` that is not itself a trusted proxy.
///
/// - `forwarded_for` holds the header's lines in the order they came; they
///   are read as one comma list (RFC 9110 section 5.3), so a proxy that adds
///   a line of its own instead of appending to the client's is read right.
/// - An untrusted peer's `X-Forwarded-For` is ignored, whatever it holds:
///   anyone can write it.
/// - From a trusted peer, every hop read (from the right, up to and including
///   the client's) must be an IP address (`ip` or `ip:port`, `[v6]:port`);
///   otherwise the answer is an error, never a silent fall back to the proxy.
///   Hops left of the client were written by the client and are not read.
/// - Addresses are canonical: an IPv4-mapped IPv6 address (`::ffff:10.0.0.1`,
///   as a `[::]` listener sees IPv4 peers) is the IPv4 address. `trusted` must
///   be canonical already.
pub fn client_ip(
    peer: Option<IpAddr>,
    forwarded_for: &[&[u8]],
    trusted: &[IpAddr],
) -> Result<Option<IpAddr>, InvalidForwardedFor> {
    let Some(peer) = peer.map(|p| p.to_canonical()) else {
        return Ok(None);
    };
    if !trusted.contains(&peer) {
        return Ok(Some(peer));
    }
    let mut client = peer;
    let hops = forwarded_for
        .iter()
        .rev()
        .flat_map(|line| line.rsplit(|b| *b == b','));
    for hop in hops {
        let hop = hop.trim_ascii();
        // Empty list elements are allowed (RFC 9110 section 5.6.1).
        if hop.is_empty() {
            continue;
        }
        client = parse_hop(hop)?;
        if !trusted.contains(&client) {
            break;
        }
    }
    Ok(Some(client))
}

/// One hop of `X-Forwarded-For`: an address, with or without a port.
fn parse_hop(hop: &[u8]) -> Result<IpAddr, InvalidForwardedFor> {
    let text = std::str::from_utf8(hop).ok();
    let ip = text.and_then(|t| {
        t.parse::<IpAddr>()
            .ok()
            .or_else(|| t.parse::<SocketAddr>().ok().map(|s| s.ip()))
    });
    ip.map(|ip| ip.to_canonical())
        .ok_or_else(|| InvalidForwardedFor {
            hop: String::from_utf8_lossy(hop)
                .chars()
                .take(MAX_QUOTED_HOP)
                .collect(),
        })
}

/// IPv6 clients are counted per /64, the block one subscriber usually holds,
/// so rotating addresses inside it does not escape the limit. IPv4-mapped
/// addresses count as the IPv4 address.
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 => v4,
    }
}

/// The client's key as text, for counts kept in the database: the IPv4
/// address, or the IPv6 /64 (`2001:db8:1:2::/64`).
pub fn client_bucket(ip: IpAddr) -> String {
    match client_key(ip) {
        key @ IpAddr::V6(_) => format!("{key}/64"),
        key => key.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let (proxy, inner, client) = (ip("10.0.0.1"), ip("10.0.0.2"), ip("203.0.113.7"));
        let spoofed: &[&[u8]] = &[b"198.51.100.1, 203.0.113.7"];
        assert_eq!(
            client_ip(Some(client), spoofed, &[proxy]),
            Ok(Some(client)),
            "untrusted peer"
        );
        assert_eq!(
            client_ip(Some(proxy), spoofed, &[proxy]),
            Ok(Some(client)),
            "rightmost untrusted hop"
        );
        assert_eq!(
            client_ip(
                Some(proxy),
                &[b"198.51.100.1, 203.0.113.7, 10.0.0.2"],
                &[proxy, inner]
            ),
            Ok(Some(client))
        );
        assert_eq!(client_ip(Some(proxy), &[], &[proxy]), Ok(Some(proxy)));
        assert_eq!(client_ip(None, spoofed, &[proxy]), Ok(None));
    }

    #[test]
    fn every_line_of_the_header_is_read_in_order() {
        let proxy = ip("10.0.0.1");
        // The client wrote the first line; the proxy added the second.
        let lines: &[&[u8]] = &[b"198.51.100.1", b"203.0.113.7"];
        assert_eq!(
            client_ip(Some(proxy), lines, &[proxy]),
            Ok(Some(ip("203.0.113.7")))
        );
        let lines: &[&[u8]] = &[b"198.51.100.1, 10.0.0.2", b"10.0.0.3 ,"];
        assert_eq!(
            client_ip(Some(proxy), lines, &[proxy, ip("10.0.0.2"), ip("10.0.0.3")]),
            Ok(Some(ip("198.51.100.1")))
        );
    }

    #[test]
    fn a_malformed_hop_from_a_trusted_proxy_is_an_error_and_ignored_otherwise() {
        let proxy = ip("10.0.0.1");
        for bad in [&b"garbage"[..], b"203.0.113.7, 300.1.1.1", b"\xff\xfe"] {
            assert!(
                client_ip(Some(proxy), &[bad], &[proxy]).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
            assert_eq!(
                client_ip(Some(ip("203.0.113.9")), &[bad], &[proxy]),
                Ok(Some(ip("203.0.113.9"))),
                "an untrusted peer's header is not read"
            );
        }
        let err = client_ip(Some(proxy), &[b"203.0.113.7", b"unknown"], &[proxy]).unwrap_err();
        assert_eq!(err.hop, "unknown");
        // Left of the client: written by the client, not read.
        assert_eq!(
            client_ip(Some(proxy), &[b"unknown, 203.0.113.7"], &[proxy]),
            Ok(Some(ip("203.0.113.7")))
        );
        // Ports are allowed.
        assert_eq!(
            client_ip(Some(proxy), &[b"203.0.113.7:4711"], &[proxy]),
            Ok(Some(ip("203.0.113.7")))
        );
        assert_eq!(
            client_ip(Some(proxy), &[b"[2001:db8::1]:4711"], &[proxy]),
            Ok(Some(ip("2001:db8::1")))
        );
    }

    #[test]
    fn ipv4_mapped_peers_and_hops_are_ipv4() {
        let proxy = ip("10.0.0.1");
        assert_eq!(
            client_ip(Some(ip("::ffff:10.0.0.1")), &[b"203.0.113.7"], &[proxy]),
            Ok(Some(ip("203.0.113.7"))),
            "a mapped peer matches an IPv4 trusted proxy"
        );
        assert_eq!(
            client_ip(
                Some(ip("::ffff:10.0.0.1")),
                &[b"::ffff:203.0.113.7"],
                &[proxy]
            ),
            Ok(Some(ip("203.0.113.7")))
        );
        assert_eq!(
            client_ip(Some(ip("::ffff:203.0.113.7")), &[], &[proxy]),
            Ok(Some(ip("203.0.113.7")))
        );
    }

    #[test]
    fn ipv6_clients_are_keyed_by_their_64() {
        assert_eq!(client_key(ip("2001:db8:1:2:aaaa::1")), ip("2001:db8:1:2::"));
        assert_eq!(client_key(ip("::ffff:203.0.113.7")), ip("203.0.113.7"));
        assert_eq!(client_key(ip("203.0.113.7")), ip("203.0.113.7"));
    }
}
