//! The mail metrics authd-bench reads from authd's `/metrics` page during the
//! forgot flood (`authd_mail_outbox_depth`, `authd_mail_queued_total`,
//! `authd_mail_sent_total`), the rule that says when the outbox has drained,
//! and the count of the `.eml` files authd writes when no SMTP server is set.

use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// The mail metrics at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct MailSample {
    /// Seconds since the flood began (its warm-up included).
    pub secs: f64,
    /// `authd_mail_outbox_depth`: messages waiting, as the sender last counted.
    pub depth: i64,
    /// `authd_mail_queued_total`, every kind.
    pub queued: u64,
    /// `authd_mail_sent_total`, every kind.
    pub sent: u64,
}

/// The sum of every series of metric `name` in a Prometheus text page
/// (`name value` or `name{labels} value`); `None` when it has none.
pub fn metric_sum(text: &str, name: &str) -> Option<f64> {
    let mut found = None;
    for line in text.lines() {
        let Some(rest) = line.strip_prefix(name) else {
            continue;
        };
        if !(rest.starts_with(' ') || rest.starts_with('{')) {
            continue;
        }
        if let Some(value) = rest.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()) {
            found = Some(found.unwrap_or(0.0) + value);
        }
    }
    found
}

/// The mail figures of a `/metrics` page; `None` without the depth gauge.
pub fn parse_mail_metrics(text: &str, secs: f64) -> Option<MailSample> {
    let depth = metric_sum(text, "authd_mail_outbox_depth")?;
    let count = |name| metric_sum(text, name).unwrap_or(0.0) as u64;
    Some(MailSample {
        secs,
        depth: depth as i64,
        queued: count("authd_mail_queued_total"),
        sent: count("authd_mail_sent_total"),
    })
}

pub async fn read_mail_metrics(
    client: &reqwest::Client,
    url: &str,
    secs: f64,
) -> anyhow::Result<MailSample> {
    let text = client
        .get(url)
        .send()
        .await?
        .error_for_status()?
        .text()
        .await?;
    parse_mail_metrics(&text, secs).context("no authd_mail_outbox_depth in the metrics")
}

/// `.eml` files in `dir` (0 when it does not exist yet).
pub fn count_eml(dir: &Path) -> Option<u64> {
    match std::fs::read_dir(dir) {
        Ok(entries) => Some(
            entries
                .filter_map(Result::ok)
                .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                .count() as u64,
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(0),
        Err(_) => None,
    }
}

/// When the outbox drained, in the samples' seconds: the first sample from
/// which on every message queued since `before` had been sent and nothing
/// more was queued; `None` until that has held for a second (the background
/// work after the last answers may still queue). The counters decide, not
/// the depth gauge, which the sender refreshes only at each of its rounds
/// (up to `email.poll_interval_ms` late once it idles).
pub fn drained_at(samples: &[MailSample], before: &MailSample) -> Option<f64> {
    let last = samples.last()?;
    let settled = |x: &MailSample| {
        x.sent.saturating_sub(before.sent) >= x.queued.saturating_sub(before.queued)
            && x.queued == last.queued
    };
    let since = samples.iter().rev().take_while(|x| settled(x)).last()?;
    (last.secs - since.secs >= 1.0).then_some(since.secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mail_metrics_are_summed_over_their_kinds() {
        let text = "# HELP authd_mail_queued_total Email messages queued, by kind\n\
            authd_mail_queued_total{kind=\"password_reset\"} 7\n\
            authd_mail_queued_total{kind=\"verify_email\"} 3\n\
            authd_mail_queued_totally_else 100\n\
            authd_mail_sent_total{kind=\"password_reset\"} 4\n\
            authd_mail_outbox_depth 6\n";
        let sample = parse_mail_metrics(text, 1.5).unwrap();
        assert_eq!(
            sample,
            MailSample {
                secs: 1.5,
                depth: 6,
                queued: 10,
                sent: 4
            }
        );
        assert!(parse_mail_metrics("authd_mail_sent_total 1\n", 0.0).is_none());
    }

    #[test]
    fn the_outbox_drained_when_every_message_was_sent_and_nothing_more_came() {
        let at = |secs, depth, queued, sent| MailSample {
            secs,
            depth,
            queued,
            sent,
        };
        let before = at(0.0, 0, 10, 10);
        let mut samples = vec![
            at(0.5, 40, 50, 20),
            at(1.0, 20, 60, 45),
            at(1.5, 3, 60, 60), // the gauge, counted before the last round
            at(2.0, 0, 60, 60),
        ];
        assert_eq!(drained_at(&samples, &before), None, "not quiet for 1 s yet");
        samples.push(at(2.5, 0, 60, 60));
        assert_eq!(drained_at(&samples, &before), Some(1.5));
        // One more queued late: the drain starts again.
        samples.push(at(3.0, 1, 61, 60));
        samples.push(at(3.5, 0, 61, 61));
        samples.push(at(4.5, 0, 61, 61));
        assert_eq!(drained_at(&samples, &before), Some(3.5));
        assert_eq!(drained_at(&[], &before), None);
    }
}
