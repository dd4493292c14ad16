//! Recording outcomes: a latency histogram per operation, ok counts and
//! errors by kind, merged from every worker at the end of a run.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// The slowest latency recorded exactly (60 s); slower ones are clamped.
const MAX_MICROS: u64 = 60_000_000;

/// One operation's outcome: success, or an error kind such as
/// `401 invalid_grant`, `timeout` or `transport: connect`.
pub type Outcome = Result<(), String>;

/// Outcomes of one operation kind (login, refresh, verify).
#[derive(Clone)]
pub struct OpRecorder {
    histogram: Histogram<u64>,
    ok: u64,
    errors: BTreeMap<String, u64>,
}

impl Default for OpRecorder {
    #[allow(
        clippy::expect_used,
        reason = "constant bounds that new_with_bounds accepts; every run of the tool builds one first"
    )]
    fn default() -> Self {
        Self {
            // 3 significant digits from 1 µs to 60 s.
            histogram: Histogram::new_with_bounds(1, MAX_MICROS, 3)
                .expect("constant, valid bounds"),
            ok: 0,
            errors: BTreeMap::new(),
        }
    }
}

impl OpRecorder {
    /// Records one request: its latency goes into the histogram whatever
    /// the outcome (a slow error is still a slow answer).
    pub fn record(&mut self, latency: Duration, outcome: Outcome) {
        let micros = u64::try_from(latency.as_micros())
            .unwrap_or(MAX_MICROS)
            .clamp(1, MAX_MICROS);
        self.histogram.saturating_record(micros);
        match outcome {
            Ok(()) => self.ok += 1,
            Err(kind) => *self.errors.entry(kind).or_default() += 1,
        }
    }

    /// Counts an error that has no latency, such as a request that was
    /// never sent: it is a request of the window, not a point of the histogram.
    pub fn count_unsent(&mut self, kind: String) {
        *self.errors.entry(kind).or_default() += 1;
    }

    pub fn merge(&mut self, other: &OpRecorder) {
        let _ = self.histogram.add(&other.histogram);
        self.ok += other.ok;
        for (kind, n) in &other.errors {
            *self.errors.entry(kind.clone()).or_default() += n;
        }
    }

    /// The figures of this operation over `elapsed`.
    pub fn stats(&self, elapsed: Duration) -> Stats {
        let h = &self.histogram;
        let ms = |micros: u64| micros as f64 / 1000.0;
        let errors: u64 = self.errors.values().sum();
        let secs = elapsed.as_secs_f64().max(1e-9);
        let curve = if h.is_empty() {
            Vec::new()
        } else {
            // 1 - 10^(-k/10): 0%, 20.6%, ... 90%, ... 99%, ... 99.99%, then max.
            let mut points: Vec<[f64; 2]> = (0..=40)
                .map(|k| {
                    let q = 1.0 - 10f64.powf(-f64::from(k) / 10.0);
                    [q * 100.0, ms(h.value_at_quantile(q))]
                })
                .collect();
            points.push([100.0, ms(h.max())]);
            points
        };
        Stats {
            requests: self.ok + errors,
            ok: self.ok,
            errors: self.errors.clone(),
            throughput: self.ok as f64 / secs,
            latency_ms: Latency {
                mean: h.mean() / 1000.0,
                p50: ms(h.value_at_quantile(0.50)),
                p90: ms(h.value_at_quantile(0.90)),
                p99: ms(h.value_at_quantile(0.99)),
                max: ms(h.max()),
            },
            curve,
        }
    }
}

/// Latency figures, in milliseconds.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, PartialEq)]
pub struct Latency {
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

/// What a run of one operation kind (or all of them) produced.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct Stats {
    /// Requests answered (successes and errors) within the measured window.
    pub requests: u64,
    /// Successful requests.
    pub ok: u64,
    /// Errors by kind: `<status> <error code>`, `timeout`, `transport: ...`.
    pub errors: BTreeMap<String, u64>,
    /// Successful requests per second.
    pub throughput: f64,
    pub latency_ms: Latency,
    /// `[percentile, milliseconds]` pairs for the latency chart.
    pub curve: Vec<[f64; 2]>,
}

impl Stats {
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_are_counted_by_kind_and_latencies_summarised() {
        let mut a = OpRecorder::default();
        for ms in 1..=100u64 {
            a.record(Duration::from_millis(ms), Ok(()));
        }
        let mut b = OpRecorder::default();
        b.record(Duration::from_millis(500), Err("401 invalid_grant".into()));
        b.record(Duration::from_secs(5), Err("timeout".into()));
        b.record(Duration::from_secs(1), Err("timeout".into()));
        a.merge(&b);
        let stats = a.stats(Duration::from_secs(2));
        assert_eq!(
            (stats.requests, stats.ok, stats.error_count()),
            (103, 100, 3)
        );
        assert_eq!(stats.errors["timeout"], 2);
        assert_eq!(stats.errors["401 invalid_grant"], 1);
        assert!((stats.throughput - 50.0).abs() < 1e-9);
        // The 52nd of 103 values.
        assert!(
            (stats.latency_ms.p50 - 52.0).abs() < 0.5,
            "{:?}",
            stats.latency_ms
        );
        assert!(
            (stats.latency_ms.max - 5000.0).abs() < 5.0,
            "{:?}",
            stats.latency_ms
        );
        assert_eq!(stats.curve.len(), 42);
        assert!(stats.curve.windows(2).all(|w| w[0][1] <= w[1][1]));
    }
}
