//! The event outbox's metrics. The `kind` label is `webhook` or
//! `backchannel_logout`; `outcome` is `sent`, `retried` or `given_up`: never
//! a value from a request or an endpoint.

use prometheus::{IntCounterVec, IntGauge, Opts, Registry};

pub struct EventMetrics {
    /// Delivery attempts by kind and outcome.
    pub deliveries: IntCounterVec,
    /// Deliveries given up after their last attempt (or at once, when they
    /// could never succeed), by kind.
    pub given_up: IntCounterVec,
    /// Deliveries waiting, as the worker last counted them.
    pub queue_depth: IntGauge,
}

impl EventMetrics {
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let metrics = Self {
            deliveries: IntCounterVec::new(
                Opts::new(
                    "authd_events_deliveries_total",
                    "Event deliveries (webhooks, back-channel logouts) attempted, by kind and outcome",
                ),
                &["kind", "outcome"],
            )?,
            given_up: IntCounterVec::new(
                Opts::new(
                    "authd_events_given_up_total",
                    "Event deliveries given up, by kind",
                ),
                &["kind"],
            )?,
            queue_depth: IntGauge::new(
                "authd_events_queue_depth",
                "Event deliveries waiting in the outbox",
            )?,
        };
        registry.register(Box::new(metrics.deliveries.clone()))?;
        registry.register(Box::new(metrics.given_up.clone()))?;
        registry.register(Box::new(metrics.queue_depth.clone()))?;
        Ok(metrics)
    }
}

/// The label of a stored kind.
pub fn kind_label(kind: &str) -> &'static str {
    match kind {
        super::queue::WEBHOOK => super::queue::WEBHOOK,
        super::queue::BACKCHANNEL_LOGOUT => super::queue::BACKCHANNEL_LOGOUT,
        _ => "other",
    }
}
