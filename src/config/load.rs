//! Loading: `config/default.toml`, an optional extra file, an optional
//! environment file, then `AUTHD__SECTION__KEY` variables, validated once.
//!
//! Any setting may also be given as `AUTHD__SECTION__KEY_FILE=/path`: the file's
//! contents (without a trailing newline) become the value. That is how secrets
//! (database URL, HS256 secrets, the refresh-token key) reach authd in containers.

use std::path::PathBuf;

use super::{ConfigError, Settings};

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

/// Built-in defaults, the same text as `config/default.toml`, so a binary copied
/// anywhere still starts.
const DEFAULTS: &str = include_str!("../../config/default.toml");

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
}

#[cfg(test)]
pub(super) mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    pub(in crate::config) fn load(env: &[(&str, &str)]) -> Result<Settings, ConfigError> {
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
}
