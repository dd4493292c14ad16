//! SMTP delivery through lettre: STARTTLS required (the default) or implicit
//! TLS, over rustls, trusting the system's roots and `email.smtp.ca_file`;
//! plain SMTP only to a relay on loopback (checked by `config`). Connections
//! are pooled; every step has `email.smtp.timeout_secs`.

use std::time::Duration;

use lettre::address::Envelope;
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use secrecy::ExposeSecret;

use crate::config::{ConfigError, SmtpSettings, SmtpTls};

pub struct Smtp {
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

impl Smtp {
    /// The transport; nothing connects until the first message. `hello` is
    /// the name authd gives in EHLO.
    pub fn new(s: &SmtpSettings, hello: &str) -> Result<Self, ConfigError> {
        let host = s.host.trim().trim_start_matches('[').trim_end_matches(']');
        let mut tls = TlsParameters::builder(host.to_owned());
        let pem = match (&s.ca, &s.ca_file) {
            (Some(pem), _) => Some(pem.clone().into_bytes()),
            (None, Some(path)) => Some(crate::config::file::read_bounded(path).map_err(|e| {
                ConfigError::invalid("email.smtp.ca_file", format!("{}: {e}", path.display()))
            })?),
            (None, None) => None,
        };
        if let Some(pem) = pem {
            let cert = Certificate::from_pem(&pem).map_err(|e| {
                ConfigError::invalid("email.smtp.ca", format!("not a PEM certificate: {e}"))
            })?;
            tls = tls.add_root_certificate(cert);
        }
        let tls = tls
            .build_rustls()
            .map_err(|e| ConfigError::invalid("email.smtp", format!("TLS: {e}")))?;
        let timeout = Duration::from_secs(s.timeout_secs);
        let hello = match hello.parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V4(ip)) => ClientId::Ipv4(ip),
            Ok(std::net::IpAddr::V6(ip)) => ClientId::Ipv6(ip),
            Err(_) => ClientId::Domain(hello.to_owned()),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(s.port)
            .tls(match s.tls {
                SmtpTls::Starttls => Tls::Required(tls),
                SmtpTls::Implicit => Tls::Wrapper(tls),
                SmtpTls::None => Tls::None,
            })
            .hello_name(hello)
            .timeout(Some(timeout))
            .pool_config(
                PoolConfig::new()
                    .max_size(s.pool_max_size)
                    .idle_timeout(Duration::from_secs(s.pool_idle_secs)),
            );
        if let Some(username) = &s.username {
            let password = match (&s.password, &s.password_file) {
                (Some(p), _) => p.expose_secret().to_owned(),
                (None, Some(path)) => crate::config::file::read_value(path).map_err(|e| {
                    ConfigError::invalid(
                        "email.smtp.password_file",
                        format!("{}: {e}", path.display()),
                    )
                })?,
                (None, None) => String::new(),
            };
            builder = builder.credentials(Credentials::new(username.clone(), password));
        }
        Ok(Self {
            transport: builder.build(),
        })
    }

    /// Sends one stored message to `to`, from `from`. The error says what
    /// failed without the server's words ([`describe`]).
    pub async fn send(
        &self,
        from: &lettre::Address,
        to: &str,
        message: &str,
    ) -> Result<(), String> {
        let to: lettre::Address = to
            .parse()
            .map_err(|_| "the recipient is not an address".to_owned())?;
        let envelope = Envelope::new(Some(from.clone()), vec![to])
            .map_err(|_| "the envelope could not be made".to_owned())?;
        self.transport
            .send_raw(&envelope, message.as_bytes())
            .await
            .map(|_| ())
            .map_err(|e| describe(&e))
    }
}

/// What went wrong, as it is logged and kept (the outbox's `last_error`): for
/// a negative reply only its reply code and enhanced status code ("permanent
/// SMTP reply 550 5.1.1"), since a server's text often repeats the recipient's
/// address; for a reply authd could not read, only that; for the rest (the
/// connection, TLS, a timeout, a server without STARTTLS) lettre's own words,
/// which carry no address.
fn describe(e: &lettre::transport::smtp::Error) -> String {
    use std::error::Error as _;
    if let Some(code) = e.status() {
        let severity = if e.is_permanent() {
            "permanent"
        } else {
            "transient"
        };
        let text = e.source().map(ToString::to_string).unwrap_or_default();
        return match enhanced_status(&text) {
            Some(status) => format!("{severity} SMTP reply {code} {status}"),
            None => format!("{severity} SMTP reply {code}"),
        };
    }
    if e.is_response() {
        return "a reply of the SMTP server could not be read".to_owned();
    }
    e.to_string()
}

/// The enhanced status code (RFC 3463: class.subject.detail, such as
/// `5.1.1`) a reply's text begins with, if it does.
fn enhanced_status(text: &str) -> Option<&str> {
    let first = text.split_whitespace().next()?;
    let mut parts = first.split('.');
    let class = parts.next()?;
    let rest: Vec<&str> = parts.collect();
    let digits = |s: &str, max: usize| {
        !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_digit())
    };
    let ok =
        matches!(class, "2" | "4" | "5") && rest.len() == 2 && rest.iter().all(|p| digits(p, 3));
    ok.then_some(first)
}

#[cfg(test)]
mod tests {
    use super::enhanced_status;

    #[test]
    fn the_enhanced_status_is_the_first_word_when_it_has_its_shape() {
        assert_eq!(
            enhanced_status("5.1.1 <ada@example.com>: Recipient address rejected"),
            Some("5.1.1")
        );
        assert_eq!(enhanced_status("4.7.0 try later"), Some("4.7.0"));
        assert_eq!(enhanced_status("<ada@example.com>: no such user"), None);
        assert_eq!(enhanced_status("5.1 short"), None);
        assert_eq!(enhanced_status("9.1.1 bad class"), None);
        assert_eq!(enhanced_status(""), None);
    }
}
