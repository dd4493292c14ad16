//! The account lockout under concurrency (issue 10, items 1 and 2): guesses
//! sent at once, on one instance or two sharing a database, check at most the
//! policy's number of passwords; wrong current passwords at password change
//! count on the same counters as failed logins. And (issue 16, item 5) the
//! strict count is per account and client: a stranger's failures from one
//! network do not lock the owner out from another, while the looser
//! account-wide count still stops a guesser spread over many networks.

use serde_json::json;

use crate::helpers::{Backend, PASSWORD, Reply, TestApp, spawn_app, spawn_app_with};
use crate::on_both_stores;

on_both_stores!(
    concurrent_wrong_passwords_check_at_most_the_account_limit,
    two_instances_on_one_database_share_the_account_limit,
    wrong_current_passwords_at_password_change_lock_the_account_like_failed_logins,
    a_strangers_failures_from_one_network_do_not_lock_the_owner_out_from_another,
    the_account_wide_count_still_stops_a_guesser_spread_over_many_networks,
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

/// A login from `ip`, as the trusted proxy in front of authd reports it.
async fn login_from(app: &TestApp, ip: &str, email: &str, password: &str) -> Reply {
    app.send(
        app.client
            .post(app.url("/auth/login"))
            .header("x-forwarded-for", ip)
            .json(&json!({ "email": email, "password": password })),
    )
    .await
}

async fn a_strangers_failures_from_one_network_do_not_lock_the_owner_out_from_another(
    backend: Backend,
) {
    let app = spawn_app_with(backend, |s| {
        s.server.trusted_proxies = vec!["127.0.0.1".into()];
        s.accounts.otp_enabled = true;
    })
    .await;
    let (email, _) = app.user_with_tokens().await;
    let stranger = "203.0.113.7";
    for i in 0..2 * LIMIT {
        let reply = login_from(&app, stranger, &email, &format!("wrong guess {i}")).await;
        let expected = if i < LIMIT { 401 } else { 429 };
        assert_eq!(reply.status, expected, "guess {i}: {}", reply.text);
    }
    for i in 0..2 * LIMIT {
        let reply = app
            .send(
                app.client
                    .post(app.url("/auth/otp/verify"))
                    .header("x-forwarded-for", stranger)
                    .json(&json!({ "email": email, "code": format!("{i:08}") })),
            )
            .await;
        assert_eq!(reply.status, 401, "code guess {i}: {}", reply.text);
    }
    assert_eq!(
        login_from(&app, stranger, &email, PASSWORD).await.status,
        429,
        "the stranger's network is locked out of the account"
    );
    let owner = login_from(&app, "198.51.100.20", &email, PASSWORD).await;
    assert_eq!(
        owner.status, 200,
        "the owner, on another network, is not: {}",
        owner.text
    );
    // An IPv6 stranger is one client per /64.
    let v6 = |i: usize| format!("2001:db8:1:2::{:x}", i + 1);
    for i in 0..LIMIT {
        let reply = login_from(&app, &v6(i), &email, "wrong guess again").await;
        assert_eq!(reply.status, 401, "{}", reply.text);
    }
    assert_eq!(
        login_from(&app, &v6(99), &email, PASSWORD).await.status,
        429
    );
    assert_eq!(
        login_from(&app, "2001:db8:9:9::1", &email, PASSWORD)
            .await
            .status,
        200
    );
}

async fn the_account_wide_count_still_stops_a_guesser_spread_over_many_networks(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.server.trusted_proxies = vec!["127.0.0.1".into()];
        s.limits.login_account_wide_failures = 8;
    })
    .await;
    let (email, _) = app.user_with_tokens().await;
    // Four networks, two guesses each: none near its own limit (5).
    for network in 1..=4 {
        for guess in 0..2 {
            let ip = format!("203.0.113.{network}");
            let reply = login_from(&app, &ip, &email, &format!("wrong {guess}")).await;
            assert_eq!(reply.status, 401, "{}", reply.text);
        }
    }
    // The account is locked out from everywhere, the right password too.
    for ip in ["203.0.113.5", "198.51.100.20"] {
        let locked = login_from(&app, ip, &email, PASSWORD).await;
        assert_eq!(locked.status, 429, "{}", locked.text);
        assert_eq!(locked.header("retry-after"), Some("60"));
    }
    app.advance(60);
    assert_eq!(
        login_from(&app, "198.51.100.20", &email, PASSWORD)
            .await
            .status,
        200
    );
}
