//! The client's address: `X-Forwarded-For` read whole and believed only from a
//! trusted proxy, malformed values refused, IPv4-mapped peers matched, and
//! IPv6 clients counted per /64 by the login throttle.

use serde_json::json;

use crate::helpers::{Backend, PASSWORD, TestApp, spawn_app_with};
use crate::on_both_stores;

on_both_stores!(
    failed_logins_from_one_ipv6_64_lock_out_the_whole_64,
    every_forwarded_for_line_is_read_in_order,
    a_malformed_forwarded_for_from_a_trusted_proxy_is_refused,
    ipv4_mapped_peers_match_ipv4_trusted_proxies,
    a_trusted_proxy_written_ipv4_mapped_matches_its_ipv4_peer,
);

/// A login through the proxy, the client's address in one or more
/// `X-Forwarded-For` lines.
fn login_via(
    app: &TestApp,
    lines: &[&str],
    email: &str,
    password: &str,
) -> reqwest::RequestBuilder {
    let mut request = app.client.post(app.url("/auth/login"));
    for line in lines {
        request = request.header("x-forwarded-for", *line);
    }
    request.json(&json!({ "email": email, "password": password, "token_delivery": "body" }))
}

/// The address recorded with the session of `access`.
async fn session_ip(app: &TestApp, access: &str) -> String {
    let sessions = app.get_bearer("/auth/sessions", access).await;
    let current = sessions.body["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == true)
        .unwrap_or_else(|| panic!("no current session: {}", sessions.text))
        .clone();
    current["ip"].as_str().unwrap_or_default().to_string()
}

fn behind_proxy(s: &mut authd::config::Settings) {
    s.server.trusted_proxies = vec!["127.0.0.1".into()];
}

async fn failed_logins_from_one_ipv6_64_lock_out_the_whole_64(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        behind_proxy(s);
        s.limits.login_ip_failures = 10;
    })
    .await;
    let (email, _) = app.user_with_tokens().await;
    // Ten addresses of one /64, each guessing at an account of its own (so no
    // account lockout helps).
    for i in 0..10 {
        let address = format!("2001:db8:1:2:{i:x}::{:x}", i + 1);
        let guess = format!("guess-{i}@example.com");
        let reply = app
            .send(login_via(&app, &[&address], &guess, "wrong guess 1234"))
            .await;
        assert_eq!(reply.status, 401, "{}", reply.text);
    }
    let same_64 = app
        .send(login_via(
            &app,
            &["2001:db8:1:2:ffff:1:2:3"],
            &email,
            PASSWORD,
        ))
        .await;
    assert_eq!(
        same_64.status, 429,
        "a new address in the locked /64 is still locked out: {}",
        same_64.text
    );
    let other_64 = app
        .send(login_via(&app, &["2001:db8:1:3::1"], &email, PASSWORD))
        .await;
    assert_eq!(other_64.status, 200, "{}", other_64.text);
}

async fn every_forwarded_for_line_is_read_in_order(backend: Backend) {
    let app = spawn_app_with(backend, behind_proxy).await;
    let (email, _) = app.user_with_tokens().await;
    // The client wrote the first line; the proxy added the second, with the
    // address it saw.
    let reply = app
        .send(login_via(
            &app,
            &["198.51.100.1", "203.0.113.9"],
            &email,
            PASSWORD,
        ))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(session_ip(&app, &reply.access_token()).await, "203.0.113.9");

    // Through two trusted hops: the lines read as one list, right to left.
    let app = spawn_app_with(backend, |s| {
        s.server.trusted_proxies = vec!["127.0.0.1".into(), "10.0.0.2".into()];
    })
    .await;
    let (email, _) = app.user_with_tokens().await;
    let reply = app
        .send(login_via(
            &app,
            &["198.51.100.1, 203.0.113.9", "10.0.0.2"],
            &email,
            PASSWORD,
        ))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(session_ip(&app, &reply.access_token()).await, "203.0.113.9");
}

async fn a_malformed_forwarded_for_from_a_trusted_proxy_is_refused(backend: Backend) {
    let app = spawn_app_with(backend, behind_proxy).await;
    let (email, tokens) = app.user_with_tokens().await;
    for lines in [
        &["not-an-ip"][..],
        &["203.0.113.9, 300.1.2.3"],
        &["203.0.113.9", "unknown"],
    ] {
        let reply = app.send(login_via(&app, lines, &email, PASSWORD)).await;
        assert_eq!(reply.status, 400, "{lines:?}: {}", reply.text);
        assert_eq!(reply.error(), "invalid_request");
        assert!(
            reply.text.contains("X-Forwarded-For"),
            "the refusal says why: {}",
            reply.text
        );
    }
    // Every route that needs the client's address refuses it, before acting.
    let register = app
        .send(
            app.client
                .post(app.url("/auth/register"))
                .header("x-forwarded-for", "garbage")
                .json(&json!({ "email": "new@example.com", "password": PASSWORD })),
        )
        .await;
    assert_eq!(register.status, 400, "{}", register.text);
    assert_eq!(register.error(), "invalid_request");
    let refresh = app
        .send(
            app.client
                .post(app.url("/auth/refresh"))
                .header("x-forwarded-for", "garbage")
                .json(&json!({ "refresh_token": tokens.refresh })),
        )
        .await;
    assert_eq!(refresh.status, 400, "{}", refresh.text);
    assert_eq!(refresh.error(), "invalid_request");
    assert_eq!(
        app.refresh_body(&tokens.refresh).await.status,
        200,
        "the refused refresh did not spend the token"
    );

    // Left of the client, the header is the client's own writing: not read.
    let reply = app
        .send(login_via(&app, &["unknown, 203.0.113.9"], &email, PASSWORD))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(session_ip(&app, &reply.access_token()).await, "203.0.113.9");

    // From a peer that is not a trusted proxy the header is ignored, whatever it holds.
    let direct = spawn_app_with(backend, |_| {}).await;
    let (email, _) = direct.user_with_tokens().await;
    let reply = direct
        .send(login_via(&direct, &["not-an-ip"], &email, PASSWORD))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        session_ip(&direct, &reply.access_token()).await,
        "127.0.0.1"
    );
}

async fn ipv4_mapped_peers_match_ipv4_trusted_proxies(backend: Backend) {
    // A dual-stack listener sees 127.0.0.1 as ::ffff:127.0.0.1.
    let app = spawn_app_with(backend, |s| {
        behind_proxy(s);
        s.server.host = "::".into();
    })
    .await;
    let (email, _) = app.user_with_tokens().await;
    let reply = app
        .send(login_via(&app, &["203.0.113.9"], &email, PASSWORD))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(session_ip(&app, &reply.access_token()).await, "203.0.113.9");

    // Without proxies, the peer itself is recorded as IPv4.
    let direct = spawn_app_with(backend, |s| s.server.host = "::".into()).await;
    let (_, tokens) = direct.user_with_tokens().await;
    assert_eq!(session_ip(&direct, &tokens.access).await, "127.0.0.1");
}

async fn a_trusted_proxy_written_ipv4_mapped_matches_its_ipv4_peer(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.server.trusted_proxies = vec!["::ffff:127.0.0.1".into()];
    })
    .await;
    let (email, _) = app.user_with_tokens().await;
    let reply = app
        .send(login_via(&app, &["203.0.113.9"], &email, PASSWORD))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(session_ip(&app, &reply.access_token()).await, "203.0.113.9");
}
