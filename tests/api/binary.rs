//! The `authd` binary itself: key generation, a real start on SQLite, graceful
//! shutdown on SIGTERM, logs without secrets, and configuration given only
//! through the environment and files.

use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_authd");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits (up to 30 s) until the server at `base` answers `/healthz`.
async fn wait_until_healthy(client: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if client.get(format!("{base}/healthz")).send().await.is_ok() {
            break;
        }
        assert!(Instant::now() < deadline, "authd did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Sends SIGTERM and waits (up to 30 s) for the process to exit.
async fn stop_with_sigterm(mut child: Child) -> ExitStatus {
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("authd did not stop on SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    })
    .await
    .unwrap()
}

#[test]
fn keys_generate_writes_a_private_key_file_and_prints_its_configuration() {
    let dir = tempfile::tempdir().unwrap();
    for alg in ["HS256", "RS256", "ES256", "EdDSA"] {
        let out = dir.path().join(format!("{alg}.key"));
        let output = Command::new(BIN)
            .args(["keys", "generate", "--alg", alg, "--kid", "k1", "--out"])
            .arg(&out)
            .env("AUTHD__DATA_DIR", dir.path())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{alg}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            stdout.contains("[[jwt.keys]]") && stdout.contains(&format!("alg = \"{alg}\"")),
            "{stdout}"
        );
        let contents = std::fs::read_to_string(&out).unwrap();
        assert!(
            !stdout.contains(contents.trim()),
            "the key itself is not printed"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&out).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        // The printed configuration loads.
        let config = dir.path().join(format!("{alg}.toml"));
        std::fs::write(
            &config,
            stdout
                .lines()
                .skip_while(|l| !l.starts_with("[["))
                .collect::<Vec<_>>()
                .join("\n"),
        )
        .unwrap();
        let mut settings = authd::config::Settings::load(&authd::config::Sources {
            file: Some(config),
            env: vec![],
        })
        .unwrap();
        settings.data_dir = dir.path().to_owned();
        let keys = authd::keys::KeySet::load(&settings).unwrap();
        assert_eq!(keys.signer().kid, "k1");
        // Never overwrites an existing key.
        let again = Command::new(BIN)
            .args(["keys", "generate", "--alg", alg, "--out"])
            .arg(&out)
            .output()
            .unwrap();
        assert!(!again.status.success());
    }
    let bad = Command::new(BIN)
        .args(["keys", "generate", "--alg", "none"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--alg"));
}

#[test]
fn migrate_applies_the_migrations_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("authd.db");
    for _ in 0..2 {
        // Twice: applying them again is a no-op, not an error.
        let output = Command::new(BIN)
            .arg("migrate")
            .env("AUTHD__DATA_DIR", dir.path().join("data"))
            .env("AUTHD__DATABASE__URL", format!("sqlite://{}", db.display()))
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(String::from_utf8_lossy(&output.stdout).contains("migrations applied"));
    }
    assert!(db.exists());
}

#[tokio::test]
async fn clients_create_prints_the_secret_once_and_list_and_delete_never_show_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("authd.db").display());
    let authd = |args: &[&str]| {
        let output = Command::new(BIN)
            .args(args)
            .env("AUTHD__DATA_DIR", dir.path().join("data"))
            .env("AUTHD__DATABASE__URL", &db)
            .env_remove("AUTHD_CONFIG")
            .output()
            .unwrap();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (ok, out, err) = authd(&[
        "clients",
        "create",
        "--name",
        "orders",
        "--scopes",
        "a b a authd:introspect",
    ]);
    assert!(ok, "{err}");
    let field = |name: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.trim_start().strip_prefix('='))
            .map(|v| v.trim().to_owned())
            .unwrap_or_else(|| panic!("{name} in {out}"))
    };
    let (id, secret) = (field("client_id"), field("client_secret"));
    assert_eq!(field("scopes"), "a b authd:introspect");

    // The printed secret authenticates against the database the CLI wrote.
    let settings = authd::config::DatabaseSettings {
        url: db.clone().into(),
        max_connections: 1,
        acquire_timeout_ms: 2000,
        cleanup_interval_secs: 3600,
        audit_retention_days: 90,
    };
    let store = authd::store::Store::connect(&settings).await.unwrap();
    let client = authd::clients::authenticate(&store, &id, &secret)
        .await
        .unwrap()
        .expect("the printed secret is the client's");
    assert_ne!(client.secret_hash, secret, "only a hash is stored");
    assert!(
        authd::clients::authenticate(&store, &id, "wrong")
            .await
            .unwrap()
            .is_none()
    );

    let (ok, listed, _) = authd(&["clients", "list"]);
    assert!(ok);
    assert!(
        listed.contains(&id) && listed.contains("orders"),
        "{listed}"
    );
    assert!(!listed.contains(&secret) && !listed.contains(&client.secret_hash));

    let (ok, _, err) = authd(&["clients", "create", "--name", "bad", "--scope", "caf\u{e9}"]);
    assert!(!ok && err.contains("scopes"), "{err}");
    let (ok, _, err) = authd(&[
        "clients",
        "create",
        "--name",
        "bad",
        "--scopes",
        "authd:admin",
    ]);
    assert!(!ok && err.contains("authd:admin"), "{err}");

    // Permissions change without a new secret.
    use authd::clients::Permission;
    assert!(client.may(Permission::Introspect) && !client.may(Permission::Revocations));
    let (ok, out, err) = authd(&["clients", "update", &id, "--scopes", "a authd:revocations"]);
    assert!(ok, "{err}");
    assert!(out.contains("a authd:revocations"), "{out}");
    let updated = authd::clients::authenticate(&store, &id, &secret)
        .await
        .unwrap()
        .expect("the same secret");
    assert!(updated.may(Permission::Revocations) && !updated.may(Permission::Introspect));
    let (ok, _, err) = authd(&["clients", "update", &id, "--scopes", "authd:everything"]);
    assert!(!ok && err.contains("authd:everything"), "{err}");
    let (ok, _, err) = authd(&["clients", "update", "client_nope", "--scopes", "a"]);
    assert!(!ok && err.contains("no client"), "{err}");
    let (ok, _, err) = authd(&["clients", "delete", &id]);
    assert!(ok, "{err}");
    let (ok, _, err) = authd(&["clients", "delete", &id]);
    assert!(!ok && err.contains("no client"), "{err}");
    assert!(!authd::clients::exists(&store, &id).await.unwrap());
}

#[tokio::test]
async fn the_binary_serves_stops_on_sigterm_and_never_logs_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let metrics_port = free_port();
    // Logs go to a file: a pipe nobody reads fills up and blocks the server.
    let log_path = dir.path().join("authd.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let child = Command::new(BIN)
        .arg("serve")
        .env("AUTHD__SERVER__PORT", port.to_string())
        .env("AUTHD__DATA_DIR", dir.path().join("data"))
        .env(
            "AUTHD__DATABASE__URL",
            format!("sqlite://{}", dir.path().join("authd.db").display()),
        )
        .env("AUTHD__PASSWORD__ARGON2_M_COST", "1024")
        .env("AUTHD__PASSWORD__ARGON2_T_COST", "1")
        .env(
            "AUTHD__METRICS__LISTEN",
            format!("127.0.0.1:{metrics_port}"),
        )
        .env("RUST_LOG", "trace")
        .env_remove("AUTHD_CONFIG")
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    wait_until_healthy(&client, &base).await;
    let password = "a very secret passphrase 42";
    let post = |path: &str, body: serde_json::Value| {
        client.post(format!("{base}{path}")).json(&body).send()
    };
    let register = post(
        "/auth/register",
        json!({ "email": "logs@example.com", "password": password }),
    )
    .await
    .unwrap();
    assert_eq!(register.status(), 201);
    let login: serde_json::Value = post(
        "/auth/login",
        json!({ "email": "logs@example.com", "password": password, "token_delivery": "body" }),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let refresh = login["refresh_token"].as_str().unwrap().to_owned();
    let access = login["access_token"].as_str().unwrap().to_owned();
    let rotated: serde_json::Value = post("/auth/refresh", json!({ "refresh_token": refresh }))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let wrong = post(
        "/auth/login",
        json!({ "email": "logs@example.com", "password": "wrong guess 1234" }),
    )
    .await
    .unwrap();
    assert_eq!(wrong.status(), 401);
    client
        .get(format!("{base}/auth/me"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    // An emailed link opens authd's own page: its token stays out of the log.
    let link_token = "page-link-token-never-logged";
    let page = client
        .get(format!(
            "{base}/account?action=verify_email&token={link_token}"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    // The metrics are on their own address only; SIGTERM stops both servers.
    let metrics = |base: String| {
        let client = client.clone();
        async move {
            let reply = client.get(format!("{base}/metrics")).send().await.unwrap();
            (reply.status().as_u16(), reply.text().await.unwrap())
        }
    };
    let (status, text) = metrics(format!("http://127.0.0.1:{metrics_port}")).await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("authd_logins_total"), "{text}");
    assert_eq!(metrics(base.clone()).await.0, 404);

    let status = stop_with_sigterm(child).await;
    let logs = std::fs::read_to_string(&log_path).unwrap();
    assert!(status.success(), "exit status {status:?}: {logs}");
    assert!(logs.contains("authd stopped"), "{logs}");
    assert!(
        logs.contains("login"),
        "the trace-level log was captured: {logs}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &str| {
            std::fs::metadata(dir.path().join(p))
                .unwrap()
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!(
            mode("authd.db"),
            0o600,
            "the database holds password hashes"
        );
    }
    let refresh_key = std::fs::read_to_string(dir.path().join("data/refresh.key")).unwrap();
    let signing_key = std::fs::read_to_string(dir.path().join("data/jwt-rs256.pem")).unwrap();
    let rotated_refresh = rotated["refresh_token"].as_str().unwrap();
    for (name, secret) in [
        ("password", password),
        ("wrong password", "wrong guess 1234"),
        ("refresh token", refresh.as_str()),
        ("rotated refresh token", rotated_refresh),
        ("access token", access.as_str()),
        ("access token signature", access.rsplit('.').next().unwrap()),
        ("refresh key", refresh_key.trim()),
        ("signing key", signing_key.lines().nth(1).unwrap()),
        ("link token", link_token),
    ] {
        assert!(!logs.contains(secret), "the {name} reached the log");
    }
    // A prefix of a refresh token at most: never more than 6 characters of one.
    assert!(!logs.contains(&refresh[..12]));
}

#[tokio::test]
async fn keys_from_the_environment_and_a_refresh_key_file_serve_with_the_database_in_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let pem = authd::keys::generate(jsonwebtoken::Algorithm::ES256).unwrap();
    let pem_path = dir.path().join("es256.pem");
    std::fs::write(&pem_path, secrecy::ExposeSecret::expose_secret(&pem)).unwrap();
    let keys = json!([{ "kid": "from-env", "alg": "ES256", "private_key_file": pem_path }]);
    let refresh_secret = "a refresh key of at least 32 bytes, from a file";
    let secret_path = dir.path().join("refresh.secret");
    std::fs::write(&secret_path, format!("{refresh_secret}\n")).unwrap();
    let config = dir.path().join("authd.toml");
    std::fs::write(
        &config,
        format!(
            "[refresh]\nsecret_file = {:?}\n",
            secret_path.to_str().unwrap()
        ),
    )
    .unwrap();
    let port = free_port();
    let log_path = dir.path().join("authd.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let child = Command::new(BIN)
        .arg("serve")
        .env("AUTHD__SERVER__PORT", port.to_string())
        .env("AUTHD__DATA_DIR", &data)
        .env("AUTHD__JWT__KEYS", keys.to_string())
        .env("AUTHD_CONFIG", &config)
        .env("AUTHD__PASSWORD__ARGON2_M_COST", "1024")
        .env("AUTHD__PASSWORD__ARGON2_T_COST", "1")
        .env_remove("AUTHD__DATABASE__URL")
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    wait_until_healthy(&client, &base).await;
    let jwks: serde_json::Value = client
        .get(format!("{base}/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|k| k["kid"].as_str())
        .collect();
    assert_eq!(kids, ["from-env"], "{jwks}");
    let password = "a very secret passphrase 42";
    let register = client
        .post(format!("{base}/auth/register"))
        .json(&json!({ "email": "env@example.com", "password": password }))
        .send()
        .await
        .unwrap();
    assert_eq!(register.status(), 201);
    let login = client
        .post(format!("{base}/auth/login"))
        .json(
            &json!({ "email": "env@example.com", "password": password, "token_delivery": "body" }),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);

    let status = stop_with_sigterm(child).await;
    let logs = std::fs::read_to_string(&log_path).unwrap();
    assert!(status.success(), "exit status {status:?}: {logs}");
    assert!(
        data.join("authd.db").exists(),
        "the default database follows data_dir"
    );
    assert!(
        !data.join("refresh.key").exists() && !data.join("jwt-rs256.pem").exists(),
        "no development key is generated when keys are configured"
    );
    assert!(
        !logs.contains(refresh_secret),
        "the refresh key reached the log"
    );
}
