//! Abuse limits: login throttling per account and per client IP; the
//! in-memory limits per client (registrations, refreshes, requests that hash
//! a password).

use serde_json::json;

use crate::helpers::{Backend, PASSWORD, spawn_app, spawn_app_with};
use crate::on_both_stores;

on_both_stores!(
    five_failed_logins_lock_the_account_out_for_a_minute_and_unknown_emails_alike,
    the_lockout_doubles_with_each_failure_but_never_beyond_the_cap,
    many_failures_from_one_ip_lock_that_ip_out_across_accounts,
    instances_sharing_a_database_share_the_counts,
    registrations_and_refreshes_are_limited_per_client_ip,
    forwarded_for_is_believed_only_from_a_trusted_proxy,
    every_request_that_hashes_counts_on_the_clients_hashing_limit,
);

async fn five_failed_logins_lock_the_account_out_for_a_minute_and_unknown_emails_alike(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let (email, _) = app.user_with_tokens().await;
    let mut answers = Vec::new();
    for target in [email.as_str(), "nobody@example.com"] {
        for _ in 0..5 {
            assert_eq!(app.try_login(target, "wrong guess 1234").await.status, 401);
        }
        // Locked out: even the right password is refused, without being checked.
        let locked = app.try_login(target, PASSWORD).await;
        assert_eq!(locked.status, 429, "{}", locked.text);
        assert_eq!(locked.error(), "too_many_requests");
        assert_eq!(locked.header("retry-after"), Some("60"));
        answers.push(locked.text);
    }
    assert_eq!(
        answers[0], answers[1],
        "a lockout does not tell whether the email exists"
    );

    app.advance(30);
    let still = app.try_login(&email, PASSWORD).await;
    assert_eq!(still.status, 429);
    assert_eq!(still.header("retry-after"), Some("30"));
    app.advance(30);
    assert_eq!(app.try_login(&email, PASSWORD).await.status, 200);
    // Success forgets the failures: four more do not lock.
    for _ in 0..4 {
        assert_eq!(app.try_login(&email, "wrong guess 1234").await.status, 401);
    }
    assert_eq!(app.try_login(&email, PASSWORD).await.status, 200);
}

async fn the_lockout_doubles_with_each_failure_but_never_beyond_the_cap(backend: Backend) {
    let app = spawn_app(backend).await;
    let (email, _) = app.user_with_tokens().await;
    let wrong = || app.try_login(&email, "wrong guess 1234");
    for _ in 0..5 {
        wrong().await;
    }
    // Each time the lockout ends, one more failure doubles it: 60, 120, 240, 480, 900, 900.
    for expected in [60, 120, 240, 480, 900, 900] {
        let locked = wrong().await;
        assert_eq!(locked.status, 429);
        assert_eq!(
            locked.header("retry-after"),
            Some(expected.to_string().as_str())
        );
        app.advance(expected);
        assert_eq!(
            wrong().await.status,
            401,
            "the lockout of {expected} s is over"
        );
    }
    // Not permanent: the last lockout ends after the cap and the user is back.
    app.advance(900);
    let ok = app.try_login(&email, PASSWORD).await;
    assert_eq!(ok.status, 200, "{}", ok.text);
}

async fn many_failures_from_one_ip_lock_that_ip_out_across_accounts(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.limits.login_ip_failures = 8).await;
    let (email, _) = app.user_with_tokens().await;
    for i in 0..8 {
        let reply = app
            .post_json("/auth/login", &json!({ "email": format!("guess-{i}@example.com"), "password": "wrong guess 1234" }))
            .await;
        assert_eq!(reply.status, 401);
    }
    let reply = app.try_login(&email, PASSWORD).await;
    assert_eq!(
        reply.status, 429,
        "this client is locked out, whatever the account"
    );
    app.advance(60);
    assert_eq!(app.try_login(&email, PASSWORD).await.status, 200);
}

async fn instances_sharing_a_database_share_the_counts(backend: Backend) {
    let a = spawn_app(backend).await;
    let url = a.services().settings.database.url.clone();
    let secret = a.services().settings.data_dir.clone();
    let b = spawn_app_with(backend, |s| {
        s.database.url = url;
        s.data_dir = secret;
    })
    .await;
    b.clock.set(a.now());
    let (email, _) = a.user_with_tokens().await;
    for app in [&a, &b, &a, &b, &a] {
        let reply = app.try_login(&email, "wrong guess 1234").await;
        assert_eq!(reply.status, 401);
    }
    let reply = b.try_login(&email, PASSWORD).await;
    assert_eq!(
        reply.status, 429,
        "the other instance saw all five failures"
    );
}

async fn registrations_and_refreshes_are_limited_per_client_ip(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.limits.register_per_ip = 3;
        s.limits.refresh_per_ip = 2;
    })
    .await;
    let (_, tokens) = app.user_with_tokens().await;
    app.register("second@example.com").await;
    app.register("third@example.com").await;
    let fourth = app
        .post_json(
            "/auth/register",
            &json!({ "email": "fourth@example.com", "password": PASSWORD }),
        )
        .await;
    assert_eq!(fourth.status, 429, "{}", fourth.text);
    assert_eq!(fourth.error(), "too_many_requests");
    assert_eq!(fourth.header("retry-after"), Some("3600"));

    let first = app.refresh_body(&tokens.refresh).await;
    assert_eq!(first.status, 200);
    let second = app.refresh_body(&first.refresh_token()).await;
    assert_eq!(second.status, 200);
    let current = second.refresh_token();
    let user = app.state_user(&tokens.access);
    let counter = || async {
        authd::sessions::list_live(app.services(), user)
            .await
            .unwrap()[0]
            .counter
    };
    let before = counter().await;
    // The current token, over the limit: refused, and not spent.
    let limited = app.refresh_body(&current).await;
    assert_eq!(limited.status, 429);
    assert_eq!(limited.header("retry-after"), Some("60"));
    assert_eq!(counter().await, before, "a limited request spends nothing");
    app.advance(60);
    assert_eq!(
        app.refresh_body(&current).await.status,
        200,
        "the same token rotates once the window ends"
    );
    assert_eq!(counter().await, before + 1);

    app.advance(3600 - 60);
    app.register("fourth@example.com").await;
}

async fn forwarded_for_is_believed_only_from_a_trusted_proxy(backend: Backend) {
    let login = |app: &crate::helpers::TestApp, email: &str, forwarded: &str| {
        app.client
            .post(app.url("/auth/login"))
            .header("x-forwarded-for", forwarded)
            .json(&json!({ "email": email, "password": PASSWORD, "token_delivery": "body" }))
    };
    let direct = spawn_app(backend).await;
    let (email, _) = direct.user_with_tokens().await;
    let reply = direct.send(login(&direct, &email, "203.0.113.9")).await;
    let sessions = direct
        .get_bearer("/auth/sessions", &reply.access_token())
        .await;
    assert!(
        sessions.body["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["ip"] == "127.0.0.1"),
        "{}",
        sessions.text
    );

    let proxied = spawn_app_with(backend, |s| {
        s.server.trusted_proxies = vec!["127.0.0.1".into()];
        s.limits.login_ip_failures = 2;
    })
    .await;
    let (email, _) = proxied.user_with_tokens().await;
    let reply = proxied
        .send(login(&proxied, &email, "198.51.100.1, 203.0.113.9"))
        .await;
    assert_eq!(reply.status, 200);
    let sessions = proxied
        .get_bearer("/auth/sessions", &reply.access_token())
        .await;
    let current = sessions.body["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == true)
        .unwrap()
        .clone();
    assert_eq!(
        current["ip"], "203.0.113.9",
        "the rightmost address the proxy saw"
    );
    // Limits apply to that client, not to the proxy.
    for _ in 0..2 {
        let bad = proxied
            .send(
                proxied
                    .client
                    .post(proxied.url("/auth/login"))
                    .header("x-forwarded-for", "203.0.113.9")
                    .json(&json!({ "email": "x@example.com", "password": "wrong guess 1234" })),
            )
            .await;
        assert_eq!(bad.status, 401);
    }
    assert_eq!(
        proxied
            .send(login(&proxied, &email, "203.0.113.9"))
            .await
            .status,
        429
    );
    assert_eq!(
        proxied
            .send(login(&proxied, &email, "203.0.113.10"))
            .await
            .status,
        200
    );
}

async fn every_request_that_hashes_counts_on_the_clients_hashing_limit(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.server.trusted_proxies = vec!["127.0.0.1".into()];
        s.limits.hash_per_ip = 4;
        s.limits.hash_window_secs = 60;
    })
    .await;
    let from = |ip: &'static str, path: &str, body: serde_json::Value| {
        app.client
            .post(app.url(path))
            .header("x-forwarded-for", ip)
            .json(&body)
    };
    let client = "203.0.113.9";
    let email = "hasher@example.com";
    let login = json!({ "email": email, "password": PASSWORD, "token_delivery": "body" });
    let registered = app
        .send(from(
            client,
            "/auth/register",
            json!({ "email": email, "password": PASSWORD }),
        ))
        .await;
    assert_eq!(registered.status, 201, "{}", registered.text);
    // Successful logins count too.
    let mut access = String::new();
    for _ in 0..3 {
        let reply = app.send(from(client, "/auth/login", login.clone())).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        access = reply.access_token();
    }
    let user = app.user_id(email).await;
    let audited = app.audit_kinds(user).await;
    let runs = app.services().hasher.runs();
    let limited = app.send(from(client, "/auth/login", login.clone())).await;
    assert_eq!(
        (limited.status, limited.error()),
        (429, "too_many_requests"),
        "{}",
        limited.text
    );
    assert_eq!(limited.header("retry-after"), Some("60"));
    // Every endpoint that hashes shares the count.
    let change = app
        .send(
            from(
                client,
                "/auth/password",
                json!({ "current_password": PASSWORD, "new_password": "another long passphrase" }),
            )
            .bearer_auth(&access),
        )
        .await;
    assert_eq!(change.status, 429, "{}", change.text);
    let email_change = app
        .send(
            from(
                client,
                "/auth/email/change",
                json!({ "new_email": "elsewhere@example.com", "current_password": PASSWORD }),
            )
            .bearer_auth(&access),
        )
        .await;
    assert_eq!(email_change.status, 429, "{}", email_change.text);
    let register = app
        .send(from(
            client,
            "/auth/register",
            json!({ "email": "another@example.com", "password": PASSWORD }),
        ))
        .await;
    assert_eq!(register.status, 429, "{}", register.text);
    assert_eq!(app.services().hasher.runs(), runs, "nothing was hashed");
    assert_eq!(
        app.audit_kinds(user).await,
        audited,
        "nothing was recorded: refused before any database work"
    );
    // Another client is not limited; this one is again once the window ends.
    let other = app
        .send(from("198.51.100.1", "/auth/login", login.clone()))
        .await;
    assert_eq!(other.status, 200, "{}", other.text);
    app.advance(60);
    let again = app.send(from(client, "/auth/login", login)).await;
    assert_eq!(again.status, 200, "{}", again.text);
}
