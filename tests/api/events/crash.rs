//! A `kill -9` of authd between queueing an event and sending it loses
//! nothing: the receiver is not listening yet, authd is killed with the
//! delivery pending, and after a restart (the receiver now up) it arrives,
//! signed with the secret `authd webhooks create` printed.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use super::receiver::{Receiver, verifies};
use crate::helpers::{Backend, PASSWORD, test_database};
use crate::on_both_stores;

on_both_stores!(a_kill_9_between_queueing_and_sending_loses_no_event);

fn authd(dir: &std::path::Path, url: &str, port: u16) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_authd"));
    command
        .env("AUTHD__SERVER__PORT", port.to_string())
        .env("AUTHD__DATA_DIR", dir.join("data"))
        .env("AUTHD__DATABASE__URL", url)
        .env("AUTHD__PASSWORD__ARGON2_M_COST", "1024")
        .env("AUTHD__PASSWORD__ARGON2_T_COST", "1")
        .env("AUTHD__WEBHOOKS__POLL_INTERVAL_MS", "50")
        .env("AUTHD__WEBHOOKS__RETRY_BASE_MS", "100")
        .env("AUTHD__WEBHOOKS__RETRY_MAX_SECS", "1")
        .env("AUTHD__WEBHOOKS__MAX_ATTEMPTS", "100")
        .env("AUTHD__LOG__LEVEL", "warn");
    command
}

fn start(dir: &std::path::Path, url: &str, port: u16) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("authd.log"))
        .unwrap();
    authd(dir, url, port)
        .arg("serve")
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

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn a_kill_9_between_queueing_and_sending_loses_no_event(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let db = test_database(backend, dir.path()).await;
    let port = free_port();
    let hook_port = free_port();
    let base = format!("http://127.0.0.1:{port}");

    // The endpoint, registered by the operator's command.
    let created = authd(dir.path(), &db.url, port)
        .args([
            "webhooks",
            "create",
            &format!("http://127.0.0.1:{hook_port}/hook"),
            "--event",
            "user.created",
        ])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&created.stdout);
    assert!(
        created.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let secret = out
        .lines()
        .find_map(|l| l.strip_prefix("secret = "))
        .expect("the secret printed")
        .to_owned();

    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut child = start(dir.path(), &db.url, port);
    wait_ready(&client, &base).await;
    let registered = client
        .post(format!("{base}/auth/register"))
        .json(&json!({ "email": "crash-hook@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 201);
    // A few failed attempts (nothing listens), then the kill.
    tokio::time::sleep(Duration::from_millis(300)).await;
    child.kill().unwrap();
    child.wait().unwrap();

    let receiver = Receiver::start_on(hook_port).await;
    let mut child = start(dir.path(), &db.url, port);
    wait_ready(&client, &base).await;
    let got = receiver.wait_for(1).await;
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(got.len(), 1, "{got:#?}");
    assert_eq!(got[0].json()["type"], "user.created");
    assert!(verifies(&got[0], &secret));
}
