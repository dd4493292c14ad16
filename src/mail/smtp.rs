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

    /// Sends one stored message to `to`, from `from`.
    pub async fn send(
        &self,
        from: &lettre::Address,
        to: &str,
        message: &str,
    ) -> Result<(), String> {
        let to: lettre::Address = to.parse().map_err(|e| format!("recipient: {e}"))?;
        let envelope = Envelope::new(Some(from.clone()), vec![to]).map_err(|e| e.to_string())?;
        self.transport
            .send_raw(&envelope, message.as_bytes())
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}
