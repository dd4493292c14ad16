//! Email delivery: the kinds of messages authd sends and what each carries
//! (`Mail`), queueing one in the caller's transaction (`outbox::queue`), the
//! send limits (`limits`: per client before the answer, per recipient and
//! kind where a message is queued), the background sender
//! that delivers the outbox with retries (`sender`), over SMTP (`smtp`) or,
//! with no SMTP configured, as `.eml` files under `data_dir/mail` (`files`),
//! and the templates (`crate::templates::mail`).
//!
//! A message's link or code is a secret: no log line carries a body, a link,
//! a code or an address, only the message's id, its kind and the recipient's
//! domain. The address and the text are stored only sealed (`seal`), and
//! deleted once the message is sent or given up.

pub mod files;
pub mod limits;
pub mod metrics;
pub mod outbox;
pub mod seal;
pub mod sender;
pub mod smtp;

use std::time::Duration;

use chrono::{DateTime, Utc};
use lettre::message::Mailbox;
use secrecy::SecretString;

use crate::config::{ConfigError, Settings};
use crate::domain::Email;
use crate::throttle::RateLimiter;

pub use limits::{admit, check_client_limit};
pub use outbox::queue;

/// Kinds of messages; the strings are stored, name the templates and label
/// the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailKind {
    VerifyEmail,
    PasswordReset,
    PasswordChanged,
    EmailChangeConfirm,
    EmailChangeNotice,
    EmailChanged,
    RegistrationAttempt,
    OtpCode,
    FactorAdded,
    FactorRemoved,
    RecoveryCodeUsed,
    Invitation,
}

impl MailKind {
    pub const ALL: [Self; 12] = [
        Self::VerifyEmail,
        Self::PasswordReset,
        Self::PasswordChanged,
        Self::EmailChangeConfirm,
        Self::EmailChangeNotice,
        Self::EmailChanged,
        Self::RegistrationAttempt,
        Self::OtpCode,
        Self::FactorAdded,
        Self::FactorRemoved,
        Self::RecoveryCodeUsed,
        Self::Invitation,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify_email",
            Self::PasswordReset => "password_reset",
            Self::PasswordChanged => "password_changed",
            Self::EmailChangeConfirm => "email_change_confirm",
            Self::EmailChangeNotice => "email_change_notice",
            Self::EmailChanged => "email_changed",
            Self::RegistrationAttempt => "registration_attempt",
            Self::OtpCode => "otp_code",
            Self::FactorAdded => "factor_added",
            Self::FactorRemoved => "factor_removed",
            Self::RecoveryCodeUsed => "recovery_code_used",
            Self::Invitation => "invitation",
        }
    }

    /// The kind a stored string names; unknown strings (a newer version's
    /// kind) label as `other`.
    pub fn label(stored: &str) -> &'static str {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == stored)
            .map_or("other", Self::as_str)
    }
}

/// A message and what it carries: the flows fill these in and the templates
/// do the rest. Tokens and codes are secrets; the link is
/// `email.link_base?action=<kind>&token=<token>`.
pub enum Mail {
    /// Proves the address: a link with a token.
    VerifyEmail {
        token: SecretString,
        valid_for: Duration,
    },
    /// A link to choose a new password, and the same as a code for apps
    /// that cannot open links.
    PasswordReset {
        token: SecretString,
        code: SecretString,
        valid_for: Duration,
    },
    /// Tells the owner that the password was changed.
    PasswordChanged { at: DateTime<Utc> },
    /// Sent to the new address: a link that confirms the change.
    EmailChangeConfirm {
        token: SecretString,
        new_email: Email,
        valid_for: Duration,
    },
    /// Sent to the old address: the change was asked for.
    EmailChangeNotice { new_email: Email },
    /// Sent to the old address: the change is done, confirmed by the user
    /// (every session ended: `sessions_ended`) or made by an admin (no
    /// session ended).
    EmailChanged {
        new_email: Email,
        sessions_ended: bool,
    },
    /// Someone tried to register with an address that has an account.
    RegistrationAttempt,
    /// A one-time code.
    OtpCode {
        code: SecretString,
        valid_for: Duration,
    },
    /// Tells the owner that a second factor was added; `factor` names its
    /// kind as a reader says it ("an authenticator app").
    FactorAdded {
        factor: &'static str,
        at: DateTime<Utc>,
    },
    /// Tells the owner that a second factor was removed (by the owner, or
    /// every one of them by an operator).
    FactorRemoved {
        factor: &'static str,
        at: DateTime<Utc>,
    },
    /// Tells the owner that a recovery code signed in, and how many are left.
    RecoveryCodeUsed { at: DateTime<Utc>, left: i64 },
    /// An account an admin created without a password: a link to choose
    /// one. It is a password-reset link (the reset page, the reset's rules)
    /// with a lifetime of its own (`admin::create::INVITATION_VALID_FOR`).
    Invitation {
        token: SecretString,
        valid_for: Duration,
    },
}

impl Mail {
    pub fn kind(&self) -> MailKind {
        match self {
            Self::VerifyEmail { .. } => MailKind::VerifyEmail,
            Self::PasswordReset { .. } => MailKind::PasswordReset,
            Self::PasswordChanged { .. } => MailKind::PasswordChanged,
            Self::EmailChangeConfirm { .. } => MailKind::EmailChangeConfirm,
            Self::EmailChangeNotice { .. } => MailKind::EmailChangeNotice,
            Self::EmailChanged { .. } => MailKind::EmailChanged,
            Self::RegistrationAttempt => MailKind::RegistrationAttempt,
            Self::OtpCode { .. } => MailKind::OtpCode,
            Self::FactorAdded { .. } => MailKind::FactorAdded,
            Self::FactorRemoved { .. } => MailKind::FactorRemoved,
            Self::RecoveryCodeUsed { .. } => MailKind::RecoveryCodeUsed,
            Self::Invitation { .. } => MailKind::Invitation,
        }
    }
}

/// How messages leave authd.
pub enum Delivery {
    Smtp(smtp::Smtp),
    Files(files::Files),
}

/// Everything mail needs, built once at start-up: the templates, the
/// delivery, the per-IP limit, the sender's wake-up, the settings it reads.
pub struct Mailer {
    pub templates: crate::templates::mail::Templates,
    pub delivery: Delivery,
    pub ip_limit: RateLimiter,
    pub from: Mailbox,
    pub product_name: String,
    pub link_base: String,
    wake: tokio::sync::Notify,
}

impl Mailer {
    /// From settings; a template, a certificate or a password file that cannot
    /// be read stops start-up, naming the setting.
    pub fn new(settings: &Settings) -> Result<Self, ConfigError> {
        let email = &settings.email;
        let dirs = crate::templates::OverrideDirs::from_settings(settings)?;
        let address = email
            .from_address
            .parse()
            .map_err(|_| ConfigError::invalid("email.from_address", "not an email address"))?;
        let name = Some(email.from_name.clone()).filter(|n| !n.trim().is_empty());
        let delivery = if email.smtp.enabled() {
            Delivery::Smtp(smtp::Smtp::new(
                &email.smtp,
                &hello_name(settings.issuer()),
            )?)
        } else {
            Delivery::Files(files::Files::new(settings.data_path("mail")))
        };
        Ok(Self {
            templates: crate::templates::mail::Templates::load(&crate::templates::Overrides {
                dir: dirs.mail.as_deref(),
                setting: dirs.mail_setting,
            })?,
            delivery,
            ip_limit: RateLimiter::new(email.per_ip_limit, email.per_ip_window_secs),
            from: Mailbox::new(name, address),
            product_name: email.product_name.clone(),
            link_base: settings.link_base(),
            wake: tokio::sync::Notify::new(),
        })
    }

    /// Asks the sender to look at the outbox now rather than at its next poll;
    /// call it after committing the transaction that queued a message.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    pub(crate) async fn woken(&self) {
        self.wake.notified().await;
    }
}

/// The name authd greets the SMTP server with: the issuer's host.
fn hello_name(issuer: &str) -> String {
    let rest = issuer.split_once("://").map_or(issuer, |(_, r)| r);
    let host = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    let host = match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    };
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned()
}

/// The part of an address after the `@`, for logs.
pub fn domain_of(address: &str) -> &str {
    address.rsplit_once('@').map_or("", |(_, d)| d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hello_name_is_the_issuers_host() {
        assert_eq!(hello_name("https://auth.example.com"), "auth.example.com");
        assert_eq!(hello_name("http://localhost:8080/x"), "localhost");
        assert_eq!(hello_name("http://[::1]:8080"), "::1");
    }

    #[test]
    fn stored_kinds_label_from_a_fixed_set() {
        for kind in MailKind::ALL {
            assert_eq!(MailKind::label(kind.as_str()), kind.as_str());
        }
        assert_eq!(MailKind::label("attacker-chosen"), "other");
    }
}
