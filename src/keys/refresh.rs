//! The refresh-token key ring, from settings: `refresh.keys` with
//! `refresh.current`; or the single `refresh.secret`, which is key 1 (the id
//! every token made before key rings carries); or, for development, a key
//! generated into `data_dir`, key 1 as well.

use std::path::Path;

use secrecy::{ExposeSecret, SecretString};

use super::{KeyError, invalid, write_private_file};
use crate::config::file::read_value;
use crate::config::{RefreshKeySettings, Settings};
use crate::tokens::refresh::{RefreshKey, RefreshTokens};

/// The file, inside `data_dir`, of the generated refresh-token key.
pub const GENERATED_REFRESH_KEY_FILE: &str = "refresh.key";
/// Refresh-token keys shorter than this are refused.
pub const MIN_REFRESH_SECRET_BYTES: usize = 32;

/// The ring the settings configure. Every check names the setting to fix:
/// ids 1 to 255 and unique, exactly one of `secret`/`secret_file` per key,
/// keys of at least 32 bytes, `refresh.current` one of the ids (required
/// when there are several), and `refresh.secret` or `refresh.keys`, not both.
pub fn load(settings: &Settings) -> Result<RefreshTokens, KeyError> {
    let r = &settings.refresh;
    if r.keys.is_empty() {
        if let Some(current) = r.current {
            return Err(invalid(
                "refresh.current",
                format!(
                    "names key {current}, but refresh.keys is empty (refresh.secret alone is key 1, current)"
                ),
            ));
        }
        return Ok(RefreshTokens::new(&single_secret(settings)?));
    }
    if r.secret.is_some() {
        return Err(invalid(
            "refresh.keys",
            "refresh.secret is set too: give one key or a ring, not both \
             (a former refresh.secret goes into the ring as key 1)",
        ));
    }
    let mut keys = Vec::with_capacity(r.keys.len());
    for (index, key) in r.keys.iter().enumerate() {
        keys.push(load_key(index, key)?);
    }
    let current = match (r.current, keys.as_slice()) {
        (Some(id), _) => id,
        (None, [only]) => u32::from(only.id()),
        (None, _) => {
            return Err(invalid(
                "refresh.current",
                "refresh.keys holds several keys: name the one that makes new tokens",
            ));
        }
    };
    let position = keys
        .iter()
        .position(|k| u32::from(k.id()) == current)
        .ok_or_else(|| {
            invalid(
                "refresh.current",
                format!("no key of refresh.keys has id {current}"),
            )
        })?;
    let current = keys.swap_remove(position);
    let ring =
        RefreshTokens::ring(current, keys).map_err(|e| invalid("refresh.keys", e.to_string()))?;
    tracing::info!(
        current = ring.current_key_id(),
        retired = ?ring.retired_key_ids(),
        "refresh-token keys"
    );
    Ok(ring)
}

fn load_key(index: usize, key: &RefreshKeySettings) -> Result<RefreshKey, KeyError> {
    let setting = format!("refresh.keys[{index}] (id {})", key.id);
    let id = u8::try_from(key.id)
        .ok()
        .filter(|id| *id != 0)
        .ok_or_else(|| invalid(&setting, "id must be 1 to 255 (0 is reserved)"))?;
    let secret = match (&key.secret, &key.secret_file) {
        (Some(secret), None) => secret.clone(),
        (None, Some(path)) => read_secret_file(path)?,
        _ => return Err(invalid(setting, "set exactly one of secret, secret_file")),
    };
    let len = secret.expose_secret().len();
    if len < MIN_REFRESH_SECRET_BYTES {
        return Err(invalid(
            setting,
            format!(
                "the key must be at least {MIN_REFRESH_SECRET_BYTES} bytes, this one has {len}; \
                 generate one with `authd keys generate --alg HS256`"
            ),
        ));
    }
    Ok(RefreshKey::new(id, &secret))
}

/// A key file's contents without trailing newlines: the same key as
/// `refresh.secret_file` reads from the same file, so a former single key
/// moves into the ring unchanged.
fn read_secret_file(path: &Path) -> Result<SecretString, KeyError> {
    // At most 64 KiB, as every file a setting names (`config::file`).
    let contents = read_value(path).map_err(|source| KeyError::Io {
        path: path.display().to_string(),
        source,
    })?;
    Ok(SecretString::from(contents))
}

/// The configured `refresh.secret`, or the generated one in `data_dir`
/// (made there, mode 0600, on first start).
fn single_secret(settings: &Settings) -> Result<SecretString, KeyError> {
    if let Some(secret) = &settings.refresh.secret {
        return Ok(secret.clone());
    }
    let path = settings.data_path(GENERATED_REFRESH_KEY_FILE);
    let io = |source| KeyError::Io {
        path: path.display().to_string(),
        source,
    };
    if path.exists() {
        let secret = read_value(&path).map_err(io)?;
        let secret = secret.trim_end().to_owned();
        if secret.len() < MIN_REFRESH_SECRET_BYTES {
            return Err(invalid(
                path.display().to_string(),
                "the refresh-token key must be at least 32 bytes",
            ));
        }
        return Ok(SecretString::from(secret));
    }
    let secret = super::generate(jsonwebtoken::Algorithm::HS256)?;
    write_private_file(&path, secret.expose_secret().as_bytes())?;
    tracing::warn!(
        path = %path.display(),
        "no refresh.secret configured: generated one; instances sharing a database must share refresh.secret"
    );
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;
    use crate::config::Sources;
    use crate::tokens::refresh::{RefreshClaims, key_id_of};

    const A: &str = "key-one-0123456789abcdef01234567";
    const B: &str = "key-two-0123456789abcdef01234567";

    /// The ring of the settings `env` loads to, with a data directory of its own.
    fn ring(env: &[(&str, &str)]) -> Result<RefreshTokens, String> {
        let dir = tempfile::tempdir().unwrap();
        let mut env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        env.push((
            "AUTHD__DATA_DIR".into(),
            dir.path().join("data").display().to_string(),
        ));
        let settings = Settings::load(&Sources { file: None, env }).map_err(|e| e.to_string())?;
        load(&settings).map_err(|e| e.to_string())
    }

    fn claims() -> RefreshClaims {
        RefreshClaims {
            session: uuid::Uuid::new_v4(),
            counter: 3,
        }
    }

    #[test]
    fn the_single_secret_is_key_one_and_moves_into_a_ring_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("refresh");
        std::fs::write(&file, format!("{A}\n")).unwrap();
        let file = file.to_str().unwrap();
        let single = ring(&[("AUTHD__REFRESH__SECRET_FILE", file)]).unwrap();
        assert_eq!(single.current_key_id(), 1);
        let before = single.encode(claims());
        assert_eq!(key_id_of(before.expose_secret()), Some(1));
        // The same file as key 1 of a ring, retired behind key 2.
        let keys =
            format!(r#"[{{"id": 1, "secret_file": "{file}"}}, {{"id": 2, "secret": "{B}"}}]"#);
        let ring = ring(&[
            ("AUTHD__REFRESH__KEYS", &keys),
            ("AUTHD__REFRESH__CURRENT", "2"),
        ])
        .unwrap();
        assert_eq!(
            (ring.current_key_id(), ring.retired_key_ids()),
            (2, vec![1])
        );
        assert!(ring.decode(before.expose_secret()).is_some());
        assert_eq!(key_id_of(ring.encode(claims()).expose_secret()), Some(2));
    }

    #[test]
    fn a_ring_of_one_key_needs_no_current_and_the_generated_key_is_key_one() {
        let one = ring(&[(
            "AUTHD__REFRESH__KEYS",
            &format!(r#"[{{"id": 7, "secret": "{A}"}}]"#),
        )]);
        assert_eq!(one.unwrap().current_key_id(), 7);
        let generated = ring(&[]).unwrap();
        assert_eq!(
            (generated.current_key_id(), generated.retired_key_ids()),
            (1, vec![])
        );
    }

    #[test]
    fn invalid_rings_stop_start_up_naming_the_setting_without_the_secret() {
        let two = format!(r#"[{{"id": 1, "secret": "{A}"}}, {{"id": 2, "secret": "{B}"}}]"#);
        let twice = format!(r#"[{{"id": 2, "secret": "{A}"}}, {{"id": 2, "secret": "{B}"}}]"#);
        // The environment, then what the error must name and say.
        type Case = (Vec<(&'static str, String)>, &'static str, &'static str);
        let cases: Vec<Case> = vec![
            (
                vec![
                    ("AUTHD__REFRESH__KEYS", twice.clone()),
                    ("AUTHD__REFRESH__CURRENT", "2".into()),
                ],
                "refresh.keys",
                "id 2 appears twice",
            ),
            (
                vec![("AUTHD__REFRESH__KEYS", two.clone())],
                "refresh.current",
                "several keys",
            ),
            (
                vec![
                    ("AUTHD__REFRESH__KEYS", two.clone()),
                    ("AUTHD__REFRESH__CURRENT", "3".into()),
                ],
                "refresh.current",
                "no key of refresh.keys has id 3",
            ),
            (
                vec![("AUTHD__REFRESH__CURRENT", "1".into())],
                "refresh.current",
                "refresh.keys is empty",
            ),
            (
                vec![
                    ("AUTHD__REFRESH__KEYS", two.clone()),
                    ("AUTHD__REFRESH__CURRENT", "1".into()),
                    ("AUTHD__REFRESH__SECRET", A.into()),
                ],
                "refresh.keys",
                "not both",
            ),
            (
                vec![(
                    "AUTHD__REFRESH__KEYS",
                    r#"[{"id": 1, "secret": "key-one-but-31-bytes-long-12345"}]"#.into(),
                )],
                "refresh.keys[0] (id 1)",
                "at least 32 bytes, this one has 31",
            ),
            (
                vec![(
                    "AUTHD__REFRESH__KEYS",
                    format!(r#"[{{"id": 0, "secret": "{A}"}}]"#),
                )],
                "refresh.keys[0] (id 0)",
                "1 to 255",
            ),
            (
                vec![
                    (
                        "AUTHD__REFRESH__KEYS",
                        format!(
                            r#"[{{"id": 1, "secret": "{A}"}}, {{"id": 256, "secret": "{B}"}}]"#
                        ),
                    ),
                    ("AUTHD__REFRESH__CURRENT", "1".into()),
                ],
                "refresh.keys[1] (id 256)",
                "1 to 255",
            ),
            (
                vec![(
                    "AUTHD__REFRESH__KEYS",
                    format!(r#"[{{"id": 1, "secret": "{A}", "secret_file": "/run/secrets/x"}}]"#),
                )],
                "refresh.keys[0] (id 1)",
                "exactly one of secret, secret_file",
            ),
            (
                vec![("AUTHD__REFRESH__KEYS", r#"[{"id": 1}]"#.into())],
                "refresh.keys[0] (id 1)",
                "exactly one of secret, secret_file",
            ),
            (
                vec![(
                    "AUTHD__REFRESH__KEYS",
                    r#"[{"id": 1, "secret_file": "/nonexistent/refresh-1"}]"#.into(),
                )],
                "/nonexistent/refresh-1",
                "",
            ),
        ];
        for (env, setting, reason) in cases {
            let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let error = match ring(&env) {
                Ok(_) => panic!("{env:?} accepted"),
                Err(e) => e,
            };
            assert!(
                error.contains(setting) && error.contains(reason),
                "{env:?}: {error}"
            );
            assert!(!error.contains("0123456789abcdef"), "{error}");
        }
    }
}
