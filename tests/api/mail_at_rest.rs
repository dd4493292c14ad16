//! What a copy of the database holds of mail: a reset waiting in the outbox
//! (SMTP down) leaves neither its link token nor its code in any column of
//! any table, nor, on SQLite, in the database file or its WAL; no address is
//! kept in the outbox, and no unkeyed SHA-256 of one anywhere. A message
//! sealed under a key that has left the refresh-key ring is given up, with
//! its reason, and never sent; one queued in clear by the version before
//! sealing is still delivered, then deleted.

use authd::config::{RefreshKeySettings, Verification};
use authd::domain::Email;
use serde_json::json;

use crate::helpers::{Backend, TestApp, spawn_app_with};
use crate::mail::{TOKEN, queue, reset, wait_until};
use crate::on_both_stores;

on_both_stores!(
    a_reset_waiting_in_the_outbox_leaves_no_link_code_or_address_in_the_database,
    a_message_sealed_under_a_key_that_left_the_ring_is_given_up_not_sent,
    a_message_queued_in_clear_before_the_upgrade_is_still_delivered_then_deleted,
);

/// Every row of every table of the app's database, as text: on PostgreSQL
/// `row::text` (bytea as `\x` hex), on SQLite `quote()` of every column
/// (blobs as `X'..'` hex). Each entry is `table: row`.
async fn dump(app: &TestApp, backend: Backend) -> Vec<String> {
    let rows = dump_tables(app, backend).await;
    assert!(
        rows.iter().any(|r| r.starts_with("mail_outbox: ")),
        "{rows:#?}"
    );
    rows
}

/// [`dump`] without its check that the outbox has rows (the second factors'
/// test reads it too).
pub(crate) async fn dump_tables(app: &TestApp, backend: Backend) -> Vec<String> {
    use sqlx::{Connection, Row};
    let url = app.database_url();
    let mut rows = Vec::new();
    match backend {
        Backend::Postgres => {
            let mut c = sqlx::PgConnection::connect(url).await.unwrap();
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public'",
            )
            .fetch_all(&mut c)
            .await
            .unwrap();
            for table in tables {
                let sql = format!("SELECT t::text FROM \"{table}\" t");
                for row in sqlx::query(sqlx::AssertSqlSafe(sql))
                    .fetch_all(&mut c)
                    .await
                    .unwrap()
                {
                    rows.push(format!("{table}: {}", row.get::<String, _>(0)));
                }
            }
        }
        Backend::Sqlite => {
            let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
            let tables: Vec<String> =
                sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
                    .fetch_all(&mut c)
                    .await
                    .unwrap();
            for table in tables {
                let columns: Vec<String> =
                    sqlx::query_scalar("SELECT name FROM pragma_table_info($1)")
                        .bind(&table)
                        .fetch_all(&mut c)
                        .await
                        .unwrap();
                let quoted: Vec<String> =
                    columns.iter().map(|c| format!("quote(\"{c}\")")).collect();
                let sql = format!("SELECT {} FROM \"{table}\"", quoted.join(" || ',' || "));
                for row in sqlx::query(sqlx::AssertSqlSafe(sql))
                    .fetch_all(&mut c)
                    .await
                    .unwrap()
                {
                    rows.push(format!("{table}: {}", row.get::<String, _>(0)));
                }
            }
        }
    }
    rows
}

/// The SQLite database file and its WAL, as bytes, as a backup would copy them.
fn sqlite_files(app: &TestApp) -> Vec<(String, Vec<u8>)> {
    let path = app
        .database_url()
        .strip_prefix("sqlite://")
        .expect("a SQLite URL")
        .to_owned();
    [path.clone(), format!("{path}-wal")]
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"));
            (p, bytes)
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn holds(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Waits (up to 30 s) until the reset has been tried once and waits.
async fn wait_for_a_failed_attempt(app: &TestApp) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        if app
            .services()
            .metrics
            .render(authd::metrics::Exposure::All, 0, 0, 0, 0)
            .lines()
            .any(|l| l.starts_with("authd_mail_attempt_errors_total{kind=\"password_reset\"} "))
        {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "no attempt failed");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

async fn a_reset_waiting_in_the_outbox_leaves_no_link_code_or_address_in_the_database(
    backend: Backend,
) {
    // Nothing listens on this port: SMTP is down, the reset waits.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = spawn_app_with(backend, |s| {
        s.refresh.keys = vec![ring_key(1, KEY_1)];
        s.email.smtp.host = "127.0.0.1".into();
        s.email.smtp.port = port;
        s.email.poll_interval_ms = 20;
        s.accounts.email_verification = Verification::Off;
    })
    .await;
    let email = "victim@example.com";
    assert_eq!(app.register(email).await.status, 201);
    // A failed login: the throttle keeps a count under the address's key.
    assert_eq!(
        app.try_login(email, "not the password at all").await.status,
        401
    );
    let forgot = app
        .post_json("/auth/password/forgot", &json!({ "email": email }))
        .await;
    assert_eq!(forgot.status, 202, "{}", forgot.text);
    wait_for_a_failed_attempt(&app).await;

    // What a replica, a backup or a reporting user would see, taken while
    // the link is live and undelivered.
    let rows = dump(&app, backend).await;
    let files = match backend {
        Backend::Sqlite => sqlite_files(&app),
        Backend::Postgres => Vec::new(),
    };

    // An instance with the same ring and no SMTP (its mail becomes files)
    // delivers the message when its retry is due: the test learns the
    // secrets it carried.
    let sibling = app
        .spawn_sibling(|s| s.refresh.keys = vec![ring_key(1, KEY_1)])
        .await;
    sibling.clock.set(app.now() + chrono::Duration::seconds(60));
    sibling.services().mail.wake();
    let message = sibling.wait_for_action(email, "password_reset").await;
    let token = message.link_token();
    let code = message.code(app.services().settings.accounts.reset_code_digits as usize);
    // The link works: it was the live one.
    let reset = app
        .post_json(
            "/auth/password/reset",
            &json!({ "token": token, "new_password": "a new and long passphrase" }),
        )
        .await;
    assert_eq!(reset.status, 204, "{}", reset.text);

    // Checked in this order, so that each failure names the first property
    // that broke: the secrets, then the address, then its unkeyed hash.
    for row in &rows {
        let lower = row.to_lowercase();
        for (what, secret) in [("link token", &token), ("code", &code)] {
            assert!(
                !row.contains(secret.as_str()) && !lower.contains(&hex(secret.as_bytes())),
                "the {what} is in the database: {row}"
            );
        }
    }
    for (path, bytes) in &files {
        for (what, secret) in [("link token", &token), ("code", &code)] {
            assert!(!holds(bytes, secret.as_bytes()), "the {what} is in {path}");
        }
    }
    for row in rows.iter().filter(|r| r.starts_with("mail_outbox: ")) {
        let lower = row.to_lowercase();
        assert!(
            !lower.contains(email) && !lower.contains(&hex(email.as_bytes())),
            "the address is in the outbox: {row}"
        );
    }
    let sha256 = hex(ring::digest::digest(&ring::digest::SHA256, email.as_bytes()).as_ref());
    for row in &rows {
        assert!(
            !row.to_lowercase().contains(&sha256),
            "an unkeyed hash of the address is in the database: {row}"
        );
    }
}

fn ring_key(id: u32, secret: &str) -> RefreshKeySettings {
    RefreshKeySettings {
        id,
        secret: Some(secret.to_owned().into()),
        secret_file: None,
    }
}

const KEY_1: &str = "the first refresh key, 0123456789abcdef";
const KEY_2: &str = "the second refresh key, fedcba9876543210";

async fn a_message_sealed_under_a_key_that_left_the_ring_is_given_up_not_sent(backend: Backend) {
    // This instance's ring is key 2 alone: key 1 has been removed.
    let app = spawn_app_with(backend, |s| {
        s.refresh.keys = vec![ring_key(2, KEY_2)];
        s.refresh.current = Some(2);
        s.accounts.email_verification = Verification::Off;
        s.email.poll_interval_ms = 20;
    })
    .await;
    let email = "grace@example.com";
    assert_eq!(app.register(email).await.status, 201);
    let user = app.user_id(email).await;
    // An instance still on key 1 queued a reset before the key was removed;
    // its own sender polls hourly and is not woken: it never sends it.
    let old = app
        .spawn_sibling(|s| {
            s.refresh.keys = vec![ring_key(1, KEY_1), ring_key(2, KEY_2)];
            s.refresh.current = Some(1);
            s.email.poll_interval_ms = 3_600_000;
        })
        .await;
    let svc = old.services();
    let mut tx = svc.store.begin().await.unwrap();
    let id = authd::mail::queue(
        svc,
        &mut tx,
        Some(user),
        &Email::parse(email).unwrap(),
        &reset(TOKEN),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    app.clock.set(old.now());
    app.services().mail.wake();

    let given_up = wait_until(&app, id, |r| r.state == "given_up").await;
    assert_eq!(given_up.attempts, 1, "given up at once, not retried");
    let reason = given_up.last_error.as_deref().unwrap();
    assert!(reason.starts_with("key_gone:"), "{reason}");
    assert!(
        !reason.contains(email) && !reason.contains(TOKEN),
        "{reason}"
    );
    assert!(!given_up.holds_text(), "the sealed text is deleted");
    assert!(app.mail_to(email).is_empty(), "nothing was sent");
    let metrics = app
        .services()
        .metrics
        .render(authd::metrics::Exposure::All, 0, 0, 0, 0);
    assert!(
        metrics
            .lines()
            .any(|l| l == "authd_mail_unreadable_total{reason=\"key_gone\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics
            .lines()
            .any(|l| l == "authd_mail_failed_total{kind=\"password_reset\"} 1"),
        "{metrics}"
    );
    let events = app.audit_events(user).await;
    let event = events
        .iter()
        .find(|e| e.kind == "mail_given_up")
        .expect("an audit event");
    assert!(
        event.detail.as_deref().unwrap().contains("reason=key_gone"),
        "{event:?}"
    );

    // Not a crash: the sender goes on, and a message sealed under key 2
    // (this ring's current key) is delivered.
    let next = queue(&app, Some(user), email, reset(TOKEN)).await;
    wait_until(&app, next, |r| r.state == "sent").await;
    let delivered = app.mail_to(email);
    assert_eq!(delivered.len(), 1);
    assert!(delivered[0].text.contains(TOKEN));
}

async fn a_message_queued_in_clear_before_the_upgrade_is_still_delivered_then_deleted(
    backend: Backend,
) {
    use sqlx::Connection;
    // No SMTP: files. A poll longer than the test: only the wake-up sends.
    let app = spawn_app_with(backend, |s| s.email.poll_interval_ms = 600_000).await;
    let email = "heidi@example.com";
    // Queued without waking the sender, then rewritten as the version before
    // sealing stored it: address and text in clear, nothing sealed.
    let svc = app.services();
    let mut tx = svc.store.begin().await.unwrap();
    let id = authd::mail::queue(
        svc,
        &mut tx,
        None,
        &Email::parse(email).unwrap(),
        &reset(TOKEN),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let record = crate::mail::record(&app, id).await.unwrap();
    let opened = authd::mail::seal::open_record(&svc.refresh, &record).unwrap();
    const SQL: &str = "UPDATE mail_outbox SET recipient = $2, message = $3, sealed_key_id = NULL, \
         sealed_nonce = NULL, sealed = NULL WHERE id = $1";
    match backend {
        Backend::Postgres => {
            let mut c = sqlx::PgConnection::connect(app.database_url())
                .await
                .unwrap();
            sqlx::query(SQL)
                .bind(id)
                .bind(&opened.recipient)
                .bind(&opened.message)
                .execute(&mut c)
                .await
                .unwrap();
        }
        Backend::Sqlite => {
            let mut c = sqlx::SqliteConnection::connect(app.database_url())
                .await
                .unwrap();
            sqlx::query(SQL)
                .bind(id)
                .bind(&opened.recipient)
                .bind(&opened.message)
                .execute(&mut c)
                .await
                .unwrap();
        }
    }
    assert!(dump(&app, backend).await.iter().any(|r| r.contains(TOKEN)));
    svc.mail.wake();
    let sent = wait_until(&app, id, |r| r.state == "sent").await;
    assert!(!sent.holds_text());
    let delivered = app.mail_to(email);
    assert_eq!(delivered.len(), 1);
    assert!(delivered[0].text.contains(TOKEN));
    // Sent, its clear text is gone from the row as well.
    let rows = dump(&app, backend).await;
    assert!(!rows.iter().any(|r| r.contains(TOKEN)), "{rows:#?}");
}
