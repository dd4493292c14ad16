//! A `kill -9` of authd in the middle of a refresh load loses no committed
//! rotation and half-applies none: after a restart, every client's last token
//! is the current one of its family, or its immediate predecessor (the response
//! of a committed rotation was lost in the crash), which the grace rule covers.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use secrecy::SecretString;
use serde_json::json;

use crate::helpers::{Backend, PASSWORD, test_database};
use crate::on_both_stores;

on_both_stores!(a_kill_9_during_refresh_load_loses_no_committed_rotation);

fn start(dir: &std::path::Path, url: &str, port: u16) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("authd.log"))
        .unwrap();
    Command::new(env!("CARGO_BIN_EXE_authd"))
        .arg("serve")
        .env("AUTHD__SERVER__PORT", port.to_string())
        .env("AUTHD__DATA_DIR", dir.join("data"))
        .env("AUTHD__DATABASE__URL", url)
        .env("AUTHD__PASSWORD__ARGON2_M_COST", "1024")
        .env("AUTHD__PASSWORD__ARGON2_T_COST", "1")
        .env("AUTHD__LIMITS__REFRESH_PER_IP", "1000000")
        .env("AUTHD__LOG__LEVEL", "warn")
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap()
}

async fn wait_ready(client: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !client
        .get(format!("{base}/readyz"))
        .send()
        .await
        .is_ok_and(|r| r.status() == 200)
    {
        assert!(Instant::now() < deadline, "authd did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn a_kill_9_during_refresh_load_loses_no_committed_rotation(backend: Backend) {
    const FAMILIES: usize = 16;
    let dir = tempfile::tempdir().unwrap();
    let db = test_database(backend, dir.path()).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut child = start(dir.path(), &db.url, port);
    wait_ready(&client, &base).await;

    let post = |path: &str, body: serde_json::Value| {
        client.post(format!("{base}{path}")).json(&body).send()
    };
    assert_eq!(
        post(
            "/auth/register",
            json!({ "email": "crash@example.com", "password": PASSWORD })
        )
        .await
        .unwrap()
        .status(),
        201
    );
    let mut tokens = Vec::new();
    for _ in 0..FAMILIES {
        let login: serde_json::Value = post(
            "/auth/login",
            json!({ "email": "crash@example.com", "password": PASSWORD, "token_delivery": "body" }),
        )
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        tokens.push(login["refresh_token"].as_str().unwrap().to_owned());
    }

    // Each family is driven by one client rotating as fast as it can; each
    // client keeps the last token it received.
    let last: Arc<std::sync::Mutex<Vec<String>>> = Arc::new(std::sync::Mutex::new(tokens));
    let mut drivers = Vec::new();
    for family in 0..FAMILIES {
        let (last, client, base) = (last.clone(), client.clone(), base.clone());
        drivers.push(tokio::spawn(async move {
            let mut rotations = 0u32;
            loop {
                let token = last.lock().unwrap()[family].clone();
                let Ok(response) = client
                    .post(format!("{base}/auth/refresh"))
                    .json(&json!({ "refresh_token": token }))
                    .send()
                    .await
                else {
                    return rotations; // the server is gone
                };
                if response.status() != 200 {
                    panic!("family {family}: refresh answered {}", response.status());
                }
                let Ok(body) = response.json::<serde_json::Value>().await else {
                    return rotations;
                };
                last.lock().unwrap()[family] = body["refresh_token"].as_str().unwrap().to_owned();
                rotations += 1;
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(
        Command::new("kill")
            .args(["-KILL", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let _ = child.wait();
    let mut rotations = 0;
    for driver in drivers {
        rotations += driver.await.unwrap();
    }
    assert!(rotations > 0, "the load ran before the kill");

    let mut child = start(dir.path(), &db.url, port);
    wait_ready(&client, &base).await;
    let key = std::fs::read_to_string(dir.path().join("data/refresh.key")).unwrap();
    let codec =
        authd::tokens::refresh::RefreshTokens::new(&SecretString::from(key.trim().to_owned()));
    let held_tokens = last.lock().unwrap().clone();
    for (family, token) in held_tokens.iter().enumerate() {
        let held = codec.decode(token).unwrap().counter;
        let response = client
            .post(format!("{base}/auth/refresh"))
            .json(&json!({ "refresh_token": token }))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            200,
            "family {family}: the token the client holds was refused after the crash"
        );
        let body: serde_json::Value = response.json().await.unwrap();
        let answered = codec
            .decode(body["refresh_token"].as_str().unwrap())
            .unwrap()
            .counter;
        // Held the current token: it rotates to the next. Held the predecessor
        // (its rotation committed, the response died with the process): the
        // grace rule hands out the database's current one. One step either way.
        assert_eq!(answered, held + 1, "family {family}");
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    println!(
        "{backend:?}: {rotations} rotations acknowledged before kill -9; all {FAMILIES} families consistent after restart"
    );
}
