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
}

impl Default for BrowserSessionSettings {
    fn default() -> Self {
        Self {
            idle_secs: 8 * 3600,
            absolute_secs: 7 * 24 * 3600,
        }
    }
}

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
        if self.idle_secs > self.absolute_secs {
            return Err(ConfigError::invalid(
                "browser_session.idle_secs",
                "cannot exceed browser_session.absolute_secs",
            ));
        }
        Ok(())
    }
}
