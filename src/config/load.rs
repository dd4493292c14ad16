//! Loading: `config/default.toml`, an optional extra file, an optional
//! environment file, then `AUTHD__SECTION__KEY` variables, validated once.
//!
//! Any setting may also be given as `AUTHD__SECTION__KEY_FILE=/path`: the file's
//! contents (without a trailing newline) become the value. That is how secrets
//! (database URL, HS256 secrets, the refresh-token key) reach authd in containers.
//! Such files are read through `config::file`, which refuses one over 64 KiB.

use std::path::{Path, PathBuf};

use config::{Value, ValueKind};

use super::{ConfigError, Settings};

impl From<config::ConfigError> for ConfigError {
    fn from(e: config::ConfigError) -> Self {
        Self::Load(mask_quoted(&e.to_string()))
    }
}

/// Replaces every double-quoted part of `message` with `"***"`. A quoted part
/// ends at the first unescaped quote: `config` quotes a value with its own
/// quotes escaped (`"a\"b"`), and those must not end the mask early.
fn mask_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut chars = message.chars();
    while let Some(c) = chars.next() {
        out.push(c);
        if c != '"' {
            continue;
        }
        out.push_str("***");
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    chars.next();
                }
                '"' => {
                    out.push('"');
                    break;
                }
                _ => {}
            }
        }
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
    /// The process environment, after loading `AUTHD_ENV_FILE`, or else
    /// `.env` of the current directory (never of a parent) if present.
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
                // `.env` of the current directory only: dotenvy's `dotenv()`
                // would also take the first one of any parent directory, a
                // file nobody pointed authd at. A missing `.env` is normal; a
                // broken one is not.
                if let Err(e) = dotenvy::from_path(Path::new(".env"))
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
                let contents = super::file::read_value(Path::new(value))
                    .map_err(|e| ConfigError::invalid(name.clone(), format!("{value}: {e}")))?;
                key = stripped.to_owned();
                contents
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
            // field keeps its text exactly ("0123" stays "0123"). The keys,
            // lists of tables, are the settings given as JSON.
            let value = if let Some(example) = key_list_example(&key) {
                parse_keys(name, &value, example)?
            } else {
                value.into()
            };
            builder = builder.set_override(key, value)?;
        }
        let mut merged = builder.build()?;
        fill_in(&mut merged.cache)?;
        let settings: Settings = merged.try_deserialize()?;
        settings.validate()?;
        Ok(settings)
    }
}

/// The file of the default SQLite database, inside `data_dir`.
const DEFAULT_DATABASE_FILE: &str = "authd.db";

/// The settings that are lists of key tables, given as JSON from the
/// environment, with an example of each for error messages.
fn key_list_example(key: &str) -> Option<&'static str> {
    match key {
        "jwt.keys" => Some(
            r#"[{"kid": "2026-11", "alg": "ES256", "private_key_file": "/run/secrets/es256.pem"}]"#,
        ),
        "refresh.keys" => Some(r#"[{"id": 2, "secret_file": "/run/secrets/refresh-2"}]"#),
        _ => None,
    }
}

/// `jwt.keys` or `refresh.keys` from the environment: a JSON array of objects
/// with the fields of a `[[jwt.keys]]` (or `[[refresh.keys]]`) table, checked
/// field by field with the rest of the settings.
fn parse_keys(name: &str, json: &str, example: &str) -> Result<Value, ConfigError> {
    let keys: Value = serde_json::from_str(json).map_err(|e| {
        ConfigError::invalid(
            name,
            format!(
                "not valid JSON ({}); expected an array such as {example}",
                mask_quoted(&e.to_string())
            ),
        )
    })?;
    match &keys.kind {
        ValueKind::Array(items) if items.iter().all(|k| matches!(k.kind, ValueKind::Table(_))) => {
            Ok(keys)
        }
        _ => Err(ConfigError::invalid(
            name,
            format!("must be a JSON array of key objects such as {example}"),
        )),
    }
}

/// Settings derived from others once every source is merged: the refresh-token
/// key read from `refresh.secret_file`, the default database inside
/// `data_dir` when no `database.url` is configured, and `password.max_bytes`
/// (the old name of `password.max_length`, which only a deployment sets).
fn fill_in(merged: &mut Value) -> Result<(), ConfigError> {
    // Anything but a table here fails deserialization, with a better message.
    let ValueKind::Table(root) = &mut merged.kind else {
        return Ok(());
    };
    if let Some(ValueKind::Table(refresh)) = root.get_mut("refresh").map(|v| &mut v.kind)
        && let Some(path) = refresh.remove("secret_file")
    {
        if refresh.contains_key("secret") {
            return Err(ConfigError::invalid(
                "refresh.secret_file",
                "refresh.secret is set too: give the key or its file, not both",
            ));
        }
        let path = path.into_string()?;
        let secret = super::file::read_value(Path::new(&path))
            .map_err(|e| ConfigError::invalid("refresh.secret_file", format!("{path}: {e}")))?;
        refresh.insert("secret".into(), Value::new(None, secret));
    }
    if let Some(ValueKind::Table(password)) = root.get_mut("password").map(|v| &mut v.kind)
        && let Some(old) = password.remove("max_bytes")
    {
        password.insert("max_length".into(), old);
    }
    let data_dir = root.get("data_dir").cloned().map(Value::into_string);
    if let Some(data_dir) = data_dir.transpose()?
        && let Some(ValueKind::Table(database)) = root.get_mut("database").map(|v| &mut v.kind)
        && !database.contains_key("url")
    {
        let url = sqlite_url(&Path::new(&data_dir).join(DEFAULT_DATABASE_FILE));
        database.insert("url".into(), Value::new(None, url));
    }
    Ok(())
}

/// `sqlite://` and the path, with the characters sqlx reads as URL syntax
/// (`%` and `?`, and `#` for good measure) percent-encoded.
fn sqlite_url(path: &Path) -> String {
    let mut url = String::from("sqlite://");
    for c in path.display().to_string().chars() {
        match c {
            '%' => url.push_str("%25"),
            '?' => url.push_str("%3F"),
            '#' => url.push_str("%23"),
            c => url.push(c),
        }
    }
    url
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
        assert_eq!(s.refresh.max_sessions_per_user, 100);
        assert_eq!(
            (
                s.password.argon2_m_cost,
                s.password.argon2_t_cost,
                s.password.argon2_p_cost
            ),
            (19_456, 2, 1)
        );
        assert!(s.is_sqlite());
        assert_eq!(s.metrics.listen, None, "/metrics on the public listener");
        let s = load(&[("AUTHD__METRICS__LISTEN", "127.0.0.1:9100")]).unwrap();
        assert_eq!(s.metrics.listen.as_deref(), Some("127.0.0.1:9100"));
    }

    #[test]
    fn the_old_name_of_password_max_length_is_still_read() {
        assert_eq!(load(&[]).unwrap().password.max_length, 1024);
        let old = load(&[("AUTHD__PASSWORD__MAX_BYTES", "100")]).unwrap();
        assert_eq!(old.password.max_length, 100);
        let from_file = load_with_file("[password]\nmax_bytes = 200\n", &[]).unwrap();
        assert_eq!(from_file.password.max_length, 200);
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
    fn a_value_with_quotes_inside_is_masked_whole_in_errors() {
        // `config` quotes the value with its inner quotes escaped.
        let error = load(&[("AUTHD__DATABASE", r#"postgres://u:x"hunter2"y@db"#)])
            .err()
            .unwrap()
            .to_string();
        assert!(!error.contains("hunter2"), "{error}");
        assert_eq!(
            mask_quoted(r#"a "b\"c\"d" e "f" "g"#),
            r#"a "***" e "***" "***"#
        );
    }

    /// Loads with `toml` as the extra configuration file.
    fn load_with_file(toml: &str, env: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("authd.toml");
        std::fs::write(&file, toml).unwrap();
        Settings::load(&Sources {
            file: Some(file),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        })
    }

    fn url(s: &Settings) -> &str {
        s.database.url.expose_secret()
    }

    #[test]
    fn the_default_database_follows_data_dir_and_a_configured_url_is_kept() {
        assert_eq!(url(&load(&[]).unwrap()), "sqlite://data/authd.db");
        let s = load(&[("AUTHD__DATA_DIR", "/var/lib/authd")]).unwrap();
        assert_eq!(url(&s), "sqlite:///var/lib/authd/authd.db");
        let s = load_with_file("data_dir = \"state\"\n", &[]).unwrap();
        assert_eq!(url(&s), "sqlite://state/authd.db");
        // A data_dir with URL syntax in its name still names that directory.
        let s = load(&[("AUTHD__DATA_DIR", "/srv/a?b#c%20")]).unwrap();
        let options: sqlx::sqlite::SqliteConnectOptions = url(&s).parse().unwrap();
        assert_eq!(options.get_filename(), Path::new("/srv/a?b#c%20/authd.db"));
        for (env, file) in [
            (vec![("AUTHD__DATABASE__URL", "postgres://db/authd")], ""),
            (vec![], "[database]\nurl = \"postgres://db/authd\"\n"),
            (vec![], "[database]\nurl = \"sqlite://data/authd.db\"\n"),
        ] {
            let mut env = env;
            env.push(("AUTHD__DATA_DIR", "/var/lib/authd"));
            let s = load_with_file(file, &env).unwrap();
            assert!(!url(&s).contains("/var/lib/authd"), "{file}: {}", url(&s));
        }
    }

    #[test]
    fn refresh_secret_file_in_a_configuration_file_fills_in_the_secret() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("refresh");
        std::fs::write(&path, "0123456789abcdef0123456789abcdef\n").unwrap();
        let toml = format!(
            "[refresh]\nsecret_file = {:?}\n",
            path.display().to_string()
        );
        let s = load_with_file(&toml, &[]).unwrap();
        assert_eq!(
            s.refresh.secret.as_ref().map(|s| s.expose_secret()),
            Some("0123456789abcdef0123456789abcdef")
        );
        // The file's contents are checked like a secret given directly.
        std::fs::write(&path, "short").unwrap();
        let error = load_with_file(&toml, &[]).err().unwrap().to_string();
        assert!(error.contains("refresh.secret"), "{error}");
        // The key and its file at once, in one file or across sources, is refused.
        for (toml, env) in [
            (
                format!("{toml}secret = \"fedcba9876543210fedcba9876543210\"\n"),
                vec![],
            ),
            (
                toml.clone(),
                vec![("AUTHD__REFRESH__SECRET", "fedcba9876543210fedcba9876543210")],
            ),
        ] {
            let error = load_with_file(&toml, &env).err().unwrap().to_string();
            assert!(
                error.contains("refresh.secret_file") && error.contains("not both"),
                "{error}"
            );
            assert!(!error.contains("fedcba98"), "{error}");
        }
        let error = load_with_file("[refresh]\nsecret_file = \"/nonexistent/refresh\"\n", &[])
            .err()
            .unwrap()
            .to_string();
        assert!(
            error.contains("refresh.secret_file") && error.contains("/nonexistent/refresh"),
            "{error}"
        );
    }

    #[test]
    fn a_setting_file_over_64_kib_is_refused_naming_the_setting() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big");
        std::fs::write(&big, vec![b'a'; 64 * 1024 + 1]).unwrap();
        let big = big.to_str().unwrap();
        for var in [
            "AUTHD__DATABASE__URL_FILE",
            "AUTHD__REFRESH__SECRET_FILE",
            "AUTHD__JWT__KEYS_FILE",
        ] {
            let error = load(&[(var, big)]).err().unwrap().to_string();
            assert!(
                error.contains(var) && error.contains("larger than 64 KiB"),
                "{var}: {error}"
            );
        }
        let toml = format!("[refresh]\nsecret_file = {big:?}\n");
        let error = load_with_file(&toml, &[]).err().unwrap().to_string();
        assert!(
            error.contains("refresh.secret_file") && error.contains("larger than 64 KiB"),
            "{error}"
        );
        // The limit itself is allowed.
        let limit = dir.path().join("limit");
        std::fs::write(&limit, vec![b'a'; 64 * 1024]).unwrap();
        let s = load(&[("AUTHD__JWT__AUDIENCE_FILE", limit.to_str().unwrap())]).unwrap();
        assert_eq!(s.jwt.audience.len(), 64 * 1024);
    }

    #[test]
    fn jwt_keys_come_from_a_json_array_in_the_environment_or_its_file() {
        let json = r#"[
            {"kid": "new", "alg": "HS256", "secret": "s3cr3t-0123456789abcdef0123456789"},
            {"kid": "old", "alg": "RS256", "public_key_file": "/etc/authd/old.pub.pem"}
        ]"#;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("keys.json");
        std::fs::write(&file, format!("{json}\n")).unwrap();
        let file_keys = "[[jwt.keys]]\nkid = \"from-file\"\nalg = \"HS256\"\nsecret = \"x\"\n";
        for env in [
            ("AUTHD__JWT__KEYS", json),
            ("AUTHD__JWT__KEYS_FILE", file.to_str().unwrap()),
        ] {
            // The environment's keys replace those of a configuration file.
            let s = load_with_file(file_keys, &[env]).unwrap();
            let keys = &s.jwt.keys;
            assert_eq!(keys.len(), 2, "{keys:?}");
            assert_eq!(
                (keys[0].kid.as_str(), keys[0].alg.as_str()),
                ("new", "HS256")
            );
            assert_eq!(
                keys[0].secret.as_ref().map(|s| s.expose_secret()),
                Some("s3cr3t-0123456789abcdef0123456789")
            );
            assert_eq!(
                keys[1].public_key_file.as_deref(),
                Some(Path::new("/etc/authd/old.pub.pem"))
            );
            assert!(!format!("{s:?}").contains("s3cr3t"), "keys print masked");
        }
        // Not JSON, not an array of objects, or a field that keys do not have:
        // refused, naming the variable or the field, without the secret.
        for (json, expected) in [
            (
                r#"[{"kid": "k", "secret": "s3cr3t-oops"#,
                "AUTHD__JWT__KEYS",
            ),
            (
                r#"{"kid": "k", "secret": "s3cr3t-oops"}"#,
                "AUTHD__JWT__KEYS",
            ),
            (r#"["s3cr3t-oops"]"#, "AUTHD__JWT__KEYS"),
            (
                r#"[{"kid": "k", "alg": "HS256", "secrte": "s3cr3t-oops"}]"#,
                "secrte",
            ),
        ] {
            let error = load(&[("AUTHD__JWT__KEYS", json)])
                .err()
                .unwrap_or_else(|| panic!("{json} accepted"))
                .to_string();
            assert!(error.contains(expected), "{json}: {error}");
            assert!(!error.contains("s3cr3t"), "{json}: {error}");
        }
        let error = load(&[
            ("AUTHD__JWT__KEYS", json),
            ("AUTHD__JWT__KEYS_FILE", file.to_str().unwrap()),
        ])
        .err()
        .unwrap()
        .to_string();
        assert!(
            error.contains("jwt.keys") && error.contains("both"),
            "{error}"
        );
    }

    #[test]
    fn refresh_keys_come_from_a_configuration_file_or_a_json_array_in_the_environment() {
        let toml = "[refresh]\ncurrent = 2\n\
            [[refresh.keys]]\nid = 2\nsecret = \"s3cr3t-two-0123456789abcdef012345\"\n\
            [[refresh.keys]]\nid = 1\nsecret_file = \"/run/secrets/refresh\"\n";
        let json = r#"[{"id": 2, "secret": "s3cr3t-two-0123456789abcdef012345"}, {"id": 1, "secret_file": "/run/secrets/refresh"}]"#;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("refresh-keys.json");
        std::fs::write(&file, format!("{json}\n")).unwrap();
        for s in [
            load_with_file(toml, &[]).unwrap(),
            load(&[
                ("AUTHD__REFRESH__KEYS", json),
                ("AUTHD__REFRESH__CURRENT", "2"),
            ])
            .unwrap(),
            load(&[
                ("AUTHD__REFRESH__KEYS_FILE", file.to_str().unwrap()),
                ("AUTHD__REFRESH__CURRENT", "2"),
            ])
            .unwrap(),
        ] {
            let r = &s.refresh;
            assert_eq!(r.current, Some(2));
            let ids: Vec<u32> = r.keys.iter().map(|k| k.id).collect();
            assert_eq!(ids, [2, 1]);
            assert_eq!(
                r.keys[0].secret.as_ref().map(|s| s.expose_secret()),
                Some("s3cr3t-two-0123456789abcdef012345")
            );
            assert_eq!(
                r.keys[1].secret_file.as_deref(),
                Some(Path::new("/run/secrets/refresh"))
            );
            assert!(!format!("{s:?}").contains("s3cr3t"), "keys print masked");
        }
        // Not an array of objects, a field keys do not have, an id that is
        // not a number: refused, naming the variable or the field.
        for (json, expected) in [
            (
                r#"{"id": 1, "secret": "s3cr3t-oops"}"#,
                "AUTHD__REFRESH__KEYS",
            ),
            (r#"[{"id": 1, "secrte": "s3cr3t-oops"}]"#, "secrte"),
            (
                r#"[{"id": "2026-12", "secret": "s3cr3t-oops"}]"#,
                "refresh.keys[0]",
            ),
        ] {
            let error = load(&[("AUTHD__REFRESH__KEYS", json)])
                .err()
                .unwrap_or_else(|| panic!("{json} accepted"))
                .to_string();
            assert!(error.contains(expected), "{json}: {error}");
            assert!(!error.contains("s3cr3t"), "{json}: {error}");
        }
    }
}
