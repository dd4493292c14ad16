//! Validation: the checks serde cannot make (ranges, URLs, lengths), each
//! failure naming the setting.

use secrecy::ExposeSecret;

use super::{ConfigError, Settings};

/// The largest `refresh.max_sessions_per_user`: a cap is there to bound what
/// one user costs, and a login ends at most the sessions beyond it.
const MAX_SESSIONS_PER_USER: u32 = 100_000;

impl Settings {
    /// Checks what serde cannot: ranges, URLs, lengths.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let issuer = self.server.issuer.trim_end_matches('/');
        if !(issuer.starts_with("http://") || issuer.starts_with("https://"))
            || issuer.len() < "http://x".len()
        {
            return Err(ConfigError::invalid(
                "server.issuer",
                "must be an absolute http(s) URL such as https://auth.example.com",
            ));
        }
        for origin in &self.server.allowed_origins {
            let host = origin.split_once("://").map_or("", |(_, rest)| rest);
            if origin == "*"
                || !(origin.starts_with("http://") || origin.starts_with("https://"))
                || host.is_empty()
                || host.trim_end_matches('/').contains(['/', '?', '#'])
            {
                return Err(ConfigError::invalid(
                    "server.allowed_origins",
                    format!(
                        "{origin:?} is not an origin like https://app.example.com (\"*\" is never allowed)"
                    ),
                ));
            }
        }
        if self.server.max_body_bytes < 1024 {
            return Err(ConfigError::invalid(
                "server.max_body_bytes",
                "must be at least 1024",
            ));
        }
        let url = self.database.url.expose_secret();
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            return Err(ConfigError::invalid(
                "database.url",
                "must start with sqlite: or postgres://",
            ));
        }
        if self.database.max_connections == 0 {
            return Err(ConfigError::invalid(
                "database.max_connections",
                "must be at least 1",
            ));
        }
        if self.jwt.access_ttl_secs == 0 || self.jwt.access_ttl_secs > 24 * 3600 {
            return Err(ConfigError::invalid(
                "jwt.access_ttl_secs",
                "must be between 1 and 86400",
            ));
        }
        if self.jwt.audience.is_empty() {
            return Err(ConfigError::invalid("jwt.audience", "must not be empty"));
        }
        // Ten years bounds every lifetime: far beyond any sane session, and far
        // from the overflow of date arithmetic.
        const TEN_YEARS: u64 = 10 * 366 * 86_400;
        let r = &self.refresh;
        if r.absolute_ttl_secs == 0 || r.absolute_ttl_secs > TEN_YEARS {
            return Err(ConfigError::invalid(
                "refresh.absolute_ttl_secs",
                format!("must be between 1 and {TEN_YEARS} (ten years)"),
            ));
        }
        if r.idle_ttl_secs == 0 || r.idle_ttl_secs > r.absolute_ttl_secs {
            return Err(ConfigError::invalid(
                "refresh.idle_ttl_secs",
                "must be at least 1 and at most refresh.absolute_ttl_secs",
            ));
        }
        if r.reuse_interval_secs >= r.idle_ttl_secs || r.reuse_interval_secs > 300 {
            return Err(ConfigError::invalid(
                "refresh.reuse_interval_secs",
                "must be below refresh.idle_ttl_secs and at most 300 (0 disables the grace rule)",
            ));
        }
        if !(1..=MAX_SESSIONS_PER_USER).contains(&r.max_sessions_per_user) {
            return Err(ConfigError::invalid(
                "refresh.max_sessions_per_user",
                format!("must be between 1 and {MAX_SESSIONS_PER_USER}"),
            ));
        }
        if !(1..=3650).contains(&self.database.audit_retention_days) {
            return Err(ConfigError::invalid(
                "database.audit_retention_days",
                "must be between 1 and 3650",
            ));
        }
        if self.database.cleanup_interval_secs == 0
            || self.database.cleanup_interval_secs > TEN_YEARS
        {
            return Err(ConfigError::invalid(
                "database.cleanup_interval_secs",
                "must be between 1 and ten years",
            ));
        }
        if let Some(secret) = &self.refresh.secret
            && secret.expose_secret().len() < 32
        {
            return Err(ConfigError::invalid(
                "refresh.secret",
                "must be at least 32 bytes; generate one with `authd keys generate --alg HS256`",
            ));
        }
        let cookie = &self.refresh.cookie_name;
        if cookie.is_empty()
            || !cookie
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
        {
            return Err(ConfigError::invalid(
                "refresh.cookie_name",
                "must be letters, digits, '_', '-' or '.'",
            ));
        }
        // Browsers match prefixes without regard to case; authd adds `__Host-`
        // itself, from refresh.cookie_path.
        let lower = cookie.to_ascii_lowercase();
        if lower.starts_with("__host-") || lower.starts_with("__secure-") {
            return Err(ConfigError::invalid(
                "refresh.cookie_name",
                "must not start with __Host- or __Secure-: refresh.cookie_path = \"/\" adds __Host- itself",
            ));
        }
        if !matches!(self.refresh.cookie_path.as_str(), "/" | "/auth") {
            return Err(ConfigError::invalid(
                "refresh.cookie_path",
                "must be \"/\" (a __Host- cookie, the default) or \"/auth\" (for a host shared with other applications)",
            ));
        }
        let p = &self.password;
        if p.max_length == 0 || p.max_length > 1024 {
            return Err(ConfigError::invalid(
                "password.max_length",
                "must be between 1 and 1024",
            ));
        }
        if p.min_length == 0 || p.min_length > p.max_length {
            return Err(ConfigError::invalid(
                "password.min_length",
                "must be at least 1 and at most password.max_length",
            ));
        }
        if p.min_strength > 4 {
            return Err(ConfigError::invalid(
                "password.min_strength",
                "must be between 0 and 4",
            ));
        }
        argon2::Params::new(p.argon2_m_cost, p.argon2_t_cost, p.argon2_p_cost, None).map_err(
            |e| ConfigError::invalid("password.argon2_m_cost/t_cost/p_cost", e.to_string()),
        )?;
        let l = &self.limits;
        if l.login_account_failures == 0
            || l.login_account_wide_failures == 0
            || l.login_ip_failures == 0
            || l.code_tries_per_day == 0
        {
            return Err(ConfigError::invalid(
                "limits.login_account_failures/login_account_wide_failures/login_ip_failures/code_tries_per_day",
                "must be at least 1",
            ));
        }
        if !(1..=86_400).contains(&l.login_window_secs) {
            return Err(ConfigError::invalid(
                "limits.login_window_secs",
                "must be between 1 and 86400",
            ));
        }
        if l.register_per_ip == 0
            || l.refresh_per_ip == 0
            || l.code_per_ip == 0
            || l.hash_per_ip == 0
            || l.admin_per_client == 0
        {
            return Err(ConfigError::invalid(
                "limits.register_per_ip/refresh_per_ip/code_per_ip/hash_per_ip/admin_per_client",
                "must be at least 1",
            ));
        }
        if l.ceremony_per_ip == 0 || !(1..=86_400).contains(&l.ceremony_window_secs) {
            return Err(ConfigError::invalid(
                "limits.ceremony_per_ip/ceremony_window_secs",
                "must be at least 1, and a window between 1 and 86400 seconds",
            ));
        }
        if [
            l.register_window_secs,
            l.refresh_window_secs,
            l.code_window_secs,
            l.hash_window_secs,
            l.admin_window_secs,
        ]
        .iter()
        .any(|w| !(1..=86_400).contains(w))
        {
            return Err(ConfigError::invalid(
                "limits.register_window_secs/refresh_window_secs/code_window_secs/hash_window_secs/admin_window_secs",
                "must be between 1 and 86400",
            ));
        }
        for proxy in &self.server.trusted_proxies {
            if proxy.parse::<std::net::IpAddr>().is_err() {
                return Err(ConfigError::invalid(
                    "server.trusted_proxies",
                    format!("{proxy:?} is not an IP address"),
                ));
            }
        }
        if l.login_max_lockout_secs >= l.login_window_secs {
            return Err(ConfigError::invalid(
                "limits.login_max_lockout_secs",
                "must be below limits.login_window_secs, or counts would reset as each lockout ends",
            ));
        }
        if l.login_lockout_secs == 0
            || l.login_lockout_secs > l.login_max_lockout_secs
            || l.login_max_lockout_secs > 86_400
        {
            return Err(ConfigError::invalid(
                "limits.login_lockout_secs",
                "must be at least 1 and at most limits.login_max_lockout_secs, itself at most 86400",
            ));
        }
        if let Some(listen) = &self.metrics.listen
            && listen.parse::<std::net::SocketAddr>().is_err()
        {
            return Err(ConfigError::invalid(
                "metrics.listen",
                "must be an IP address and port such as 127.0.0.1:9100",
            ));
        }
        if let Some(id) = &self.demo.client_id
            && (id.is_empty() || id.trim() != id)
        {
            return Err(ConfigError::invalid(
                "demo.client_id",
                "must be a client id such as client_5f0c… (leave it unset for no \"Sign in with authd\" button)",
            ));
        }
        if !matches!(self.log.format.as_str(), "json" | "pretty") {
            return Err(ConfigError::invalid(
                "log.format",
                "must be \"json\" or \"pretty\"",
            ));
        }
        self.email.validate()?;
        self.accounts.validate()?;
        self.pages.validate()?;
        self.browser_session.validate()?;
        self.mfa.validate()?;
        self.tokens.validate()?;
        self.admin.validate()?;
        self.webhooks.validate()?;
        self.relying_party()?;
        self.validate_mail_for_https()?;
        Ok(())
    }

    /// An https issuer is a deployment, not a developer's machine: its mail
    /// must leave it, and its links must not travel in clear. Without an SMTP
    /// host every message (live reset links and codes included) would become
    /// an `.eml` file under `data_dir/mail` and reach nobody; a `link_base`
    /// of plain http to another host would send those tokens in clear. Both
    /// stop start-up rather than warn: a warning is read after the first
    /// user asked for a reset.
    fn validate_mail_for_https(&self) -> Result<(), ConfigError> {
        if !self.issuer().starts_with("https://") {
            return Ok(());
        }
        if !self.email.smtp.enabled() {
            return Err(ConfigError::invalid(
                "email.smtp.host",
                "must be set when server.issuer is https: without it every message, live \
                 reset links and codes included, is written to data_dir/mail instead of \
                 being sent",
            ));
        }
        let link_base = self.link_base();
        if let Some(rest) = link_base.strip_prefix("http://")
            && !host_is_loopback(rest)
        {
            return Err(ConfigError::invalid(
                "email.link_base",
                "must be https (or http to localhost) when server.issuer is https: the links \
                 carry live tokens",
            ));
        }
        Ok(())
    }
}

/// Whether the authority at the start of `rest` (a URL after its scheme)
/// names this machine: localhost, a `.localhost` name, a loopback address.
fn host_is_loopback(rest: &str) -> bool {
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => authority,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.to_ascii_lowercase().ends_with(".localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use crate::config::load::tests::load;

    #[test]
    fn an_https_issuer_needs_an_smtp_host_and_a_link_base_that_is_not_plain_http_elsewhere() {
        let https = ("AUTHD__SERVER__ISSUER", "https://auth.example.com");
        let smtp = ("AUTHD__EMAIL__SMTP__HOST", "smtp.example.com");
        let error = load(&[https]).err().unwrap().to_string();
        assert!(error.contains("email.smtp.host"), "{error}");
        for link_base in ["http://app.example.com/", "http://192.168.1.10/account"] {
            let error = load(&[https, smtp, ("AUTHD__EMAIL__LINK_BASE", link_base)])
                .err()
                .unwrap()
                .to_string();
            assert!(error.contains("email.link_base"), "{link_base}: {error}");
        }
        for link_base in [
            "",
            "https://app.example.com/",
            "http://localhost:3000/",
            "http://127.0.0.1:3000/x",
            "http://[::1]/",
        ] {
            let s = load(&[https, smtp, ("AUTHD__EMAIL__LINK_BASE", link_base)]);
            assert!(s.is_ok(), "{link_base}: {:?}", s.err());
        }
        // An http issuer (development) keeps .eml files and any link_base.
        let s = load(&[("AUTHD__EMAIL__LINK_BASE", "http://app.example.com/")]).unwrap();
        assert!(!s.email.smtp.enabled());
    }

    #[test]
    fn link_base_follows_the_issuer_to_authds_own_pages_unless_set() {
        let s = load(&[]).unwrap();
        assert_eq!(s.link_base(), "http://localhost:8080/account");
        let s = load(&[
            ("AUTHD__SERVER__ISSUER", "https://auth.example.com/"),
            ("AUTHD__EMAIL__SMTP__HOST", "smtp.example.com"),
        ])
        .unwrap();
        assert_eq!(s.link_base(), "https://auth.example.com/account");
        let s = load(&[("AUTHD__EMAIL__LINK_BASE", "https://app.example.com/account")]).unwrap();
        assert_eq!(s.link_base(), "https://app.example.com/account");
    }

    #[test]
    fn invalid_settings_stop_start_up_naming_the_setting() {
        for (var, value, setting) in [
            ("AUTHD__SERVER__ISSUER", "auth.example.com", "server.issuer"),
            (
                "AUTHD__SERVER__ALLOWED_ORIGINS",
                "*",
                "server.allowed_origins",
            ),
            ("AUTHD__DATABASE__URL", "mysql://db", "database.url"),
            ("AUTHD__JWT__ACCESS_TTL_SECS", "0", "jwt.access_ttl_secs"),
            ("AUTHD__REFRESH__SECRET", "short", "refresh.secret"),
            ("AUTHD__PASSWORD__MAX_LENGTH", "4096", "password.max_length"),
            ("AUTHD__PASSWORD__MAX_BYTES", "4096", "password.max_length"),
            ("AUTHD__PASSWORD__ARGON2_M_COST", "1", "password.argon2"),
            ("AUTHD__LOG__FORMAT", "xml", "log.format"),
            (
                "AUTHD__LIMITS__LOGIN_MAX_LOCKOUT_SECS",
                "7200",
                "limits.login_max_lockout_secs",
            ),
            (
                "AUTHD__LIMITS__LOGIN_ACCOUNT_FAILURES",
                "0",
                "limits.login_account_failures",
            ),
            (
                "AUTHD__LIMITS__LOGIN_ACCOUNT_WIDE_FAILURES",
                "0",
                "limits.login_account_failures/login_account_wide_failures",
            ),
            (
                "AUTHD__LIMITS__CODE_TRIES_PER_DAY",
                "0",
                "limits.login_account_failures/login_account_wide_failures/login_ip_failures/code_tries_per_day",
            ),
            (
                "AUTHD__LIMITS__HASH_PER_IP",
                "0",
                "limits.register_per_ip/refresh_per_ip/code_per_ip/hash_per_ip/admin_per_client",
            ),
            (
                "AUTHD__LIMITS__CODE_WINDOW_SECS",
                "0",
                "limits.register_window_secs/refresh_window_secs/code_window_secs",
            ),
            ("AUTHD__REFRESH__COOKIE_NAME", "a b", "refresh.cookie_name"),
            (
                "AUTHD__REFRESH__COOKIE_NAME",
                "__Host-refresh",
                "refresh.cookie_name",
            ),
            (
                "AUTHD__REFRESH__COOKIE_NAME",
                "__secure-refresh",
                "refresh.cookie_name",
            ),
            (
                "AUTHD__REFRESH__COOKIE_PATH",
                "/auth/",
                "refresh.cookie_path",
            ),
            ("AUTHD__METRICS__LISTEN", "9100", "metrics.listen"),
            ("AUTHD__METRICS__LISTEN", "", "metrics.listen"),
            ("AUTHD__DEMO__CLIENT_ID", "", "demo.client_id"),
            ("AUTHD__DEMO__CLIENT_ID", " client_x", "demo.client_id"),
            (
                "AUTHD__REFRESH__MAX_SESSIONS_PER_USER",
                "0",
                "refresh.max_sessions_per_user",
            ),
        ] {
            let error = load(&[(var, value)])
                .err()
                .unwrap_or_else(|| panic!("{var}={value} accepted"))
                .to_string();
            assert!(error.contains(setting), "{var}={value}: {error}");
        }
        let error = load(&[("AUTHD__SERVER__PORT", "not-a-port")])
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("port"), "{error}");
        let error = load(&[("AUTHD__REFRESH__SECRET_FILE", "/nonexistent/secret")])
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("AUTHD__REFRESH__SECRET_FILE"), "{error}");
    }

    #[test]
    fn enumeration_safe_registration_requires_required_email_verification() {
        let safe = ("AUTHD__ACCOUNTS__ENUMERATION_SAFE_REGISTRATION", "true");
        for mode in ["off", "send"] {
            let error = load(&[safe, ("AUTHD__ACCOUNTS__EMAIL_VERIFICATION", mode)])
                .err()
                .unwrap_or_else(|| panic!("safe registration with verification {mode} accepted"))
                .to_string();
            assert!(
                error.contains("accounts.enumeration_safe_registration")
                    && error.contains("accounts.email_verification"),
                "{mode}: {error}"
            );
        }
        let s = load(&[safe, ("AUTHD__ACCOUNTS__EMAIL_VERIFICATION", "required")]).unwrap();
        assert!(s.accounts.enumeration_safe_registration);
    }
}
