//! The login-flood scenario: does a flood of logins slow refresh down? Refresh
//! latency with no other load, the login capacity (closed loop), then refresh
//! latency again while logins arrive open-loop at a multiple of that capacity,
//! and authd's resident memory before and during the flood.

use std::fmt::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::load::{self, Fixture, LoadOptions, Scenario, ScenarioReport};
use crate::record::{OpRecorder, Stats};
use crate::system::memory_kb;

/// Flood logins in flight at most. authd holds at most
/// `password.max_queued_hashes` (64) logins waiting for a hashing thread and
/// answers 503 at once past that, so a healthy server stays far below this;
/// a login due while this many are unanswered is not sent and is counted as
/// the error `not sent: 256 in flight` (the load generator's own limit, kept
/// under the usual 1,024 open files).
pub const MAX_IN_FLIGHT: usize = 256;

/// What the login-flood scenario measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FloodReport {
    /// Refresh, closed loop, with nothing else running.
    pub refresh_alone: ScenarioReport,
    /// Login, closed loop: the capacity the flood is a multiple of.
    pub login_capacity: ScenarioReport,
    /// The flood's rate as a multiple of the login capacity.
    pub multiple: f64,
    /// Logins offered per second during the flood.
    pub flood_rate: f64,
    /// The flood's logins due in its measured window, by outcome: `503
    /// temporarily_unavailable` is authd shedding what it cannot hash.
    pub flood_logins: Stats,
    /// Those of `flood_logins` answered 503: how long a shed login waits for
    /// its answer. Absent from reports made before it was measured.
    #[serde(default)]
    pub flood_unavailable: Option<Stats>,
    /// The flood's measured window: from the end of the warm-up until the
    /// refresh run under it ended.
    pub flood_secs: f64,
    /// Refresh, closed loop, during the flood.
    pub refresh_under_flood: ScenarioReport,
    /// authd's resident memory right before the scenario, nothing in flight, kB.
    pub rss_before_kb: Option<u64>,
    /// The largest resident size sampled during the flood's window, kB.
    pub flood_peak_rss_kb: Option<u64>,
    /// The kernel's high-water mark right after the flood (`VmHWM`), kB.
    pub hwm_after_kb: Option<u64>,
}

impl FloodReport {
    /// Refresh under the flood over refresh alone: (p50, p99, throughput).
    pub fn ratios(&self) -> (f64, f64, f64) {
        refresh_ratios(&self.refresh_alone, &self.refresh_under_flood)
    }

    /// The scenario's part of the printed report.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "login flood: refresh ({} workers, closed loop) alone and while logins are offered at {:.0}x the login capacity",
            self.refresh_alone.concurrency, self.multiple
        );
        let _ = writeln!(
            out,
            "  {:<28} {:>9} {:>10} {:>8} {:>8} {:>8} {:>8}  errors",
            "", "requests", "ok/s", "p50 ms", "p90 ms", "p99 ms", "max ms"
        );
        let capacity = &self.login_capacity.total;
        let mut rows = vec![
            ("refresh alone", &self.refresh_alone.total),
            ("login capacity (closed loop)", capacity),
            ("flood logins (open loop)", &self.flood_logins),
        ];
        if let Some(unavailable) = &self.flood_unavailable {
            rows.push(("  of which answered 503", unavailable));
        }
        rows.push(("refresh under the flood", &self.refresh_under_flood.total));
        for (name, st) in rows {
            let _ = writeln!(
                out,
                "  {name:<28} {:>9} {:>10.1} {:>8.2} {:>8.2} {:>8.2} {:>8.2}  {}",
                st.requests,
                st.throughput,
                st.latency_ms.p50,
                st.latency_ms.p90,
                st.latency_ms.p99,
                st.latency_ms.max,
                errors(st)
            );
        }
        let (p50, p99, throughput) = self.ratios();
        let _ = writeln!(
            out,
            "  flood: {:.0} logins/s offered ({:.0}x {:.1}/s)",
            self.flood_rate, self.multiple, capacity.throughput
        );
        let _ = writeln!(
            out,
            "  refresh under the flood / alone: p50 {p50:.2}x, p99 {p99:.2}x, throughput {throughput:.2}x"
        );
        let mb =
            |kb: Option<u64>| kb.map_or("?".into(), |kb| format!("{:.1} MB", kb as f64 / 1024.0));
        let _ = writeln!(
            out,
            "  authd resident memory: {} before the scenario, peak {} during the flood, high-water mark {} after it",
            mb(self.rss_before_kb),
            mb(self.flood_peak_rss_kb),
            mb(self.hwm_after_kb)
        );
        out
    }
}

/// Refresh under a flood over refresh alone: (p50, p99, throughput); NaN
/// where the run alone has nothing to divide by.
pub(crate) fn refresh_ratios(alone: &ScenarioReport, flooded: &ScenarioReport) -> (f64, f64, f64) {
    let (alone, flooded) = (&alone.total, &flooded.total);
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::NAN };
    (
        ratio(flooded.latency_ms.p50, alone.latency_ms.p50),
        ratio(flooded.latency_ms.p99, alone.latency_ms.p99),
        ratio(flooded.throughput, alone.throughput),
    )
}

pub(crate) fn errors(stats: &Stats) -> String {
    if stats.errors.is_empty() {
        return "0".into();
    }
    stats
        .errors
        .iter()
        .map(|(k, n)| format!("{n} × {k}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Runs the scenario: three closed-loop windows of `options` (refresh, login,
/// refresh again under a flood at `multiple` times the login rate reached).
/// `options.rate` is ignored: the flood is the open-loop part.
pub async fn run(
    fixture: Arc<Fixture>,
    options: &LoadOptions,
    multiple: f64,
) -> anyhow::Result<FloodReport> {
    anyhow::ensure!(
        multiple.is_finite() && multiple > 0.0,
        "--flood-multiple must be a positive number"
    );
    let options = LoadOptions {
        rate: None,
        ..options.clone()
    };
    let rss_before_kb = options.server_pid.and_then(|pid| memory_kb(pid, "VmRSS"));
    let refresh_alone = load::run(fixture.clone(), Scenario::Refresh, &options).await?;
    eprintln!(
        "login-flood: refresh alone {:.1}/s, p50 {:.2} ms, p99 {:.2} ms",
        refresh_alone.total.throughput,
        refresh_alone.total.latency_ms.p50,
        refresh_alone.total.latency_ms.p99
    );
    let login_capacity = load::run(fixture.clone(), Scenario::Login, &options).await?;
    let capacity = login_capacity.total.throughput;
    let flood_rate = (capacity * multiple).max(1.0);
    eprintln!("login-flood: login capacity {capacity:.1}/s, flooding at {flood_rate:.0}/s");

    // The flood's warm-up is the refresh run's: both start now.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let measure_from = Instant::now() + options.warmup;
    let logins = fixture.clone();
    let flood = tokio::spawn(offer(flood_rate, measure_from, stopped, move |slot| {
        let fixture = logins.clone();
        async move { fixture.login(slot).await }
    }));
    let refresh_under_flood = load::run(fixture, Scenario::Refresh, &options).await;
    let stopped_at = Instant::now();
    let _ = stop.send(true);
    let offered = flood.await.context("the login flood panicked")?;
    let refresh_under_flood = refresh_under_flood?;
    let hwm_after_kb = options.server_pid.and_then(|pid| memory_kb(pid, "VmHWM"));
    let flood_window = stopped_at.saturating_duration_since(measure_from);
    let flood_logins = offered.answers.stats(flood_window);
    let flood_unavailable = Some(offered.unavailable.stats(flood_window));
    eprintln!(
        "login-flood: refresh under the flood {:.1}/s, p50 {:.2} ms, p99 {:.2} ms; {} logins answered, {} refused or failed",
        refresh_under_flood.total.throughput,
        refresh_under_flood.total.latency_ms.p50,
        refresh_under_flood.total.latency_ms.p99,
        flood_logins.ok,
        flood_logins.error_count()
    );
    Ok(FloodReport {
        flood_peak_rss_kb: refresh_under_flood.server_peak_rss_kb,
        refresh_alone,
        login_capacity,
        multiple,
        flood_rate,
        flood_logins,
        flood_unavailable,
        flood_secs: flood_window.as_secs_f64(),
        refresh_under_flood,
        rss_before_kb,
        hwm_after_kb,
    })
}

/// What an open-loop offer recorded.
#[derive(Default)]
pub struct Offered {
    /// Every request due in the measured window, by outcome.
    pub answers: OpRecorder,
    /// Those answered 503 (`temporarily_unavailable`): authd shedding load.
    pub unavailable: OpRecorder,
}

/// Sends `send(slot)` every `1 / rate` seconds until told to stop, each in a
/// task of its own whatever the earlier ones are doing (open loop), and
/// records those due from `measure_from` on, latency counted from when each
/// was due. At most [`MAX_IN_FLIGHT`] are unanswered at once; one due past
/// that is not sent, and counted as such.
pub async fn offer<F, Fut>(
    rate: f64,
    measure_from: Instant,
    mut stop: tokio::sync::watch::Receiver<bool>,
    send: F,
) -> Offered
where
    F: Fn(u64) -> Fut + Send,
    Fut: std::future::Future<Output = crate::record::Outcome> + Send + 'static,
{
    let start = Instant::now();
    let in_flight = Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT));
    let mut recorder = Offered::default();
    let mut tasks = tokio::task::JoinSet::new();
    for slot in 0u64.. {
        let due = start + Duration::from_secs_f64(slot as f64 / rate);
        tokio::select! {
            _ = tokio::time::sleep_until(due.into()) => {}
            _ = stop.changed() => break,
        }
        let counted = due >= measure_from;
        match in_flight.clone().try_acquire_owned() {
            Ok(permit) => {
                let request = send(slot);
                tasks.spawn(async move {
                    let outcome = request.await;
                    drop(permit);
                    (counted, due.elapsed(), outcome)
                });
            }
            Err(_) if counted => {
                recorder
                    .answers
                    .count_unsent(format!("not sent: {MAX_IN_FLIGHT} in flight"));
            }
            Err(_) => {}
        }
        while let Some(done) = tasks.try_join_next() {
            record(&mut recorder, done);
        }
    }
    while let Some(done) = tasks.join_next().await {
        record(&mut recorder, done);
    }
    recorder
}

type Answered = Result<(bool, Duration, crate::record::Outcome), tokio::task::JoinError>;

fn record(recorder: &mut Offered, done: Answered) {
    match done {
        Ok((true, latency, outcome)) => {
            if matches!(&outcome, Err(kind) if kind.starts_with("503 ")) {
                recorder.unavailable.record(latency, outcome.clone());
            }
            recorder.answers.record(latency, outcome);
        }
        Ok((false, ..)) => {}
        Err(_) => recorder
            .answers
            .count_unsent("internal: a request task panicked".into()),
    }
}
