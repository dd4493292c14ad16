//! (One file past 600 lines on purpose: the `Settings` struct names every
//! section in one place, and its sections' own files are beside it.)
//!
//! Settings: every section of the configuration, the error that stops start-up,
//! and the derived values the rest of authd reads (origins, issuer, paths).
//!
//! Loading (`config/default.toml`, files, the environment, `*_FILE` secrets)
//! lives in `load`, the checks serde cannot make in `validate`, the bounded
//! read of a setting's file in `file`.

mod accounts;
mod admin;
mod browser_session;
mod email;
pub mod file;
mod load;
mod mfa;
mod pages;
mod tokens;
mod validate;
mod webauthn;
mod webhooks;

pub use accounts::{AccountSettings, Verification};
pub use admin::AdminSettings;
pub use browser_session::BrowserSessionSettings;
pub use email::{EmailSettings, SmtpSettings, SmtpTls};
pub use load::Sources;
pub use mfa::MfaSettings;
pub use pages::{PageSettings, TemplateSettings};
pub use tokens::TokenClaimSettings;
pub use webauthn::{RelyingParty, WebauthnSettings};
pub use webhooks::WebhookSettings;

use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// Every setting of the service. Field docs are the configuration reference.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    /// Where generated development keys live (mode 0600), and the SQLite
    /// database when `database.url` is not set. Default `./data`.
    pub data_dir: PathBuf,
    pub jwt: JwtSettings,
    pub refresh: RefreshSettings,
    pub password: PasswordSettings,
    pub limits: LimitSettings,
    pub log: LogSettings,
    pub demo: DemoSettings,
    pub email: EmailSettings,
    pub accounts: AccountSettings,
    #[serde(default)]
    pub metrics: MetricsSettings,
    /// How the hosted pages look (`[pages]`).
    #[serde(default)]
    pub pages: PageSettings,
    /// Where operators' templates are (`[templates]`).
    #[serde(default)]
    pub templates: TemplateSettings,
    /// The browser session at authd's lifetimes (`[browser_session]`).
    #[serde(default)]
    pub browser_session: BrowserSessionSettings,
    /// Second factors (`[mfa]`): the step-up of sensitive actions.
    #[serde(default)]
    pub mfa: MfaSettings,
    /// Passkeys' relying party (`[webauthn]`): its id, name and origins.
    #[serde(default)]
    pub webauthn: WebauthnSettings,
    /// The claims of a user's tokens from the account (`[tokens]`): roles
    /// and app_metadata.
    #[serde(default)]
    pub tokens: TokenClaimSettings,
    /// The roles that open the admin API to users (`[admin]`).
    #[serde(default)]
    pub admin: AdminSettings,
    /// The event outbox's delivery (`[webhooks]`): webhook events and
    /// back-channel logout tokens.
    #[serde(default)]
    pub webhooks: WebhookSettings,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSettings {
    /// A second address (`IP:port`, say `127.0.0.1:9100`) that serves every
    /// metric at `GET /metrics` and nothing else, for the monitoring network.
    /// Unset (default): no such address.
    pub listen: Option<String>,
    /// Serves `/metrics` on the public listener too, without the families
    /// that move only for an address that has an account (the mail and
    /// background work: see `Metrics::render_public`). Off (default): the
    /// public listener answers `/metrics` with 404, whatever `listen` says.
    #[serde(default)]
    pub public: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemoSettings {
    /// Serves the demo single-page app at `/demo/`. Development only: it is a
    /// login page on authd's own origin, which production does not need.
    pub enabled: bool,
    /// Serves it as well when the issuer is `http://` on localhost or a
    /// loopback address: a development setup, such as `cargo run` with the
    /// defaults. An https issuer never gets it this way.
    pub on_local_issuer: bool,
    /// The public client the demo signs in as with "Sign in with authd" (the
    /// code flow with PKCE), chosen by the operator: registered with
    /// `{issuer}/demo/` as its redirect and post-logout redirect URI, and
    /// checked at start-up (`clients::demo`). Unset (default): no such button.
    #[serde(default)]
    pub client_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitSettings {
    /// Failed logins for one email from one client (an IPv6 client's /64)
    /// within the window before a lockout of that email from that client.
    pub login_account_failures: u32,
    /// Failed logins for one email from every client together within the
    /// window before a lockout of the email from everywhere: the looser cap
    /// that stops a guesser spread over many networks.
    pub login_account_wide_failures: u32,
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
    /// Tries of an emailed login code for one email per day, from every
    /// client together (NIST SP 800-63B: at most 100). A code sign-in starts
    /// the count again; a password login does not.
    pub code_tries_per_day: u32,
    /// Requests to `/auth/password/reset` and `/auth/otp/verify` per client IP
    /// per `code_window_secs` (per instance), checked before any database work.
    pub code_per_ip: u32,
    pub code_window_secs: u64,
    /// Passkey ceremonies begun without a session (a passwordless sign-in,
    /// which every view of the login page offers, and a passkey answering a
    /// sign-in challenge) per client IP per `ceremony_window_secs` (per
    /// instance): each stores a row for five minutes. Apart from
    /// `code_per_ip`, so that views of the login page spend no code tries.
    pub ceremony_per_ip: u32,
    pub ceremony_window_secs: u64,
    /// Requests that hash a password (login, registration, password change,
    /// reset, email change, successful or not) per client IP per
    /// `hash_window_secs` (per instance), checked before any database work.
    pub hash_per_ip: u32,
    pub hash_window_secs: u64,
    /// Requests to the admin API (`/admin/...`) per registered client per
    /// `admin_window_secs` (per instance), checked once the client is
    /// authenticated, before its permission and any other database work.
    pub admin_per_client: u32,
    pub admin_window_secs: u64,
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
    /// Unset: `sqlite://<data_dir>/authd.db`, filled in at load.
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
    /// `kid` of the key that signs access tokens; default: the only current
    /// signer (the only key able to sign, or the only one of `signing_kids`).
    pub signing_kid: Option<String>,
    /// The current signer of each algorithm, at most one per algorithm:
    /// ID tokens are signed by the one of the client's algorithm (never an
    /// HS256 key). `signing_kid` is one of them without being listed.
    /// Default: none but `signing_kid`. From the environment: a
    /// comma-separated list.
    #[serde(default, deserialize_with = "string_or_list")]
    pub signing_kids: Vec<String>,
    /// Signing and verification keys. Empty: a generated RS256 key in `data_dir`.
    /// From the environment: `AUTHD__JWT__KEYS` (or `_FILE`), a JSON array of
    /// objects with these fields.
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
    /// Live sessions a user may have; a login beyond it ends the oldest (default 100).
    pub max_sessions_per_user: u32,
    /// Server-side key from which refresh tokens are derived (at least 32 bytes):
    /// key 1 of the ring, current. Every instance sharing a database must share
    /// it. Unset, with `keys` empty: generated once into `data_dir/refresh.key`.
    /// `refresh.secret_file` names a file holding it instead; load reads that
    /// file into this field.
    pub secret: Option<SecretString>,
    /// The key ring, instead of `secret`: every key verifies, `current` makes
    /// new tokens. From the environment: `AUTHD__REFRESH__KEYS` (or `_FILE`), a
    /// JSON array of objects with these fields.
    pub keys: Vec<RefreshKeySettings>,
    /// The id of the key of `keys` that makes new tokens; required when `keys`
    /// holds more than one.
    pub current: Option<u32>,
    /// Name of the refresh-token cookie, without a prefix: with
    /// `cookie_path = "/"` the cookie is `__Host-` and this name.
    pub cookie_name: String,
    /// `"/"` (default): the cookie is `__Host-<cookie_name>; Path=/`, which no
    /// other host (a sibling subdomain) can set or shadow. `"/auth"`: the
    /// cookie is `<cookie_name>; Path=/auth`, for a host shared with other
    /// applications, which then never receive it; a sibling subdomain can then
    /// plant a cookie of that name (see README, "Single-page apps").
    pub cookie_path: String,
    /// Whether native clients may ask for the refresh token in the response body.
    pub allow_body_delivery: bool,
}

impl std::fmt::Debug for RefreshSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshSettings")
            .field("idle_ttl_secs", &self.idle_ttl_secs)
            .field("absolute_ttl_secs", &self.absolute_ttl_secs)
            .field("reuse_interval_secs", &self.reuse_interval_secs)
            .field("max_sessions_per_user", &self.max_sessions_per_user)
            .field("secret", &self.secret.as_ref().map(|_| "***"))
            .field("keys", &self.keys)
            .field("current", &self.current)
            .field("cookie_name", &self.cookie_name)
            .field("cookie_path", &self.cookie_path)
            .field("allow_body_delivery", &self.allow_body_delivery)
            .finish()
    }
}

/// The prefix of a cookie that only its own host can set: browsers accept it
/// only `Secure`, with `Path=/` and no `Domain` (RFC 6265bis section 4.1.3.2).
pub const HOST_COOKIE_PREFIX: &str = "__Host-";

/// The refresh cookie's full name and `Path`, as `refresh.cookie_path` makes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshCookie {
    pub name: String,
    pub path: &'static str,
}

impl RefreshSettings {
    /// `__Host-<cookie_name>` at `/`, or `<cookie_name>` at `/auth` when
    /// `cookie_path = "/auth"` (the only other value validation lets through).
    pub fn cookie(&self) -> RefreshCookie {
        if self.cookie_path == "/auth" {
            RefreshCookie {
                name: self.cookie_name.clone(),
                path: "/auth",
            }
        } else {
            RefreshCookie {
                name: format!("{HOST_COOKIE_PREFIX}{}", self.cookie_name),
                path: "/",
            }
        }
    }
}

/// One refresh-token key: the id tokens name it by (1 to 255, the first byte
/// of each token), and exactly one of `secret` or `secret_file` (at least 32
/// bytes).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefreshKeySettings {
    pub id: u32,
    pub secret: Option<SecretString>,
    pub secret_file: Option<PathBuf>,
}

impl std::fmt::Debug for RefreshKeySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshKeySettings")
            .field("id", &self.id)
            .field("secret", &self.secret.as_ref().map(|_| "***"))
            .field("secret_file", &self.secret_file)
            .finish()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordSettings {
    /// Shortest accepted new password, in characters.
    pub min_length: usize,
    /// Longest accepted password, in characters (at most 1024, so at most
    /// 4 KiB of UTF-8 to hash). Formerly `max_bytes`, which is still read
    /// (`config::load::fill_in`).
    pub max_length: usize,
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

impl ConfigError {
    pub fn invalid(setting: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid {
            setting: setting.into(),
            reason: reason.into(),
        }
    }
}

impl Settings {
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

    /// Whether browsers treat the issuer's origin as secure, and so keep the
    /// `Secure` refresh cookie it sets: https, or http to localhost or a
    /// loopback address (W3C Secure Contexts, "potentially trustworthy").
    pub fn issuer_is_secure_context(&self) -> bool {
        let origin = normalize_origin(self.issuer());
        let Some(host) = origin.strip_prefix("http://") else {
            return origin.starts_with("https://");
        };
        let host = match host.rsplit_once(':') {
            Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
            _ => host,
        };
        host == "localhost"
            || host.ends_with(".localhost")
            || host == "[::1]"
            || host
                .parse::<std::net::Ipv4Addr>()
                .is_ok_and(|ip| ip.is_loopback())
    }

    /// Whether `/demo/` is served: `demo.enabled`, or `demo.on_local_issuer`
    /// with an `http://` issuer on this machine.
    pub fn demo_served(&self) -> bool {
        let d = &self.demo;
        d.enabled
            || (d.on_local_issuer
                && self.issuer().starts_with("http://")
                && self.issuer_is_secure_context())
    }

    /// The demo's own URL, `{issuer}/demo/`: where "Sign in with authd"
    /// comes back to and where its sign-out ends.
    pub fn demo_url(&self) -> String {
        format!("{}/demo/", self.issuer())
    }

    /// The page the links in messages open (`email.link_base`); unset,
    /// authd's own pages of emailed links, `{issuer}/account`
    /// (`http::pages`).
    pub fn link_base(&self) -> String {
        match self.email.link_base.trim() {
            "" => format!("{}/account", self.issuer()),
            set => set.to_owned(),
        }
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
    use crate::config::load::tests::load;

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
    fn browsers_keep_secure_cookies_from_https_and_loopback_issuers_only() {
        for (issuer, secure) in [
            ("https://auth.example.com", true),
            ("http://localhost:8080", true),
            ("http://app.localhost", true),
            ("http://127.0.0.1:8080/", true),
            ("http://[::1]:8080", true),
            ("http://auth.example.com", false),
            ("http://10.0.0.1:8080", false),
            ("http://localhost.example.com", false),
        ] {
            // An https issuer needs an SMTP host (`validate_mail_for_https`).
            let smtp = ("AUTHD__EMAIL__SMTP__HOST", "smtp.example.com");
            let s = load(&[("AUTHD__SERVER__ISSUER", issuer), smtp]).unwrap();
            assert_eq!(s.issuer_is_secure_context(), secure, "{issuer}");
        }
    }

    #[test]
    fn the_refresh_cookie_is_host_prefixed_by_default_and_unprefixed_under_auth() {
        let cookie = |env: &[(&str, &str)]| load(env).unwrap().refresh.cookie();
        assert_eq!(
            cookie(&[]),
            RefreshCookie {
                name: "__Host-authd_refresh".into(),
                path: "/"
            }
        );
        assert_eq!(
            cookie(&[
                ("AUTHD__REFRESH__COOKIE_PATH", "/auth"),
                ("AUTHD__REFRESH__COOKIE_NAME", "sid"),
            ]),
            RefreshCookie {
                name: "sid".into(),
                path: "/auth"
            }
        );
    }
}
