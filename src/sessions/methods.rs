//! How the user of a session proved who they are: a set of methods, kept on
//! the session so that every access token it issues, at sign-in and at each
//! refresh, carries them as `amr` (RFC 8176 section 2).
//!
//! Stored in `sessions.auth_methods` under authd's own names, separated by
//! spaces, in the order they were used: `password`, `email_code` (a code
//! sent by email), `email_link` (a link sent by email: a reset that signs
//! in). Second factors add `totp`, `recovery_code` and `passkey`.
//!
//! Read leniently: a name this instance does not know (written by a newer
//! one sharing the database) is kept, written back as it was, and left out of
//! `amr`; it never fails the request.

use std::fmt;

/// One way of proving who one is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    /// A password.
    Password,
    /// A one-time code sent by email.
    EmailCode,
    /// A one-time link sent by email.
    EmailLink,
    /// A TOTP code (RFC 6238): a second factor.
    Totp,
    /// A recovery code: a second factor.
    RecoveryCode,
    /// A passkey (WebAuthn) assertion with user verification: a second
    /// factor after a first proof, or a sign-in of its own (README,
    /// "Passkeys": the device and what unlocked it are two factors).
    Passkey,
    /// A stored name this instance does not know.
    Unknown(String),
}

impl Method {
    /// The name it is stored under.
    pub fn name(&self) -> &str {
        match self {
            Self::Password => "password",
            Self::EmailCode => "email_code",
            Self::EmailLink => "email_link",
            Self::Totp => "totp",
            Self::RecoveryCode => "recovery_code",
            Self::Passkey => "passkey",
            Self::Unknown(name) => name,
        }
    }

    /// Whether it is a second factor: a sign-in that used one is `mfa`.
    pub fn is_second_factor(&self) -> bool {
        matches!(self, Self::Totp | Self::RecoveryCode | Self::Passkey)
    }

    /// Its RFC 8176 value, for `amr`; none for an unknown name. A TOTP code
    /// and a recovery code are one-time secrets held by the user: `otp`.
    /// A passkey is `swk`: authd asks for no attestation, so nothing proves
    /// the key lives in hardware (`hwk` would claim that). RFC 8176 has
    /// no value for an emailed link: like an emailed code, it is a one-time
    /// secret sent to the mailbox, so both are `otp` (what a reset that signs
    /// in said before the methods were told apart).
    pub fn amr(&self) -> Option<&'static str> {
        match self {
            Self::Password => Some("pwd"),
            Self::EmailCode | Self::EmailLink | Self::Totp | Self::RecoveryCode => Some("otp"),
            Self::Passkey => Some("swk"),
            Self::Unknown(_) => None,
        }
    }

    fn parse(name: &str) -> Self {
        match name {
            "password" => Self::Password,
            "email_code" => Self::EmailCode,
            "email_link" => Self::EmailLink,
            "totp" => Self::Totp,
            "recovery_code" => Self::RecoveryCode,
            "passkey" => Self::Passkey,
            other => Self::Unknown(other.to_owned()),
        }
    }
}

/// The methods a session was signed in with, in the order they were used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Methods(Vec<Method>);

impl Methods {
    /// A sign-in by `method` alone.
    pub fn one(method: Method) -> Self {
        Self(vec![method])
    }

    pub fn contains(&self, method: &Method) -> bool {
        self.0.contains(method)
    }

    /// These methods and then `method`.
    pub fn and(mut self, method: Method) -> Self {
        self.0.push(method);
        self
    }

    /// Whether a second factor was among them.
    pub fn has_second_factor(&self) -> bool {
        self.0.iter().any(Method::is_second_factor)
    }

    /// The `acr` of a sign-in with these methods: `"1"` for one factor,
    /// `"2"` for a first proof and a second factor (README, "Second factors").
    pub fn acr(&self) -> &'static str {
        if self.has_second_factor() { "2" } else { "1" }
    }

    /// The `amr` of the session's tokens: the RFC 8176 values of the known
    /// methods, each once, in order, and `mfa` after them when a second
    /// factor was used.
    pub fn amr(&self) -> Vec<String> {
        let mut values: Vec<String> = Vec::new();
        for value in self.0.iter().filter_map(Method::amr) {
            if !values.iter().any(|v| v == value) {
                values.push(value.to_owned());
            }
        }
        if self.has_second_factor() {
            values.push("mfa".to_owned());
        }
        values
    }
}

/// As stored: the names, separated by spaces.
impl fmt::Display for Methods {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, method) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(method.name())?;
        }
        Ok(())
    }
}

/// Reads the stored names; never fails (see the module's doc).
impl From<String> for Methods {
    fn from(stored: String) -> Self {
        Self(stored.split_whitespace().map(Method::parse).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_names_round_trip_and_unknown_ones_are_kept_but_left_out_of_amr() {
        let read = Methods::from("password future_factor email_code".to_owned());
        assert_eq!(read.to_string(), "password future_factor email_code");
        assert!(read.contains(&Method::Unknown("future_factor".into())));
        assert_eq!(read.amr(), ["pwd", "otp"]);
        assert!(Methods::from("future_factor".to_owned()).amr().is_empty());
        assert!(Methods::from(String::new()).amr().is_empty());
    }

    #[test]
    fn a_second_factor_adds_otp_and_mfa_and_raises_acr() {
        let two = Methods::one(Method::Password).and(Method::Totp);
        assert_eq!(two.to_string(), "password totp");
        assert_eq!(two.amr(), ["pwd", "otp", "mfa"]);
        assert_eq!(two.acr(), "2");
        let read = Methods::from("email_code recovery_code".to_owned());
        assert_eq!(read.amr(), ["otp", "mfa"]);
        assert_eq!(Methods::one(Method::Password).acr(), "1");
    }

    #[test]
    fn a_passkey_is_swk_and_a_second_factor_alone_or_after_a_password() {
        let alone = Methods::one(Method::Passkey);
        assert_eq!(alone.to_string(), "passkey");
        assert_eq!(alone.amr(), ["swk", "mfa"]);
        assert_eq!(alone.acr(), "2");
        let after = Methods::from("password passkey".to_owned());
        assert_eq!(after.amr(), ["pwd", "swk", "mfa"]);
        assert!(after.has_second_factor());
    }

    #[test]
    fn an_emailed_code_and_link_are_both_otp_once() {
        let both = Methods(vec![Method::EmailLink, Method::EmailCode]);
        assert_eq!(both.amr(), ["otp"]);
        assert_eq!(Methods::one(Method::Password).amr(), ["pwd"]);
    }
}
