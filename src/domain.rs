//! Values parsed once at the edge: past it, an `Email` is valid by construction
//! and a `Password` has a bounded length.

use secrecy::{ExposeSecret, SecretString};

/// Why a value from a request was refused; becomes a 400 `invalid_request`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InputError {
    #[error("email is not a valid address")]
    InvalidEmail,
    #[error("password must be at least {0} characters")]
    PasswordTooShort(usize),
    #[error("password must be at most {0} characters")]
    PasswordTooLong(usize),
    #[error("new_email is the account's address already")]
    SameEmail,
    /// `sessions::delivery`: a sign-in asked for the refresh token in the body.
    #[error("token_delivery \"body\" is disabled on this server")]
    BodyDeliveryDisabled,
    /// `factors::passkey`: a passkey's name.
    #[error("a passkey's name must be 1 to 64 characters, without control characters")]
    PasskeyName,
    /// `accounts::roles`: a role's name.
    #[error("a role must be 1 to 64 characters of a-z, 0-9, _ : . -")]
    RoleName,
    /// `accounts::app_metadata`: not a JSON object, or too large.
    #[error("app_metadata must be a JSON object of at most {0} bytes")]
    AppMetadata(usize),
}

/// A role's name, as `user_roles` stores it and tokens carry it: 1 to 64
/// characters of `[a-z0-9_:.-]` (`admin`, `billing:read`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Role(String);

impl Role {
    pub const MAX_LEN: usize = 64;

    pub fn parse(raw: &str) -> Result<Self, InputError> {
        let allowed = |c: char| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | ':' | '.' | '-')
        };
        if raw.is_empty() || raw.len() > Self::MAX_LEN || !raw.chars().all(allowed) {
            return Err(InputError::RoleName);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A normalized email address: trimmed, lower-cased, structurally valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub const MAX_LEN: usize = 254;

    pub fn parse(raw: &str) -> Result<Self, InputError> {
        let email = raw.trim().to_lowercase();
        if email.is_empty() || email.len() > Self::MAX_LEN {
            return Err(InputError::InvalidEmail);
        }
        let (local, domain) = email.rsplit_once('@').ok_or(InputError::InvalidEmail)?;
        let printable = |s: &str| s.chars().all(|c| !c.is_whitespace() && !c.is_control());
        let domain_ok = !domain.is_empty()
            && domain.len() <= 253
            && domain.contains('.')
            && domain.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_alphanumeric() || c == '-')
            });
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.contains('@')
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && !local.contains(['"', '(', ')', ',', ':', ';', '<', '>', '[', '\\', ']']);
        if !(local_ok && domain_ok && printable(&email)) {
            return Err(InputError::InvalidEmail);
        }
        Ok(Self(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password with a bounded length. Never logged, never `Debug`-printed.
pub struct Password(SecretString);

impl Password {
    /// A new password (registration): at least `min_chars` characters.
    pub fn parse_new(
        raw: SecretString,
        min_chars: usize,
        max_chars: usize,
    ) -> Result<Self, InputError> {
        let pw = Self::parse_existing(raw, max_chars)?;
        if pw.0.expose_secret().chars().count() < min_chars {
            return Err(InputError::PasswordTooShort(min_chars));
        }
        Ok(pw)
    }

    /// A password presented at login: only the upper bound applies, so a huge
    /// password cannot become a denial of service. Both bounds count
    /// characters (Unicode scalar values), as JSON Schema's `minLength` and
    /// `maxLength` do, so the API document states them exactly.
    pub fn parse_existing(raw: SecretString, max_chars: usize) -> Result<Self, InputError> {
        // A character is at most 4 bytes: a longer string cannot fit.
        let text = raw.expose_secret();
        if text.len() > max_chars.saturating_mul(4) || text.chars().count() > max_chars {
            return Err(InputError::PasswordTooLong(max_chars));
        }
        Ok(Self(raw))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalized_and_validated() {
        assert_eq!(
            Email::parse("  Alice@Example.COM ").map(|e| e.0),
            Ok("alice@example.com".to_owned())
        );
        for bad in [
            "",
            "alice",
            "@example.com",
            "alice@",
            "alice@example",
            "a b@example.com",
            "alice@@example.com",
            "alice@exa mple.com",
            ".alice@example.com",
            "al..ice@example.com",
            "alice@-example.com",
            "alice@example..com",
            "alice\u{0}@example.com",
            "<alice>@example.com",
        ] {
            assert_eq!(Email::parse(bad), Err(InputError::InvalidEmail), "{bad:?}");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert_eq!(Email::parse(&long), Err(InputError::InvalidEmail));
    }

    #[test]
    fn passwords_are_bounded() {
        let s = |v: &str| SecretString::from(v.to_owned());
        assert!(Password::parse_new(s("short"), 8, 1024).is_err());
        assert!(Password::parse_new(s("long enough"), 8, 1024).is_ok());
        assert!(Password::parse_existing(s(&"x".repeat(1025)), 1024).is_err());
        // The upper bound counts characters too, as the API document says:
        // 1024 four-byte characters fit, 1025 do not.
        assert!(Password::parse_existing(s(&"\u{1F511}".repeat(1024)), 1024).is_ok());
        assert!(Password::parse_existing(s(&"\u{1F511}".repeat(1025)), 1024).is_err());
        // Characters, not bytes, count towards the minimum.
        assert!(Password::parse_new(s("ééééééé"), 8, 1024).is_err());
        assert!(Password::parse_new(s("éééééééé"), 8, 1024).is_ok());
    }

    #[test]
    fn roles_are_validated_tokens() {
        for good in ["admin", "billing:read", "a", "x.y_z-1", &"r".repeat(64)] {
            assert_eq!(
                Role::parse(good).map(|r| r.as_str().to_owned()),
                Ok(good.to_owned())
            );
        }
        for bad in ["", "Admin", "a b", "a/b", "é", "a\n", &"r".repeat(65)] {
            assert_eq!(Role::parse(bad), Err(InputError::RoleName), "{bad:?}");
        }
    }
}
