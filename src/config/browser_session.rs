//! The `[browser_session]` settings: how long the browser session at authd
//! (single sign-on, the `__Host-authd_session` cookie) lasts.

use serde::Deserialize;

use super::ConfigError;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BrowserSessionSettings {
    /// Seconds a browser session lasts without being used (each
    /// authorization it answers moves this on). Default 8 hours.
    pub idle_secs: u64,
    /// Seconds a browser session lasts at most from its sign-in, used or
    /// not. Default 7 days.
    pub absolute_secs: u64,
    /// Live browser sessions a user may have; a sign-in beyond it ends the
    /// oldest browser session (never a refresh family, which
    /// `refresh.max_sessions_per_user` caps). Default 100.
    pub max_per_user: u32,
}

impl Default for BrowserSessionSettings {
    fn default() -> Self {
        Self {
            idle_secs: 8 * 3600,
            absolute_secs: 7 * 24 * 3600,
            max_per_user: 100,
        }
    }
}

/// The largest `max_per_user`, as for `refresh.max_sessions_per_user`.
const MAX_PER_USER: u32 = 100_000;

/// Ten years: anything longer is a mistake (and would overflow dates).
const MAX_SECS: u64 = 10 * 365 * 24 * 3600;

impl BrowserSessionSettings {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        for (setting, secs) in [
            ("browser_session.idle_secs", self.idle_secs),
            ("browser_session.absolute_secs", self.absolute_secs),
        ] {
            if secs == 0 || secs > MAX_SECS {
                return Err(ConfigError::invalid(
                    setting,
                    "must be 1 second to 10 years",
                ));
            }
        }
        if !(1..=MAX_PER_USER).contains(&self.max_per_user) {
            return Err(ConfigError::invalid(
                "browser_session.max_per_user",
                "must be 1 to 100,000",
            ));
        }
        if self.idle_secs > self.absolute_secs {
            return Err(ConfigError::invalid(
                "browser_session.idle_secs",
                "cannot exceed browser_session.absolute_secs",
            ));
        }
        Ok(())
    }
}
