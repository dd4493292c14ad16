//! The background sender: every `email.poll_interval_ms` (or at once when
//! woken, and straight after a full batch), claims due messages from the
//! outbox, delivers them, and settles each: sent, retried later, or given up.
//!
//! - A claim is a lease (`email.lease_secs`) in one statement
//!   (`store::outbox::claim`): instances sharing a PostgreSQL database never
//!   claim the same message at once, so in the normal path each message is
//!   sent once. Only a sender that dies, or stalls past its lease, after the
//!   server took the message but before it was marked sent, leads to a second
//!   delivery: at least once, never lost.
//! - The attempt is counted when claimed, so a message whose delivery keeps
//!   crashing authd is given up like one that keeps failing.
//! - A failed attempt waits `email.retry_base_ms`, doubled per failure up to
//!   `email.retry_max_secs`; after `email.max_attempts` the message is given
//!   up, with an audit event (`mail_given_up`) and a metric.
//! - A message is opened (`seal::open`) just before its delivery. One that
//!   cannot be opened is given up at once, whatever its attempts: sealed
//!   under a key that has left the refresh-key ring (`key_gone`), or whose
//!   sealed text does not open (`bad_seal`). Its reason is stored in
//!   `last_error`, named in the audit event and counted in
//!   `authd_mail_unreadable_total{reason}`; no retry could change it.
//! - Sent or given up, its sealed address and text are deleted at once; the
//!   cleanup sweep deletes the row after `email.retention_days`.
//!
//! The sender stops between batches on shutdown: a batch in flight finishes
//! (each SMTP step is bounded by `email.smtp.timeout_secs`).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::seal::{self, Opened, Unreadable};
use super::{Delivery, MailKind, domain_of};
use crate::audit::{self, AuditEvent, AuditKind, RequestMeta};
use crate::services::Services;
use crate::store::outbox::Claimed;
use crate::store::{self, StoreError};

/// The running sender; [`SenderHandle::stop`] ends it.
pub struct SenderHandle {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

/// Starts the sender on the current runtime.
pub fn spawn(svc: Arc<Services>) -> SenderHandle {
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let poll = Duration::from_millis(svc.settings.email.poll_interval_ms.max(1));
    let batch = usize::try_from(svc.settings.email.batch_size).unwrap_or(usize::MAX);
    let task = tokio::spawn(async move {
        loop {
            match run_once(&svc).await {
                // A full batch: more may be due. Go on at once rather than at
                // the next poll or wake-up, or a backlog (the wake-ups of a
                // burst are one) would drain at one batch per poll.
                Ok(attempted) if attempted >= batch => {
                    if *stopped.borrow() {
                        break;
                    }
                    tokio::task::yield_now().await;
                    continue;
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "mail sender: the outbox could not be read; will retry");
                }
            }
            tokio::select! {
                _ = stopped.changed() => break,
                () = svc.mail.woken() => {}
                () = tokio::time::sleep(poll) => {}
            }
        }
        tracing::info!("mail sender stopped");
    });
    SenderHandle { stop, task }
}

impl SenderHandle {
    /// Stops the sender once its batch in flight is settled, waiting at most
    /// `limit` for it.
    pub async fn stop(self, limit: Duration) {
        let _ = self.stop.send(true);
        if tokio::time::timeout(limit, self.task).await.is_err() {
            tracing::warn!("mail sender did not stop in time");
        }
    }
}

/// One round: counts the outbox (the depth gauge), claims what is due,
/// delivers and settles it. Returns how many messages were attempted.
pub async fn run_once(svc: &Services) -> Result<usize, StoreError> {
    let settings = &svc.settings.email;
    let now = svc.now();
    let (depth, due) = {
        let mut conn = svc.store.conn().await?;
        store::outbox::pending(&mut conn, now).await?
    };
    svc.metrics.mail.outbox_depth.set(depth);
    if due == 0 {
        return Ok(0);
    }
    let claim = Uuid::new_v4();
    let lease = chrono::Duration::seconds(i64::try_from(settings.lease_secs).unwrap_or(300));
    let claimed = {
        let mut conn = svc.store.write_conn().await?;
        store::outbox::claim(
            &mut conn,
            now,
            now + lease,
            claim,
            i64::from(settings.batch_size),
        )
        .await?
    };
    let count = claimed.len();
    let results = futures_util::future::join_all(
        claimed
            .into_iter()
            .map(|message| async move { attempt(svc, &message, claim).await.map(|()| message) }),
    )
    .await;
    for result in results {
        if let Err(e) = result {
            tracing::warn!(error = %e, "mail sender: a delivery could not be recorded; it will be retried after its lease");
        }
    }
    Ok(count)
}

/// Delivers one claimed message and records the outcome.
async fn attempt(svc: &Services, m: &Claimed, claim: Uuid) -> Result<(), StoreError> {
    let kind = MailKind::label(&m.kind);
    let max = i32::try_from(svc.settings.email.max_attempts).unwrap_or(i32::MAX);
    let opened = open(svc, m);
    let to_domain = opened.as_ref().map_or("", |o| domain_of(&o.recipient));
    let unreadable = opened.as_ref().err().copied();
    let outcome = match &opened {
        Err(unreadable) => Err(unreadable.reason()),
        // Claimed past its last attempt: the sender died during that one.
        Ok(_) if m.attempts > max => Err("the sender stopped during every attempt".to_owned()),
        Ok(opened) => deliver(svc, m, opened).await,
    };
    let now = svc.now();
    match outcome {
        Ok(()) => {
            let mut conn = svc.store.write_conn().await?;
            if store::outbox::mark_sent(&mut conn, m.id, claim, now).await? {
                svc.metrics.mail.sent.with_label_values(&[kind]).inc();
                tracing::info!(
                    mail.id = %m.id,
                    mail.kind = kind,
                    mail.to_domain = to_domain,
                    attempts = m.attempts,
                    "mail sent"
                );
            }
        }
        Err(error) if unreadable.is_some() || m.attempts >= max => {
            let mut tx = svc.store.begin().await?;
            if store::outbox::mark_given_up(&mut tx, m.id, claim, now, &error).await? {
                let mut detail = format!("kind={kind} id={} attempts={}", m.id, m.attempts);
                if let Some(unreadable) = unreadable {
                    detail.push_str(" reason=");
                    detail.push_str(unreadable.label());
                }
                let event = AuditEvent::new(
                    AuditKind::MailGivenUp,
                    m.user_id,
                    None,
                    &RequestMeta::default(),
                    now,
                )
                .with_detail(detail);
                audit::record(&mut tx, &event).await?;
                tx.commit().await?;
                svc.metrics.mail.failed.with_label_values(&[kind]).inc();
                if let Some(unreadable) = unreadable {
                    svc.metrics
                        .mail
                        .unreadable
                        .with_label_values(&[unreadable.label()])
                        .inc();
                }
                tracing::error!(
                    mail.id = %m.id,
                    mail.kind = kind,
                    mail.to_domain = to_domain,
                    attempts = m.attempts,
                    error = %error,
                    "mail given up"
                );
            }
        }
        Err(error) => {
            let next = now + backoff(svc, m.attempts);
            let mut conn = svc.store.write_conn().await?;
            if store::outbox::reschedule(&mut conn, m.id, claim, next, &error).await? {
                svc.metrics
                    .mail
                    .attempt_errors
                    .with_label_values(&[kind])
                    .inc();
                tracing::warn!(
                    mail.id = %m.id,
                    mail.kind = kind,
                    mail.to_domain = to_domain,
                    attempts = m.attempts,
                    retry_at = %next,
                    error = %error,
                    "mail delivery failed; will retry"
                );
            }
        }
    }
    Ok(())
}

/// The claimed message's address and text: opened from their seal, or, for
/// a row queued before the outbox was sealed, as stored.
fn open(svc: &Services, m: &Claimed) -> Result<Opened, Unreadable> {
    match (&m.sealed_key_id, &m.sealed_nonce, &m.sealed) {
        (Some(key_id), Some(nonce), Some(text)) => {
            seal::open(&svc.refresh, m.id, *key_id, nonce, text)
        }
        _ => match (&m.recipient, &m.message) {
            (Some(recipient), Some(message)) => Ok(Opened {
                recipient: recipient.clone(),
                message: message.clone(),
            }),
            _ => Err(Unreadable::Missing),
        },
    }
}

/// One delivery: SMTP, or a file. The error is a description without the
/// message's text, and without an SMTP server's words (`smtp::describe`):
/// it is logged and kept as the outbox's `last_error`.
async fn deliver(svc: &Services, m: &Claimed, opened: &Opened) -> Result<(), String> {
    let (to, message) = (&opened.recipient, &opened.message);
    match &svc.mail.delivery {
        Delivery::Smtp(smtp) => smtp.send(&svc.mail.from.email, to, message).await,
        Delivery::Files(files) => {
            let created = created_at(m.id).unwrap_or_else(|| svc.now());
            let path = files
                .write(m.id, created, message.clone())
                .await
                .map_err(|e| format!("writing to {}: {e}", files.dir().display()))?;
            tracing::info!(
                mail.id = %m.id,
                mail.kind = MailKind::label(&m.kind),
                path = %path.display(),
                "mail written to a file (no SMTP server configured)"
            );
            Ok(())
        }
    }
}

/// The time a v7 id was made at (the message's queueing).
fn created_at(id: Uuid) -> Option<DateTime<Utc>> {
    let (secs, nanos) = id.get_timestamp()?.to_unix();
    DateTime::from_timestamp(i64::try_from(secs).ok()?, nanos)
}

/// The wait after `attempts` failed attempts: the base, doubled per further
/// failure, capped.
fn backoff(svc: &Services, attempts: i32) -> chrono::Duration {
    let e = &svc.settings.email;
    delay(e.retry_base_ms, e.retry_max_secs, attempts)
}

pub fn delay(base_ms: u64, max_secs: u64, attempts: i32) -> chrono::Duration {
    let doublings = u32::try_from(attempts.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
    let ms = base_ms
        .saturating_mul(1u64 << doublings)
        .min(max_secs.saturating_mul(1000));
    chrono::Duration::milliseconds(i64::try_from(ms).unwrap_or(i64::MAX / 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_doubles_per_failure_up_to_the_cap() {
        let ms = |attempts| delay(30_000, 3600, attempts).num_milliseconds();
        assert_eq!(ms(1), 30_000);
        assert_eq!(ms(2), 60_000);
        assert_eq!(ms(4), 240_000);
        assert_eq!(ms(8), 3_600_000);
        assert_eq!(ms(1000), 3_600_000);
    }
}
