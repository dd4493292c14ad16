//! Where mail without SMTP goes, and for how long: `.eml` files under
//! `data_dir/mail` are deleted by the cleanup sweep after
//! `email.retention_days` (they hold live links and codes), and the binary
//! refuses to start with an https issuer and no SMTP host, or with a
//! `link_base` of plain http to another host.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::{Backend, spawn_app};
use crate::on_both_stores;

on_both_stores!(eml_files_are_purged_after_the_retention_period);

const BIN: &str = env!("CARGO_BIN_EXE_authd");

async fn eml_files_are_purged_after_the_retention_period(backend: Backend) {
    let app = spawn_app(backend).await;
    let email = format!("old-{}@example.com", uuid::Uuid::new_v4().simple());
    app.register(&email).await;
    app.wait_for_mail_to(&email, 1).await;
    let retention = i64::from(app.services().settings.email.retention_days);
    let dir = app.services().settings.data_path("mail");
    let files = || {
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".eml"))
            .collect();
        names.sort();
        names
    };
    let written = files();
    assert_eq!(written.len(), 1, "{written:?}");

    // Kept while within the retention period.
    app.advance(retention * 86_400 - 60);
    let purged = authd::cleanup::purge_once(app.services()).await.unwrap();
    assert_eq!(purged.mail_files, 0);
    assert_eq!(files(), written);

    app.advance(120);
    // A file named as authd names them (the time its message was queued,
    // then its id), queued just now by this clock; and one authd did not write.
    let newer = format!(
        "{}-{}.eml",
        app.now().format("%Y%m%dT%H%M%SZ"),
        uuid::Uuid::now_v7().simple()
    );
    std::fs::write(
        dir.join(&newer),
        "To: newer@example.com\r\nSubject: newer\r\n\r\nnewer",
    )
    .unwrap();
    std::fs::write(
        dir.join("notes.eml"),
        "To: notes@example.com\r\nSubject: notes\r\n\r\nnot authd's",
    )
    .unwrap();
    let purged = authd::cleanup::purge_once(app.services()).await.unwrap();
    assert_eq!(purged.mail_files, 1, "the expired message only");
    assert!(
        !dir.join(&written[0]).exists(),
        "its link is gone from disk"
    );
    assert!(dir.join(&newer).exists(), "a newer message stays");
    assert!(dir.join("notes.eml").exists(), "a file not authd's stays");
}

/// `authd serve` with `env` on a fresh SQLite file: whether it exited with
/// success, and what it wrote. A server that starts instead of refusing is
/// stopped after 30 s and counts as started (`true`).
fn serve(env: &[(&str, &str)]) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.log");
    let file = std::fs::File::create(&out).unwrap();
    let mut child = Command::new(BIN)
        .arg("serve")
        .env("AUTHD__SERVER__PORT", "0")
        .env("AUTHD__DATA_DIR", dir.path().join("data"))
        .env(
            "AUTHD__DATABASE__URL",
            format!("sqlite://{}", dir.path().join("authd.db").display()),
        )
        .env_remove("RUST_LOG")
        .envs(env.iter().copied())
        .stdout(Stdio::from(file.try_clone().unwrap()))
        .stderr(Stdio::from(file))
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let exited = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.success();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break true;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    (exited, std::fs::read_to_string(&out).unwrap())
}

#[test]
fn an_https_issuer_without_smtp_or_with_a_plain_http_link_base_does_not_start() {
    let https = ("AUTHD__SERVER__ISSUER", "https://auth.example.com");
    let (ok, out) = serve(&[https]);
    assert!(!ok, "{out}");
    assert!(out.contains("email.smtp.host"), "{out}");

    let smtp = ("AUTHD__EMAIL__SMTP__HOST", "smtp.example.com");
    let plain = ("AUTHD__EMAIL__LINK_BASE", "http://app.example.com/account");
    let (ok, out) = serve(&[https, smtp, plain]);
    assert!(!ok, "{out}");
    assert!(out.contains("email.link_base"), "{out}");
}
