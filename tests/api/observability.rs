//! `/metrics` in Prometheus text format: on `metrics.listen`; on the public
//! listener only with `metrics.public`, and then without the families that
//! tell which addresses have accounts.

use std::collections::BTreeMap;

use serde_json::json;

use crate::helpers::{Backend, TestApp, spawn_app, spawn_app_with};
use crate::on_both_stores;

on_both_stores!(
    metrics_count_requests_logins_refreshes_reuse_and_revocations,
    with_metrics_listen_set_the_metrics_are_served_there_and_not_on_the_public_listener,
    by_default_the_public_listener_serves_no_metrics,
    public_metrics_move_alike_for_a_known_and_an_unknown_address,
);

async fn metrics_count_requests_logins_refreshes_reuse_and_revocations(backend: Backend) {
    let app = spawn_app(backend).await;
    let (email, tokens) = app.user_with_tokens().await;
    assert_eq!(app.try_login(&email, "wrong guess 1234").await.status, 401);
    let next = app.refresh_body(&tokens.refresh).await.refresh_token();
    app.refresh_body(&tokens.refresh).await; // grace
    app.refresh_body(&next).await;
    app.advance(60);
    assert_eq!(app.refresh_body(&tokens.refresh).await.status, 401); // reuse
    let other = app.login_body(&email).await;
    let sessions = app.get_bearer("/auth/sessions", &other.access).await;
    let id = sessions.body["sessions"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.send(
        app.client
            .delete(app.url(&format!("/auth/sessions/{id}")))
            .bearer_auth(&other.access),
    )
    .await;

    let reply = app.metrics().await;
    assert_eq!(reply.status, 200);
    assert!(
        reply
            .header("content-type")
            .unwrap()
            .starts_with("text/plain")
    );
    let text = &reply.text;
    for line in [
        r#"authd_logins_total{result="ok"} 2"#,
        r#"authd_logins_total{result="failed"} 1"#,
        r#"authd_refreshes_total{outcome="rotated"} 2"#,
        r#"authd_refreshes_total{outcome="grace"} 1"#,
        r#"authd_refreshes_total{outcome="reuse_detected"} 1"#,
        r#"authd_sessions_revoked_total{reason="reuse_detected"} 1"#,
        r#"authd_sessions_revoked_total{reason="revoked_by_user"} 1"#,
        r#"authd_http_requests_total{method="POST",route="/auth/login",status="200"} 2"#,
        r#"authd_http_requests_total{method="DELETE",route="/auth/sessions/{id}",status="204"} 1"#,
        "authd_password_hash_queue_depth 0",
        // One registration and three logins: four Argon2id runs.
        "authd_password_hash_runs_total 4",
        r#"authd_db_pool_connections{state="idle"}"#,
        r#"authd_http_request_duration_seconds_bucket{route="/auth/refresh",le="0.001"}"#,
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
    assert!(!text.contains(&id), "raw paths never become labels");
}

async fn with_metrics_listen_set_the_metrics_are_served_there_and_not_on_the_public_listener(
    backend: Backend,
) {
    let app = spawn_app_with(backend, |s| {
        s.metrics.listen = Some("127.0.0.1:0".into());
    })
    .await;
    app.user_with_tokens().await;

    let public = app.get("/metrics").await;
    assert_eq!(public.status, 404, "{}", public.text);
    assert_eq!(public.error(), "not_found");
    assert!(!public.text.contains("authd_"), "{}", public.text);

    let metrics = app.metrics_address.clone().expect("a metrics address");
    let get = |path: &str| app.send(app.client.get(format!("{metrics}{path}")));
    let reply = get("/metrics").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(
        reply
            .header("content-type")
            .unwrap()
            .starts_with("text/plain")
    );
    for line in [
        r#"authd_logins_total{result="ok"} 1"#,
        r#"authd_http_requests_total{method="GET",route="/metrics",status="404"} 1"#,
    ] {
        assert!(
            reply.text.contains(line),
            "missing {line:?} in\n{}",
            reply.text
        );
    }
    // The metrics address serves nothing else.
    for path in ["/healthz", "/auth/me", "/.well-known/jwks.json"] {
        let other = get(path).await;
        assert_eq!(other.status, 404, "{path}: {}", other.text);
        assert_eq!(other.error(), "not_found");
    }
    let post = app
        .send(app.client.post(format!("{metrics}/metrics")))
        .await;
    assert_eq!(post.status, 405);
}

/// The defaults: no `metrics.listen`, no `metrics.public`. The public
/// listener serves no metric at all, so a scrape before and after a forgot
/// request (the mail counters move only for an address that has an account)
/// has nothing to compare.
async fn by_default_the_public_listener_serves_no_metrics(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.metrics = Default::default()).await;
    assert!(app.metrics_address.is_none());
    let (email, _) = app.user_with_tokens().await;
    for address in [email.as_str(), "nobody@example.com"] {
        let forgot = app
            .post_json("/auth/password/forgot", &json!({ "email": address }))
            .await;
        assert_eq!(forgot.status, 202, "{}", forgot.text);
        app.settled().await;
        let reply = app.get("/metrics").await;
        assert_eq!(reply.status, 404, "{}", reply.text);
        assert_eq!(reply.error(), "not_found");
        assert!(!reply.text.contains("authd_"), "{}", reply.text);
    }
}

/// The counters and gauges of a scrape, by series, without the latency
/// histogram (timings are not what this compares) and the pool's gauges
/// (connections come and go).
fn series(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| !l.starts_with("authd_http_request_duration_seconds"))
        .filter(|l| !l.starts_with("authd_db_pool_connections"))
        .filter_map(|l| l.rsplit_once(' '))
        .map(|(name, value)| (name.to_owned(), value.parse().expect("a number")))
        .collect()
}

/// What moved between two scrapes.
fn moved(before: &BTreeMap<String, f64>, after: &BTreeMap<String, f64>) -> BTreeMap<String, f64> {
    after
        .iter()
        .map(|(name, v)| (name.clone(), v - before.get(name).copied().unwrap_or(0.0)))
        .filter(|(_, delta)| *delta != 0.0)
        .collect()
}

/// A forgot request for `address`, its background work and its mail done:
/// what moved on the public listener and on `metrics.listen`.
async fn forgot_moves(
    app: &TestApp,
    address: &str,
) -> (BTreeMap<String, f64>, BTreeMap<String, f64>) {
    let public_before = series(&app.get("/metrics").await.text);
    let all_before = series(&app.metrics().await.text);
    let forgot = app
        .post_json("/auth/password/forgot", &json!({ "email": address }))
        .await;
    assert_eq!(forgot.status, 202, "{}", forgot.text);
    app.settled().await;
    let public = series(&app.get("/metrics").await.text);
    let all = series(&app.metrics().await.text);
    (moved(&public_before, &public), moved(&all_before, &all))
}

/// `metrics.public = true`: the public listener's metrics move the same for
/// a forgot request for a registered address and for an unknown one, though
/// the first queues and sends a message (seen on `metrics.listen`).
async fn public_metrics_move_alike_for_a_known_and_an_unknown_address(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.metrics.public = true).await;
    let (email, _) = app.user_with_tokens().await;
    app.settled().await;
    // A first scrape of each, so that the scrapes compared below count alike.
    assert_eq!(app.get("/metrics").await.status, 200);
    app.metrics().await;

    let (public_unknown, all_unknown) = forgot_moves(&app, "nobody@example.com").await;
    let (public_known, all_known) = forgot_moves(&app, &email).await;

    let queued = "authd_mail_queued_total{kind=\"password_reset\"}";
    assert_eq!(all_known.get(queued), Some(&1.0), "{all_known:#?}");
    assert_eq!(all_unknown.get(queued), None, "{all_unknown:#?}");
    assert_eq!(public_known, public_unknown);
    let public = app.get("/metrics").await.text;
    for family in authd::metrics::PRIVATE_FAMILIES {
        assert!(!public.contains(family), "{family} in\n{public}");
    }
}
