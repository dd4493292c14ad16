//! Smaller hardening (issue 10, items 3, 13 and 14): metric labels a client
//! cannot multiply.

use reqwest::Method;

use crate::helpers::{Backend, TestApp, spawn_app};

/// The number of series of `authd_http_requests_total` in `/metrics`.
async fn request_series(app: &TestApp) -> usize {
    let metrics = app.get("/metrics").await;
    assert_eq!(metrics.status, 200);
    metrics
        .text
        .lines()
        .filter(|l| l.starts_with("authd_http_requests_total{"))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn made_up_methods_and_paths_do_not_add_metric_series() {
    let app = spawn_app(Backend::Sqlite).await;
    // Twice: the first scrape is counted after it answers, the second sees it.
    request_series(&app).await;
    let before = request_series(&app).await;

    let made_up = |i: usize| Method::from_bytes(format!("MADEUP{i}").as_bytes()).unwrap();
    for i in 0..50 {
        let reply = app
            .send(app.client.request(made_up(i), app.url("/auth/login")))
            .await;
        assert_eq!(reply.status, 405, "{}", reply.text);
    }
    let after_methods = request_series(&app).await;
    assert!(
        after_methods <= before + 1,
        "50 made-up methods on one route added {} series",
        after_methods - before
    );

    for i in 0..20 {
        let path = format!("/made-up-{i}");
        let reply = app
            .send(app.client.request(made_up(100 + i), app.url(&path)))
            .await;
        assert_eq!(reply.status, 404, "{}", reply.text);
    }
    let after_paths = request_series(&app).await;
    assert!(
        after_paths <= after_methods + 1,
        "20 made-up methods on made-up paths added {} series",
        after_paths - after_methods
    );
    let metrics = app.get("/metrics").await.text;
    assert!(
        metrics.contains(
            r#"authd_http_requests_total{method="other",route="/auth/login",status="405"} 50"#
        ),
        "{metrics}"
    );
    assert!(!metrics.contains("MADEUP"), "{metrics}");
}
