//! The `[mfa]` settings: second factors.

use serde::Deserialize;

use super::ConfigError;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MfaSettings {
    /// Step-up for sensitive actions: a user with a second factor may add or
    /// remove a factor, make new recovery codes, or change the password or
    /// the email address only from a session signed in with a second factor
    /// at most this many seconds ago (else 401
    /// `insufficient_user_authentication`, RFC 9470). Default 900 (15
    /// minutes); 60 to 86,400.
    pub step_up_max_age_secs: u64,
    /// A second factor for everyone: when true, no session starts from a
    /// first proof alone. A user without a confirmed factor whose first
    /// proof is right is asked to enrol one (401 `mfa_enrollment_required`,
    /// `factors::policy`) and is signed in by confirming it; sessions signed
    /// in without a second factor stop being refreshed or used for an
    /// authorization while it is on. Default false: a second factor is the
    /// user's choice.
    pub required: bool,
}

impl Default for MfaSettings {
    fn default() -> Self {
        Self {
            step_up_max_age_secs: 900,
            required: false,
        }
    }
}

impl MfaSettings {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if !(60..=86_400).contains(&self.step_up_max_age_secs) {
            return Err(ConfigError::invalid(
                "mfa.step_up_max_age_secs",
                "must be 60 to 86,400 seconds",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_step_up_age_is_bounded() {
        assert!(MfaSettings::default().validate().is_ok());
        for secs in [0, 59, 86_401] {
            let s = MfaSettings {
                step_up_max_age_secs: secs,
                ..MfaSettings::default()
            };
            let error = s.validate().unwrap_err().to_string();
            assert!(error.contains("mfa.step_up_max_age_secs"), "{error}");
        }
    }
}
