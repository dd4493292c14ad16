//! Login throttling: failed logins counted per account and client, per
//! account, and per client IP, then refusals (429 with `Retry-After`) for a
//! lockout that doubles with each further failure, up to a cap. Never
//! permanent: a lockout ends after the cap at most, a window without failures
//! forgets the count, and a successful login clears the account's counts. A
//! persistent guesser is slowed to one guess per cap (four an hour with the
//! defaults).
//!
//! The strict count (`limits.login_account_failures`) is per account and
//! client (an IPv6 client's /64): a stranger's failures from one network lock
//! that network out of the account, not the owner signing in from another.
//! The account-wide count (`limits.login_account_wide_failures`) is looser,
//! and stops a guesser spread over many networks.
//!
//! Emailed codes (login and reset codes) are counted apart
//! (`count_code_try`): tries per address and kind per day, up to
//! `limits.code_tries_per_day`, a count that a password login does not
//! clear. A wrong code counts as a failure of the client, never of the
//! account's password, so the code's own limit (`accounts.code_attempts`)
//! is what a user who mistypes meets, not a lockout.
//!
//! Counters live in the database, so every instance behind a load balancer
//! sees the same counts. The account key is the keyed hash of the normalized
//! email (`tokens::address`), whether or not the account exists: throttling
//! reveals nothing about which emails are registered, and a copy of the table
//! cannot confirm a list of candidate addresses.

use std::net::IpAddr;

use chrono::{DateTime, Duration, Utc};

use super::client_ip::client_bucket;
use crate::config::LimitSettings;
use crate::store::{self, AsDb, StoreError};
use crate::tokens::address::address_hash;
use crate::tokens::refresh::RefreshTokens;

/// The throttle's keys for one login attempt.
pub struct Keys {
    pub account: String,
    pub ip: String,
    /// The account and the client together: the strict count.
    pub pair: String,
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
            Some(text) => match text.parse::<IpAddr>().map(client_bucket) {
                Ok(bucket) => bucket,
                // Not an address (callers pass only parsed ones): as given.
                Err(_) => text.to_string(),
            },
        };
        let (account, ip) = (format!("account:{hex}"), format!("ip:{ip}"));
        Self {
            pair: pair_key(&account, &ip),
            account,
            ip,
        }
    }

    /// The key of the account's login-code tries (`count_code_try`).
    pub fn login_code(&self) -> String {
        self.account.replacen("account:", "login-code:", 1)
    }

    /// The key of the account's reset-code tries (`count_code_try`): a count
    /// of its own, so guessed login codes do not refuse a reset, the moment
    /// a user most needs one.
    pub fn reset_code(&self) -> String {
        self.account.replacen("account:", "reset-code:", 1)
    }
}

/// The key of an account key and a client key together: `account-ip:` and
/// the SHA-256 of both (the client's address stays out of it).
fn pair_key(account: &str, ip: &str) -> String {
    let hash = ring::digest::digest(&ring::digest::SHA256, format!("{account}\n{ip}").as_bytes());
    let hex: String = hash.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("account-ip:{hex}")
}

/// An attempt counted before its password is checked (see `reserve`): a
/// wrong password leaves it counted, as a failure; a right one or an
/// unchecked one gives it back.
#[derive(Debug, Default, Clone, Copy)]
pub struct Reservation {
    /// This attempt reached the limit of the account and client, and locked
    /// them out.
    blocked_pair: bool,
    /// This attempt reached the account-wide limit and locked it out.
    blocked_account: bool,
}

pub struct LoginThrottle {
    account_failures: i64,
    account_wide_failures: i64,
    ip_failures: i64,
    code_tries_per_day: i64,
    window: Duration,
    lockout: Duration,
    max_lockout: Duration,
}

impl LoginThrottle {
    pub fn new(limits: &LimitSettings) -> Self {
        let secs = |s: u64| Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX / 1000));
        Self {
            account_failures: i64::from(limits.login_account_failures),
            account_wide_failures: i64::from(limits.login_account_wide_failures),
            ip_failures: i64::from(limits.login_ip_failures),
            code_tries_per_day: i64::from(limits.code_tries_per_day),
            window: secs(limits.login_window_secs),
            lockout: secs(limits.login_lockout_secs),
            max_lockout: secs(limits.login_max_lockout_secs),
        }
    }

    /// `Err(seconds to wait)` while any key is locked out.
    pub async fn check(
        &self,
        db: &mut impl AsDb,
        keys: &Keys,
        now: DateTime<Utc>,
    ) -> Result<Result<(), i64>, StoreError> {
        let keys = [keys.pair.as_str(), &keys.account, &keys.ip];
        let until = store::throttle::blocked_until(db, keys, now).await?;
        Ok(seconds_left(until, now))
    }

    /// `Err(seconds to wait)` while the client is locked out (whatever the
    /// account's counts).
    pub async fn check_client(
        &self,
        db: &mut impl AsDb,
        keys: &Keys,
        now: DateTime<Utc>,
    ) -> Result<Result<(), i64>, StoreError> {
        // The one key, in each of the statement's three places.
        let ip = keys.ip.as_str();
        let until = store::throttle::blocked_until(db, [ip, ip, ip], now).await?;
        Ok(seconds_left(until, now))
    }

    /// Counts a try of an emailed code against `key` (`Keys::login_code`,
    /// `Keys::reset_code`), before the code is compared, in one atomic upsert
    /// (concurrent tries cannot share a count). Past
    /// `limits.code_tries_per_day` tries in the day since the first,
    /// `Err(seconds until the day is over)`: no code is tried. Only the right
    /// code starts the count again ([`code_succeeded`](Self::code_succeeded));
    /// a password login does not.
    pub async fn count_code_try(
        &self,
        db: &mut impl AsDb,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<Result<(), i64>, StoreError> {
        let day = Duration::days(1);
        let (tries, started) = store::code_tries::count_try(db, key, now, now - day).await?;
        if tries <= self.code_tries_per_day {
            return Ok(Ok(()));
        }
        tracing::warn!(
            key = key.split(':').next().unwrap_or(""),
            tries,
            "code refused: the day's tries are spent"
        );
        Ok(Err(seconds_left(Some(started + day), now)
            .err()
            .unwrap_or(1)))
    }

    /// The right code: the tries counted against `key` are forgotten.
    pub async fn code_succeeded(&self, db: &mut impl AsDb, key: &str) -> Result<(), StoreError> {
        store::code_tries::clear(db, key).await
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
        // Lock order: the pair's counter, then the account's (as everywhere).
        let (pair_count, blocked) =
            store::throttle::count_attempt(db, &keys.pair, now, quiet_since).await?;
        if let Err(wait) = seconds_left(blocked, now) {
            store::throttle::release(db, &keys.pair).await?;
            return Ok(Err(wait));
        }
        let (count, blocked) =
            store::throttle::count_attempt(db, &keys.account, now, quiet_since).await?;
        if let Err(wait) = seconds_left(blocked, now) {
            store::throttle::release(db, &keys.pair).await?;
            store::throttle::release(db, &keys.account).await?;
            return Ok(Err(wait));
        }
        let blocked_pair = self
            .lock_if_over(db, &keys.pair, pair_count, self.account_failures, now)
            .await?;
        let blocked_account = self
            .lock_if_over(db, &keys.account, count, self.account_wide_failures, now)
            .await?;
        Ok(Ok(Reservation {
            blocked_pair,
            blocked_account,
        }))
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
        store::throttle::release(db, &keys.pair).await?;
        store::throttle::release(db, &keys.account).await?;
        if reserved.blocked_pair {
            store::throttle::unblock(db, &keys.pair).await?;
        }
        if reserved.blocked_account {
            store::throttle::unblock(db, &keys.account).await?;
        }
        Ok(())
    }

    /// Settles a reserved attempt whose password was right: the failures of
    /// the account from this client and account-wide (and a lockout this
    /// attempt started) are forgotten. Other clients' counts stay.
    pub async fn succeeded(&self, db: &mut impl AsDb, keys: &Keys) -> Result<(), StoreError> {
        store::throttle::clear(db, &keys.pair).await?;
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

    /// Counts of code tries whose day began at or before this can go.
    pub fn code_tries_expired_before(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now - Duration::days(1)
    }
}

/// `Err(whole seconds until `until`)` while it is ahead of `now`.
fn seconds_left(until: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Result<(), i64> {
    match until {
        Some(until) if until > now => Err(((until - now).num_milliseconds() + 999) / 1000),
        _ => Ok(()),
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
        assert!(keys.pair.starts_with("account-ip:"));
        assert!(!keys.pair.contains("10.0.0.1"));
    }

    #[test]
    fn the_pair_key_is_per_account_and_client_and_codes_have_keys_of_their_own() {
        let ring = ring();
        let a = Keys::new(&ring, "a@example.com", Some("10.0.0.1"));
        assert_eq!(
            a.pair,
            Keys::new(&ring, "a@example.com", Some("10.0.0.1")).pair
        );
        assert_ne!(
            a.pair,
            Keys::new(&ring, "a@example.com", Some("10.0.0.2")).pair
        );
        assert_ne!(
            a.pair,
            Keys::new(&ring, "b@example.com", Some("10.0.0.1")).pair
        );
        assert!(a.login_code().starts_with("login-code:"));
        assert!(a.reset_code().starts_with("reset-code:"));
        assert!(!a.reset_code().contains("a@example.com"));
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
