//! The forgot-flood scenario: does a flood of `POST /auth/password/forgot`
//! slow refresh down, and does the outbox keep up with it? Refresh latency
//! with no other load, then again while forgot requests for a mix of
//! registered and unknown addresses arrive open-loop at `--forgot-rate`; the
//! mail metrics (`authd_mail_outbox_depth`, `authd_mail_queued_total`,
//! `authd_mail_sent_total`) sampled from `/metrics` through the flood and
//! until the outbox has drained; authd's memory.
//!
//! What the answers should be depends on the server's send limits: with the
//! defaults (`email.per_ip_limit` 20 an hour, and every request of the flood
//! comes from one address) nearly all are 429, answered before any database
//! work; with the limits raised (the per-recipient budgets too:
//! `scripts/bench.sh --raise-send-limits`) every request is accepted (202),
//! and each one for a registered address queues a message.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::flood::{errors, offer, refresh_ratios};
use crate::load::{self, Fixture, LoadOptions, Scenario, ScenarioReport};
use crate::mail_metrics::{MailSample, count_eml, drained_at, read_mail_metrics};
use crate::record::{Outcome, Stats};
use crate::requests::{error_kind, transport_kind};
use crate::system::memory_kb;

/// The forgot endpoint, as the server's OpenAPI document names it.
pub const FORGOT_PATH: &str = "/auth/password/forgot";

/// How often the mail metrics are read during the flood and the drain.
const SAMPLE_EVERY: Duration = Duration::from_millis(100);

/// How the flood is made.
#[derive(Debug, Clone)]
pub struct ForgotOptions {
    /// Forgot requests offered per second.
    pub rate: f64,
    /// The share of them for registered addresses (0 to 1); the others are
    /// for addresses nobody registered.
    pub known_fraction: f64,
    /// authd's `/metrics`: the target's, or `metrics.listen`'s.
    pub metrics_url: String,
    /// Where authd writes `.eml` files when no SMTP server is set
    /// (`data_dir/mail`), to count the messages it really wrote.
    pub mail_dir: Option<PathBuf>,
    /// How long to wait after the flood for the outbox to drain.
    pub drain_timeout: Duration,
}

/// What the outbox did from just before the flood until it had drained.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct OutboxFigures {
    pub depth_before: i64,
    /// The largest depth sampled from the flood's start until the drain.
    pub max_depth: i64,
    /// The depth when the flood ended.
    pub depth_at_flood_end: i64,
    /// The depth when the drain wait ended.
    pub depth_final: i64,
    /// Seconds from the flood's end until every message queued was sent (0:
    /// it already had been); `None`: not within `--drain-timeout`.
    pub drained_after_secs: Option<f64>,
    /// Messages queued and sent from just before the flood until the end of
    /// the drain wait.
    pub queued: u64,
    pub sent: u64,
    /// `.eml` files written meanwhile (with `--mail-dir`).
    pub eml_files: Option<u64>,
    /// Reads of `/metrics` that failed.
    pub metrics_errors: u64,
    /// Every sample, for a chart of the depth over time.
    pub samples: Vec<MailSample>,
}

/// What the forgot-flood scenario measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ForgotFloodReport {
    /// Refresh, closed loop, with nothing else running.
    pub refresh_alone: ScenarioReport,
    /// Forgot requests offered per second.
    pub rate: f64,
    pub known_fraction: f64,
    /// The forgot requests due in the measured window; `ok` is 202.
    pub forgot: Stats,
    /// The same by status: `202`, `429`, `503`, ... (or an error kind
    /// without a status, such as `timeout`).
    pub answers: BTreeMap<String, u64>,
    /// The measured window: from the end of the warm-up until the refresh
    /// run under the flood ended.
    pub flood_secs: f64,
    /// Refresh, closed loop, during the flood.
    pub refresh_under_flood: ScenarioReport,
    pub outbox: OutboxFigures,
    /// authd's resident memory right before the flood (after the refresh
    /// run alone, so without the hashing memory the fixture's logins left), kB.
    pub rss_before_kb: Option<u64>,
    /// The largest resident size sampled from the flood's start until the
    /// outbox drained, kB.
    pub peak_rss_kb: Option<u64>,
    /// The kernel's high-water mark after the drain (`VmHWM`), kB.
    pub hwm_after_kb: Option<u64>,
}

impl ForgotFloodReport {
    /// Refresh under the flood over refresh alone: (p50, p99, throughput).
    pub fn ratios(&self) -> (f64, f64, f64) {
        refresh_ratios(&self.refresh_alone, &self.refresh_under_flood)
    }

    /// The scenario's part of the printed report.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "forgot flood: refresh ({} workers, closed loop) alone and while POST {FORGOT_PATH} is offered at {:.0}/s ({:.0}% registered addresses)",
            self.refresh_alone.concurrency,
            self.rate,
            self.known_fraction * 100.0
        );
        let _ = writeln!(
            out,
            "  {:<28} {:>9} {:>10} {:>8} {:>8} {:>8} {:>8}  {:<26} errors",
            "",
            "requests",
            "ok/s",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "max ms",
            "cores authd/bench/pg/other"
        );
        let cores = |run: &ScenarioReport| {
            run.cpu.as_ref().map_or("?".into(), |c| {
                format!(
                    "{}/{:.2}/{:.2}/{:.2}",
                    c.authd.map_or("?".into(), |a| format!("{a:.2}")),
                    c.bench,
                    c.postgres,
                    c.other
                )
            })
        };
        for (name, st, cpu) in [
            (
                "refresh alone",
                &self.refresh_alone.total,
                cores(&self.refresh_alone),
            ),
            ("forgot (open loop, ok=202)", &self.forgot, String::new()),
            (
                "refresh under the flood",
                &self.refresh_under_flood.total,
                cores(&self.refresh_under_flood),
            ),
        ] {
            let _ = writeln!(
                out,
                "  {name:<28} {:>9} {:>10.1} {:>8.2} {:>8.2} {:>8.2} {:>8.2}  {cpu:<26} {}",
                st.requests,
                st.throughput,
                st.latency_ms.p50,
                st.latency_ms.p90,
                st.latency_ms.p99,
                st.latency_ms.max,
                errors(st)
            );
        }
        let answers: Vec<String> = self
            .answers
            .iter()
            .map(|(status, n)| format!("{n} × {status}"))
            .collect();
        let _ = writeln!(
            out,
            "  forgot answers in {:.1} s: {}",
            self.flood_secs,
            answers.join(", ")
        );
        let (p50, p99, throughput) = self.ratios();
        let _ = writeln!(
            out,
            "  refresh under the flood / alone: p50 {p50:.2}x, p99 {p99:.2}x, throughput {throughput:.2}x"
        );
        let o = &self.outbox;
        let drained = match o.drained_after_secs {
            Some(secs) => format!("drained {secs:.1} s after the flood"),
            None => "NOT drained by the end of the wait".into(),
        };
        let _ = writeln!(
            out,
            "  outbox depth: {} before, max {}, {} when the flood ended, {} at the end ({drained})",
            o.depth_before, o.max_depth, o.depth_at_flood_end, o.depth_final
        );
        let files = o
            .eml_files
            .map(|n| format!(", {n} .eml files written"))
            .unwrap_or_default();
        let failed = if o.metrics_errors > 0 {
            format!(" ({} reads of /metrics failed)", o.metrics_errors)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "  messages: {} queued, {} sent{files}{failed}",
            o.queued, o.sent
        );
        let mb =
            |kb: Option<u64>| kb.map_or("?".into(), |kb| format!("{:.1} MB", kb as f64 / 1024.0));
        let _ = writeln!(
            out,
            "  authd resident memory: {} right before the flood, peak {} during the flood and the drain, high-water mark {} after",
            mb(self.rss_before_kb),
            mb(self.peak_rss_kb),
            mb(self.hwm_after_kb)
        );
        out
    }
}

/// Answers by status: `ok` as `202`, each error kind by its leading status
/// code when it has one (`429 too_many_requests` → `429`), else whole.
pub fn by_status(stats: &Stats) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    if stats.ok > 0 {
        out.insert("202".to_owned(), stats.ok);
    }
    for (kind, n) in &stats.errors {
        let first = kind.split_whitespace().next().unwrap_or("");
        let key = if first.len() == 3 && first.bytes().all(|b| b.is_ascii_digit()) {
            first
        } else {
            kind.as_str()
        };
        *out.entry(key.to_owned()).or_default() += n;
    }
    out
}

/// Whether slot `slot` of the flood asks for a registered address, so that
/// `fraction` of every run of slots do, spread evenly.
fn is_known(slot: u64, fraction: f64) -> bool {
    let f = fraction.clamp(0.0, 1.0);
    ((slot + 1) as f64 * f).floor() > (slot as f64 * f).floor()
}

/// One forgot request; 202 is success, a 429 must say when to come back.
async fn forgot(client: reqwest::Client, url: String, email: String) -> Outcome {
    let response = client
        .post(url)
        .json(&json!({ "email": email }))
        .send()
        .await
        .map_err(|e| transport_kind(&e))?;
    match response.status().as_u16() {
        202 => {
            response.bytes().await.map_err(|e| transport_kind(&e))?;
            Ok(())
        }
        429 if !response
            .headers()
            .contains_key(reqwest::header::RETRY_AFTER) =>
        {
            Err("429 without Retry-After".into())
        }
        _ => Err(error_kind(response).await),
    }
}

/// Fails unless the server's OpenAPI document lists the forgot endpoint (an
/// older authd would answer every request of the flood 404).
async fn check_endpoint(fixture: &Fixture) -> anyhow::Result<()> {
    let doc: serde_json::Value = fixture
        .client()
        .get(fixture.target().url("/openapi.json"))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await
        .context("reading /openapi.json")?;
    if doc["paths"].get(FORGOT_PATH).is_none() {
        bail!("this authd does not serve POST {FORGOT_PATH}: forgot-flood cannot run against it");
    }
    Ok(())
}

/// The samples of the flood and the drain, and the largest resident size.
#[derive(Default)]
struct Sampled {
    samples: Vec<MailSample>,
    errors: u64,
    peak_rss_kb: Option<u64>,
}

/// Runs the scenario: refresh alone, then refresh again while forgot
/// requests are offered at `forgot.rate`, then waits for the outbox to
/// drain. `options.rate` is ignored: the flood is the open-loop part.
pub async fn run(
    fixture: Arc<Fixture>,
    options: &LoadOptions,
    forgot_options: &ForgotOptions,
) -> anyhow::Result<ForgotFloodReport> {
    let rate = forgot_options.rate;
    anyhow::ensure!(
        rate.is_finite() && rate > 0.0,
        "--forgot-rate must be a positive number"
    );
    let fraction = forgot_options.known_fraction;
    anyhow::ensure!(
        (0.0..=1.0).contains(&fraction),
        "--forgot-known must be between 0 and 1"
    );
    check_endpoint(&fixture).await?;
    let client = fixture.client().clone();
    let metrics_url = forgot_options.metrics_url.clone();
    read_mail_metrics(&client, &metrics_url, 0.0)
        .await
        .with_context(|| format!("reading the mail metrics at {metrics_url}"))?;
    let options = LoadOptions {
        rate: None,
        ..options.clone()
    };
    let pid = options.server_pid;
    let refresh_alone = load::run(fixture.clone(), Scenario::Refresh, &options).await?;
    eprintln!(
        "forgot-flood: refresh alone {:.1}/s, p50 {:.2} ms, p99 {:.2} ms; flooding forgot at {rate:.0}/s",
        refresh_alone.total.throughput,
        refresh_alone.total.latency_ms.p50,
        refresh_alone.total.latency_ms.p99
    );

    let rss_before_kb = pid.and_then(|pid| memory_kb(pid, "VmRSS"));
    let started = Instant::now();
    let before = read_mail_metrics(&client, &metrics_url, 0.0).await?;
    let eml_before = forgot_options.mail_dir.as_deref().and_then(count_eml);
    let sampled = Arc::new(Mutex::new(Sampled::default()));
    let (stop_sampling, mut sampling_stopped) = tokio::sync::watch::channel(false);
    let sampler = {
        let (client, url, sampled) = (client.clone(), metrics_url.clone(), sampled.clone());
        tokio::spawn(async move {
            loop {
                let secs = started.elapsed().as_secs_f64();
                let sample = read_mail_metrics(&client, &url, secs).await;
                let rss = pid.and_then(|pid| memory_kb(pid, "VmRSS"));
                if let Ok(mut s) = sampled.lock() {
                    match sample {
                        Ok(sample) => s.samples.push(sample),
                        Err(_) => s.errors += 1,
                    }
                    if let Some(kb) = rss {
                        s.peak_rss_kb = Some(s.peak_rss_kb.map_or(kb, |p| p.max(kb)));
                    }
                }
                tokio::select! {
                    _ = sampling_stopped.changed() => break,
                    () = tokio::time::sleep(SAMPLE_EVERY) => {}
                }
            }
        })
    };

    // The flood's warm-up is the refresh run's: both start now.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let measure_from = Instant::now() + options.warmup;
    let run_tag = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let senders = fixture.clone();
    let url = fixture.target().url(FORGOT_PATH);
    let flood = tokio::spawn(offer(rate, measure_from, stopped, move |slot| {
        let email = if is_known(slot, fraction) {
            let nth = ((slot + 1) as f64 * fraction).floor() as u64;
            senders.email(nth).to_owned()
        } else {
            format!("nobody-{run_tag}-{slot}@bench.example")
        };
        forgot(senders.client().clone(), url.clone(), email)
    }));
    let refresh_under_flood = load::run(fixture, Scenario::Refresh, &options).await;
    let stopped_at = Instant::now();
    let _ = stop.send(true);
    let recorder = flood.await.context("the forgot flood panicked")?.answers;
    let refresh_under_flood = refresh_under_flood?;
    let flood_window = stopped_at.saturating_duration_since(measure_from);
    let forgot_stats = recorder.stats(flood_window);
    let at_end = read_mail_metrics(&client, &metrics_url, started.elapsed().as_secs_f64())
        .await
        .ok();
    eprintln!(
        "forgot-flood: refresh under the flood {:.1}/s, p99 {:.2} ms; forgot answers {:?}; waiting for the outbox to drain...",
        refresh_under_flood.total.throughput,
        refresh_under_flood.total.latency_ms.p99,
        by_status(&forgot_stats)
    );

    let flood_end = stopped_at.saturating_duration_since(started).as_secs_f64();
    let drained_after_secs =
        drain(&sampled, &before, flood_end, forgot_options.drain_timeout).await;
    let _ = stop_sampling.send(true);
    let _ = sampler.await;
    let sampled = sampled
        .lock()
        .map(|mut s| std::mem::take(&mut *s))
        .unwrap_or_default();
    let last = sampled.samples.last().copied().unwrap_or(before);
    let eml_files = match (
        eml_before,
        forgot_options.mail_dir.as_deref().and_then(count_eml),
    ) {
        (Some(b), Some(a)) => Some(a.saturating_sub(b)),
        _ => None,
    };
    let outbox = OutboxFigures {
        depth_before: before.depth,
        max_depth: sampled
            .samples
            .iter()
            .map(|s| s.depth)
            .max()
            .unwrap_or(before.depth),
        depth_at_flood_end: at_end.map_or(last.depth, |s| s.depth),
        depth_final: last.depth,
        drained_after_secs,
        queued: last.queued.saturating_sub(before.queued),
        sent: last.sent.saturating_sub(before.sent),
        eml_files,
        metrics_errors: sampled.errors,
        samples: sampled.samples,
    };
    let peak_rss_kb = [refresh_under_flood.server_peak_rss_kb, sampled.peak_rss_kb]
        .into_iter()
        .flatten()
        .max();
    Ok(ForgotFloodReport {
        refresh_alone,
        rate,
        known_fraction: fraction,
        answers: by_status(&forgot_stats),
        forgot: forgot_stats,
        flood_secs: flood_window.as_secs_f64(),
        refresh_under_flood,
        outbox,
        rss_before_kb,
        peak_rss_kb,
        hwm_after_kb: pid.and_then(|pid| memory_kb(pid, "VmHWM")),
    })
}

/// Waits until the outbox has drained ([`drained_at`]) or `timeout` has
/// passed. Returns the seconds from `flood_end` (in the samples' seconds)
/// until it drained, or `None`.
async fn drain(
    sampled: &Mutex<Sampled>,
    before: &MailSample,
    flood_end: f64,
    timeout: Duration,
) -> Option<f64> {
    let deadline = Instant::now() + timeout;
    loop {
        let at = sampled
            .lock()
            .ok()
            .and_then(|s| drained_at(&s.samples, before));
        if let Some(at) = at {
            return Some((at - flood_end).max(0.0));
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(SAMPLE_EVERY).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_known_share_is_spread_evenly() {
        let known = |f| (0..1000).filter(|s| is_known(*s, f)).count();
        assert_eq!(known(0.5), 500);
        assert_eq!(known(0.25), 250);
        assert_eq!(known(0.0), 0);
        assert_eq!(known(1.0), 1000);
        assert!((0..10).any(|s| is_known(s, 0.5)) && (0..10).any(|s| !is_known(s, 0.5)));
    }

    #[test]
    fn answers_are_grouped_by_status() {
        let mut recorder = crate::record::OpRecorder::default();
        let ms = Duration::from_millis(1);
        recorder.record(ms, Ok(()));
        recorder.record(ms, Err("429 too_many_requests".into()));
        recorder.record(ms, Err("429 without Retry-After".into()));
        recorder.record(ms, Err("503 temporarily_unavailable".into()));
        recorder.record(ms, Err("timeout".into()));
        let answers = by_status(&recorder.stats(Duration::from_secs(1)));
        let expected: BTreeMap<String, u64> = [("202", 1), ("429", 2), ("503", 1), ("timeout", 1)]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        assert_eq!(answers, expected);
    }
}
