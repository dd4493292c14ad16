//! The outbox's metrics. The `kind` label is one of `MailKind`'s names (or
//! `other`), never a value from a request.

use prometheus::{IntCounterVec, IntGauge, Opts, Registry};

pub struct MailMetrics {
    /// Messages queued (counted when queued: a transaction that then rolls
    /// back still counted its message here).
    pub queued: IntCounterVec,
    pub sent: IntCounterVec,
    /// Attempts that failed and will be retried.
    pub attempt_errors: IntCounterVec,
    /// Messages given up after their last attempt.
    pub failed: IntCounterVec,
    /// Messages not sent because a send budget of their recipient was spent
    /// (`mail::limits::admit`).
    pub dropped: IntCounterVec,
    /// Messages waiting in the outbox, as the sender last counted them.
    pub outbox_depth: IntGauge,
    /// Messages given up because their sealed text could not be opened, by
    /// reason (`mail::seal::Unreadable`: `key_gone`, `bad_seal`, `missing`).
    pub unreadable: IntCounterVec,
}

impl MailMetrics {
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let counter = |name: &str, help: &str| IntCounterVec::new(Opts::new(name, help), &["kind"]);
        let metrics = Self {
            queued: counter("authd_mail_queued_total", "Email messages queued, by kind")?,
            sent: counter("authd_mail_sent_total", "Email messages delivered, by kind")?,
            attempt_errors: counter(
                "authd_mail_attempt_errors_total",
                "Email delivery attempts that failed and will be retried, by kind",
            )?,
            failed: counter(
                "authd_mail_failed_total",
                "Email messages given up after their last attempt, by kind",
            )?,
            dropped: counter(
                "authd_mail_dropped_total",
                "Email messages not sent because their recipient's send budget was spent, by kind",
            )?,
            outbox_depth: IntGauge::new(
                "authd_mail_outbox_depth",
                "Email messages waiting in the outbox",
            )?,
            unreadable: IntCounterVec::new(
                Opts::new(
                    "authd_mail_unreadable_total",
                    "Email messages given up because their sealed text could not be opened \
                     (key_gone: its refresh key left the ring), by reason",
                ),
                &["reason"],
            )?,
        };
        registry.register(Box::new(metrics.queued.clone()))?;
        registry.register(Box::new(metrics.sent.clone()))?;
        registry.register(Box::new(metrics.attempt_errors.clone()))?;
        registry.register(Box::new(metrics.failed.clone()))?;
        registry.register(Box::new(metrics.dropped.clone()))?;
        registry.register(Box::new(metrics.outbox_depth.clone()))?;
        registry.register(Box::new(metrics.unreadable.clone()))?;
        Ok(metrics)
    }
}
