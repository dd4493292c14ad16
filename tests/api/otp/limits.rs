//! The limits of code sign-in (issue 16, item 5): codes of 8 digits, a
//! code's own tries met before any lockout, wrong codes that never lock the
//! password login, the address's tries of the day that a password login does
//! not clear, and the client's tries limited in memory before any database
//! work.

use super::{app_with, code_for, other_than, registered, verify};
use crate::helpers::{Backend, PASSWORD};
use crate::on_both_stores;

on_both_stores!(
    a_login_code_has_eight_digits_by_default,
    after_a_codes_tries_the_right_code_is_refused_as_dead_and_nothing_is_locked,
    past_the_days_code_tries_codes_are_refused_and_a_password_login_does_not_clear_them,
    past_the_clients_limit_verify_answers_429_and_changes_nothing,
    the_cleanup_forgets_a_days_code_tries_only_once_the_day_is_over,
);

async fn a_login_code_has_eight_digits_by_default(backend: Backend) {
    let app = app_with(backend, |_| {}).await;
    assert_eq!(app.services().settings.accounts.otp_digits, 8);
    let email = registered(&app).await;
    let code = code_for(&app, &email).await;
    assert_eq!(code.len(), 8, "{code}");
    assert!(code.bytes().all(|b| b.is_ascii_digit()));
    assert_eq!(verify(&app, &email, &code, "body").await.status, 200);
}

async fn after_a_codes_tries_the_right_code_is_refused_as_dead_and_nothing_is_locked(
    backend: Backend,
) {
    // The defaults: accounts.code_attempts and limits.login_account_failures
    // are both 5.
    let app = app_with(backend, |_| {}).await;
    let attempts = app.services().settings.accounts.code_attempts;
    let email = registered(&app).await;
    let code = code_for(&app, &email).await;
    for _ in 0..attempts {
        let reply = verify(&app, &email, &other_than(&code), "body").await;
        assert_eq!(reply.status, 401, "{}", reply.text);
    }
    let dead = verify(&app, &email, &code, "body").await;
    assert_eq!(
        (dead.status, dead.error()),
        (401, "invalid_credentials"),
        "the code is dead, and says so (not 429): {}",
        dead.text
    );
    // The password login is not locked, and a new code works at once (in
    // this order: a code sign-in that first proves the address withdraws the
    // registration's password).
    assert_eq!(app.try_login(&email, PASSWORD).await.status, 200);
    let fresh = code_for(&app, &email).await;
    let reply = verify(&app, &email, &fresh, "body").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
}

async fn past_the_days_code_tries_codes_are_refused_and_a_password_login_does_not_clear_them(
    backend: Backend,
) {
    let app = app_with(backend, |s| {
        s.limits.code_tries_per_day = 3;
        s.accounts.code_attempts = 10;
    })
    .await;
    let email = registered(&app).await;
    let unknown = format!("nobody-{}@example.com", uuid::Uuid::new_v4().simple());
    let code = code_for(&app, &email).await;
    for address in [&email, &unknown] {
        for _ in 0..3 {
            let reply = verify(&app, address, &other_than(&code), "body").await;
            assert_eq!(reply.status, 401, "{}", reply.text);
        }
    }
    // The owner signs in with the password: the code count stays.
    assert_eq!(app.try_login(&email, PASSWORD).await.status, 200);
    for address in [&email, &unknown] {
        let refused = verify(&app, address, &code, "body").await;
        assert_eq!(
            (refused.status, refused.error()),
            (429, "too_many_requests"),
            "the right code is not even tried: {}",
            refused.text
        );
        let retry: i64 = refused.header("retry-after").unwrap().parse().unwrap();
        assert!((86_000..=86_400).contains(&retry), "{retry}");
    }
    // A day later the count starts again.
    app.advance(86_400);
    let code = code_for(&app, &email).await;
    let reply = verify(&app, &email, &code, "body").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
}

async fn past_the_clients_limit_verify_answers_429_and_changes_nothing(backend: Backend) {
    let app = app_with(backend, |s| {
        s.limits.code_per_ip = 2;
        s.limits.code_window_secs = 60;
        s.accounts.code_attempts = 3;
    })
    .await;
    let email = registered(&app).await;
    let user = app.user_id(&email).await;
    let code = code_for(&app, &email).await;
    for _ in 0..2 {
        assert_eq!(
            verify(&app, &email, &other_than(&code), "body")
                .await
                .status,
            401
        );
    }
    let audited = app.audit_kinds(user).await;
    let limited = verify(&app, &email, &other_than(&code), "body").await;
    assert_eq!(
        (limited.status, limited.error()),
        (429, "too_many_requests"),
        "{}",
        limited.text
    );
    assert!(limited.header("retry-after").is_some());
    assert_eq!(app.audit_kinds(user).await, audited, "nothing recorded");
    // The refused try was not counted against the code (3 tries, 2 used).
    app.advance(60);
    let reply = verify(&app, &email, &code, "body").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
}

async fn the_cleanup_forgets_a_days_code_tries_only_once_the_day_is_over(backend: Backend) {
    let app = app_with(backend, |_| {}).await;
    let email = registered(&app).await;
    assert_eq!(verify(&app, &email, "12345678", "body").await.status, 401);
    let purged = authd::cleanup::purge_once(app.services()).await.unwrap();
    assert_eq!(purged.code_try_counts, 0, "the day is not over");
    app.advance(86_400);
    let purged = authd::cleanup::purge_once(app.services()).await.unwrap();
    assert_eq!(purged.code_try_counts, 1);
}
