//! How the sender's SMTP connection is secured, against a real server
//! (`helpers::smtp`): a message goes over implicit TLS (port 465 style) with
//! AUTH; with `email.smtp.tls = "starttls"`, a server that does not offer
//! STARTTLS gets nothing, not even the AUTH command, and the message waits to
//! be retried; a server whose certificate authd does not trust (no
//! `email.smtp.ca_file`) gets nothing either, in either TLS mode.
//!
//! Nothing here depends on the store, but the outbox the sender reads does,
//! so each test runs on both.

use authd::config::SmtpTls;

use crate::helpers::smtp::{ServerTls, SmtpServer, USER, smtp_available};
use crate::helpers::{Backend, spawn_app_with};
use crate::mail::{TOKEN, queue, reset, wait_until, waiting_after};
use crate::on_both_stores;

on_both_stores!(
    a_message_is_delivered_over_implicit_tls_with_auth,
    a_server_without_starttls_gets_nothing_in_plaintext_and_the_message_is_retried,
    a_server_whose_certificate_is_not_trusted_gets_nothing,
);

async fn a_message_is_delivered_over_implicit_tls_with_auth(backend: Backend) {
    if !smtp_available() {
        return;
    }
    let smtp = SmtpServer::start_with(ServerTls::Implicit);
    let app = spawn_app_with(backend, |s| {
        smtp.configure(s);
        assert_eq!(s.email.smtp.tls, SmtpTls::Implicit);
    })
    .await;
    let id = queue(&app, None, "grace@example.com", reset(TOKEN)).await;

    let received = smtp.wait_for(1).await;
    let meta = &received[0].meta;
    assert_eq!(meta["tls"], true, "TLS from the first byte");
    assert_eq!(meta["auth"], USER);
    assert_eq!(meta["rcpt_tos"], serde_json::json!(["grace@example.com"]));
    assert!(received[0].message.text.contains(TOKEN));
    let sent = wait_until(&app, id, |r| r.state == "sent").await;
    assert_eq!(sent.attempts, 1);
    let attempts = smtp.auth_attempts();
    assert!(!attempts.is_empty(), "authd authenticated");
    assert!(attempts.iter().all(|a| a.tls && a.ok), "{attempts:?}");
}

async fn a_server_without_starttls_gets_nothing_in_plaintext_and_the_message_is_retried(
    backend: Backend,
) {
    if !smtp_available() {
        return;
    }
    // Takes AUTH and mail in plaintext: whatever authd sent would show.
    let smtp = SmtpServer::start_with(ServerTls::None);
    let app = spawn_app_with(backend, |s| {
        smtp.configure(s);
        s.email.smtp.tls = SmtpTls::Starttls;
    })
    .await;
    let id = queue(&app, None, "heidi@example.com", reset(TOKEN)).await;

    let first = wait_until(&app, id, waiting_after(1)).await;
    assert_eq!(first.state, "pending");
    let sealed = authd::mail::seal::open_record(&app.services().refresh, &first).unwrap();
    assert!(sealed.message.contains(TOKEN), "the message waits whole");
    let error = first.last_error.as_deref().unwrap();
    assert!(error.contains("STARTTLS"), "{error}");
    // Retried when due, and refused the same way.
    app.advance(30);
    let second = wait_until(&app, id, waiting_after(2)).await;
    assert_eq!(second.state, "pending");

    assert_eq!(smtp.received().len(), 0, "no message sent in plaintext");
    let attempts = smtp.auth_attempts();
    assert!(
        attempts.is_empty(),
        "no AUTH sent in plaintext: {attempts:?}"
    );
}

async fn a_server_whose_certificate_is_not_trusted_gets_nothing(backend: Backend) {
    if !smtp_available() {
        return;
    }
    for tls in [ServerTls::Implicit, ServerTls::Starttls] {
        let smtp = SmtpServer::start_with(tls);
        // The test CA is not among the system's roots: without ca_file the
        // server's certificate chains to nothing authd trusts.
        let app = spawn_app_with(backend, |s| {
            smtp.configure(s);
            s.email.smtp.ca_file = None;
        })
        .await;
        let id = queue(&app, None, "ivan@example.com", reset(TOKEN)).await;

        let waiting = wait_until(&app, id, waiting_after(1)).await;
        assert_eq!(waiting.state, "pending", "{tls:?}");
        assert!(
            authd::mail::seal::open_record(&app.services().refresh, &waiting)
                .is_ok_and(|m| m.message.contains(TOKEN)),
            "{tls:?}: the message waits whole"
        );
        let error = waiting.last_error.as_deref().unwrap();
        assert!(error.contains("certificate"), "{tls:?}: {error}");
        assert_eq!(smtp.received().len(), 0, "{tls:?}: nothing delivered");
        let attempts = smtp.auth_attempts();
        assert!(attempts.is_empty(), "{tls:?}: no AUTH sent: {attempts:?}");
    }
}
