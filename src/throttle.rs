//! Login throttling: failed logins counted per account and per client IP, then
//! refusals (429 with `Retry-After`) for a lockout that doubles with each
//! further failure, up to a cap. Never permanent: a lockout ends after the cap
//! at most, a window without failures forgets the count, and a successful
//! login clears the account's count. A persistent guesser is slowed to one
//! guess per cap (four an hour with the defaults).
//!
//! Counters live in the database, so every instance behind a load balancer
//! sees the same counts. The account key is a hash of the normalized email,
//! whether or not the account exists: throttling reveals nothing about which
//! emails are registered.

use chrono::{DateTime, Duration, Utc};
use ring::digest;

use crate::config::LimitSettings;
use crate::store::{Store, StoreError};

/// The throttle's keys for one login attempt.
pub struct Keys {
    pub account: String,
    pub ip: String,
}

impl Keys {
    pub fn new(email: &str, ip: Option<&str>) -> Self {
        let hash = digest::digest(&digest::SHA256, email.as_bytes());
        let hex: String = hash.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        Self {
            account: format!("account:{hex}"),
            ip: format!("ip:{}", ip.unwrap_or("unknown")),
        }
    }
}

pub struct LoginThrottle {
    account_failures: i64,
    ip_failures: i64,
    window: Duration,
    lockout: Duration,
    max_lockout: Duration,
}

impl LoginThrottle {
    pub fn new(limits: &LimitSettings) -> Self {
        let secs = |s: u64| Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX / 1000));
        Self {
            account_failures: i64::from(limits.login_account_failures),
            ip_failures: i64::from(limits.login_ip_failures),
            window: secs(limits.login_window_secs),
            lockout: secs(limits.login_lockout_secs),
            max_lockout: secs(limits.login_max_lockout_secs),
        }
    }

    /// `Err(seconds to wait)` while either key is locked out.
    pub async fn check(
        &self,
        store: &dyn Store,
        keys: &Keys,
        now: DateTime<Utc>,
    ) -> Result<Result<(), i64>, StoreError> {
        let until = store
            .throttle_blocked_until([&keys.account, &keys.ip], now)
            .await?;
        Ok(match until {
            Some(until) if until > now => Err(((until - now).num_milliseconds() + 999) / 1000),
            _ => Ok(()),
        })
    }

    /// Counts a failed login against both keys, locking out those over their limit.
    pub async fn failed(
        &self,
        store: &dyn Store,
        keys: &Keys,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        for (key, limit) in [
            (&keys.account, self.account_failures),
            (&keys.ip, self.ip_failures),
        ] {
            let failures = store.count_failure(key, now, now - self.window).await?;
            if let Some(wait) = lockout(failures, limit, self.lockout, self.max_lockout) {
                tracing::warn!(
                    key = key.split(':').next().unwrap_or(""),
                    failures,
                    wait_secs = wait.num_seconds(),
                    "login locked out"
                );
                store.block_key(key, now + wait).await?;
            }
        }
        Ok(())
    }

    pub async fn succeeded(&self, store: &dyn Store, keys: &Keys) -> Result<(), StoreError> {
        store.clear_key(&keys.account).await
    }

    /// Counters whose last failure was before this can go, once unblocked.
    pub fn expired_before(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now - self.window - self.max_lockout
    }
}

/// The lockout after `failures` in one window: none below `limit`, then `base`,
/// doubling with each further failure, never above `cap`.
pub fn lockout(failures: i64, limit: i64, base: Duration, cap: Duration) -> Option<Duration> {
    if failures < limit {
        return None;
    }
    let doublings = u32::try_from((failures - limit).min(30)).unwrap_or(30);
    let wait = base.checked_mul(1 << doublings).unwrap_or(cap);
    Some(wait.min(cap))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lockout_doubles_from_the_limit_and_stops_at_the_cap() {
        let (base, cap) = (Duration::seconds(60), Duration::seconds(900));
        assert_eq!(lockout(4, 5, base, cap), None);
        assert_eq!(lockout(5, 5, base, cap), Some(Duration::seconds(60)));
        assert_eq!(lockout(6, 5, base, cap), Some(Duration::seconds(120)));
        assert_eq!(lockout(8, 5, base, cap), Some(Duration::seconds(480)));
        assert_eq!(lockout(9, 5, base, cap), Some(cap));
        assert_eq!(lockout(10_000, 5, base, cap), Some(cap));
    }

    #[test]
    fn account_keys_do_not_hold_the_email() {
        let keys = Keys::new("alice@example.com", Some("10.0.0.1"));
        assert!(!keys.account.contains("alice"));
        assert_eq!(keys.account.len(), "account:".len() + 64);
        assert_eq!(keys.ip, "ip:10.0.0.1");
    }
}

/// A per-client request limit kept in this instance's memory: at most `limit`
/// requests per client in each fixed window. Used where a database write per
/// request would cost more than the request (refresh) or where per-instance
/// counts are good enough (registration). Behind N instances a client gets up
/// to N times the limit.
pub struct RateLimiter {
    limit: u32,
    window: Duration,
    clients: std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, (DateTime<Utc>, u32)>>,
}

/// Clients tracked at most; past it, finished windows are swept, and if none
/// has finished, new clients pass unlimited rather than lock everyone out.
const MAX_TRACKED_CLIENTS: usize = 100_000;

impl RateLimiter {
    pub fn new(limit: u32, window_secs: u64) -> Self {
        Self {
            limit,
            window: Duration::seconds(i64::try_from(window_secs).unwrap_or(i64::MAX / 1000)),
            clients: std::sync::Mutex::new(std::collections::HashMap::new()),
        }
    }

    /// `Err(seconds until the window ends)` when `client` is over the limit.
    pub fn check(&self, client: Option<std::net::IpAddr>, now: DateTime<Utc>) -> Result<(), i64> {
        let Some(client) = client.map(client_key) else {
            return Ok(());
        };
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        if clients.len() >= MAX_TRACKED_CLIENTS && !clients.contains_key(&client) {
            let window = self.window;
            clients.retain(|_, (start, _)| *start + window > now);
            if clients.len() >= MAX_TRACKED_CLIENTS {
                tracing::warn!("rate limiter full: a new client passes unlimited");
                return Ok(());
            }
        }
        let entry = clients.entry(client).or_insert((now, 0));
        if entry.0 + self.window <= now {
            *entry = (now, 0);
        }
        if entry.1 >= self.limit {
            let left = entry.0 + self.window - now;
            return Err((left.num_milliseconds() + 999) / 1000);
        }
        entry.1 += 1;
        Ok(())
    }
}

/// IPv6 clients are counted per /64, the block one subscriber usually holds,
/// so rotating addresses inside it does not escape the limit.
fn client_key(ip: std::net::IpAddr) -> std::net::IpAddr {
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

#[cfg(test)]
mod limiter_tests {
    use super::*;
    use std::net::IpAddr;

    #[test]
    fn the_limit_holds_per_client_and_resets_with_the_window() {
        let limiter = RateLimiter::new(3, 60);
        let t0 = Utc::now();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..3 {
            assert_eq!(limiter.check(Some(a), t0), Ok(()));
        }
        assert_eq!(limiter.check(Some(a), t0 + Duration::seconds(15)), Err(45));
        assert_eq!(
            limiter.check(Some(b), t0),
            Ok(()),
            "other clients are not affected"
        );
        assert_eq!(limiter.check(Some(a), t0 + Duration::seconds(60)), Ok(()));
    }

    #[test]
    fn ipv6_clients_are_counted_per_64() {
        let limiter = RateLimiter::new(1, 60);
        let t0 = Utc::now();
        assert!(
            limiter
                .check(Some("2001:db8:1:2::1".parse().unwrap()), t0)
                .is_ok()
        );
        assert!(
            limiter
                .check(Some("2001:db8:1:2::ffff".parse().unwrap()), t0)
                .is_err()
        );
        assert!(
            limiter
                .check(Some("2001:db8:1:3::1".parse().unwrap()), t0)
                .is_ok()
        );
    }

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
