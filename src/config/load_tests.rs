//! Tests of `config::load`: the sources, their precedence, and the errors.

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

#[test]
fn the_demo_is_served_by_default_only_to_an_http_issuer_on_this_machine() {
    let s = load(&[]).unwrap();
    assert_eq!(s.issuer(), "http://localhost:8080");
    assert!(
        s.demo_served(),
        "cargo run serves the page its emailed links open"
    );
    for issuer in [
        "https://localhost:8080",
        "https://auth.example.com",
        "http://auth.example.com",
        "http://192.168.1.10:8080",
    ] {
        // An https issuer needs an SMTP host (`validate_mail_for_https`).
        let smtp = ("AUTHD__EMAIL__SMTP__HOST", "smtp.example.com");
        let s = load(&[("AUTHD__SERVER__ISSUER", issuer), smtp]).unwrap();
        assert!(!s.demo_served(), "{issuer} does not get the demo unasked");
    }
    let s = load(&[
        ("AUTHD__SERVER__ISSUER", "https://auth.example.com"),
        ("AUTHD__EMAIL__SMTP__HOST", "smtp.example.com"),
        ("AUTHD__DEMO__ENABLED", "true"),
    ])
    .unwrap();
    assert!(s.demo_served(), "demo.enabled serves it anywhere");
    let s = load(&[("AUTHD__DEMO__ON_LOCAL_ISSUER", "false")]).unwrap();
    assert!(!s.demo_served());
    let s = load(&[("AUTHD__SERVER__ISSUER", "http://127.0.0.1:8080")]).unwrap();
    assert!(s.demo_served());
}

#[test]
fn the_demo_has_no_client_unless_the_operator_names_one() {
    let s = load(&[]).unwrap();
    assert_eq!(
        s.demo.client_id, None,
        "no \"Sign in with authd\" by default"
    );
    assert_eq!(s.demo_url(), "http://localhost:8080/demo/");
    let s = load(&[("AUTHD__DEMO__CLIENT_ID", "client_0123abcd")]).unwrap();
    assert_eq!(s.demo.client_id.as_deref(), Some("client_0123abcd"));
}

#[test]
fn jwt_signing_kids_default_to_none_and_take_a_comma_separated_list() {
    assert!(load(&[]).unwrap().jwt.signing_kids.is_empty());
    let s = load(&[("AUTHD__JWT__SIGNING_KIDS", "rs-1, ed-1")]).unwrap();
    assert_eq!(s.jwt.signing_kids, ["rs-1", "ed-1"]);
}
