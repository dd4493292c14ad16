//! authd-bench against a real authd started in this process (SQLite in a
//! temporary directory): every scenario (login-flood and forgot-flood
//! included) and every
//! limit runs for about a second through the library API, and the report has
//! the right shape.
//! No figure is asserted: this machine's speed is not the tool's business.

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use authd::app::Application;
use authd::clock::SystemClock;
use authd::config::{KeySettings, Settings, Sources, Verification};
use authd_bench::flood;
use authd_bench::limits::{self, Argon2Params, VerifyKey};
use authd_bench::load::{self, Fixture, LoadOptions, Mix, Scenario, ScenarioReport};
use authd_bench::mfa::MfaUsers;
use authd_bench::report::{Limits, Report, RunSettings};
use authd_bench::system::Machine;
use authd_bench::target::Target;

// A file of its own beside this one, not a test target of its own.
#[path = "scenarios/forgot_flood.rs"]
mod forgot_flood;

const SECRET: &str = "an HS256 secret of the bench test, 32+ bytes";

struct Server {
    target: Target,
    /// `metrics.listen`'s `/metrics`: every metric, the mail's included.
    metrics_url: String,
    database_url: String,
    data_dir: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

/// authd on 127.0.0.1:0 with a fresh SQLite file, an HS256 key, cheap
/// Argon2id and the per-IP limits lifted, as scripts/bench.sh does, then
/// `adjust`ed.
async fn start_authd(adjust: impl FnOnce(&mut Settings)) -> Server {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut settings = Settings::load(&Sources::default()).expect("default settings");
    settings.server.host = "127.0.0.1".into();
    settings.server.port = 0;
    settings.server.workers = 1;
    settings.server.issuer = "http://authd.test".into();
    settings.data_dir = dir.path().join("data");
    settings.password.argon2_m_cost = 1024;
    settings.password.argon2_t_cost = 1;
    let database_url = format!("sqlite://{}", dir.path().join("authd.db").display());
    settings.database.url = database_url.clone().into();
    settings.log.format = "pretty".into();
    settings.limits.register_per_ip = 1_000_000;
    settings.limits.refresh_per_ip = 1_000_000_000;
    // As scripts/bench.sh does: a load generator logs in to a few accounts
    // from one address, many at once, and the lockout counts every login in
    // flight against its account before the hash.
    settings.limits.login_account_failures = 1_000_000;
    settings.limits.login_account_wide_failures = 1_000_000;
    settings.limits.hash_per_ip = 1_000_000_000;
    settings.limits.login_ip_failures = 1_000_000;
    settings.jwt.keys = vec![KeySettings {
        kid: "bench-hs256".into(),
        alg: "HS256".into(),
        secret: Some(SECRET.to_owned().into()),
        secret_file: None,
        private_key: None,
        private_key_file: None,
        public_key: None,
        public_key_file: None,
    }];
    settings.metrics.listen = Some("127.0.0.1:0".into());
    adjust(&mut settings);
    let data_dir = settings.data_dir.clone();
    let app = Application::build(settings, Arc::new(SystemClock))
        .await
        .expect("authd starts");
    let target = Target::parse(&format!("http://127.0.0.1:{}", app.port())).expect("loopback");
    let metrics_port = app.metrics_port().expect("metrics.listen is set");
    let metrics_url = format!("http://127.0.0.1:{metrics_port}/metrics");
    tokio::spawn(app.run_until_stopped());
    Server {
        target,
        metrics_url,
        database_url,
        data_dir,
        _dir: dir,
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .no_proxy()
        .build()
        .expect("client")
}

fn options(rate: Option<f64>) -> LoadOptions {
    LoadOptions {
        concurrency: 2,
        duration: Duration::from_secs(1),
        warmup: Duration::from_millis(100),
        rate,
        mix: Mix {
            login: 1,
            refresh: 2,
            verify: 4,
        },
        server_pid: Some(std::process::id()),
        progress: false,
    }
}

fn assert_clean(report: &ScenarioReport, kinds: &[&str]) {
    let name = report.scenario.name();
    let listed: Vec<&str> = report.operations.keys().map(String::as_str).collect();
    assert_eq!(listed, kinds, "{name}: request kinds");
    for (kind, stats) in report.operations.iter().map(|(k, v)| (k.as_str(), v)) {
        assert!(stats.errors.is_empty(), "{name}/{kind}: {:?}", stats.errors);
        assert!(stats.ok > 0, "{name}/{kind}: nothing answered");
        assert_eq!(stats.requests, stats.ok, "{name}/{kind}");
        assert!(stats.throughput > 0.0, "{name}/{kind}");
        let l = &stats.latency_ms;
        assert!(
            0.0 < l.p50 && l.p50 <= l.p90 && l.p90 <= l.p99 && l.p99 <= l.max,
            "{name}/{kind}: {l:?}"
        );
        assert_eq!(stats.curve.len(), 42, "{name}/{kind}: chart points");
    }
    let sum: u64 = report.operations.values().map(|s| s.requests).sum();
    assert_eq!(report.total.requests, sum, "{name}: total");
    assert!(
        report.duration_secs >= 1.0,
        "{name}: the window lasts --duration"
    );
    let cpu = report.cpu.as_ref().expect("CPU shares read from /proc");
    assert!(cpu.authd.is_some(), "{name}: the server's CPU time");
    assert!(
        report.server_peak_rss_kb.is_some_and(|kb| kb > 0),
        "{name}: memory"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_and_limit_runs_against_a_real_authd_and_reports_its_figures() {
    let server = start_authd(|_| {}).await;
    let client = client();
    let fixture = Arc::new(
        Fixture::prepare(client.clone(), server.target.clone(), "test", 3, 6, 2)
            .await
            .expect("users and sessions"),
    );
    assert_eq!((fixture.users(), fixture.sessions()), (3, 6));

    let mut scenarios = Vec::new();
    for (scenario, kinds) in [
        (Scenario::Login, &["login"][..]),
        (Scenario::Refresh, &["refresh"][..]),
        (Scenario::Verify, &["verify"][..]),
        (Scenario::Mixed, &["login", "refresh", "verify"][..]),
    ] {
        let report = load::run(fixture.clone(), scenario, &options(None))
            .await
            .expect("scenario runs");
        assert_eq!(report.mode, "closed-loop");
        assert_clean(&report, kinds);
        scenarios.push(report);
    }
    // Open loop: exactly the requests due in the window are sent (50/s for
    // 1 s), whatever the server's speed.
    let open = load::run(fixture.clone(), Scenario::Refresh, &options(Some(50.0)))
        .await
        .expect("open-loop run");
    assert_eq!(open.mode, "open-loop");
    assert_eq!(open.total.requests, 50);
    assert_clean(&open, &["refresh"]);
    scenarios.push(open);

    let second = Duration::from_millis(500);
    let cheap = Argon2Params {
        m_cost: 1024,
        t_cost: 1,
        p_cost: 1,
    };
    let argon2 = limits::argon2_rate(cheap, 2, second).expect("argon2");
    let rotation =
        limits::rotation_rate(&server.database_url, 2, Duration::from_millis(100), second)
            .await
            .expect("rotation SQL");
    assert_eq!(rotation.errors, 0, "every chained rotation rotates");
    let l = rotation.latency_ms.as_ref().expect("time per rotation");
    assert!(0.0 < l.p50 && l.p50 <= l.p99 && l.p99 <= l.max, "{l:?}");
    let sample = fixture.access_tokens()[0].clone();
    let key = VerifyKey::discover(
        &client,
        &server.target,
        &sample,
        Some(SECRET.as_bytes().to_vec()),
        "authd",
    )
    .await
    .expect("the server's key")
    .expect("HS256 with its secret");
    assert_eq!(
        (key.kid.as_str(), key.issuer.as_str()),
        ("bench-hs256", "http://authd.test")
    );
    let tokens = fixture.access_tokens().to_vec();
    let (decode, verifier) = key
        .compare_one_core(&tokens, second)
        .await
        .expect("bare decode and authd-verify");
    let decode_all = key.decode_rate(&tokens, 2, second).expect("bare decode");
    let (signer, _) = limits::signer(None, jsonwebtoken::Algorithm::HS256, "http://authd.test")
        .expect("a signer");
    let signing = limits::signing_rate(&signer, 1, second);
    for (what, rate) in [
        ("argon2", &argon2),
        ("rotation", &rotation.rate),
        ("decode", &decode),
        ("decode on 2 threads", &decode_all),
        ("authd-verify", &verifier),
        ("signing", &signing),
    ] {
        assert!(
            rate.operations > 0 && rate.per_sec > 0.0,
            "{what}: {rate:?}"
        );
    }

    let mut report = Report {
        tool: "authd-bench test".into(),
        started_at: "2026-01-01T00:00:00Z".into(),
        target: server.target.base().into(),
        label: Some("sqlite".into()),
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
        scenarios,
        login_flood: None,
        forgot_flood: None,
        limits: Limits {
            argon2_params: Some(cheap),
            argon2: Some(argon2),
            rotation_sql: Some(rotation),
            signing_alg: Some("HS256".into()),
            signing_key: None,
            signing_one_core: Some(signing.clone()),
            signing_all_cores: Some(signing),
            verify_key: Some(key.source.clone()),
            decode_one_core: Some(decode),
            decode_all_cores: Some(decode_all),
            authd_verify_one_core: Some(verifier),
        },
        ratios: Vec::new(),
        notes: Vec::new(),
    };
    report.compute_ratios();
    let ratios: Vec<(&str, &str)> = report
        .ratios
        .iter()
        .map(|r| (r.scenario.as_str(), r.figure.as_str()))
        .collect();
    assert_eq!(
        ratios,
        [
            ("login", "logins/s"),
            ("refresh", "refreshes/s"),
            ("refresh", "refreshes/s"),
            ("verify", "GET /auth/me/s"),
            ("verify", "authd-verify/s (1 thread)"),
        ]
    );
    assert!(
        report
            .ratios
            .iter()
            .all(|r| r.ratio > 0.0 && r.ratio.is_finite())
    );
    let table = report.table();
    for row in [
        "login",
        "refresh",
        "verify",
        "mixed",
        "open @ 50/s",
        "rotation SQL",
        "= ",
    ] {
        assert!(table.contains(row), "the table lacks {row:?}:\n{table}");
    }
    let json = serde_json::to_string(&report).expect("JSON");
    let back: Report = serde_json::from_str(&json).expect("the JSON reads back");
    assert_eq!(back.scenarios.len(), 5);
    let svg = authd_bench::chart::svg(&[&report], "test");
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    // One curve per scenario and request kind: 1 + 1 + 1 + 3 + 1.
    assert_eq!(svg.matches("<polyline").count(), 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_login_flood_times_refresh_alone_and_under_logins_offered_beyond_the_capacity() {
    // A short hashing queue, so that the flood is shed (503) within a second.
    let server = start_authd(|s| s.password.max_queued_hashes = 4).await;
    let fixture = Arc::new(
        Fixture::prepare(client(), server.target.clone(), "flood", 3, 6, 2)
            .await
            .expect("users and sessions"),
    );
    let flood = flood::run(fixture, &options(Some(50.0)), 10.0)
        .await
        .expect("login-flood runs");

    // Every phase is closed loop, whatever rate the options named.
    for (run, kinds) in [
        (&flood.refresh_alone, &["refresh"][..]),
        (&flood.login_capacity, &["login"][..]),
        (&flood.refresh_under_flood, &["refresh"][..]),
    ] {
        assert_eq!(run.mode, "closed-loop");
        assert_clean(run, kinds);
    }
    let capacity = flood.login_capacity.total.throughput;
    assert!(
        (flood.flood_rate - 10.0 * capacity).abs() < 1e-6 * flood.flood_rate,
        "{} offered for a capacity of {capacity}",
        flood.flood_rate
    );
    // Open loop: the logins due in the window are sent (or counted as not
    // sent) on schedule, not when earlier ones are answered: a closed loop
    // would offer about a tenth of this.
    let due = flood.flood_rate * flood.flood_secs;
    let offered = flood.flood_logins.requests as f64;
    assert!(
        offered >= 0.5 * due && offered <= due + 1.0,
        "{offered} logins offered, {due:.0} due"
    );
    // Ten times the capacity cannot all be hashed: authd sheds the rest.
    let errors = &flood.flood_logins.errors;
    assert!(
        errors
            .keys()
            .all(|k| k == "503 temporarily_unavailable" || k.starts_with("not sent")),
        "{errors:?}"
    );
    assert!(
        errors
            .get("503 temporarily_unavailable")
            .is_some_and(|n| *n > 0),
        "no login was shed: {errors:?}"
    );
    assert!(flood.flood_logins.ok > 0, "no flood login succeeded");
    let (p50, p99, throughput) = flood.ratios();
    for ratio in [p50, p99, throughput] {
        assert!(ratio.is_finite() && ratio > 0.0, "{:?}", flood.ratios());
    }
    for kb in [
        flood.rss_before_kb,
        flood.flood_peak_rss_kb,
        flood.hwm_after_kb,
    ] {
        assert!(kb.is_some_and(|kb| kb > 0), "memory not read");
    }

    let table = flood.table();
    eprintln!("{table}");
    for row in [
        "refresh alone",
        "login capacity",
        "flood logins",
        "refresh under the flood",
        "p99",
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
        login_flood: Some(flood),
        forgot_flood: None,
        limits: Limits::default(),
        ratios: Vec::new(),
        notes: Vec::new(),
    };
    assert!(report.table().contains("login flood: refresh"));
    let json = serde_json::to_string(&report).expect("JSON");
    let back: Report = serde_json::from_str(&json).expect("the JSON reads back");
    assert!(back.login_flood.is_some());
    // The chart draws refresh alone and under the flood.
    let svg = authd_bench::chart::svg(&[&report], "test");
    assert_eq!(svg.matches("<polyline").count(), 2);
    assert!(svg.contains("refresh under login flood"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mfa_login_signs_in_with_the_password_and_a_totp_code_and_runs_out_of_steps_visibly() {
    // As scripts/bench.sh does: every sign-in sends a code from one address,
    // and registrations send no mail (which a send budget would refuse).
    let server = start_authd(|s| {
        s.limits.code_per_ip = 1_000_000_000;
        s.accounts.email_verification = Verification::Off;
    })
    .await;
    let client = client();
    let mfa = MfaUsers::prepare(client.clone(), server.target.clone(), "test", 60, 2)
        .await
        .expect("users enrolled with TOTP");
    assert_eq!(mfa.users(), 60);
    let fixture = Fixture::prepare(client.clone(), server.target.clone(), "mfa", 1, 2, 2)
        .await
        .expect("users and sessions");
    let fixture = Arc::new(fixture.with_mfa(mfa));
    // Open loop at 40/s: 44 sign-ins (warm-up included) for 60 users, each
    // with a step left.
    let report = load::run(fixture.clone(), Scenario::MfaLogin, &options(Some(40.0)))
        .await
        .expect("mfa-login runs");
    assert_eq!(report.total.requests, 40);
    assert_clean(&report, &["mfa-login"]);

    // Two users cannot serve 40 sign-ins within a step: the rest are errors
    // that say so, never a wait.
    let few = MfaUsers::prepare(client.clone(), server.target.clone(), "few", 2, 2)
        .await
        .expect("users enrolled with TOTP");
    let fixture = Fixture::prepare(client, server.target.clone(), "few", 1, 2, 2)
        .await
        .expect("users and sessions");
    let fixture = Arc::new(fixture.with_mfa(few));
    let report = load::run(fixture, Scenario::MfaLogin, &options(Some(40.0)))
        .await
        .expect("mfa-login runs");
    let stats = &report.operations["mfa-login"];
    assert!(
        stats.errors.keys().any(|e| e.contains("no TOTP step left")),
        "{:?}",
        stats.errors
    );
    assert!(stats.ok <= 4, "at most two steps for each of two users");
}
