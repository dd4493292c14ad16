//! The `[accounts]` settings: what the account flows that go by email do.
//! Email verification, password reset, email change, enumeration-safe
//! registration and one-time login codes (the flows live in `accounts`).

use serde::Deserialize;

use super::ConfigError;

/// When an address must be verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verification {
    /// No verification mail; `email_verified` stays false until an email
    /// change is confirmed.
    Off,
    /// A verification link is sent at registration; login does not wait for it.
    Send,
    /// The link is sent at registration, and a password login is refused
    /// with 403 `email_not_verified` until it is followed (401, like a wrong
    /// password, in the enumeration-safe registration mode). A login code or
    /// a password reset proves the address by itself, and verifies it.
    Required,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountSettings {
    pub email_verification: Verification,
    /// Seconds a verification link stays valid.
    pub verify_ttl_secs: u64,
    /// `POST /auth/register` answers 202 with the same body whether or not
    /// the address has an account; the owner of an existing account gets an
    /// email instead, with a way to reset the password.
    pub enumeration_safe_registration: bool,
    /// Seconds a password-reset link and its code stay valid.
    pub reset_ttl_secs: u64,
    /// Digits of the reset code (6 to 10).
    pub reset_code_digits: u32,
    /// Wrong codes after which a code is dead (both reset and login codes).
    pub code_attempts: u32,
    /// A successful reset also signs the user in (answers like a login).
    /// Off: the user signs in with the new password.
    pub reset_signs_in: bool,
    /// Seconds an email-change confirmation link stays valid.
    pub email_change_ttl_secs: u64,
    /// `POST /auth/otp/start` and `/auth/otp/verify`: sign-in with a code sent
    /// by email. Off by default.
    pub otp_enabled: bool,
    /// Digits of a login code (6 to 8), and seconds it stays valid.
    pub otp_digits: u32,
    pub otp_ttl_secs: u64,
    /// Seconds a reset link or code, a verification link or a login code
    /// stays valid once a newer one of its kind was sent (its own expiry
    /// permitting): a request anyone can make does not end the link its
    /// owner is about to use (`accounts::tokens`). 0: a newer one ends it.
    pub replaced_token_grace_secs: u64,
}

/// Ten years bounds every lifetime here, as elsewhere.
const MAX_TTL_SECS: u64 = 10 * 366 * 86_400;

impl AccountSettings {
    /// The ranges serde cannot check, each failure naming the setting.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        for (name, ttl) in [
            ("accounts.verify_ttl_secs", self.verify_ttl_secs),
            ("accounts.reset_ttl_secs", self.reset_ttl_secs),
            ("accounts.email_change_ttl_secs", self.email_change_ttl_secs),
            ("accounts.otp_ttl_secs", self.otp_ttl_secs),
        ] {
            if ttl == 0 || ttl > MAX_TTL_SECS {
                return Err(ConfigError::invalid(
                    name,
                    format!("must be between 1 and {MAX_TTL_SECS} (ten years)"),
                ));
            }
        }
        if !(6..=10).contains(&self.reset_code_digits) {
            return Err(ConfigError::invalid(
                "accounts.reset_code_digits",
                "must be between 6 and 10",
            ));
        }
        if !(6..=8).contains(&self.otp_digits) {
            return Err(ConfigError::invalid(
                "accounts.otp_digits",
                "must be between 6 and 8",
            ));
        }
        if self.replaced_token_grace_secs > 3600 {
            return Err(ConfigError::invalid(
                "accounts.replaced_token_grace_secs",
                "must be between 0 and 3600",
            ));
        }
        if !(1..=10).contains(&self.code_attempts) {
            return Err(ConfigError::invalid(
                "accounts.code_attempts",
                "must be between 1 and 10",
            ));
        }
        // Safe registration answers alike for new and taken addresses; if a
        // new account could log in at once, logging in with the password just
        // registered would tell the two apart.
        if self.enumeration_safe_registration && self.email_verification != Verification::Required {
            return Err(ConfigError::invalid(
                "accounts.enumeration_safe_registration",
                "requires accounts.email_verification = \"required\"",
            ));
        }
        Ok(())
    }
}
