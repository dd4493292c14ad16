//! What a reset costs before it is refused (issue 16, item 5): a link issued
//! before a password change is ended by it and refused before any password
//! is hashed, and the client's tries are limited in memory before any
//! database work.

use serde_json::json;

use super::{NEW_PASSWORD, ask, assert_refused, by_code, by_link, code_of, new_email};
use crate::helpers::{Backend, PASSWORD, TestApp, spawn_app_with};
use crate::on_both_stores;

on_both_stores!(
    a_stale_link_submitted_50_times_runs_no_hash,
    a_password_change_ends_the_pending_reset_verification_and_email_change_links,
    past_the_clients_limit_a_reset_answers_429_and_changes_nothing,
);

/// `authd_password_hash_runs_total`, read from `/metrics` on the test's own
/// metrics listener (set by the test).
async fn hash_runs(app: &TestApp) -> u64 {
    let metrics = app.metrics_address.clone().expect("metrics.listen is set");
    let reply = app.send(app.client.get(format!("{metrics}/metrics"))).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply
        .text
        .lines()
        .find_map(|l| l.strip_prefix("authd_password_hash_runs_total "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no hash runs in\n{}", reply.text))
}

async fn change_password(app: &TestApp, access: &str) {
    let changed = app
        .send(
            app.client
                .post(app.url("/auth/password"))
                .bearer_auth(access)
                .json(&json!({
                    "current_password": PASSWORD,
                    "new_password": "another passphrase, long enough",
                })),
        )
        .await;
    assert_eq!(changed.status, 204, "{}", changed.text);
}

/// Whether the link token `token` of `purpose` is live in the database.
async fn live(app: &TestApp, purpose: &str, token: &str) -> bool {
    let hash = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
    let mut conn = app.store().conn().await.unwrap();
    authd::store::account_tokens::find_live_by_hash(&mut conn, purpose, hash.as_ref(), app.now())
        .await
        .unwrap()
        .is_some()
}

async fn a_stale_link_submitted_50_times_runs_no_hash(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.metrics.listen = Some("127.0.0.1:0".into());
    })
    .await;
    let email = new_email();
    app.register(&email).await;
    let tokens = app.login_body(&email).await;
    let mail = ask(&app, &email).await;
    change_password(&app, &tokens.access).await;
    let before = hash_runs(&app).await;
    for _ in 0..50 {
        assert_refused(
            &by_link(&app, &mail.link_token(), NEW_PASSWORD).await,
            "invalid_account_token",
        );
    }
    assert_eq!(
        hash_runs(&app).await - before,
        0,
        "a stale link is refused before the new password is hashed"
    );
    // A live link still hashes (the counter does count).
    let fresh = ask(&app, &email).await;
    assert_eq!(
        by_link(&app, &fresh.link_token(), NEW_PASSWORD)
            .await
            .status,
        204
    );
    assert_eq!(hash_runs(&app).await - before, 1);
}

async fn a_password_change_ends_the_pending_reset_verification_and_email_change_links(
    backend: Backend,
) {
    // Verification sends a link at registration.
    let app = spawn_app_with(backend, |s| {
        s.accounts.email_verification = authd::config::Verification::Send;
    })
    .await;
    let email = new_email();
    app.register(&email).await;
    let verification = app.wait_for_action(&email, "verify_email").await;
    let tokens = app.login_body(&email).await;
    let new_address = new_email();
    let change = app
        .send(
            app.client
                .post(app.url("/auth/email/change"))
                .bearer_auth(&tokens.access)
                .json(&json!({ "new_email": new_address, "current_password": PASSWORD })),
        )
        .await;
    assert_eq!(change.status, 202, "{}", change.text);
    let confirmation = app
        .wait_for_action(&new_address, "email_change_confirm")
        .await;
    let reset = ask(&app, &email).await;
    let links = [
        ("verify_email", verification.link_token()),
        ("email_change", confirmation.link_token()),
        ("password_reset", reset.link_token()),
    ];
    for (purpose, token) in &links {
        assert!(live(&app, purpose, token).await, "{purpose} is live before");
    }

    change_password(&app, &tokens.access).await;

    for (purpose, token) in &links {
        assert!(
            !live(&app, purpose, token).await,
            "the password change ended the {purpose} link"
        );
    }
    assert_refused(
        &by_link(&app, &reset.link_token(), NEW_PASSWORD).await,
        "invalid_account_token",
    );
    let verify = app
        .post_json(
            "/auth/email/verify",
            &json!({ "token": verification.link_token() }),
        )
        .await;
    assert_eq!(verify.status, 400, "{}", verify.text);
    let confirm = app
        .post_json(
            "/auth/email/change/confirm",
            &json!({ "token": confirmation.link_token() }),
        )
        .await;
    assert_eq!(confirm.status, 400, "{}", confirm.text);
}

async fn past_the_clients_limit_a_reset_answers_429_and_changes_nothing(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.limits.code_per_ip = 2;
        s.limits.code_window_secs = 60;
        s.accounts.code_attempts = 3;
    })
    .await;
    let email = new_email();
    app.register(&email).await;
    let user = app.user_id(&email).await;
    let mail = ask(&app, &email).await;
    let right = code_of(&app, &mail);
    let wrong = "0".repeat(right.len());
    let wrong = if wrong == right {
        "1".repeat(right.len())
    } else {
        wrong
    };
    for _ in 0..2 {
        assert_refused(
            &by_code(&app, &email, &wrong, NEW_PASSWORD).await,
            "invalid_account_token",
        );
    }
    let audited = app.audit_kinds(user).await;
    let limited = by_code(&app, &email, &wrong, NEW_PASSWORD).await;
    assert_eq!(
        (limited.status, limited.error()),
        (429, "too_many_requests"),
        "{}",
        limited.text
    );
    assert!(limited.header("retry-after").is_some());
    let by_link_too = by_link(&app, &mail.link_token(), NEW_PASSWORD).await;
    assert_eq!(
        by_link_too.status, 429,
        "links count too: {}",
        by_link_too.text
    );
    assert_eq!(
        app.audit_kinds(user).await,
        audited,
        "nothing was recorded past the limit"
    );
    // The refused try was not counted against the code (3 tries, 2 used):
    // once the window is over, the right code still works.
    app.advance(60);
    let reply = by_code(&app, &email, &right, NEW_PASSWORD).await;
    assert_eq!(reply.status, 204, "{}", reply.text);
}
