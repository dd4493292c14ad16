//! The forgot-flood scenario against a real authd: refresh alone and under
//! `POST /auth/password/forgot`, the outbox drained (send limits raised), and
//! the default send limits refusing the flood with `Retry-After`.

use authd_bench::forgot::{self, ForgotOptions};

use super::*;

fn forgot_options(server: &Server) -> ForgotOptions {
    ForgotOptions {
        rate: 50.0,
        known_fraction: 0.5,
        metrics_url: server.metrics_url.clone(),
        mail_dir: Some(server.data_dir.join("mail")),
        drain_timeout: Duration::from_secs(60),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_forgot_flood_times_refresh_alone_and_under_forgot_requests_and_the_outbox_drains() {
    // The send limits raised: every request is accepted, and each one for a
    // registered address queues a message.
    let server = start_authd(|s| {
        s.email.per_ip_limit = 1_000_000;
        s.email.per_recipient_limit = 1_000_000;
        s.email.per_recipient_total_limit = 1_000_000;
    })
    .await;
    let fixture = Arc::new(
        Fixture::prepare(client(), server.target.clone(), "forgot", 3, 6, 2)
            .await
            .expect("users and sessions"),
    );
    let flood = forgot::run(fixture, &options(Some(10.0)), &forgot_options(&server))
        .await
        .expect("forgot-flood runs");

    for run in [&flood.refresh_alone, &flood.refresh_under_flood] {
        assert_eq!(run.mode, "closed-loop", "the rate option does not apply");
        assert_clean(run, &["refresh"]);
    }
    // Open loop: the requests due in the window are sent on schedule.
    let due = flood.rate * flood.flood_secs;
    let offered = flood.forgot.requests as f64;
    assert!(
        offered >= 0.5 * due && offered <= due + 1.0,
        "{offered} forgot requests offered, {due:.0} due"
    );
    assert_eq!(
        flood.answers.keys().collect::<Vec<_>>(),
        ["202"],
        "every request accepted: {:?}",
        flood.forgot.errors
    );
    let o = &flood.outbox;
    assert!(o.drained_after_secs.is_some(), "the outbox drained: {o:?}");
    assert_eq!(o.depth_final, 0);
    // Half of the accepted requests (warm-up included) were for registered
    // addresses, and each queued one message, which was written to a file.
    assert!(
        o.queued as f64 >= 0.5 * flood.forgot.ok as f64 - 1.0,
        "{} queued for {} accepted",
        o.queued,
        flood.forgot.ok
    );
    assert_eq!(o.sent, o.queued);
    assert_eq!(o.eml_files, Some(o.sent), "one .eml file per message sent");
    assert!(o.max_depth >= o.depth_at_flood_end && !o.samples.is_empty());
    assert_eq!(o.metrics_errors, 0);
    let (p50, p99, throughput) = flood.ratios();
    for ratio in [p50, p99, throughput] {
        assert!(ratio.is_finite() && ratio > 0.0, "{:?}", flood.ratios());
    }
    for kb in [flood.rss_before_kb, flood.peak_rss_kb, flood.hwm_after_kb] {
        assert!(kb.is_some_and(|kb| kb > 0), "memory not read");
    }

    let table = flood.table();
    eprintln!("{table}");
    for row in [
        "refresh alone",
        "forgot (open loop",
        "refresh under the flood",
        "forgot answers",
        "× 202",
        "outbox depth",
        "queued",
        ".eml files",
        "resident memory",
    ] {
        assert!(table.contains(row), "the table lacks {row:?}:\n{table}");
    }
    let report = Report {
        tool: "authd-bench test".into(),
        started_at: "2026-01-01T00:00:00Z".into(),
        target: server.target.base().into(),
        label: None,
        machine: Machine::detect("the test process"),
        settings: RunSettings {
            concurrency: 2,
            duration_secs: 1.0,
            warmup_secs: 0.1,
            rate: None,
            capacity_fraction: None,
            users: 3,
            sessions: 6,
            mix: Mix::default(),
            alg: Some("HS256".into()),
        },
        memory: None,
        scenarios: Vec::new(),
        login_flood: None,
        forgot_flood: Some(flood),
        limits: Limits::default(),
        ratios: Vec::new(),
        notes: Vec::new(),
    };
    assert!(report.table().contains("forgot flood: refresh"));
    let json = serde_json::to_string(&report).expect("JSON");
    let back: Report = serde_json::from_str(&json).expect("the JSON reads back");
    assert!(back.forgot_flood.is_some());
    let svg = authd_bench::chart::svg(&[&report], "test");
    assert_eq!(svg.matches("<polyline").count(), 2);
    assert!(svg.contains("refresh under forgot flood"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_default_send_limits_the_forgot_flood_is_refused_with_retry_after() {
    let server = start_authd(|_| {}).await;
    let per_ip = Settings::load(&Sources::default())
        .expect("default settings")
        .email
        .per_ip_limit;
    let fixture = Arc::new(
        Fixture::prepare(client(), server.target.clone(), "refused", 3, 6, 2)
            .await
            .expect("users and sessions"),
    );
    let mut flood_options = forgot_options(&server);
    flood_options.rate = 100.0;
    let flood = forgot::run(fixture, &options(None), &flood_options)
        .await
        .expect("forgot-flood runs");
    // One client address: past email.per_ip_limit (warm-up included) every
    // answer is 429, each with Retry-After (else its kind would say so).
    let accepted = flood.answers.get("202").copied().unwrap_or(0);
    assert!(accepted <= u64::from(per_ip), "{:?}", flood.answers);
    let refused = flood.answers.get("429").copied().unwrap_or(0);
    assert!(refused > 0, "{:?}", flood.answers);
    assert_eq!(
        flood.forgot.errors.keys().collect::<Vec<_>>(),
        ["429 too_many_requests"],
        "{:?}",
        flood.forgot.errors
    );
    assert!(flood.outbox.queued <= u64::from(per_ip));
    assert!(flood.outbox.drained_after_secs.is_some());
}
