//! The send budgets (`mail::limits`), through the real endpoints and the
//! real mail: a budget per kind of message, per recipient and client, spent
//! only by messages really sent, and over it the message dropped while the
//! answer stays that of any other request; a request refused for a full
//! background runner spends nothing; an admin's invitation spends the
//! address's reset budget, as a reset link does.

use serde_json::json;

use crate::helpers::{Backend, Reply, TestApp, spawn_app_with};
use crate::on_both_stores;

on_both_stores!(
    resends_for_a_verified_address_spend_nothing_and_its_reset_is_still_delivered,
    a_kinds_spent_budget_blocks_neither_another_kind_nor_the_answer,
    a_strangers_requests_from_one_network_spend_only_that_networks_budget,
    a_request_refused_by_a_full_background_runner_spends_no_limit_or_budget,
    an_admins_invitation_spends_the_reset_budget,
);

fn new_email() -> String {
    format!("budget-{}@example.com", uuid::Uuid::new_v4().simple())
}

/// Budgets of 2 for every recipient: 2 from one client, 2 in all.
fn budget_of_two(s: &mut authd::config::Settings) {
    s.email.per_recipient_limit = 2;
    s.email.per_recipient_total_limit = 2;
    s.server.trusted_proxies = vec!["127.0.0.1".into()];
    s.accounts.otp_enabled = true;
}

/// The sends of `kind` counted in `mail_send_counts`, every recipient and
/// client together, read from the database itself.
async fn counted(app: &TestApp, backend: Backend, kind: &str) -> i64 {
    use sqlx::Connection;
    let sql = "SELECT CAST(COALESCE(SUM(count), 0) AS BIGINT) FROM mail_send_counts \
               WHERE key LIKE $1";
    let pattern = format!("send:{kind}:%");
    match backend {
        Backend::Postgres => {
            let mut c = sqlx::PgConnection::connect(app.database_url())
                .await
                .unwrap();
            sqlx::query_scalar(sql)
                .bind(pattern)
                .fetch_one(&mut c)
                .await
                .unwrap()
        }
        Backend::Sqlite => {
            let mut c = sqlx::SqliteConnection::connect(app.database_url())
                .await
                .unwrap();
            sqlx::query_scalar(sql)
                .bind(pattern)
                .fetch_one(&mut c)
                .await
                .unwrap()
        }
    }
}

/// `POST path {email}` from client `ip` (through the trusted proxy).
async fn ask(app: &TestApp, path: &str, email: &str, ip: &str) -> Reply {
    app.send(
        app.client
            .post(app.url(path))
            .header("x-forwarded-for", ip)
            .json(&json!({ "email": email })),
    )
    .await
}

/// What a caller can compare between two answers.
fn visible(reply: &Reply) -> (u16, String) {
    (reply.status, reply.text.clone())
}

fn of_kind(app: &TestApp, to: &str, kind: &str) -> usize {
    app.mail_to(to)
        .iter()
        .filter(|m| m.action().as_deref() == Some(kind))
        .count()
}

fn otp_codes(app: &TestApp, to: &str) -> usize {
    app.mail_to(to)
        .iter()
        .filter(|m| m.subject.contains("code"))
        .count()
}

const FORGOT: &str = "/auth/password/forgot";
const RESEND: &str = "/auth/email/verify/resend";
const OTP: &str = "/auth/otp/start";
const HOME: &str = "198.51.100.7";

async fn resends_for_a_verified_address_spend_nothing_and_its_reset_is_still_delivered(
    backend: Backend,
) {
    let app = spawn_app_with(backend, budget_of_two).await;
    let email = new_email();
    app.register(&email).await;
    let link = app.wait_for_action(&email, "verify_email").await;
    let verified = app
        .post_json("/auth/email/verify", &json!({ "token": link.link_token() }))
        .await;
    assert_eq!(verified.status, 200, "{}", verified.text);
    app.settled().await;
    let before = counted(&app, backend, "verify_email").await;
    assert!(before > 0, "the registration's link was counted");
    for _ in 0..3 {
        let reply = ask(&app, RESEND, &email, HOME).await;
        assert_eq!(reply.status, 202, "{}", reply.text);
    }
    app.settled().await;
    assert_eq!(
        counted(&app, backend, "verify_email").await,
        before,
        "resends that send nothing spend nothing"
    );
    let reply = ask(&app, FORGOT, &email, HOME).await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    app.wait_for_action(&email, "password_reset").await;
    app.settled().await;
    assert_eq!(of_kind(&app, &email, "verify_email"), 1, "nothing resent");
}

async fn a_kinds_spent_budget_blocks_neither_another_kind_nor_the_answer(backend: Backend) {
    let app = spawn_app_with(backend, budget_of_two).await;
    let (email, unknown) = (new_email(), new_email());
    app.register(&email).await; // its verification link: one of two
    for _ in 0..3 {
        let known = ask(&app, RESEND, &email, HOME).await;
        let other = ask(&app, RESEND, &unknown, HOME).await;
        assert_eq!(known.status, 202, "{}", known.text);
        assert_eq!(visible(&known), visible(&other), "answered alike");
    }
    app.settled().await;
    assert_eq!(
        of_kind(&app, &email, "verify_email"),
        2,
        "the link at registration and one resend; the rest dropped"
    );
    let dropped = app
        .services()
        .metrics
        .mail
        .dropped
        .with_label_values(&["verify_email"])
        .get();
    assert_eq!(dropped, 2, "each dropped message is counted");
    // The verification budget is spent; a reset and a login code are not.
    assert_eq!(ask(&app, FORGOT, &email, HOME).await.status, 202);
    assert_eq!(ask(&app, OTP, &email, HOME).await.status, 202);
    app.wait_for_action(&email, "password_reset").await;
    app.settled().await;
    assert_eq!(otp_codes(&app, &email), 1, "the login code was sent");
}

async fn a_strangers_requests_from_one_network_spend_only_that_networks_budget(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        budget_of_two(s);
        s.email.per_recipient_total_limit = 3;
        s.accounts.email_verification = authd::config::Verification::Off;
    })
    .await;
    let (email, unknown) = (new_email(), new_email());
    app.register(&email).await;
    // A stranger rotating addresses inside one /64: that /64's budget of 2.
    for ip in [
        "2001:db8:1:2::1",
        "2001:db8:1:2::beef",
        "2001:db8:1:2:ffff::7",
    ] {
        let known = ask(&app, FORGOT, &email, ip).await;
        let other = ask(&app, FORGOT, &unknown, ip).await;
        assert_eq!(known.status, 202, "{}", known.text);
        assert_eq!(visible(&known), visible(&other), "answered alike");
    }
    app.settled().await;
    assert_eq!(of_kind(&app, &email, "password_reset"), 2);
    // The owner, from home: their own budget, within the total of 3.
    assert_eq!(ask(&app, FORGOT, &email, HOME).await.status, 202);
    app.settled().await;
    assert_eq!(
        of_kind(&app, &email, "password_reset"),
        3,
        "the owner's reset"
    );
    // The total is the looser cap: from another /64, nothing more is sent.
    let known = ask(&app, FORGOT, &email, "2001:db8:1:3::1").await;
    assert_eq!(
        visible(&known),
        visible(&ask(&app, FORGOT, &unknown, "2001:db8:1:3::1").await)
    );
    app.settled().await;
    assert_eq!(of_kind(&app, &email, "password_reset"), 3);
}

async fn a_request_refused_by_a_full_background_runner_spends_no_limit_or_budget(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        budget_of_two(s);
        s.email.per_recipient_limit = 1;
        s.email.per_recipient_total_limit = 1;
        s.email.per_ip_limit = 1;
        s.accounts.email_verification = authd::config::Verification::Off;
    })
    .await;
    let email = new_email();
    app.register(&email).await;
    // Every place of the runner held by a task waiting on the test.
    let (release, hold) = tokio::sync::watch::channel(false);
    let runner = &app.services().background;
    for _ in 0..authd::background::MAX_IN_FLIGHT {
        let mut hold = hold.clone();
        runner
            .spawn("test", async move {
                let _ = hold.wait_for(|released| *released).await;
                Ok(())
            })
            .unwrap();
    }
    for path in [FORGOT, OTP] {
        let reply = ask(&app, path, &email, HOME).await;
        assert_eq!(reply.status, 503, "{path}: {}", reply.text);
        assert_eq!(reply.error(), "temporarily_unavailable", "{path}");
    }
    release.send(true).unwrap();
    app.settled().await;
    // The client's one request, and the recipient's one reset, are whole.
    let reply = ask(&app, FORGOT, &email, HOME).await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    app.wait_for_action(&email, "password_reset").await;
    // And the recipient's one login code (its total of 1 is not spent), asked
    // from another client, whose own limit is whole too.
    let reply = ask(&app, OTP, &email, "198.51.100.8").await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    app.settled().await;
    assert_eq!(otp_codes(&app, &email), 1, "the login code was sent");
}

async fn an_admins_invitation_spends_the_reset_budget(backend: Backend) {
    use crate::admin::{WRITE, admin_send};
    let app = spawn_app_with(backend, budget_of_two).await;
    let writer = app.create_client("desk", WRITE).await;
    let email = new_email();
    let invite = json!({ "email": email, "send_invitation": true });
    let created = admin_send(&app, "POST", "/admin/users", &writer, Some(&invite)).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let invitation = app.wait_for_action(&email, "password_reset").await;
    assert!(
        invitation.subject.contains("invited"),
        "{}",
        invitation.subject
    );
    app.settled().await;
    // Counted twice, as every message: to the recipient from this client,
    // and in all.
    let one = counted(&app, backend, "password_reset").await;
    assert!(one > 0, "the invitation was counted as a reset link");
    let user = app.user_id(&email).await;
    // One reset link more spends the budget of two.
    let reset = format!("/admin/users/{user}/password_reset");
    let sent = admin_send(&app, "POST", &reset, &writer, None).await;
    assert_eq!(sent.status, 202, "{}", sent.text);
    app.settled().await;
    assert_eq!(counted(&app, backend, "password_reset").await, 2 * one);

    // Erased and made again with an invitation: the account is made, the
    // invitation is not sent, and the audit event says so.
    let erased = admin_send(
        &app,
        "DELETE",
        &format!("/admin/users/{user}"),
        &writer,
        None,
    )
    .await;
    assert_eq!(erased.status, 204, "{}", erased.text);
    let again = admin_send(&app, "POST", "/admin/users", &writer, Some(&invite)).await;
    assert_eq!(again.status, 201, "{}", again.text);
    app.settled().await;
    assert_eq!(counted(&app, backend, "password_reset").await, 2 * one);
    let user = app.user_id(&email).await;
    let events = app.audit_events(user).await;
    let event = events
        .iter()
        .find(|e| e.kind == "user_created")
        .expect("audited");
    assert!(
        event
            .detail
            .as_deref()
            .is_some_and(|d| d.contains("invitation not sent")),
        "{:?}",
        event.detail
    );
}
