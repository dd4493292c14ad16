//! A per-client request limit kept in this instance's memory, bounded in
//! size without ever letting a client through unlimited.

use std::hash::{BuildHasher, Hash, RandomState};
use std::net::IpAddr;
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};
use hashlink::LruCache;

use super::client_ip::client_key;

/// Clients tracked at most, over all shards: about 8 MB (a 64-byte node and
/// a 9-byte slot each, plus free slots).
const MAX_TRACKED_CLIENTS: usize = 100_000;
/// Parts of the table, each behind its own lock with its share of the bound,
/// so that concurrent checks rarely wait for one another.
const SHARDS: usize = 16;

/// A per-client request limit kept in this instance's memory: at most `limit`
/// requests per client in each fixed window. Used where a database write per
/// request would cost more than the request (refresh) or where per-instance
/// counts are good enough (registration). Behind N instances a client gets up
/// to N times the limit.
///
/// At most 100,000 clients (`MAX_TRACKED_CLIENTS`) are tracked. A client not seen
/// before takes the place of the least recently seen one of its shard, so a
/// check costs the same with one client tracked or a full table, and no
/// client ever passes unlimited. What the eviction forgets is safe to forget:
/// a client whose window is over is exactly like a new one, and one still in
/// its window is forgotten only when 6,250 other clients of its shard (some
/// 100,000 in all) have arrived since its last request, refused or not; a
/// client hammering away is never the one evicted. A flood of distinct
/// addresses that does push out an idle client mid-window gains nothing by
/// it: each address of the flood has a full limit of its own anyway.
///
/// A client is its address by default; the admin API's limit counts by
/// registered client id instead (`RateLimiter<String>`).
pub struct RateLimiter<K = IpAddr> {
    limit: u32,
    window: Duration,
    /// Picks a client's shard. Seeded per process, like each shard's own
    /// hasher, so that no one can aim addresses at one shard or one bucket.
    shard_of: RandomState,
    shards: Box<[Mutex<LruCache<K, Window, RandomState>>]>,
}

/// One client's current window.
struct Window {
    start: DateTime<Utc>,
    count: u32,
}

impl Window {
    /// Counts one request at `now`, starting a new window if the last one is
    /// over; `Err(seconds until the window ends)` past the limit.
    fn admit(&mut self, now: DateTime<Utc>, window: Duration, limit: u32) -> Result<(), i64> {
        if self.start + window <= now {
            *self = Window {
                start: now,
                count: 0,
            };
        }
        if self.count >= limit {
            let left = self.start + window - now;
            return Err((left.num_milliseconds() + 999) / 1000);
        }
        self.count += 1;
        Ok(())
    }
}

impl<K: Hash + Eq> RateLimiter<K> {
    pub fn new(limit: u32, window_secs: u64) -> Self {
        let per_shard = MAX_TRACKED_CLIENTS / SHARDS;
        Self {
            limit,
            window: Duration::seconds(i64::try_from(window_secs).unwrap_or(i64::MAX / 1000)),
            shard_of: RandomState::new(),
            shards: (0..SHARDS)
                .map(|_| Mutex::new(LruCache::with_hasher(per_shard, RandomState::new())))
                .collect(),
        }
    }

    /// `Err(seconds until the window ends)` when the client `key` is over
    /// the limit.
    pub fn check_key(&self, client: K, now: DateTime<Utc>) -> Result<(), i64> {
        // The remainder is below SHARDS, so the cast loses nothing.
        let shard = (self.shard_of.hash_one(&client) % SHARDS as u64) as usize;
        let mut clients = self.shards[shard].lock().unwrap_or_else(|e| e.into_inner());
        // A known client moves to the back of the eviction order, refused or not.
        if let Some(window) = clients.get_mut(&client) {
            return window.admit(now, self.window, self.limit);
        }
        let mut window = Window {
            start: now,
            count: 0,
        };
        let verdict = window.admit(now, self.window, self.limit);
        // Full: the least recently seen client of this shard makes room.
        clients.insert(client, window);
        verdict
    }

    /// Clients tracked now, over all shards.
    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| shard.lock().unwrap_or_else(|e| e.into_inner()).len())
            .sum()
    }
}

impl RateLimiter<IpAddr> {
    /// `Err(seconds until the window ends)` when `client` (an IPv6 client's
    /// /64) is over the limit; a request without an address is not limited.
    pub fn check(&self, client: Option<IpAddr>, now: DateTime<Utc>) -> Result<(), i64> {
        match client.map(client_key) {
            Some(client) => self.check_key(client, now),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod limiter_tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn nth(n: u32) -> Option<IpAddr> {
        Some(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + n)))
    }

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
    fn a_new_client_is_limited_even_with_a_full_table() {
        let limiter = RateLimiter::new(3, 60);
        let t0 = Utc::now();
        for n in 0..MAX_TRACKED_CLIENTS as u32 {
            assert_eq!(limiter.check(nth(n), t0), Ok(()));
        }
        let newcomer = nth(MAX_TRACKED_CLIENTS as u32);
        for _ in 0..3 {
            assert_eq!(limiter.check(newcomer, t0), Ok(()));
        }
        assert_eq!(limiter.check(newcomer, t0), Err(60));
    }

    #[test]
    fn a_hammering_client_stays_limited_through_a_flood_of_new_clients() {
        let limiter = RateLimiter::new(3, 60);
        let t0 = Utc::now();
        let hammer = Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)));
        for _ in 0..3 {
            assert_eq!(limiter.check(hammer, t0), Ok(()));
        }
        let flood = 3 * MAX_TRACKED_CLIENTS as u32;
        for n in 0..flood {
            assert_eq!(
                limiter.check(nth(n), t0),
                Ok(()),
                "each new client has its limit"
            );
            if n % 1000 == 0 {
                assert_eq!(limiter.check(hammer, t0), Err(60), "after {n} new clients");
            }
        }
        assert!(limiter.tracked() <= MAX_TRACKED_CLIENTS);
        assert_eq!(limiter.check(hammer, t0), Err(60));
    }
}
