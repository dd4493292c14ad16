//! The `[webhooks]` settings: how the event outbox (webhook events and
//! back-channel logout tokens, `crate::events`) is delivered: retries,
//! timeouts, the worker's polling, retention, the secrets' rotation grace,
//! and whether an endpoint may be plain http.

use serde::Deserialize;

use super::ConfigError;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookSettings {
    /// Delivery attempts before a delivery is given up (1 to 100; default 8).
    pub max_attempts: u32,
    /// The wait after the first failed attempt, in milliseconds (default
    /// 5000); it doubles with each further failure, up to `retry_max_secs`
    /// (default 3600), with up to a quarter more at random (jitter).
    pub retry_base_ms: u64,
    pub retry_max_secs: u64,
    /// How long one delivery's POST may take, in milliseconds (default 10000).
    pub timeout_ms: u64,
    /// How often the worker looks for due deliveries, in milliseconds
    /// (default 1000).
    pub poll_interval_ms: u64,
    /// Deliveries one worker claims at once (default 20).
    pub batch_size: u32,
    /// Seconds a claimed delivery is reserved for its worker; after a crash
    /// it is retried once this has passed (default 60; at least 4 times the
    /// timeout).
    pub lease_secs: u64,
    /// Days a sent or given-up delivery's row is kept (default 7).
    pub retention_days: u32,
    /// Seconds the previous secret of an endpoint still signs, alongside the
    /// new one, after a rotation (default 86400).
    pub rotation_grace_secs: u64,
    /// Lets endpoints be plain `http://` anywhere. Off (default): https, or
    /// http only to `localhost` and loopback addresses.
    pub allow_http: bool,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            max_attempts: 20,
            retry_base_ms: 5_000,
            retry_max_secs: 3_600,
            timeout_ms: 10_000,
            poll_interval_ms: 1_000,
            batch_size: 20,
            lease_secs: 60,
            retention_days: 7,
            rotation_grace_secs: 86_400,
            allow_http: false,
        }
    }
}

impl WebhookSettings {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=100).contains(&self.max_attempts) {
            return Err(ConfigError::invalid(
                "webhooks.max_attempts",
                "must be between 1 and 100",
            ));
        }
        if self.retry_base_ms == 0 || self.retry_max_secs == 0 || self.retry_max_secs > 86_400 {
            return Err(ConfigError::invalid(
                "webhooks.retry_base_ms/retry_max_secs",
                "must be at least 1, and retry_max_secs at most 86400",
            ));
        }
        if !(100..=120_000).contains(&self.timeout_ms) {
            return Err(ConfigError::invalid(
                "webhooks.timeout_ms",
                "must be between 100 and 120000",
            ));
        }
        if !(1..=60_000).contains(&self.poll_interval_ms) {
            return Err(ConfigError::invalid(
                "webhooks.poll_interval_ms",
                "must be between 1 and 60000",
            ));
        }
        if !(1..=1000).contains(&self.batch_size) {
            return Err(ConfigError::invalid(
                "webhooks.batch_size",
                "must be between 1 and 1000",
            ));
        }
        // A lease shorter than a slow POST would hand the delivery to a
        // second worker while the first still makes it.
        if self.lease_secs.saturating_mul(1000) < 4 * self.timeout_ms || self.lease_secs > 86_400 {
            return Err(ConfigError::invalid(
                "webhooks.lease_secs",
                "must be at least 4 times webhooks.timeout_ms and at most 86400 seconds",
            ));
        }
        if !(1..=3650).contains(&self.retention_days) {
            return Err(ConfigError::invalid(
                "webhooks.retention_days",
                "must be between 1 and 3650",
            ));
        }
        if self.rotation_grace_secs > 30 * 86_400 {
            return Err(ConfigError::invalid(
                "webhooks.rotation_grace_secs",
                "must be at most 2592000 (30 days)",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_pass_and_a_short_lease_does_not() {
        assert!(WebhookSettings::default().validate().is_ok());
        let short = WebhookSettings {
            lease_secs: 5,
            ..WebhookSettings::default()
        };
        assert!(short.validate().is_err());
        let none = WebhookSettings {
            max_attempts: 0,
            ..WebhookSettings::default()
        };
        assert!(none.validate().is_err());
    }
}
