//! The account lockout under concurrency (issue 10, items 1 and 2): guesses
//! sent at once, on one instance or two sharing a database, check at most the
//! policy's number of passwords; wrong current passwords at password change
//! count on the same counters as failed logins.

use serde_json::json;

use crate::helpers::{Backend, PASSWORD, TestApp, spawn_app};
use crate::on_both_stores;

on_both_stores!(
    concurrent_wrong_passwords_check_at_most_the_account_limit,
    two_instances_on_one_database_share_the_account_limit,
    wrong_current_passwords_at_password_change_lock_the_account_like_failed_logins,
);

/// The default `limits.login_account_failures`.
const LIMIT: usize = 5;

/// Sends `n` wrong logins for `email` at once to each app; the statuses.
async fn guesses_at_once(apps: &[&TestApp], email: &str, n: usize) -> Vec<u16> {
    let sends = apps.iter().flat_map(|app| {
        (0..n).map(move |i| async move {
            app.try_login(email, &format!("wrong guess number {i}"))
                .await
                .status
        })
    });
    futures_util::future::join_all(sends).await
}

fn count(statuses: &[u16], status: u16) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}

async fn concurrent_wrong_passwords_check_at_most_the_account_limit(backend: Backend) {
    let app = spawn_app(backend).await;
    let (email, _) = app.user_with_tokens().await;
    let runs_before = app.services().hasher.runs();
    let statuses = guesses_at_once(&[&app], &email, 40).await;
    let checked = app.services().hasher.runs() - runs_before;
    assert_eq!(
        count(&statuses, 401) + count(&statuses, 429),
        40,
        "{statuses:?}"
    );
    // Exactly the limit: fewer would mean attempts refused before the
    // account was locked out, more that guesses walked past the lockout.
    assert_eq!(
        count(&statuses, 401),
        LIMIT,
        "concurrent guesses checked: {statuses:?}"
    );
    assert_eq!(checked, LIMIT as u64, "Argon2id runs");
    // Locked out now: the right password is refused too.
    assert_eq!(app.try_login(&email, PASSWORD).await.status, 429);
}

async fn two_instances_on_one_database_share_the_account_limit(backend: Backend) {
    let a = spawn_app(backend).await;
    let b = a.spawn_sibling(|_| {}).await;
    let (email, _) = a.user_with_tokens().await;
    let statuses = guesses_at_once(&[&a, &b], &email, 20).await;
    assert_eq!(
        count(&statuses, 401),
        LIMIT,
        "guesses over two instances checked: {statuses:?}"
    );
    assert_eq!(count(&statuses, 429), 40 - LIMIT, "{statuses:?}");
    assert_eq!(b.try_login(&email, PASSWORD).await.status, 429);
}

async fn wrong_current_passwords_at_password_change_lock_the_account_like_failed_logins(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let (email, tokens) = app.user_with_tokens().await;
    let change = |current: String| {
        let app = &app;
        let access = tokens.access.clone();
        async move {
            app.send(
                app.client
                    .post(app.url("/auth/password"))
                    .bearer_auth(access)
                    .json(&json!({
                        "current_password": current,
                        "new_password": "an entirely new passphrase 77",
                    })),
            )
            .await
        }
    };
    for i in 0..LIMIT {
        let reply = change(format!("not my password {i}")).await;
        assert_eq!(reply.status, 401, "{}", reply.text);
        assert_eq!(reply.error(), "invalid_credentials");
    }
    // The account is locked out: the right current password is not even
    // checked, and neither is a login.
    let locked = change(PASSWORD.to_owned()).await;
    assert_eq!(locked.status, 429, "{}", locked.text);
    assert!(locked.header("retry-after").is_some());
    assert_eq!(app.try_login(&email, PASSWORD).await.status, 429);
    // Once the lockout is over, the owner changes the password.
    app.advance(61);
    assert_eq!(change(PASSWORD.to_owned()).await.status, 204);
}
