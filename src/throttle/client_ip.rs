//! Who the client is: its address, believed from `X-Forwarded-For` only
//! through trusted proxies, and the key it is counted under.

/// The client's address: the peer, or, when the peer is a trusted proxy, the
/// nearest address in `X-Forwarded-For` that is not itself a trusted proxy.
/// An untrusted peer's `X-Forwarded-For` is ignored: anyone can write it.
pub fn client_ip(
    peer: Option<std::net::IpAddr>,
    forwarded_for: Option<&str>,
    trusted: &[std::net::IpAddr],
) -> Option<std::net::IpAddr> {
    let peer = peer?;
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let mut client = peer;
    for hop in forwarded_for.unwrap_or("").rsplit(',') {
        match hop.trim().parse::<std::net::IpAddr>() {
            Ok(ip) => {
                client = ip;
                if !trusted.contains(&ip) {
                    break;
                }
            }
            // A malformed hop ends the chain we can trust.
            Err(_) => break,
        }
    }
    Some(client)
}

/// IPv6 clients are counted per /64, the block one subscriber usually holds,
/// so rotating addresses inside it does not escape the limit.
pub fn client_key(ip: std::net::IpAddr) -> std::net::IpAddr {
    match ip {
        std::net::IpAddr::V6(v6) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            std::net::IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        std::net::IpAddr::V6(v6) => std::net::IpAddr::V4(
            v6.to_ipv4_mapped()
                .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED),
        ),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let inner: IpAddr = "10.0.0.2".parse().unwrap();
        let client: IpAddr = "203.0.113.7".parse().unwrap();
        let spoofed = Some("198.51.100.1, 203.0.113.7");
        assert_eq!(
            client_ip(Some(client), spoofed, &[proxy]),
            Some(client),
            "untrusted peer"
        );
        assert_eq!(
            client_ip(Some(proxy), spoofed, &[proxy]),
            Some(client),
            "rightmost untrusted hop"
        );
        assert_eq!(
            client_ip(
                Some(proxy),
                Some("198.51.100.1, 203.0.113.7, 10.0.0.2"),
                &[proxy, inner]
            ),
            Some(client)
        );
        assert_eq!(client_ip(Some(proxy), None, &[proxy]), Some(proxy));
        assert_eq!(
            client_ip(Some(proxy), Some("garbage"), &[proxy]),
            Some(proxy)
        );
    }
}
