//! The `[email]` settings: how messages are delivered (`[email.smtp]`, or
//! `.eml` files under `data_dir/mail` when no SMTP host is set), the outbox's
//! retries, the send limits, and what the templates are filled with.

use std::path::PathBuf;

use secrecy::SecretString;
use serde::Deserialize;

use super::ConfigError;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailSettings {
    /// The product's name, in every subject and greeting.
    pub product_name: String,
    /// The app page that handles the links in messages: a link is this URL
    /// with `action` and `token` query parameters added. Empty (the default):
    /// authd's own pages under the issuer, `{server.issuer}/account`
    /// (`Settings::link_base`, `http::pages`).
    pub link_base: String,
    /// The sender's address (`From` and the SMTP envelope).
    pub from_address: String,
    /// The sender's display name; empty: the address alone.
    pub from_name: String,
    /// A directory whose templates replace the built-in ones of the same name
    /// (`password_reset.html`, `layout.html`, ...). Unset: the built-in ones.
    pub templates_dir: Option<PathBuf>,
    /// Delivery attempts before a message is given up (1 to 100).
    pub max_attempts: u32,
    /// The wait after the first failed attempt, in milliseconds; it doubles
    /// with each further failure, up to `retry_max_secs`.
    pub retry_base_ms: u64,
    pub retry_max_secs: u64,
    /// How often the sender looks for due messages, in milliseconds.
    pub poll_interval_ms: u64,
    /// Messages one sender claims at once.
    pub batch_size: u32,
    /// Seconds a claimed message is reserved for its sender; after a crash it
    /// is retried once this has passed.
    pub lease_secs: u64,
    /// Days a sent or given-up message's row (without its text) is kept.
    pub retention_days: u32,
    /// Messages of one kind to one recipient asked for from one client (an
    /// IPv4 address or an IPv6 /64) per window, counted in the database
    /// (shared by every instance) when a message is queued
    /// (`mail::limits`). Past it the message is not sent; the request is
    /// answered as any other.
    pub per_recipient_limit: u32,
    /// Messages of one kind to one recipient per window from all clients
    /// together: the looser cap over `per_recipient_limit`.
    pub per_recipient_total_limit: u32,
    pub per_recipient_window_secs: u64,
    /// Requests that may send mail per client IP per window (in each
    /// instance's memory), answered 429 past it.
    pub per_ip_limit: u32,
    pub per_ip_window_secs: u64,
    pub smtp: SmtpSettings,
}

/// How the connection to the SMTP server is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS, which must succeed (port 587).
    Starttls,
    /// TLS from the first byte (port 465).
    Implicit,
    /// No TLS: only for a relay on the loopback interface.
    None,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSettings {
    /// The SMTP server; empty: no SMTP, messages are written to `data_dir/mail`.
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub username: Option<String>,
    /// Or `password_file`, or `AUTHD__EMAIL__SMTP__PASSWORD_FILE`.
    pub password: Option<SecretString>,
    pub password_file: Option<PathBuf>,
    /// An extra root certificate (PEM) trusted for the server, beside the
    /// system's roots: a private CA. `ca_file` names a file holding it, and
    /// so does `AUTHD__EMAIL__SMTP__CA_FILE` (read into `ca`, like every
    /// `_FILE` variable).
    pub ca: Option<String>,
    pub ca_file: Option<PathBuf>,
    /// Seconds any one SMTP step (connecting, each command) may take.
    pub timeout_secs: u64,
    /// Connections kept open to the server at most, and how long an idle one
    /// is kept, in seconds.
    pub pool_max_size: u32,
    pub pool_idle_secs: u64,
}

impl std::fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("password_file", &self.password_file)
            .field("ca", &self.ca.as_ref().map(|_| "(PEM)"))
            .field("ca_file", &self.ca_file)
            .field("timeout_secs", &self.timeout_secs)
            .field("pool_max_size", &self.pool_max_size)
            .field("pool_idle_secs", &self.pool_idle_secs)
            .finish()
    }
}

impl SmtpSettings {
    /// Whether an SMTP server is configured (else messages go to files).
    pub fn enabled(&self) -> bool {
        !self.host.trim().is_empty()
    }

    /// Whether `host` names this machine's loopback interface.
    pub fn host_is_loopback(&self) -> bool {
        let host = self
            .host
            .trim()
            .trim_start_matches('[')
            .trim_end_matches(']');
        host.eq_ignore_ascii_case("localhost")
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }
}

impl EmailSettings {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let url = self.link_base.trim();
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"));
        if !url.is_empty()
            && (rest.is_none_or(|r| r.is_empty() || r.starts_with('/')) || url.contains('#'))
        {
            return Err(ConfigError::invalid(
                "email.link_base",
                "must be an absolute http(s) URL without a fragment, such as https://app.example.com/account",
            ));
        }
        if self.product_name.trim().is_empty() {
            return Err(ConfigError::invalid(
                "email.product_name",
                "must not be empty",
            ));
        }
        if self.from_address.parse::<lettre::Address>().is_err() {
            return Err(ConfigError::invalid(
                "email.from_address",
                "must be an email address such as authd@example.com",
            ));
        }
        if self.from_name.contains(['\r', '\n']) {
            return Err(ConfigError::invalid("email.from_name", "must be one line"));
        }
        if !(1..=100).contains(&self.max_attempts) {
            return Err(ConfigError::invalid(
                "email.max_attempts",
                "must be between 1 and 100",
            ));
        }
        if self.retry_base_ms == 0 || self.retry_max_secs == 0 || self.retry_max_secs > 86_400 {
            return Err(ConfigError::invalid(
                "email.retry_base_ms/retry_max_secs",
                "must be at least 1, and retry_max_secs at most 86400",
            ));
        }
        if !(1..=60_000).contains(&self.poll_interval_ms) {
            return Err(ConfigError::invalid(
                "email.poll_interval_ms",
                "must be between 1 and 60000",
            ));
        }
        if !(1..=1000).contains(&self.batch_size) {
            return Err(ConfigError::invalid(
                "email.batch_size",
                "must be between 1 and 1000",
            ));
        }
        // A lease shorter than a slow send would hand the message to a second
        // sender while the first still delivers it.
        if self.lease_secs < 4 * self.smtp.timeout_secs || self.lease_secs > 86_400 {
            return Err(ConfigError::invalid(
                "email.lease_secs",
                "must be at least 4 times email.smtp.timeout_secs and at most 86400",
            ));
        }
        if !(1..=3650).contains(&self.retention_days) {
            return Err(ConfigError::invalid(
                "email.retention_days",
                "must be between 1 and 3650",
            ));
        }
        if self.per_recipient_limit == 0
            || self.per_recipient_total_limit == 0
            || self.per_ip_limit == 0
        {
            return Err(ConfigError::invalid(
                "email.per_recipient_limit/per_recipient_total_limit/per_ip_limit",
                "must be at least 1",
            ));
        }
        if !(1..=86_400).contains(&self.per_recipient_window_secs)
            || !(1..=86_400).contains(&self.per_ip_window_secs)
        {
            return Err(ConfigError::invalid(
                "email.per_recipient_window_secs/per_ip_window_secs",
                "must be between 1 and 86400",
            ));
        }
        self.smtp.validate()
    }
}

impl SmtpSettings {
    fn validate(&self) -> Result<(), ConfigError> {
        if !self.enabled() {
            return Ok(());
        }
        if self.port == 0 {
            return Err(ConfigError::invalid(
                "email.smtp.port",
                "must be a port number",
            ));
        }
        if self.tls == SmtpTls::None && !self.host_is_loopback() {
            return Err(ConfigError::invalid(
                "email.smtp.tls",
                "\"none\" is allowed only for a relay on the loopback interface (localhost, 127.0.0.1, ::1); use \"starttls\" or \"implicit\"",
            ));
        }
        if self.password.is_some() && self.password_file.is_some() {
            return Err(ConfigError::invalid(
                "email.smtp.password_file",
                "email.smtp.password is set too: give the password or its file, not both",
            ));
        }
        if self.ca.is_some() && self.ca_file.is_some() {
            return Err(ConfigError::invalid(
                "email.smtp.ca_file",
                "email.smtp.ca is set too: give the certificate or its file, not both",
            ));
        }
        if (self.password.is_some() || self.password_file.is_some()) && self.username.is_none() {
            return Err(ConfigError::invalid(
                "email.smtp.username",
                "must be set with a password",
            ));
        }
        if !(1..=300).contains(&self.timeout_secs) {
            return Err(ConfigError::invalid(
                "email.smtp.timeout_secs",
                "must be between 1 and 300",
            ));
        }
        if !(1..=100).contains(&self.pool_max_size) {
            return Err(ConfigError::invalid(
                "email.smtp.pool_max_size",
                "must be between 1 and 100",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::config::load::tests::load;

    #[test]
    fn email_settings_are_checked_naming_the_setting() {
        let defaults = load(&[]).unwrap();
        assert!(!defaults.email.smtp.enabled(), "files by default");
        for (vars, setting) in [
            (
                vec![("AUTHD__EMAIL__LINK_BASE", "app.example.com")],
                "email.link_base",
            ),
            (
                vec![("AUTHD__EMAIL__LINK_BASE", "https://app.example.com/#x")],
                "email.link_base",
            ),
            (
                vec![("AUTHD__EMAIL__FROM_ADDRESS", "nobody")],
                "email.from_address",
            ),
            (
                vec![("AUTHD__EMAIL__MAX_ATTEMPTS", "0")],
                "email.max_attempts",
            ),
            (
                vec![
                    ("AUTHD__EMAIL__SMTP__HOST", "smtp.example.com"),
                    ("AUTHD__EMAIL__SMTP__TLS", "none"),
                ],
                "email.smtp.tls",
            ),
            (
                vec![
                    ("AUTHD__EMAIL__SMTP__HOST", "smtp.example.com"),
                    ("AUTHD__EMAIL__SMTP__PASSWORD", "hunter2"),
                ],
                "email.smtp.username",
            ),
            (vec![("AUTHD__EMAIL__SMTP__TLS", "sometimes")], "tls"),
        ] {
            let error = load(&vars).err().unwrap().to_string();
            assert!(error.contains(setting), "{vars:?}: {error}");
            assert!(!error.contains("hunter2"), "{error}");
        }
    }

    #[test]
    fn plain_smtp_is_accepted_only_on_loopback_and_the_password_never_prints() {
        for host in ["127.0.0.1", "localhost", "::1", "[::1]"] {
            let s = load(&[
                ("AUTHD__EMAIL__SMTP__HOST", host),
                ("AUTHD__EMAIL__SMTP__TLS", "none"),
            ])
            .unwrap();
            assert!(s.email.smtp.host_is_loopback(), "{host}");
        }
        let s = load(&[
            ("AUTHD__EMAIL__SMTP__HOST", "smtp.example.com"),
            ("AUTHD__EMAIL__SMTP__USERNAME", "authd"),
            ("AUTHD__EMAIL__SMTP__PASSWORD", "hunter2"),
            ("AUTHD__EMAIL__SMTP__TLS", "implicit"),
        ])
        .unwrap();
        assert_eq!(s.email.smtp.tls, super::SmtpTls::Implicit);
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
