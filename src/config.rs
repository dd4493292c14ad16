//! Configuration: `config/default.toml`, an optional extra file, an optional
//! environment file, then `AUTHD__SECTION__KEY` variables, validated once.
//!
//! Any setting may also be given as `AUTHD__SECTION__KEY_FILE=/path`: the file's
//! contents (without a trailing newline) become the value. That is how secrets
//! (database URL, HS256 secrets, the refresh-token key) reach authd in containers.

use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// Every setting of the service. Field docs are the configuration reference.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    /// Where generated development keys live (mode 0600). Default `./data`.
    pub data_dir: PathBuf,
    pub jwt: JwtSettings,
    pub refresh: RefreshSettings,
    pub password: PasswordSettings,
    pub limits: LimitSettings,
    pub log: LogSettings,
    pub demo: DemoSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemoSettings {
    /// Serves the demo single-page app at `/demo/`. Development only: it is a
    /// login page on authd's own origin, which production does not need.
    pub enabled: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitSettings {
    /// Failed logins for one email within the window before a lockout.
    pub login_account_failures: u32,
    /// Failed logins from one client IP within the window before a lockout.
    pub login_ip_failures: u32,
    /// Seconds without a failure after which a count starts again.
    pub login_window_secs: u64,
    /// The first lockout, in seconds; each further failure doubles it.
    pub login_lockout_secs: u64,
    /// The longest lockout, in seconds: no lockout is permanent.
    pub login_max_lockout_secs: u64,
    /// Registrations per client IP per `register_window_secs` (per instance).
    pub register_per_ip: u32,
    pub register_window_secs: u64,
    /// Refreshes per client IP per `refresh_window_secs` (per instance).
    pub refresh_per_ip: u32,
    pub refresh_window_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub host: String,
    pub port: u16,
    /// Worker threads; 0 means one per core.
    pub workers: usize,
    /// The public base URL of authd: the `iss` of every token and the base of
    /// every URL in the discovery document.
    pub issuer: String,
    /// Browser origins allowed to call authd with credentials (CORS) and to send
    /// cookie-authenticated POSTs. The issuer's own origin is always allowed.
    #[serde(deserialize_with = "string_or_list")]
    pub allowed_origins: Vec<String>,
    /// Addresses of reverse proxies whose `X-Forwarded-For` is believed; from any
    /// other peer the header is ignored and the peer is the client.
    #[serde(deserialize_with = "string_or_list")]
    pub trusted_proxies: Vec<String>,
    /// Largest accepted JSON body, in bytes.
    pub max_body_bytes: usize,
    /// Seconds to finish in-flight requests after SIGTERM.
    pub shutdown_timeout_secs: u64,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `sqlite://path/to/file.db` (created if missing) or `postgres://...`.
    pub url: SecretString,
    pub max_connections: u32,
    /// How long a request waits for a pooled connection before failing with 503.
    pub acquire_timeout_ms: u64,
    /// Seconds between sweeps that delete expired sessions and old audit events.
    pub cleanup_interval_secs: u64,
    /// Days an audit event is kept (1 to 3650).
    pub audit_retention_days: u32,
}

impl std::fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseSettings")
            .field("url", &"***")
            .field("max_connections", &self.max_connections)
            .field("acquire_timeout_ms", &self.acquire_timeout_ms)
            .field("cleanup_interval_secs", &self.cleanup_interval_secs)
            .field("audit_retention_days", &self.audit_retention_days)
            .finish()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtSettings {
    /// Lifetime of an access token, in seconds (default 900 = 15 minutes).
    pub access_ttl_secs: u64,
    /// The `aud` claim of every access token.
    pub audience: String,
    /// The `client_id` claim (RFC 9068) of tokens issued to first-party logins.
    pub client_id: String,
    /// `kid` of the key that signs new tokens; default: the first key able to sign.
    pub signing_kid: Option<String>,
    /// Signing and verification keys. Empty: a generated RS256 key in `data_dir`.
    pub keys: Vec<KeySettings>,
    /// `Cache-Control: max-age` of the JWKS document, in seconds.
    pub jwks_max_age_secs: u64,
}

/// One JWT key. Exactly one of `secret` (HS256), `private_key` (PEM, can sign and
/// verify) or `public_key` (PEM, verify only) must be set, directly or via `_file`.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeySettings {
    pub kid: String,
    pub alg: String,
    pub secret: Option<SecretString>,
    pub secret_file: Option<PathBuf>,
    pub private_key: Option<SecretString>,
    pub private_key_file: Option<PathBuf>,
    pub public_key: Option<String>,
    pub public_key_file: Option<PathBuf>,
}

impl std::fmt::Debug for KeySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySettings")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("secret", &self.secret.as_ref().map(|_| "***"))
            .field("secret_file", &self.secret_file)
            .field("private_key", &self.private_key.as_ref().map(|_| "***"))
            .field("private_key_file", &self.private_key_file)
            .field("public_key_file", &self.public_key_file)
            .finish()
    }
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefreshSettings {
    /// A session ends this many seconds after its last rotation (default 7 days).
    pub idle_ttl_secs: u64,
    /// A session ends this many seconds after login, whatever happens (default 30 days).
    pub absolute_ttl_secs: u64,
    /// Grace for concurrent tabs and lost responses, in seconds; 0 disables it.
    pub reuse_interval_secs: u64,
    /// Server-side key from which refresh tokens are derived (at least 32 bytes).
    /// Every instance sharing a database must share it. Unset: generated once into
    /// `data_dir/refresh.key`.
    pub secret: Option<SecretString>,
    /// Name of the refresh-token cookie.
    pub cookie_name: String,
    /// Whether native clients may ask for the refresh token in the response body.
    pub allow_body_delivery: bool,
}

impl std::fmt::Debug for RefreshSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshSettings")
            .field("idle_ttl_secs", &self.idle_ttl_secs)
            .field("absolute_ttl_secs", &self.absolute_ttl_secs)
            .field("reuse_interval_secs", &self.reuse_interval_secs)
            .field("secret", &self.secret.as_ref().map(|_| "***"))
            .field("cookie_name", &self.cookie_name)
            .field("allow_body_delivery", &self.allow_body_delivery)
            .finish()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordSettings {
    /// Shortest accepted new password, in characters.
    pub min_length: usize,
    /// Longest accepted password, in bytes (at most 1024).
    pub max_bytes: usize,
    /// Least zxcvbn score (0 to 4) of a new password; 0 turns the check off.
    /// 2 refuses passwords guessable in 10^6 tries: every common password.
    pub min_strength: u8,
    /// Argon2id memory cost in KiB (OWASP: 19456).
    pub argon2_m_cost: u32,
    /// Argon2id iterations (OWASP: 2).
    pub argon2_t_cost: u32,
    /// Argon2id parallelism (OWASP: 1).
    pub argon2_p_cost: u32,
    /// Hashes computed at once; 0 means one per core.
    pub max_concurrent_hashes: usize,
    /// Hash requests allowed to wait for a slot; beyond that, 503 at once.
    pub max_queued_hashes: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// `json` (production) or `pretty`.
    pub format: String,
    /// A tracing filter such as `info` or `authd=debug,info`; `RUST_LOG` wins.
    pub level: String,
}

/// A setting that stops start-up, named so the operator can fix it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid configuration: {setting}: {reason}")]
    Invalid { setting: String, reason: String },
    /// Values quoted in the underlying message are masked: a misplaced secret
    /// must not reach the terminal or the log.
    #[error("could not read configuration: {0}")]
    Load(String),
}

impl From<config::ConfigError> for ConfigError {
    fn from(e: config::ConfigError) -> Self {
        Self::Load(mask_quoted(&e.to_string()))
    }
}

/// Replaces every double-quoted part of `message` with `"***"`.
fn mask_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for (i, part) in message.split('"').enumerate() {
        if i > 0 {
            out.push('"');
        }
        out.push_str(if i % 2 == 1 { "***" } else { part });
    }
    out
}

/// dotenvy's messages quote the offending line, which may hold a secret.
fn describe_env_file_error(e: &dotenvy::Error) -> String {
    match e {
        dotenvy::Error::LineParse(_, index) => {
            format!("a line could not be parsed (at byte {index} of that line)")
        }
        dotenvy::Error::Io(io) => io.to_string(),
        other => mask_quoted(&other.to_string()),
    }
}

impl ConfigError {
    pub fn invalid(setting: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid {
            setting: setting.into(),
            reason: reason.into(),
        }
    }
}

/// Built-in defaults, the same text as `config/default.toml`, so a binary copied
/// anywhere still starts.
const DEFAULTS: &str = include_str!("../config/default.toml");

/// Where settings come from, in increasing precedence.
#[derive(Debug, Default, Clone)]
pub struct Sources {
    /// An extra TOML file (`--config` or `AUTHD_CONFIG`).
    pub file: Option<PathBuf>,
    /// Environment variables, usually `std::env::vars()`.
    pub env: Vec<(String, String)>,
}

impl Sources {
    /// The process environment, after loading `.env` (or `AUTHD_ENV_FILE`) if present.
    pub fn from_process(file: Option<PathBuf>) -> Result<Self, ConfigError> {
        let env_file = std::env::var_os("AUTHD_ENV_FILE").map(PathBuf::from);
        match env_file {
            Some(path) => {
                dotenvy::from_path(&path).map_err(|e| {
                    ConfigError::invalid(
                        "AUTHD_ENV_FILE",
                        format!("{}: {}", path.display(), describe_env_file_error(&e)),
                    )
                })?;
            }
            None => {
                // A missing `.env` is normal; a broken one is not.
                if let Err(e) = dotenvy::dotenv()
                    && !e.not_found()
                {
                    return Err(ConfigError::invalid(".env", describe_env_file_error(&e)));
                }
            }
        }
        let file = file.or_else(|| std::env::var_os("AUTHD_CONFIG").map(PathBuf::from));
        Ok(Self {
            file,
            env: std::env::vars().collect(),
        })
    }
}

impl Settings {
    pub fn load(sources: &Sources) -> Result<Self, ConfigError> {
        let mut builder = config::Config::builder()
            .add_source(config::File::from_str(DEFAULTS, config::FileFormat::Toml));
        if let Some(file) = &sources.file {
            if !file.exists() {
                return Err(ConfigError::invalid(
                    "AUTHD_CONFIG",
                    format!("{} does not exist", file.display()),
                ));
            }
            builder = builder.add_source(config::File::from(file.as_path()));
        }
        let mut seen = std::collections::HashMap::new();
        for (name, value) in &sources.env {
            let Some(path) = name.strip_prefix("AUTHD__") else {
                continue;
            };
            let mut key = path.to_ascii_lowercase().replace("__", ".");
            let value = if let Some(stripped) = key.strip_suffix("_file") {
                let contents = std::fs::read_to_string(value)
                    .map_err(|e| ConfigError::invalid(name.clone(), format!("{value}: {e}")))?;
                key = stripped.to_owned();
                contents.trim_end_matches(['\n', '\r']).to_owned()
            } else {
                value.clone()
            };
            if let Some(other) = seen.insert(key.clone(), name.clone()) {
                return Err(ConfigError::invalid(
                    key,
                    format!("set by both {other} and {name}"),
                ));
            }
            // Strings go in as strings; `config` converts them to the numbers
            // and booleans the fields want ("9000" to a port), while a string
            // field keeps its text exactly ("0123" stays "0123").
            builder = builder.set_override(key, value)?;
        }
        let settings: Settings = builder.build()?.try_deserialize()?;
        settings.validate()?;
        Ok(settings)
    }

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
        let p = &self.password;
        if p.max_bytes == 0 || p.max_bytes > 1024 {
            return Err(ConfigError::invalid(
                "password.max_bytes",
                "must be between 1 and 1024",
            ));
        }
        if p.min_length == 0 || p.min_length > p.max_bytes {
            return Err(ConfigError::invalid(
                "password.min_length",
                "must be at least 1 and at most password.max_bytes",
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
        if l.login_account_failures == 0 || l.login_ip_failures == 0 {
            return Err(ConfigError::invalid(
                "limits.login_account_failures/login_ip_failures",
                "must be at least 1",
            ));
        }
        if !(1..=86_400).contains(&l.login_window_secs) {
            return Err(ConfigError::invalid(
                "limits.login_window_secs",
                "must be between 1 and 86400",
            ));
        }
        if l.register_per_ip == 0 || l.refresh_per_ip == 0 {
            return Err(ConfigError::invalid(
                "limits.register_per_ip/refresh_per_ip",
                "must be at least 1",
            ));
        }
        if !(1..=86_400).contains(&l.register_window_secs)
            || !(1..=86_400).contains(&l.refresh_window_secs)
        {
            return Err(ConfigError::invalid(
                "limits.register_window_secs/refresh_window_secs",
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
        if !matches!(self.log.format.as_str(), "json" | "pretty") {
            return Err(ConfigError::invalid(
                "log.format",
                "must be \"json\" or \"pretty\"",
            ));
        }
        Ok(())
    }

    /// Allowed browser origins as browsers send them: lower case, without a
    /// trailing slash or a default port; the issuer's own origin included.
    pub fn allowed_origins(&self) -> std::collections::HashSet<String> {
        self.server
            .allowed_origins
            .iter()
            .map(|o| normalize_origin(o))
            .chain(std::iter::once(normalize_origin(self.issuer())))
            .collect()
    }

    /// The issuer without a trailing slash.
    pub fn issuer(&self) -> &str {
        self.server.issuer.trim_end_matches('/')
    }

    pub fn is_sqlite(&self) -> bool {
        self.database.url.expose_secret().starts_with("sqlite:")
    }

    /// Resolves `data_dir`-relative paths.
    pub fn data_path(&self, name: impl AsRef<Path>) -> PathBuf {
        self.data_dir.join(name)
    }
}

/// `scheme://host[:port]` of a URL, lower case, without a default port.
pub fn normalize_origin(url: &str) -> String {
    let url = url.trim().to_ascii_lowercase();
    let (scheme, rest) = url.split_once("://").unwrap_or(("https", url.as_str()));
    let host = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    let host = match scheme {
        "https" => host.strip_suffix(":443").unwrap_or(host),
        "http" => host.strip_suffix(":80").unwrap_or(host),
        _ => host,
    };
    format!("{scheme}://{host}")
}

/// Accepts a TOML list or, from the environment, a comma-separated string.
fn string_or_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Either::deserialize(d)? {
        Either::One(s) => s
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        Either::Many(v) => v,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(env: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        Settings::load(&Sources {
            file: None,
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        })
    }

    #[test]
    fn the_defaults_load_and_match_the_documented_values() {
        let s = load(&[]).unwrap();
        assert_eq!(s.jwt.access_ttl_secs, 900);
        assert_eq!(s.refresh.idle_ttl_secs, 7 * 86_400);
        assert_eq!(s.refresh.absolute_ttl_secs, 30 * 86_400);
        assert_eq!(s.refresh.reuse_interval_secs, 10);
        assert_eq!(
            (
                s.password.argon2_m_cost,
                s.password.argon2_t_cost,
                s.password.argon2_p_cost
            ),
            (19_456, 2, 1)
        );
        assert!(s.is_sqlite());
    }

    #[test]
    fn environment_variables_override_and_files_feed_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("refresh");
        std::fs::write(&secret, "0123456789abcdef0123456789abcdef\n").unwrap();
        let s = load(&[
            ("AUTHD__SERVER__PORT", "9001"),
            (
                "AUTHD__SERVER__ALLOWED_ORIGINS",
                "https://a.example, https://b.example",
            ),
            ("AUTHD__REFRESH__ALLOW_BODY_DELIVERY", "false"),
            ("AUTHD__REFRESH__SECRET_FILE", secret.to_str().unwrap()),
            ("AUTHD__DATABASE__URL", "postgres://u:p@db/authd"),
            ("UNRELATED", "ignored"),
        ])
        .unwrap();
        assert_eq!(s.server.port, 9001);
        assert_eq!(
            s.server.allowed_origins,
            vec!["https://a.example", "https://b.example"]
        );
        assert!(!s.refresh.allow_body_delivery);
        assert_eq!(
            s.refresh
                .secret
                .as_ref()
                .map(|s| s.expose_secret().to_owned()),
            Some("0123456789abcdef0123456789abcdef".to_owned())
        );
        assert!(!s.is_sqlite());
        // Secrets never print.
        let printed = format!("{:?} {:?}", s.database, s.refresh);
        assert!(
            !printed.contains("u:p@") && !printed.contains("0123456789abcdef"),
            "{printed}"
        );
    }

    #[test]
    fn typos_and_conflicting_sources_are_refused_and_values_are_not_echoed() {
        let error = load(&[("AUTHD__REFRESH__SECRTE", "x")])
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("secrte"), "{error}");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("secret");
        std::fs::write(&file, "0123456789abcdef0123456789abcdef").unwrap();
        let error = load(&[
            ("AUTHD__REFRESH__SECRET", "fedcba9876543210fedcba9876543210"),
            ("AUTHD__REFRESH__SECRET_FILE", file.to_str().unwrap()),
        ])
        .err()
        .unwrap()
        .to_string();
        assert!(
            error.contains("refresh.secret") && error.contains("both"),
            "{error}"
        );
        // A secret given where a table is expected is not repeated in the error.
        let error = load(&[("AUTHD__DATABASE", "postgres://user:hunter2@db/x")])
            .err()
            .unwrap()
            .to_string();
        assert!(!error.contains("hunter2"), "{error}");
        // Strings stay strings.
        let s = load(&[
            ("AUTHD__JWT__AUDIENCE", "0123"),
            ("AUTHD__REFRESH__COOKIE_NAME", "007"),
        ])
        .unwrap();
        assert_eq!(
            (s.jwt.audience.as_str(), s.refresh.cookie_name.as_str()),
            ("0123", "007")
        );
    }

    #[test]
    fn origins_are_compared_as_browsers_send_them() {
        assert_eq!(
            normalize_origin("HTTPS://App.Example.com:443/"),
            "https://app.example.com"
        );
        assert_eq!(
            normalize_origin("http://localhost:8080"),
            "http://localhost:8080"
        );
        let s = load(&[("AUTHD__SERVER__ALLOWED_ORIGINS", "https://App.example.com/")]).unwrap();
        assert!(s.allowed_origins().contains("https://app.example.com"));
        assert!(
            s.allowed_origins().contains("http://localhost:8080"),
            "the issuer's origin"
        );
        assert!(load(&[("AUTHD__SERVER__ALLOWED_ORIGINS", "https://a.example/path")]).is_err());
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
            ("AUTHD__PASSWORD__MAX_BYTES", "4096", "password.max_bytes"),
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
            ("AUTHD__REFRESH__COOKIE_NAME", "a b", "refresh.cookie_name"),
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
}
