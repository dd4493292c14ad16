//! Email delivery, in process: the outbox and its sender against a real SMTP
//! server (`helpers::smtp`, STARTTLS and AUTH required), with the test's clock
//! driving the backoff; queueing inside a transaction; the send limits and budgets.
//! The binary's side (the `.eml` default and its log, a `kill -9`) is in
//! `mail_binary`; implicit TLS and the refusals of plaintext and of an
//! untrusted certificate are in `mail_tls`.

use std::time::Duration;

use authd::domain::Email;
use authd::mail::{Mail, sender};
use authd::store::outbox::OutboxRecord;
use secrecy::SecretString;
use uuid::Uuid;

use crate::helpers::smtp::{SmtpServer, USER, smtp_available};
use crate::helpers::{Backend, TestApp, spawn_app_with};
use crate::on_both_stores;

on_both_stores!(
    a_queued_message_is_delivered_over_starttls_with_both_parts_and_its_text_is_deleted,
    while_smtp_is_down_a_message_waits_with_backoff_and_is_delivered_once_when_it_is_back,
    a_message_is_given_up_after_max_attempts_with_an_audit_event_and_a_metric,
    two_instances_on_one_database_send_each_message_exactly_once,
    queueing_inside_a_transaction_that_rolls_back_queues_nothing,
    send_budgets_per_recipient_hold_across_instances_and_per_ip_answers_retry_after,
    a_backlog_of_several_batches_is_sent_without_waiting_for_the_next_poll,
);

pub(crate) const TOKEN: &str = "tok-SECRET-0123456789abcdef";

pub(crate) fn reset(token: &str) -> Mail {
    Mail::PasswordReset {
        token: SecretString::from(token.to_owned()),
        code: SecretString::from("12345678".to_owned()),
        valid_for: Duration::from_secs(1800),
    }
}

/// Queues `mail` for `to` in a transaction of its own, commits, wakes the sender.
pub(crate) async fn queue(app: &TestApp, user: Option<Uuid>, to: &str, mail: Mail) -> Uuid {
    let svc = app.services();
    let mut tx = svc.store.begin().await.unwrap();
    let id = authd::mail::queue(svc, &mut tx, user, &Email::parse(to).unwrap(), &mail)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    svc.mail.wake();
    id
}

pub(crate) async fn record(app: &TestApp, id: Uuid) -> Option<OutboxRecord> {
    let mut conn = app.store().conn().await.unwrap();
    authd::store::outbox::find(&mut conn, id).await.unwrap()
}

/// Waits (up to 30 s) until message `id` satisfies `done`.
pub(crate) async fn wait_until(
    app: &TestApp,
    id: Uuid,
    done: impl Fn(&OutboxRecord) -> bool,
) -> OutboxRecord {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let r = record(app, id).await.expect("the message is in the outbox");
        if done(&r) {
            return r;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "gave up waiting: {r:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A message rescheduled after `attempts` failed attempts.
pub(crate) fn waiting_after(attempts: i32) -> impl Fn(&OutboxRecord) -> bool {
    move |r| r.attempts == attempts && r.claimed_until.is_none() && r.last_error.is_some()
}

async fn metric(app: &TestApp, line_start: &str) -> String {
    let text = app.metrics().await.text;
    text.lines()
        .find(|l| l.starts_with(line_start))
        .unwrap_or_else(|| panic!("no {line_start} in /metrics"))
        .to_owned()
}

async fn a_queued_message_is_delivered_over_starttls_with_both_parts_and_its_text_is_deleted(
    backend: Backend,
) {
    if !smtp_available() {
        return;
    }
    let smtp = SmtpServer::start();
    let app = spawn_app_with(backend, |s| {
        smtp.configure(s);
        s.email.from_address = "no-reply@authd.test".into();
        s.email.from_name = "Acme Accounts".into();
        s.email.product_name = "Acme".into();
        s.email.link_base = "https://app.example.com/account".into();
    })
    .await;
    let id = queue(&app, None, "Alice@Example.com", reset(TOKEN)).await;

    let received = smtp.wait_for(1).await;
    let m = &received[0].message;
    assert_eq!(
        m.header("from").unwrap(),
        r#""Acme Accounts" <no-reply@authd.test>"#
    );
    assert_eq!(m.header("to").unwrap(), "alice@example.com");
    assert_eq!(m.header("subject").unwrap(), "Reset your Acme password");
    assert!(
        m.header("message-id")
            .unwrap()
            .contains(&id.simple().to_string())
    );
    let link = format!("https://app.example.com/account?action=password_reset&token={TOKEN}");
    assert!(m.text.contains(&link), "{}", m.text);
    // HTML-escaped, as every variable in the HTML part is.
    assert!(
        m.html.contains("action=password_reset&amp;token="),
        "{}",
        m.html
    );
    let unescaped = m.html.replace("&#x2f;", "/").replace("&amp;", "&");
    assert!(
        unescaped.contains(&format!("href=\"{link}\"")),
        "{}",
        m.html
    );
    let meta = &received[0].meta;
    assert_eq!(meta["tls"], true, "sent after STARTTLS");
    assert_eq!(meta["auth"], USER);
    assert_eq!(meta["mail_from"], "no-reply@authd.test");
    assert_eq!(meta["rcpt_tos"], serde_json::json!(["alice@example.com"]));

    let sent = wait_until(&app, id, |r| r.state == "sent").await;
    assert_eq!(sent.attempts, 1);
    assert!(
        !sent.holds_text(),
        "the text with the link and the address are deleted once sent"
    );
    assert_eq!(
        metric(&app, "authd_mail_sent_total{kind=\"password_reset\"}").await,
        "authd_mail_sent_total{kind=\"password_reset\"} 1"
    );
    assert_eq!(
        metric(&app, "authd_mail_queued_total{kind=\"password_reset\"}").await,
        "authd_mail_queued_total{kind=\"password_reset\"} 1"
    );

    // The sweep keeps the row for email.retention_days, then deletes it.
    authd::cleanup::purge_once(app.services()).await.unwrap();
    assert!(record(&app, id).await.is_some());
    app.advance(8 * 86_400);
    let purged = authd::cleanup::purge_once(app.services()).await.unwrap();
    assert_eq!(purged.mail_messages, 1);
    assert!(record(&app, id).await.is_none());
}

async fn while_smtp_is_down_a_message_waits_with_backoff_and_is_delivered_once_when_it_is_back(
    backend: Backend,
) {
    if !smtp_available() {
        return;
    }
    let mut smtp = SmtpServer::prepare(); // not listening: SMTP is down
    let app = spawn_app_with(backend, |s| smtp.configure(s)).await;
    let svc = app.services();
    let id = queue(&app, None, "bob@example.com", reset(TOKEN)).await;

    let first = wait_until(&app, id, waiting_after(1)).await;
    assert_eq!(first.state, "pending");
    assert_eq!(
        first.next_attempt_at - app.now(),
        chrono::Duration::seconds(30),
        "the first retry waits email.retry_base_ms"
    );
    let waiting = authd::mail::seal::open_record(&svc.refresh, &first).unwrap();
    assert!(
        waiting.message.contains(TOKEN) && waiting.recipient == "bob@example.com",
        "the message waits whole, sealed"
    );
    // Not due before its time: a round of the sender attempts nothing.
    app.advance(29);
    assert_eq!(sender::run_once(svc).await.unwrap(), 0);
    assert_eq!(record(&app, id).await.unwrap().attempts, 1);

    app.advance(1);
    let second = wait_until(&app, id, waiting_after(2)).await;
    assert_eq!(
        second.next_attempt_at - app.now(),
        chrono::Duration::seconds(60),
        "the wait doubles"
    );
    assert_eq!(
        metric(
            &app,
            "authd_mail_attempt_errors_total{kind=\"password_reset\"}"
        )
        .await,
        "authd_mail_attempt_errors_total{kind=\"password_reset\"} 2"
    );
    assert_eq!(
        metric(&app, "authd_mail_outbox_depth").await,
        "authd_mail_outbox_depth 1"
    );

    smtp.run(); // SMTP is back
    app.advance(60);
    let sent = wait_until(&app, id, |r| r.state == "sent").await;
    assert_eq!(sent.attempts, 3);
    assert_eq!(smtp.wait_for(1).await.len(), 1);
    // Sent: nothing is due any more, and nothing is sent again.
    app.advance(3600);
    assert_eq!(sender::run_once(svc).await.unwrap(), 0);
    assert_eq!(smtp.received().len(), 1, "delivered exactly once");
}

async fn a_message_is_given_up_after_max_attempts_with_an_audit_event_and_a_metric(
    backend: Backend,
) {
    // Nothing listens on this port: every attempt fails.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = spawn_app_with(backend, |s| {
        s.email.smtp.host = "127.0.0.1".into();
        s.email.smtp.port = port;
        s.email.max_attempts = 2;
        s.email.poll_interval_ms = 20;
        // Only the message this test queues: no verification link to give up too.
        s.accounts.email_verification = authd::config::Verification::Off;
    })
    .await;
    let email = "carol@example.com";
    assert_eq!(app.register(email).await.status, 201);
    let user = app.user_id(email).await;
    let id = queue(
        &app,
        Some(user),
        email,
        Mail::PasswordChanged { at: app.now() },
    )
    .await;

    wait_until(&app, id, waiting_after(1)).await;
    assert!(
        !app.audit_kinds(user)
            .await
            .contains(&"mail_given_up".to_owned())
    );
    app.advance(30);
    let given_up = wait_until(&app, id, |r| r.state == "given_up").await;
    assert_eq!(given_up.attempts, 2, "given up after email.max_attempts");
    assert!(!given_up.holds_text());
    let events = app.audit_events(user).await;
    let event = events
        .iter()
        .find(|e| e.kind == "mail_given_up")
        .expect("an audit event");
    let detail = event.detail.as_deref().unwrap();
    assert!(detail.contains("kind=password_changed") && detail.contains(&id.to_string()));
    assert_eq!(
        metric(&app, "authd_mail_failed_total{kind=\"password_changed\"}").await,
        "authd_mail_failed_total{kind=\"password_changed\"} 1"
    );
    app.advance(86_400);
    assert_eq!(
        sender::run_once(app.services()).await.unwrap(),
        0,
        "no attempt after"
    );
}

async fn two_instances_on_one_database_send_each_message_exactly_once(backend: Backend) {
    if !smtp_available() {
        return;
    }
    const MESSAGES: usize = 40;
    let smtp = SmtpServer::start();
    let configure = |s: &mut authd::config::Settings| {
        smtp.configure(s);
        s.email.batch_size = 2;
        s.email.poll_interval_ms = 5;
    };
    let app = spawn_app_with(backend, configure).await;
    let sibling = app.spawn_sibling(configure).await;
    // Queued at once, in one transaction: both senders find them together.
    let svc = app.services();
    let mut tx = svc.store.begin().await.unwrap();
    let mut ids = Vec::new();
    for i in 0..MESSAGES {
        let to = Email::parse(&format!("user{i}@example.com")).unwrap();
        ids.push(
            authd::mail::queue(svc, &mut tx, None, &to, &reset(&format!("t{i}")))
                .await
                .unwrap(),
        );
    }
    tx.commit().await.unwrap();
    let claimed = sender::run_once(svc).await.unwrap();
    assert!(
        claimed <= 2,
        "a round claims at most email.batch_size, not {claimed}"
    );
    svc.mail.wake();
    sibling.services().mail.wake();

    for id in &ids {
        wait_until(&app, *id, |r| r.state == "sent").await;
    }
    let received = smtp.wait_for(MESSAGES).await;
    let mut message_ids: Vec<String> = received
        .iter()
        .map(|r| r.message.header("message-id").unwrap())
        .collect();
    message_ids.sort();
    message_ids.dedup();
    assert_eq!(received.len(), MESSAGES, "no message sent twice");
    assert_eq!(message_ids.len(), MESSAGES);
    let sent = |app: &TestApp| {
        let text = app
            .services()
            .metrics
            .render(authd::metrics::Exposure::All, 0, 0, 0, 0);
        text.lines()
            .find_map(|l| l.strip_prefix("authd_mail_sent_total{kind=\"password_reset\"} "))
            .map_or(0, |n| n.parse::<usize>().unwrap())
    };
    let (mine, theirs) = (sent(&app), sent(&sibling));
    assert_eq!(mine + theirs, MESSAGES);
    println!("{backend:?}: {mine} sent by one instance, {theirs} by the other");
}

async fn queueing_inside_a_transaction_that_rolls_back_queues_nothing(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.email.poll_interval_ms = 20).await;
    let svc = app.services();
    let to = Email::parse("dave@example.com").unwrap();
    let mut tx = svc.store.begin().await.unwrap();
    let id = authd::mail::queue(svc, &mut tx, None, &to, &reset(TOKEN))
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    svc.mail.wake();
    assert!(record(&app, id).await.is_none(), "nothing queued");
    assert_eq!(sender::run_once(svc).await.unwrap(), 0, "nothing to send");
    let mail_dir = svc.settings.data_path("mail");
    assert!(!mail_dir.exists() || std::fs::read_dir(&mail_dir).unwrap().next().is_none());

    // The same, committed, is queued and written (no SMTP: a file).
    let mut tx = svc.store.begin().await.unwrap();
    let id = authd::mail::queue(svc, &mut tx, None, &to, &reset(TOKEN))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    svc.mail.wake();
    wait_until(&app, id, |r| r.state == "sent").await;
    assert_eq!(std::fs::read_dir(&mail_dir).unwrap().count(), 1);
}

async fn send_budgets_per_recipient_hold_across_instances_and_per_ip_answers_retry_after(
    backend: Backend,
) {
    use actix_web::ResponseError;
    use authd::mail::MailKind;
    let configure = |s: &mut authd::config::Settings| {
        s.email.per_recipient_limit = 2;
        s.email.per_recipient_total_limit = 3;
        s.email.per_ip_limit = 2;
    };
    let app = spawn_app_with(backend, configure).await;
    let sibling = app.spawn_sibling(configure).await;
    sibling.clock.set(app.now());
    let meta = |ip: &str| authd::audit::RequestMeta {
        ip: Some(ip.to_owned()),
        user_agent: None,
    };
    /// Counts one message in a transaction of its own, as a flow does.
    async fn admit(
        app: &TestApp,
        kind: MailKind,
        to: &str,
        meta: &authd::audit::RequestMeta,
    ) -> bool {
        let svc = app.services();
        let mut tx = svc.store.begin().await.unwrap();
        let to = Email::parse(to).unwrap();
        let admitted = authd::mail::admit(svc, &mut tx, kind, &to, meta)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        admitted
    }
    let reset = MailKind::PasswordReset;
    let (a, b, c) = (meta("203.0.113.7"), meta("198.51.100.1"), meta("192.0.2.9"));
    let erin = "erin@example.com";
    // One client's budget for a recipient, on either instance.
    assert!(admit(&app, reset, erin, &a).await);
    assert!(admit(&sibling, reset, erin, &a).await);
    assert!(
        !admit(&app, reset, erin, &a).await,
        "client a's budget is spent"
    );
    // Another client still has its own, up to the total for the recipient.
    assert!(admit(&sibling, reset, erin, &b).await);
    assert!(!admit(&app, reset, erin, &c).await, "the total is spent");
    // Another kind, another recipient: budgets of their own.
    assert!(admit(&app, MailKind::OtpCode, erin, &a).await);
    assert!(admit(&app, reset, "frank@example.com", &a).await);
    let dropped = app
        .services()
        .metrics
        .mail
        .dropped
        .with_label_values(&[reset.as_str()])
        .get();
    assert_eq!(dropped, 2, "each drop is counted");

    // A message refused by the total is not counted for its client: once
    // the total's window ends, c has its whole budget (its own window,
    // begun at its refusal, has not ended).
    app.advance(1800);
    let dan = "dan@example.com";
    assert!(admit(&app, reset, dan, &a).await);
    assert!(admit(&app, reset, dan, &b).await);
    assert!(admit(&app, reset, dan, &a).await);
    app.advance(1800);
    assert!(!admit(&app, reset, dan, &c).await, "the total is spent");
    app.advance(1800);
    assert!(admit(&app, reset, dan, &c).await);
    assert!(
        admit(&app, reset, dan, &c).await,
        "c's refusal was not counted"
    );
    assert!(!admit(&app, reset, dan, &c).await);
    // And a window that ended starts again.
    app.advance(3600);
    assert!(admit(&app, reset, erin, &a).await);

    // Per client IP, in this instance's memory, before the answer.
    let ip = meta("203.0.113.70");
    let svc = app.services();
    for _ in 0..2 {
        authd::mail::check_client_limit(svc, &ip).unwrap();
    }
    app.advance(600);
    let error = authd::mail::check_client_limit(svc, &ip).unwrap_err();
    assert!(
        matches!(
            error,
            authd::error::ServiceError::SendLimited {
                retry_after_secs: 3000
            }
        ),
        "{error:?}"
    );
    authd::mail::check_client_limit(svc, &meta("203.0.113.71")).unwrap();
    // What an endpoint answers with it: 429 too_many_requests, Retry-After.
    let response = authd::http::error::ApiError::from(error).error_response();
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers().get("retry-after").unwrap(), "3000");
}

async fn a_backlog_of_several_batches_is_sent_without_waiting_for_the_next_poll(backend: Backend) {
    // No SMTP: files. A poll longer than the test may wait: only the wake-up
    // and the sender's own going on can send the backlog.
    let app = spawn_app_with(backend, |s| {
        s.email.batch_size = 2;
        s.email.poll_interval_ms = 60_000;
    })
    .await;
    let svc = app.services();
    let mut tx = svc.store.begin().await.unwrap();
    let mut ids = Vec::new();
    for i in 0..7 {
        let to = Email::parse(&format!("backlog{i}@example.com")).unwrap();
        ids.push(
            authd::mail::queue(svc, &mut tx, None, &to, &reset(&format!("t{i}")))
                .await
                .unwrap(),
        );
    }
    tx.commit().await.unwrap();
    svc.mail.wake(); // once, as a flow does after its commit
    for id in ids {
        wait_until(&app, id, |r| r.state == "sent").await;
    }
}
