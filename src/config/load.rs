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
#[path = "load_tests.rs"]
pub(super) mod tests;
