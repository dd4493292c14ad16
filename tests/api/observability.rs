//! `/metrics` in Prometheus text format, on the public listener or only on
//! `metrics.listen`.

use crate::helpers::{Backend, spawn_app, spawn_app_with};
use crate::on_both_stores;

on_both_stores!(
    metrics_count_requests_logins_refreshes_reuse_and_revocations,
    with_metrics_listen_set_the_metrics_are_served_there_and_not_on_the_public_listener,
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

    let reply = app.get("/metrics").await;
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
