//! The per-client limits the account services check first, in memory and
//! before any database work, so that a client sending many requests costs
//! little more than the refusals.

use std::net::IpAddr;

use chrono::{DateTime, Utc};

use super::RateLimiter;
use crate::config::LimitSettings;

pub struct ClientLimits {
    /// Tries of emailed links and codes: `/auth/password/reset` and
    /// `/auth/otp/verify` (`limits.code_per_ip`).
    codes: RateLimiter,
    /// Passkey ceremonies begun without a session (`limits.ceremony_per_ip`).
    ceremonies: RateLimiter,
    /// Requests that hash a password, successful or not
    /// (`limits.hash_per_ip`).
    hashing: RateLimiter,
    /// Admin API requests, by registered client id (`limits.admin_per_client`).
    admin: RateLimiter<String>,
}

impl ClientLimits {
    pub fn new(limits: &LimitSettings) -> Self {
        Self {
            codes: RateLimiter::new(limits.code_per_ip, limits.code_window_secs),
            ceremonies: RateLimiter::new(limits.ceremony_per_ip, limits.ceremony_window_secs),
            hashing: RateLimiter::new(limits.hash_per_ip, limits.hash_window_secs),
            admin: RateLimiter::new(limits.admin_per_client, limits.admin_window_secs),
        }
    }

    /// Counts a try of a link or code; `Err(seconds to wait)` past the limit.
    pub fn code_try(&self, client: Option<IpAddr>, now: DateTime<Utc>) -> Result<(), i64> {
        self.codes.check(client, now)
    }

    /// Counts a passkey ceremony begun without a session; `Err(seconds to
    /// wait)` past the limit.
    pub fn ceremony(&self, client: Option<IpAddr>, now: DateTime<Utc>) -> Result<(), i64> {
        self.ceremonies.check(client, now)
    }

    /// Counts a request that hashes a password; `Err(seconds to wait)` past
    /// the limit.
    pub fn hashing(&self, client: Option<IpAddr>, now: DateTime<Utc>) -> Result<(), i64> {
        self.hashing.check(client, now)
    }

    /// Counts an admin API request of the registered client `client_id`;
    /// `Err(seconds to wait)` past the limit.
    pub fn admin_request(&self, client_id: &str, now: DateTime<Utc>) -> Result<(), i64> {
        self.admin.check_key(client_id.to_owned(), now)
    }
}
