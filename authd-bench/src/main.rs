//! `authd-bench`: load a running authd (on this machine only) with login,
//! refresh, verify, mixed, code-flow, sso, mfa-login, login-flood and forgot-flood
//! scenarios, measure the
//! machine's own limits in the same run, and report authd's figures as ratios
//! of them.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use authd::config::{Settings, Sources};
use authd_bench::code_flow::{self, CodeFlow, OAuthClient};
use authd_bench::flood;
use authd_bench::forgot::{self, ForgotOptions};
use authd_bench::limits::{self, Argon2Params, VerifyKey};
use authd_bench::load::{self, Fixture, LoadOptions, Mix, Scenario};
use authd_bench::mfa::MfaUsers;
use authd_bench::report::{Limits, Memory, Report, RunSettings};
use authd_bench::system::{Machine, memory_kb};
use authd_bench::target::{Target, check_database_url};
use clap::Parser;

#[derive(Debug, Parser)]
#[command(
    name = "authd-bench",
    version,
    about = "Load generator for authd (loopback only), with the machine's limits measured alongside",
    after_help = "Example: authd-bench --target http://127.0.0.1:8080 --scenario login,refresh \
                  --config authd.toml --database-url sqlite://data/authd.db --chart latency.svg"
)]
struct Cli {
    /// authd's base URL; only loopback addresses are accepted.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    target: String,
    /// Scenarios to run, in order (comma-separated). code-flow: whole
    /// authorizations (authorize, the login page, consent, token, userinfo),
    /// each from a browser with no cookie; sso: authorize with a live
    /// browser session, then the token (both with a confidential client the
    /// tool registers through --database-url). login-flood: refresh
    /// alone, the login capacity, then refresh while logins are offered at
    /// --flood-multiple times that capacity (closed loop; --rate and
    /// --capacity-fraction do not apply to it). forgot-flood: refresh alone,
    /// then refresh while POST /auth/password/forgot is offered at
    /// --forgot-rate, with the outbox's depth read from --metrics-url.
    /// mfa-login: POST /auth/login then POST /auth/mfa/verify with a TOTP
    /// code, for --mfa-users users enrolled before the run (compare it with
    /// login of the same run).
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "login,refresh,verify,mixed,code-flow,sso,mfa-login,login-flood,forgot-flood"
    )]
    scenario: Vec<Scenario>,
    /// The login-flood scenario's login rate, as a multiple of the login
    /// capacity it measures.
    #[arg(long, default_value_t = 10.0)]
    flood_multiple: f64,
    /// The forgot-flood scenario's rate: forgot requests offered per second.
    #[arg(long, default_value_t = 500.0)]
    forgot_rate: f64,
    /// The share of the forgot flood's requests for registered addresses (0
    /// to 1); the others are for addresses nobody registered.
    #[arg(long, default_value_t = 0.5)]
    forgot_known: f64,
    /// authd's metrics page, read during the forgot flood: metrics.listen's
    /// (default: the target's /metrics, served only with metrics.public, and
    /// then without the mail families this reads).
    #[arg(long)]
    metrics_url: Option<String>,
    /// authd's data_dir/mail, where it writes .eml files when no SMTP server
    /// is set: the forgot flood counts the files written.
    #[arg(long)]
    mail_dir: Option<PathBuf>,
    /// Seconds to wait after the forgot flood for the outbox to drain.
    #[arg(long, default_value_t = 60.0)]
    drain_timeout: f64,
    /// code-flow and sso: a confidential client registered before
    /// (client_secret_basic, redirect URI http://127.0.0.1:9/cb, scopes
    /// "openid email offline_access"); default: one is registered on
    /// --database-url.
    #[arg(long, requires = "client_secret")]
    client_id: Option<String>,
    /// The secret of --client-id.
    #[arg(long, requires = "client_id")]
    client_secret: Option<String>,
    /// code-flow: consent only at each user's first authorization (no
    /// prompt=consent), instead of the consent page in every flow.
    #[arg(long)]
    remembered_consent: bool,
    /// mfa-login: users enrolled with TOTP before the run. authd takes a
    /// code of a step once, so each serves at least one sign-in per 30 s
    /// step: give at least the sign-ins expected within 30 s (a sign-in with
    /// no step left is an error, "raise --mfa-users").
    #[arg(long, default_value_t = 1200)]
    mfa_users: usize,
    /// Requests in flight at most.
    #[arg(short, long, default_value_t = 16)]
    concurrency: usize,
    /// Seconds measured per scenario.
    #[arg(short, long, default_value_t = 10.0)]
    duration: f64,
    /// Seconds of load before each measured window, not recorded.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Open loop at this many requests per second (latency counted from when
    /// each request was due); default: closed loop.
    #[arg(long)]
    rate: Option<f64>,
    /// After each closed-loop run, run again open-loop at this fraction of the
    /// throughput it reached (0.8: "p99 at 80% of capacity").
    #[arg(long)]
    capacity_fraction: Option<f64>,
    /// Users registered before the runs (an existing one is reused).
    #[arg(long, default_value_t = 50)]
    users: usize,
    /// Sessions logged in before the runs; at least --concurrency.
    #[arg(long, default_value_t = 64)]
    sessions: usize,
    /// LOGIN:REFRESH:VERIFY requests per cycle of the mixed scenario.
    #[arg(long, default_value = "1:10:100")]
    mix: Mix,
    /// Seconds before a request counts as a timeout.
    #[arg(long, default_value_t = 10.0)]
    timeout: f64,
    /// authd's configuration file: Argon2id parameters, JWT keys (needed to
    /// verify HS256 tokens here) and the database pool size.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Argon2id memory cost in KiB (default: the configuration's, else 19456).
    #[arg(long)]
    argon2_m: Option<u32>,
    /// Argon2id iterations (default: the configuration's, else 2).
    #[arg(long)]
    argon2_t: Option<u32>,
    /// Argon2id lanes (default: the configuration's, else 1).
    #[arg(long)]
    argon2_p: Option<u32>,
    /// The server's database, to measure the raw rotation rate on it (on a
    /// user and sessions of the tool's own).
    #[arg(long)]
    database_url: Option<String>,
    /// Connections for the raw rotation rate (default: the configuration's
    /// database.max_connections, else 10: the server's pool).
    #[arg(long)]
    db_connections: Option<u32>,
    /// authd's process id, to sample its memory and CPU time.
    #[arg(long)]
    server_pid: Option<u32>,
    /// What else shares the cores, for the report (e.g. "authd, PostgreSQL").
    #[arg(
        long,
        default_value = "authd and authd-bench (and the database server, if local)"
    )]
    shared_with: String,
    /// A label for this run, such as the store.
    #[arg(long)]
    label: Option<String>,
    /// Seconds per limit measurement.
    #[arg(long, default_value_t = 3.0)]
    limit_seconds: f64,
    /// Skip the limit measurements.
    #[arg(long)]
    no_limits: bool,
    /// Print the report as JSON on stdout instead of the table.
    #[arg(long)]
    json: bool,
    /// Also write the JSON report to this file.
    #[arg(long)]
    json_out: Option<PathBuf>,
    /// Write an SVG latency chart (percentile curves) to this file.
    #[arg(long)]
    chart: Option<PathBuf>,
    /// With --chart: draw the chart from these JSON reports and run nothing.
    #[arg(long, requires = "chart")]
    from_json: Vec<PathBuf>,
    /// Names the users (bench-TAG-N@bench.example); default: random.
    #[arg(long)]
    tag: Option<String>,
}

fn secs(s: f64, what: &str) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(s)
        .with_context(|| format!("{what}: {s} is not a duration in seconds"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if !cli.from_json.is_empty() {
        return chart_only(&cli);
    }
    let target = Target::parse(&cli.target)?;
    // The report has room for one of each: the floods' windows are their own.
    for flood in [Scenario::LoginFlood, Scenario::ForgotFlood] {
        let listed = cli.scenario.iter().filter(|s| **s == flood).count();
        anyhow::ensure!(
            listed <= 1,
            "{} is listed more than once in --scenario",
            flood.name()
        );
    }
    if let Some(url) = &cli.metrics_url {
        Target::parse(url).context("--metrics-url")?;
    }
    if let Some(url) = &cli.database_url {
        check_database_url(url)?;
    }
    let settings = match &cli.config {
        Some(path) => Some(
            Settings::load(&Sources {
                file: Some(path.clone()),
                env: Vec::new(),
            })
            .context("reading --config with authd's configuration loader")?,
        ),
        None => None,
    };
    let report = run(&cli, target, settings.as_ref()).await?;
    if cli.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.table());
    }
    if let Some(path) = &cli.json_out {
        std::fs::write(path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = &cli.chart {
        let title = format!(
            "authd latency{}",
            report
                .label
                .as_ref()
                .map(|l| format!(" ({l})"))
                .unwrap_or_default()
        );
        std::fs::write(path, authd_bench::chart::svg(&[&report], &title))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

fn chart_only(cli: &Cli) -> anyhow::Result<()> {
    let mut reports = Vec::new();
    for path in &cli.from_json {
        let text = std::fs::read_to_string(path).with_context(|| format!("{}", path.display()))?;
        let report: Report =
            serde_json::from_str(&text).with_context(|| format!("{}", path.display()))?;
        reports.push(report);
    }
    let refs: Vec<&Report> = reports.iter().collect();
    let path = cli
        .chart
        .as_ref()
        .context("--chart is required with --from-json")?;
    std::fs::write(path, authd_bench::chart::svg(&refs, "authd latency"))
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

async fn run(cli: &Cli, target: Target, settings: Option<&Settings>) -> anyhow::Result<Report> {
    let started_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let machine = Machine::detect(cli.shared_with.clone());
    let mut notes = Vec::new();
    let idle_rss_kb = cli.server_pid.and_then(|pid| memory_kb(pid, "VmRSS"));
    if cli.server_pid.is_none() {
        notes.push("no --server-pid: authd's memory and CPU time were not sampled".into());
    }

    let concurrency = cli.concurrency.max(1);
    let client = reqwest::Client::builder()
        .timeout(secs(cli.timeout, "--timeout")?)
        // Enough idle connections for the login flood's logins in flight,
        // so that it does not open a connection per login.
        .pool_max_idle_per_host((concurrency * 2).max(flood::MAX_IN_FLIGHT))
        .no_proxy()
        .build()?;
    let tag = cli
        .tag
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string()[..8].to_owned());
    let sessions = cli.sessions.max(concurrency);
    eprintln!(
        "preparing {} users and {sessions} sessions on {} (not measured)...",
        cli.users,
        target.base()
    );
    let mut fixture = Fixture::prepare(
        client.clone(),
        target.clone(),
        &tag,
        cli.users,
        sessions,
        concurrency,
    )
    .await
    .context("preparing users and sessions")?;
    let code_flow_runs = |s: Scenario| cli.scenario.contains(&s);
    if code_flow_runs(Scenario::CodeFlow) || code_flow_runs(Scenario::Sso) {
        let oauth_client = match (&cli.client_id, &cli.client_secret, &cli.database_url) {
            (Some(id), Some(secret), _) => OAuthClient {
                id: id.clone(),
                secret: secret.clone().into(),
            },
            (_, _, Some(url)) => {
                let issuer = target.issuer(&client).await.context("discovery")?;
                code_flow::register_client(url, &issuer, &tag).await?
            }
            _ => anyhow::bail!(
                "code-flow and sso need a client: give --database-url (one is registered) \
                 or --client-id and --client-secret"
            ),
        };
        let mut flow = CodeFlow::new(
            target.clone(),
            oauth_client,
            secs(cli.timeout, "--timeout")?,
            concurrency * 2,
            !cli.remembered_consent,
        )?;
        if code_flow_runs(Scenario::Sso) {
            eprintln!(
                "opening a browser session for each of {} users by the code flow (not measured)...",
                fixture.users()
            );
            flow.open_browsers(fixture.emails()).await?;
        }
        fixture = fixture.with_code_flow(flow);
    }
    if cli.scenario.contains(&Scenario::MfaLogin) {
        eprintln!(
            "registering {} users and enrolling each with TOTP (not measured)...",
            cli.mfa_users
        );
        let mfa = MfaUsers::prepare(
            client.clone(),
            target.clone(),
            &tag,
            cli.mfa_users,
            concurrency,
        )
        .await
        .context("enrolling users with TOTP")?;
        fixture = fixture.with_mfa(mfa);
    }
    let fixture = Arc::new(fixture);
    let sample = fixture.access_tokens().first().cloned();
    let alg = sample
        .as_deref()
        .and_then(|t| jsonwebtoken::decode_header(t).ok())
        .map(|h| h.alg);

    let mut options = LoadOptions {
        concurrency,
        duration: secs(cli.duration, "--duration")?,
        warmup: secs(cli.warmup, "--warmup")?,
        rate: cli.rate,
        mix: cli.mix,
        server_pid: cli.server_pid,
        progress: !cli.json,
    };
    let mut scenarios = Vec::new();
    let mut login_flood = None;
    let mut forgot_flood = None;
    let forgot_options = ForgotOptions {
        rate: cli.forgot_rate,
        known_fraction: cli.forgot_known,
        metrics_url: cli
            .metrics_url
            .clone()
            .unwrap_or_else(|| target.url("/metrics")),
        mail_dir: cli.mail_dir.clone(),
        drain_timeout: secs(cli.drain_timeout, "--drain-timeout")?,
    };
    for &scenario in &cli.scenario {
        options.rate = cli.rate;
        if scenario == Scenario::LoginFlood {
            login_flood = Some(flood::run(fixture.clone(), &options, cli.flood_multiple).await?);
            continue;
        }
        if scenario == Scenario::ForgotFlood {
            forgot_flood = Some(forgot::run(fixture.clone(), &options, &forgot_options).await?);
            continue;
        }
        let report = load::run(fixture.clone(), scenario, &options).await?;
        eprintln!(
            "{}: {:.1}/s, p99 {:.2} ms, {} errors",
            scenario.name(),
            report.total.throughput,
            report.total.latency_ms.p99,
            report.total.error_count()
        );
        let capacity = report.total.throughput;
        scenarios.push(report);
        if let Some(fraction) = cli.capacity_fraction
            && cli.rate.is_none()
            && capacity > 0.0
        {
            options.rate = Some(capacity * fraction);
            let report = load::run(fixture.clone(), scenario, &options).await?;
            eprintln!(
                "{} at {:.0}% of capacity ({:.0}/s): p99 {:.2} ms, {} errors",
                scenario.name(),
                fraction * 100.0,
                capacity * fraction,
                report.total.latency_ms.p99,
                report.total.error_count()
            );
            scenarios.push(report);
        }
    }

    let mut limits = Limits::default();
    if cli.no_limits {
        notes.push("--no-limits: the machine's limits were not measured".into());
    } else {
        measure_limits(
            cli,
            settings,
            &client,
            &target,
            &fixture,
            alg,
            &mut limits,
            &mut notes,
        )
        .await?;
    }

    let login_peak = scenarios
        .iter()
        .filter(|s| s.scenario == Scenario::Login)
        .filter_map(|s| s.server_peak_rss_kb)
        .max();
    let memory = cli.server_pid.map(|pid| Memory {
        idle_rss_kb,
        login_peak_rss_kb: login_peak,
        peak_hwm_kb: memory_kb(pid, "VmHWM"),
    });
    let mut report = Report {
        tool: format!("authd-bench {}", env!("CARGO_PKG_VERSION")),
        started_at,
        target: target.base().to_owned(),
        label: cli.label.clone(),
        machine,
        settings: RunSettings {
            concurrency,
            duration_secs: cli.duration,
            warmup_secs: cli.warmup,
            rate: cli.rate,
            capacity_fraction: cli.capacity_fraction,
            users: fixture.users(),
            sessions: fixture.sessions(),
            mix: cli.mix,
            alg: alg.map(|a| authd::keys::alg_name(a).to_owned()),
        },
        memory,
        scenarios,
        login_flood,
        forgot_flood,
        limits,
        ratios: Vec::new(),
        notes,
    };
    report.compute_ratios();
    Ok(report)
}

#[allow(clippy::too_many_arguments)]
async fn measure_limits(
    cli: &Cli,
    settings: Option<&Settings>,
    client: &reqwest::Client,
    target: &Target,
    fixture: &Fixture,
    alg: Option<jsonwebtoken::Algorithm>,
    limits: &mut Limits,
    notes: &mut Vec<String>,
) -> anyhow::Result<()> {
    let duration = secs(cli.limit_seconds, "--limit-seconds")?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let configured = settings.map(|s| Argon2Params {
        m_cost: s.password.argon2_m_cost,
        t_cost: s.password.argon2_t_cost,
        p_cost: s.password.argon2_p_cost,
    });
    let base = configured.unwrap_or_default();
    let params = Argon2Params {
        m_cost: cli.argon2_m.unwrap_or(base.m_cost),
        t_cost: cli.argon2_t.unwrap_or(base.t_cost),
        p_cost: cli.argon2_p.unwrap_or(base.p_cost),
    };
    eprintln!("measuring limits ({} s each)...", cli.limit_seconds);
    limits.argon2_params = Some(params);
    limits.argon2 = Some(
        tokio::task::spawn_blocking(move || limits::argon2_rate(params, cores, duration)).await??,
    );

    match &cli.database_url {
        Some(url) => {
            let connections = cli
                .db_connections
                .or(settings.map(|s| s.database.max_connections))
                .unwrap_or(10);
            let warmup = duration / 4;
            limits.rotation_sql =
                Some(limits::rotation_rate(url, connections, warmup, duration).await?);
        }
        None => notes.push("no --database-url: the raw rotation-SQL rate was not measured".into()),
    }

    let Some(alg) = alg else {
        notes.push("no session was prepared: signing and verification limits not measured".into());
        return Ok(());
    };
    let issuer = target
        .issuer(client)
        .await
        .unwrap_or_else(|_| target.base().to_owned());
    let (signer, source) = limits::signer(settings, alg, &issuer)?;
    let signer = Arc::new(signer);
    limits.signing_alg = Some(authd::keys::alg_name(signer.keys().signer().alg).to_owned());
    limits.signing_key = Some(source);
    for threads in [1, cores] {
        let signer = signer.clone();
        let rate =
            tokio::task::spawn_blocking(move || limits::signing_rate(&signer, threads, duration))
                .await?;
        if threads == 1 {
            limits.signing_one_core = Some(rate.clone());
        }
        if threads == cores {
            limits.signing_all_cores = Some(rate);
        }
    }

    let tokens = fixture.access_tokens().to_vec();
    let hs256_secret = match settings {
        Some(s) => {
            let kid = jsonwebtoken::decode_header(&tokens[0])?
                .kid
                .unwrap_or_default();
            limits::hs256_secret(s, &kid)?
        }
        None => None,
    };
    let audience = settings.map_or("authd".to_owned(), |s| s.jwt.audience.clone());
    match VerifyKey::discover(client, target, &tokens[0], hs256_secret, &audience).await? {
        Some(key) => {
            let key = Arc::new(key);
            limits.verify_key = Some(key.source.clone());
            let (decode, verify) = key.compare_one_core(&tokens, duration).await?;
            limits.decode_one_core = Some(decode);
            limits.authd_verify_one_core = Some(verify);
            let (all, tokens) = (key.clone(), Arc::new(tokens));
            limits.decode_all_cores = Some(
                tokio::task::spawn_blocking(move || all.decode_rate(&tokens, cores, duration))
                    .await??,
            );
        }
        None => notes.push(
            "HS256 without the secret (give --config): bare decode and authd-verify not measured"
                .into(),
        ),
    }
    Ok(())
}
