//! The target: authd's base URL, and the rule that load only ever goes to
//! the loopback interface of this machine.

use std::net::IpAddr;

use reqwest::Url;

/// Why a URL was refused as a target.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("{0:?} is not a URL: {1}")]
    Invalid(String, String),
    #[error("{0:?} is not http(s)")]
    Scheme(String),
    #[error(
        "{0:?} is not a loopback address: authd-bench only loads this machine \
         (127.0.0.0/8, ::1 or localhost)"
    )]
    NotLoopback(String),
}

/// authd's base URL, checked to be on the loopback interface.
#[derive(Debug, Clone)]
pub struct Target {
    base: String,
}

impl Target {
    /// The issuer the server names in its discovery document (the `iss` of
    /// its tokens, which may differ from the address it is reached at).
    pub async fn issuer(&self, client: &reqwest::Client) -> anyhow::Result<String> {
        use anyhow::Context;
        let discovery: serde_json::Value = client
            .get(self.url("/.well-known/openid-configuration"))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        Ok(discovery["issuer"]
            .as_str()
            .context("no issuer in the discovery document")?
            .to_owned())
    }

    /// Accepts `http(s)://127.x.y.z[:port]`, `http(s)://[::1][:port]` and
    /// `http(s)://localhost[:port]`; refuses every other host.
    pub fn parse(url: &str) -> Result<Self, TargetError> {
        let parsed =
            Url::parse(url).map_err(|e| TargetError::Invalid(url.to_owned(), e.to_string()))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(TargetError::Scheme(url.to_owned()));
        }
        if !is_loopback_host(parsed.host_str().unwrap_or("")) {
            return Err(TargetError::NotLoopback(url.to_owned()));
        }
        Ok(Self {
            base: url.trim_end_matches('/').to_owned(),
        })
    }

    /// The base URL without a trailing slash.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// `base` + `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// A host name or address on the loopback interface: `localhost`, an address
/// in 127.0.0.0/8, or `::1` (with or without brackets).
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Checks a database URL for the raw rotation measurement: SQLite (a local
/// file) or PostgreSQL on a loopback host (or a Unix socket).
pub fn check_database_url(url: &str) -> Result<(), TargetError> {
    if url.starts_with("sqlite:") {
        return Ok(());
    }
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(TargetError::Scheme(
            "database URL (sqlite: or postgres://)".into(),
        ));
    }
    let parsed = Url::parse(url)
        .map_err(|e| TargetError::Invalid("the database URL".into(), e.to_string()))?;
    match parsed.host_str() {
        // No host: a Unix socket (`?host=/run/postgresql`), local by nature.
        None | Some("") => Ok(()),
        Some(host) if is_loopback_host(host) => Ok(()),
        Some(host) => Err(TargetError::NotLoopback(format!("database host {host}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_targets_are_accepted() {
        for ok in [
            "http://127.0.0.1:8080",
            "http://127.1.2.3/",
            "https://localhost:8443",
            "http://[::1]:8080",
        ] {
            assert!(Target::parse(ok).is_ok(), "{ok}");
        }
        for refused in [
            "http://10.0.0.1:8080",
            "http://example.com",
            "http://127.0.0.1.example.com",
            "ftp://127.0.0.1",
            "http://[::2]",
            "not a url",
        ] {
            assert!(Target::parse(refused).is_err(), "{refused}");
        }
        assert_eq!(
            Target::parse("http://127.0.0.1:1/").unwrap().url("/x"),
            "http://127.0.0.1:1/x"
        );
    }

    #[test]
    fn database_urls_must_name_this_machine() {
        assert!(check_database_url("sqlite:///tmp/a.db").is_ok());
        assert!(check_database_url("postgres://postgres@127.0.0.1:5432/x").is_ok());
        assert!(check_database_url("postgres://u:p@localhost/x").is_ok());
        assert!(check_database_url("postgres://u@db.example.com/x").is_err());
        assert!(check_database_url("mysql://127.0.0.1/x").is_err());
    }
}
