//! A per-client request limit kept in this instance's memory.

use chrono::{DateTime, Duration, Utc};

use super::client_ip::client_key;

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
}
