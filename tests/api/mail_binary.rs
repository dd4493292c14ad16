//! Email delivery by the real binary, its log read as an operator would: with
//! no SMTP configured a message becomes an `.eml` under `data_dir/mail`, and
//! the log names the file but never the link; a `kill -9` while a message is
//! being sent loses nothing, and the restarted server delivers it once over
//! STARTTLS without logging its secret; a server's refusal that names the
//! recipient is logged and kept by its codes only. Messages are queued into the
//! binary's database by this process, through `authd::mail::queue`, as the
//! flows will.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use authd::clock::ManualClock;
use authd::domain::Email;
use authd::mail::Mail;
use authd::services::Services;
use secrecy::SecretString;
use uuid::Uuid;

use crate::helpers::smtp::{SmtpServer, smtp_available};
use crate::helpers::{Backend, test_database, test_settings};
use crate::on_both_stores;

on_both_stores!(
    without_smtp_a_message_becomes_an_eml_file_and_the_log_names_the_file_not_the_link,
    a_kill_9_while_a_message_is_being_sent_loses_nothing_and_it_is_delivered_once,
    a_refusal_that_names_the_recipient_is_logged_and_kept_by_its_codes_only,
);

const TOKEN: &str = "tok-SECRET-binary-9876543210";
/// The refresh-token key of the binary and of the queuer: the outbox is
/// sealed under a key derived from it, so both must hold it.
const REFRESH_SECRET: &str = "the binary's refresh key, 0123456789abcdef";

struct Binary {
    child: Child,
    log: PathBuf,
}

impl Binary {
    fn start(dir: &Path, url: &str, env: &[(String, String)]) -> Self {
        let log = dir.join(format!("authd-{}.log", Uuid::new_v4().simple()));
        let file = std::fs::File::create(&log).unwrap();
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_authd"))
            .arg("serve")
            .env("AUTHD__SERVER__PORT", port.to_string())
            .env("AUTHD__DATA_DIR", dir.join("data"))
            .env("AUTHD__DATABASE__URL", url)
            .env("AUTHD__REFRESH__SECRET", REFRESH_SECRET)
            .env("AUTHD__PASSWORD__ARGON2_M_COST", "1024")
            .env("AUTHD__PASSWORD__ARGON2_T_COST", "1")
            .env("AUTHD__EMAIL__POLL_INTERVAL_MS", "20")
            // Everything authd logs, down to debug: none of it may hold a secret.
            .env("AUTHD__LOG__LEVEL", "debug")
            .env_remove("RUST_LOG")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::from(file.try_clone().unwrap()))
            .stderr(Stdio::from(file))
            .spawn()
            .unwrap();
        let binary = Self { child, log };
        binary.wait_for_log("authd listening");
        binary
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap()
    }

    fn wait_for_log(&self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.log().contains(text) {
            assert!(Instant::now() < deadline, "no {text:?} in: {}", self.log());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args([signal, &pid])
                .status()
                .unwrap()
                .success()
        );
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Services of this process on the binary's database, to queue with.
async fn queuer(dir: &Path, url: &str) -> Services {
    let own = dir.join("queuer");
    std::fs::create_dir_all(&own).unwrap();
    let mut settings = test_settings(&own);
    settings.database.url = url.to_owned().into();
    settings.refresh.secret = Some(REFRESH_SECRET.to_owned().into());
    let store = authd::store::Store::connect(&settings.database)
        .await
        .unwrap();
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    authd::app::build_services(settings, clock, store).unwrap()
}

async fn queue_reset(svc: &Services, to: &str) -> Uuid {
    let mail = Mail::PasswordReset {
        token: SecretString::from(TOKEN.to_owned()),
        code: SecretString::from("12345678".to_owned()),
        valid_for: Duration::from_secs(1800),
    };
    let mut tx = svc.store.begin().await.unwrap();
    let id = authd::mail::queue(svc, &mut tx, None, &Email::parse(to).unwrap(), &mail)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    id
}

async fn state(svc: &Services, id: Uuid) -> authd::store::outbox::OutboxRecord {
    let mut conn = svc.store.conn().await.unwrap();
    authd::store::outbox::find(&mut conn, id)
        .await
        .unwrap()
        .unwrap()
}

async fn wait_state(
    svc: &Services,
    id: Uuid,
    done: impl Fn(&authd::store::outbox::OutboxRecord) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = state(svc, id).await;
        if done(&r) {
            return;
        }
        assert!(Instant::now() < deadline, "gave up waiting: {r:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn without_smtp_a_message_becomes_an_eml_file_and_the_log_names_the_file_not_the_link(
    backend: Backend,
) {
    let dir = tempfile::tempdir().unwrap();
    let db = test_database(backend, dir.path()).await;
    let authd = Binary::start(dir.path(), &db.url, &[]);
    let svc = queuer(dir.path(), &db.url).await;
    let id = queue_reset(&svc, "grace@example.com").await;

    let mail_dir = dir.path().join("data/mail");
    wait_state(&svc, id, |r| r.state == "sent").await;
    let files: Vec<PathBuf> = std::fs::read_dir(&mail_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let file = &files[0];
    assert!(file.extension().is_some_and(|e| e == "eml"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "only its owner reads a live link");
    }
    let message = crate::helpers::mime::Parsed::parse(&std::fs::read_to_string(file).unwrap());
    assert_eq!(message.header("to").unwrap(), "grace@example.com");
    assert!(message.text.contains(TOKEN), "the link is in the file");

    let log = authd.log();
    let line = log
        .lines()
        .find(|l| l.contains("mail written to a file"))
        .unwrap_or_else(|| panic!("no line names the file: {log}"));
    let name = file.file_name().unwrap().to_str().unwrap();
    assert!(line.contains(name), "{line}");
    assert!(line.contains(&id.to_string()), "{line}");
    assert!(!log.contains(TOKEN), "the token reached the log: {log}");
    assert!(!log.contains("grace@"), "the address reached the log");

    authd.signal("-TERM");
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut authd = authd;
    let status = loop {
        if let Some(status) = authd.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "still running after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
    let log = authd.log();
    assert!(log.contains("mail sender stopped") && log.contains("authd stopped"));
}

async fn a_kill_9_while_a_message_is_being_sent_loses_nothing_and_it_is_delivered_once(
    backend: Backend,
) {
    if !smtp_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = test_database(backend, dir.path()).await;
    let smtp = SmtpServer::prepare();
    // First an SMTP server that accepts connections and never answers: the
    // message is claimed and its delivery hangs when authd is killed.
    let hung = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hung_port = hung.local_addr().unwrap().port();
    let held = std::thread::spawn(move || hung.incoming().take(8).collect::<Vec<_>>());
    let mut env = smtp.env(dir.path());
    env.retain(|(k, _)| !k.ends_with("__PORT") && !k.ends_with("__TIMEOUT_SECS"));
    let with = |port: u16| {
        let mut env = env.clone();
        env.extend(
            [
                ("AUTHD__EMAIL__SMTP__PORT", port.to_string()),
                ("AUTHD__EMAIL__SMTP__TIMEOUT_SECS", "2".to_owned()),
                ("AUTHD__EMAIL__LEASE_SECS", "8".to_owned()),
                ("AUTHD__EMAIL__RETRY_BASE_MS", "100".to_owned()),
            ]
            .map(|(k, v)| (k.to_owned(), v)),
        );
        env
    };
    let first = Binary::start(dir.path(), &db.url, &with(hung_port));
    let svc = queuer(dir.path(), &db.url).await;
    let id = queue_reset(&svc, "heidi@example.com").await;
    wait_state(&svc, id, |r| r.claimed_until.is_some()).await;
    first.signal("-KILL");
    drop(first);
    let claimed = state(&svc, id).await;
    assert_eq!(claimed.state, "pending", "nothing lost: {claimed:?}");
    let sealed = authd::mail::seal::open_record(&svc.refresh, &claimed).unwrap();
    assert!(sealed.message.contains(TOKEN));

    let mut smtp = smtp;
    smtp.run();
    let second = Binary::start(dir.path(), &db.url, &with(smtp.port));
    wait_state(&svc, id, |r| r.state == "sent").await;
    let received = smtp.wait_for(1).await;
    assert_eq!(received.len(), 1, "delivered once");
    assert_eq!(received[0].meta["tls"], true);
    assert!(received[0].message.text.contains(TOKEN));
    // The row says "sent" before the sender logs it: wait for the line.
    let names_it = |log: &str| {
        log.lines()
            .any(|l| l.contains("mail sent") && l.contains(&id.to_string()))
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut log = second.log();
    while !names_it(&log) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        log = second.log();
    }
    assert!(names_it(&log), "{log}");
    assert!(!log.contains(TOKEN), "the token reached the log: {log}");
    assert!(!log.contains("heidi@"), "the address reached the log");
    drop(second);
    drop(held);
}

/// The capturing server refuses a recipient whose local part begins with
/// "refused", its reply naming the address ("550 5.1.1 <refused-…@…>: …"):
/// the outbox keeps, and the log says, only the reply code and the enhanced
/// status code.
async fn a_refusal_that_names_the_recipient_is_logged_and_kept_by_its_codes_only(backend: Backend) {
    if !smtp_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = test_database(backend, dir.path()).await;
    let smtp = SmtpServer::start();
    let local = format!("refused-{}", Uuid::new_v4().simple());
    let binary = Binary::start(dir.path(), &db.url, &smtp.env(dir.path()));
    let svc = queuer(dir.path(), &db.url).await;
    let id = queue_reset(&svc, &format!("{local}@example.com")).await;
    wait_state(&svc, id, |r| r.last_error.is_some()).await;
    let record = state(&svc, id).await;
    assert_eq!(
        record.last_error.as_deref(),
        Some("permanent SMTP reply 550 5.1.1")
    );
    binary.wait_for_log("mail delivery failed");
    let log = binary.log();
    assert!(
        log.contains("permanent SMTP reply 550 5.1.1"),
        "the codes are logged: {log}"
    );
    assert!(!log.contains(&local), "the address reached the log: {log}");
    assert!(!log.contains("Recipient address rejected"), "{log}");
    assert_eq!(smtp.received().len(), 0);
}
