//! Prometheus metrics: requests and latency per route, logins, refreshes by
//! outcome, reuse detections, revocations, the hashing queue and its Argon2id
//! runs, the database pool, the email outbox (`mail::metrics`).

use std::sync::atomic::{AtomicU64, Ordering};

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

/// Every label value is chosen by authd, never copied from a request: each
/// distinct value is a series kept for the life of the process, so a value a
/// client controls would let it grow `/metrics` and the monitoring behind it
/// without bound.
pub struct Metrics {
    registry: Registry,
    /// `route`: a route template or `unmatched`; `method`: a fixed set or
    /// `other`; `status`: the answer's status (see `http::operations::measure`).
    pub requests: IntCounterVec,
    /// `route`, as for `requests`.
    pub latency: HistogramVec,
    /// `result`: `ok`, `failed` or `locked_out`.
    pub logins: IntCounterVec,
    /// `outcome`: `rotated`, `grace`, `reuse_detected` or `refused`.
    pub refreshes: IntCounterVec,
    /// `reason`: one of `sessions::logout::reasons`.
    pub revocations: IntCounterVec,
    hash_queue: IntGauge,
    hash_runs: IntCounter,
    /// The hasher's run count last added to `hash_runs`.
    hash_runs_seen: AtomicU64,
    pool: IntGaugeVec,
    /// The outbox: messages queued, sent, given up, and waiting.
    pub mail: crate::mail::metrics::MailMetrics,
    /// The event outbox: deliveries by outcome, given up, waiting.
    pub events: crate::events::metrics::EventMetrics,
    /// Work after an answer that failed (`crate::background`); `task`: the
    /// name the service gave it (`password_forgot`, `otp_start`, ...).
    pub background_failed: IntCounterVec,
}

/// Who a rendering is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exposure {
    /// The `metrics.listen` address: every family.
    All,
    /// The public listener (`metrics.public`): anyone can read it.
    Public,
}

/// The families left out of the public listener's `/metrics`: they move only
/// when work is done for an address that has an account (a message queued,
/// sent or given up, the outbox's depth, background work that failed), so
/// one read before and one after `POST /auth/password/forgot` would tell a
/// known address from an unknown one and undo every answer-alike flow. They
/// are served on `metrics.listen` only.
///
/// The event outbox's families are private too: a registration queues a
/// `user.created` for a new address and nothing for a taken one.
pub const PRIVATE_FAMILIES: &[&str] = &["authd_mail_", "authd_background_", "authd_events_"];

/// Latency buckets from 1 ms to 5 s: refreshes sit at the low end, logins
/// (Argon2id) around 30-100 ms.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "authd_http_requests_total",
                "HTTP requests by route, method and status",
            ),
            &["route", "method", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "authd_http_request_duration_seconds",
                "HTTP request latency by route",
            )
            .buckets(BUCKETS.to_vec()),
            &["route"],
        )?;
        let logins = IntCounterVec::new(
            Opts::new(
                "authd_logins_total",
                "Logins by result: ok, failed, locked_out, email_not_verified, mfa_required (a first proof right, a second factor due)",
            ),
            &["result"],
        )?;
        let refreshes = IntCounterVec::new(
            Opts::new(
                "authd_refreshes_total",
                "Refresh presentations by outcome: rotated, grace, reuse_detected, refused",
            ),
            &["outcome"],
        )?;
        let revocations = IntCounterVec::new(
            Opts::new(
                "authd_sessions_revoked_total",
                "Sessions revoked, by reason",
            ),
            &["reason"],
        )?;
        let hash_queue = IntGauge::new(
            "authd_password_hash_queue_depth",
            "Password hashes waiting for a slot",
        )?;
        let hash_runs = IntCounter::new(
            "authd_password_hash_runs_total",
            "Argon2id runs: password hashes, verifications (unknown emails included) and rehashes",
        )?;
        let pool = IntGaugeVec::new(
            Opts::new(
                "authd_db_pool_connections",
                "Database pool connections by state: idle, in_use",
            ),
            &["state"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(logins.clone()))?;
        registry.register(Box::new(refreshes.clone()))?;
        registry.register(Box::new(revocations.clone()))?;
        registry.register(Box::new(hash_queue.clone()))?;
        registry.register(Box::new(hash_runs.clone()))?;
        let background_failed = IntCounterVec::new(
            Opts::new(
                "authd_background_failed_total",
                "Work done after an answer (a reset, a code, a verification link) that failed, by task",
            ),
            &["task"],
        )?;
        registry.register(Box::new(pool.clone()))?;
        registry.register(Box::new(background_failed.clone()))?;
        let mail = crate::mail::metrics::MailMetrics::register(&registry)?;
        let events = crate::events::metrics::EventMetrics::register(&registry)?;
        Ok(Self {
            registry,
            requests,
            latency,
            logins,
            refreshes,
            revocations,
            hash_queue,
            hash_runs,
            hash_runs_seen: AtomicU64::new(0),
            pool,
            mail,
            events,
            background_failed,
        })
    }

    /// Counts `count` sessions ended for `reason`, one of
    /// `sessions::logout::reasons` (constants, never a request's value).
    pub fn revoked(&self, reason: &str, count: u64) {
        self.revocations.with_label_values(&[reason]).inc_by(count);
    }

    /// The text exposition, with the gauges and the hasher's run count
    /// (`Hasher::runs`) read now; with [`Exposure::Public`], without the
    /// [`PRIVATE_FAMILIES`].
    pub fn render(
        &self,
        exposure: Exposure,
        hash_queue: usize,
        hash_runs: u64,
        pool_size: u32,
        pool_idle: usize,
    ) -> String {
        self.hash_queue
            .set(i64::try_from(hash_queue).unwrap_or(i64::MAX));
        // A counter only goes up: add what the hasher ran since the last
        // render. fetch_max hands each increment to exactly one of two
        // concurrent renders.
        let seen = self.hash_runs_seen.fetch_max(hash_runs, Ordering::Relaxed);
        if hash_runs > seen {
            self.hash_runs.inc_by(hash_runs - seen);
        }
        let idle = i64::try_from(pool_idle).unwrap_or(0);
        self.pool.with_label_values(&["idle"]).set(idle);
        self.pool
            .with_label_values(&["in_use"])
            .set(i64::from(pool_size) - idle);
        let mut out = Vec::new();
        // Encoding into a Vec cannot fail for well-formed metrics.
        let mut families = self.registry.gather();
        if exposure == Exposure::Public {
            families.retain(|f| !PRIVATE_FAMILIES.iter().any(|p| f.name().starts_with(p)));
        }
        let _ = TextEncoder::new().encode(&families, &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}
