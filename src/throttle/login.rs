//! Login throttling: failed logins counted per account and per client IP, then
//! refusals (429 with `Retry-After`) for a lockout that doubles with each
//! further failure, up to a cap. Never permanent: a lockout ends after the cap
//! at most, a window without failures forgets the count, and a successful
//! login clears the account's count. A persistent guesser is slowed to one
//! guess per cap (four an hour with the defaults).
//!
//! Counters live in the database, so every instance behind a load balancer
//! sees the same counts. The account key is the keyed hash of the normalized
//! email (`tokens::address`), whether or not the account exists: throttling
//! reveals nothing about which emails are registered, and a copy of the table
//! cannot confirm a list of candidate addresses.

use std::net::IpAddr;

use chrono::{DateTime, Duration, Utc};

use super::client_ip::client_key;
use crate::config::LimitSettings;
use crate::store::{self, AsDb, StoreError};
use crate::tokens::address::address_hash;
use crate::tokens::refresh::RefreshTokens;

/// The throttle's keys for one login attempt.
pub struct Keys {
    pub account: String,
    pub ip: String,
}

impl Keys {
    /// `ip` is the client's address as recorded: an IPv6 client is counted
    /// under its /64 (`ip:2001:db8:1:2::/64`), like the in-memory limits, so
    /// addresses rotated inside one /64 share one count; an IPv4-mapped
    /// address is counted as the IPv4 address.
    /// The account's key is `ring`'s keyed hash of `email`.
    pub fn new(ring: &RefreshTokens, email: &str, ip: Option<&str>) -> Self {
        let hex = address_hash(ring, email);
        let ip = match ip {
            None => "unknown".to_string(),
            Some(text) => match text.parse::<IpAddr>().map(client_key) {
                Ok(key @ IpAddr::V6(_)) => format!("{key}/64"),
                Ok(key) => key.to_string(),
                // Not an address (callers pass only parsed ones): as given.
                Err(_) => text.to_string(),
            },
        };
        Self {
            account: format!("account:{hex}"),
            ip: format!("ip:{ip}"),
        }
    }

    /// The counters of reset-code tries: the client's count is the login's
    /// (guesses across many accounts from one client add up with its failed
    /// logins), the account's is a count of its own, so a login lockout, the
    /// moment a user most needs a reset, does not also refuse the reset.
    pub fn for_reset_code(ring: &RefreshTokens, email: &str, ip: Option<&str>) -> Self {
        let login = Self::new(ring, email, ip);
        Self {
            account: login.account.replacen("account:", "reset-code:", 1),
            ip: login.ip,
        }
    }
}

/// An attempt counted before its password is checked (see `reserve`): a
/// wrong password leaves it counted, as a failure; a right one or an
/// unchecked one gives it back.
#[derive(Debug, Default, Clone, Copy)]
pub struct Reservation {
    /// This attempt reached the account's limit and locked it out.
    blocked_account: bool,
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
        db: &mut impl AsDb,
        keys: &Keys,
        now: DateTime<Utc>,
    ) -> Result<Result<(), i64>, StoreError> {
        let until = store::throttle::blocked_until(db, [&keys.account, &keys.ip], now).await?;
        Ok(match until {
            Some(until) if until > now => Err(((until - now).num_milliseconds() + 999) / 1000),
            _ => Ok(()),
        })
    }

    /// Counts this attempt against the account before its password is
    /// checked: reserve, then settle.
    ///
    /// The count is one atomic upsert that also reads the account's lockout
    /// as the row stands once counted, so concurrent guesses, on one instance
    /// or many sharing the database, cannot all pass a check made before any
    /// of them failed. The attempt that reaches the account's limit locks it
    /// out at once, before its own password is checked; the guesses behind
    /// it find the lockout and are refused without hashing. So at most the
    /// limit is checked per window, and one guess per lockout after that.
    ///
    /// The client's count stays a count of failures (`failed`): many good
    /// logins at once from one address (a NAT, a load test) must not lock it
    /// out. `Err(seconds to wait)` when either key is locked out; a refused
    /// attempt is given back and does not lengthen the lockout.
    pub async fn reserve(
        &self,
        db: &mut impl AsDb,
        keys: &Keys,
        now: DateTime<Utc>,
    ) -> Result<Result<Reservation, i64>, StoreError> {
        if let Err(wait) = self.check(db, keys, now).await? {
            return Ok(Err(wait));
        }
        let quiet_since = now - self.window;
        let (count, blocked) =
            store::throttle::count_attempt(db, &keys.account, now, quiet_since).await?;
        if let Some(until) = blocked.filter(|until| *until > now) {
            store::throttle::release(db, &keys.account).await?;
            return Ok(Err(((until - now).num_milliseconds() + 999) / 1000));
        }
        let blocked_account = self
            .lock_if_over(db, &keys.account, count, self.account_failures, now)
            .await?;
        Ok(Ok(Reservation { blocked_account }))
    }

    /// Settles a reserved attempt whose password was wrong: the account's
    /// reservation stays counted as the failure, the client's failure is
    /// counted, and a client at its limit is locked out.
    pub async fn failed(
        &self,
        db: &mut impl AsDb,
        keys: &Keys,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (count, _) =
            store::throttle::count_attempt(db, &keys.ip, now, now - self.window).await?;
        self.lock_if_over(db, &keys.ip, count, self.ip_failures, now)
            .await?;
        Ok(())
    }

    /// Gives a reserved attempt back unsettled: its password could not be
    /// checked (hashing was saturated), so it counts as nothing.
    pub async fn cancel(
        &self,
        db: &mut impl AsDb,
        keys: &Keys,
        reserved: Reservation,
    ) -> Result<(), StoreError> {
        store::throttle::release(db, &keys.account).await?;
        if reserved.blocked_account {
            store::throttle::unblock(db, &keys.account).await?;
        }
        Ok(())
    }

    /// Settles a reserved attempt whose password was right: the account's
    /// failures (and a lockout this attempt started) are forgotten.
    pub async fn succeeded(&self, db: &mut impl AsDb, keys: &Keys) -> Result<(), StoreError> {
        store::throttle::clear(db, &keys.account).await
    }

    /// Locks `key` out when `count` reached `limit`; whether it did.
    async fn lock_if_over(
        &self,
        db: &mut impl AsDb,
        key: &str,
        count: i64,
        limit: i64,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let Some(wait) = lockout(count, limit, self.lockout, self.max_lockout) else {
            return Ok(false);
        };
        tracing::warn!(
            key = key.split(':').next().unwrap_or(""),
            failures = count,
            wait_secs = wait.num_seconds(),
            "login locked out"
        );
        store::throttle::block(db, key, now + wait).await?;
        Ok(true)
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

    fn ring() -> RefreshTokens {
        RefreshTokens::new(&secrecy::SecretString::from(
            "0123456789abcdef0123456789abcdef".to_owned(),
        ))
    }

    #[test]
    fn account_keys_do_not_hold_the_email() {
        let ring = ring();
        let keys = Keys::new(&ring, "alice@example.com", Some("10.0.0.1"));
        assert!(!keys.account.contains("alice"));
        assert_eq!(keys.account.len(), "account:".len() + 64);
        assert_eq!(keys.ip, "ip:10.0.0.1");
        assert_eq!(
            keys.account,
            format!("account:{}", address_hash(&ring, "alice@example.com"))
        );
    }

    #[test]
    fn ipv6_clients_share_the_key_of_their_64() {
        let ring = ring();
        let a = Keys::new(&ring, "a@example.com", Some("2001:db8:1:2::1"));
        let b = Keys::new(&ring, "b@example.com", Some("2001:db8:1:2:ffff:1:2:3"));
        assert_eq!(a.ip, "ip:2001:db8:1:2::/64");
        assert_eq!(a.ip, b.ip);
        assert_ne!(
            a.ip,
            Keys::new(&ring, "a@example.com", Some("2001:db8:1:3::1")).ip
        );
        assert_eq!(
            Keys::new(&ring, "a@example.com", Some("::ffff:10.0.0.1")).ip,
            "ip:10.0.0.1"
        );
        assert_eq!(Keys::new(&ring, "a@example.com", None).ip, "ip:unknown");
    }
}
