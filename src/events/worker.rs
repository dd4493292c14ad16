//! The delivery worker: every `webhooks.poll_interval_ms` (and straight
//! after a full batch), claims due deliveries from the event outbox, POSTs
//! each, and settles it: sent, retried later, or given up.
//!
//! - A claim is a lease (`webhooks.lease_secs`) taken in one statement
//!   (`store::event_deliveries::claim`): instances sharing a PostgreSQL
//!   database never claim the same delivery at once. Only a worker that dies
//!   or stalls past its lease after the receiver took the POST, before it was
//!   marked sent, leads to a second delivery: at least once, never lost.
//!   Receivers deduplicate by `webhook-id`.
//! - Order: a delivery waits while an earlier one of the same endpoint and
//!   user is pending, so a retry holds back that user's later events at that
//!   endpoint (and no other's).
//! - A POST with a 2xx answer is sent. Any other answer (a redirect
//!   included: none is followed), a timeout (`webhooks.timeout_ms`) or a
//!   connection error is retried after `webhooks.retry_base_ms`, doubled per
//!   failure up to `webhooks.retry_max_secs`, plus up to a quarter of it at
//!   random so that deliveries failing together do not retry together. The
//!   attempt is counted when claimed; after `webhooks.max_attempts` the
//!   delivery is given up with an audit event (`webhook_given_up`) and
//!   `authd_events_given_up_total`.
//! - A webhook is signed at send time (`events::sign`) with the endpoint's
//!   current secret and, during a rotation's grace, the previous one: a
//!   retry after a rotation carries the new signature. A delivery whose
//!   endpoint is disabled, or whose secret no longer opens (its ring key is
//!   gone), is given up at once.
//! - A back-channel logout's token is signed at send time too
//!   (`oidc::backchannel::sign_queued`): fresh `iat`/`exp`, the `jti` it was
//!   queued with. Its client deleted, or no key signing its ID tokens any
//!   more, gives it up at once.
//! - `last_error` holds a status or a kind of failure, never a body, a URL's
//!   query or a secret.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use uuid::Uuid;

use super::metrics::kind_label;
use super::queue::{BACKCHANNEL_LOGOUT, WEBHOOK};
use super::{sign, webhooks};
use crate::audit::{self, AuditEvent, AuditKind, RequestMeta};
use crate::oidc::backchannel;
use crate::oidc::logout_token::Queued;
use crate::services::Services;
use crate::store::event_deliveries::Claimed;
use crate::store::{self, StoreError};

/// The running worker; [`WorkerHandle::stop`] ends it.
pub struct WorkerHandle {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

/// The HTTP client of deliveries: no redirect followed, every request bounded
/// by `webhooks.timeout_ms`.
pub fn client(svc: &Services) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_millis(svc.settings.webhooks.timeout_ms))
        .user_agent(concat!("authd-webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Starts the worker on the current runtime.
pub fn spawn(svc: Arc<Services>) -> anyhow::Result<WorkerHandle> {
    let http = client(&svc)?;
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let poll = Duration::from_millis(svc.settings.webhooks.poll_interval_ms.max(1));
    let batch = usize::try_from(svc.settings.webhooks.batch_size).unwrap_or(usize::MAX);
    let task = tokio::spawn(async move {
        loop {
            match run_once(&svc, &http).await {
                Ok(attempted) if attempted >= batch => {
                    if *stopped.borrow() {
                        break;
                    }
                    tokio::task::yield_now().await;
                    continue;
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "event worker: the outbox could not be read; will retry");
                }
            }
            tokio::select! {
                _ = stopped.changed() => break,
                () = tokio::time::sleep(poll) => {}
            }
        }
        tracing::info!("event worker stopped");
    });
    Ok(WorkerHandle { stop, task })
}

impl WorkerHandle {
    /// Stops the worker once its batch in flight is settled, waiting at most
    /// `limit` for it.
    pub async fn stop(self, limit: Duration) {
        let _ = self.stop.send(true);
        if tokio::time::timeout(limit, self.task).await.is_err() {
            tracing::warn!("event worker did not stop in time");
        }
    }
}

/// One round: counts the outbox (the depth gauge), claims what is due,
/// delivers and settles it. Returns how many deliveries were attempted.
pub async fn run_once(svc: &Services, http: &reqwest::Client) -> Result<usize, StoreError> {
    let settings = &svc.settings.webhooks;
    let now = svc.now();
    let (depth, due) = {
        let mut conn = svc.store.conn().await?;
        store::event_deliveries::pending(&mut conn, now).await?
    };
    svc.metrics.events.queue_depth.set(depth);
    if due == 0 {
        return Ok(0);
    }
    let claim = Uuid::new_v4();
    let lease = chrono::Duration::seconds(i64::try_from(settings.lease_secs).unwrap_or(60));
    let claimed = {
        let mut conn = svc.store.write_conn().await?;
        store::event_deliveries::claim(
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
            .iter()
            .map(|delivery| attempt(svc, http, delivery, claim)),
    )
    .await;
    for result in results {
        if let Err(e) = result {
            tracing::warn!(error = %e, "event worker: a delivery could not be recorded; it will be retried after its lease");
        }
    }
    Ok(count)
}

/// Why an attempt failed: `Retry` may succeed later, `Final` never will.
enum Failure {
    Retry(String),
    Final(String),
}

/// Delivers one claimed delivery and records the outcome.
async fn attempt(
    svc: &Services,
    http: &reqwest::Client,
    d: &Claimed,
    claim: Uuid,
) -> Result<(), StoreError> {
    let kind = kind_label(&d.kind);
    let max = i32::try_from(svc.settings.webhooks.max_attempts).unwrap_or(i32::MAX);
    let outcome = if d.attempts > max {
        // Claimed past its last attempt: the worker died during that one.
        Err(Failure::Final(
            "the worker stopped during every attempt".to_owned(),
        ))
    } else {
        deliver(svc, http, d).await
    };
    let now = svc.now();
    match outcome {
        Ok(()) => {
            let mut conn = svc.store.write_conn().await?;
            if store::event_deliveries::finish(&mut conn, d.id, claim, "sent", now, None).await? {
                svc.metrics
                    .events
                    .deliveries
                    .with_label_values(&[kind, "sent"])
                    .inc();
                tracing::info!(delivery.id = %d.id, delivery.kind = kind, attempts = d.attempts, "event delivered");
            }
        }
        Err(Failure::Final(error)) => give_up(svc, d, claim, now, &error).await?,
        Err(Failure::Retry(error)) if d.attempts >= max => {
            give_up(svc, d, claim, now, &error).await?;
        }
        Err(Failure::Retry(error)) => {
            let next = now + backoff(svc, d.attempts);
            let mut conn = svc.store.write_conn().await?;
            if store::event_deliveries::reschedule(&mut conn, d.id, claim, next, &error).await? {
                svc.metrics
                    .events
                    .deliveries
                    .with_label_values(&[kind, "retried"])
                    .inc();
                tracing::warn!(
                    delivery.id = %d.id,
                    delivery.kind = kind,
                    attempts = d.attempts,
                    retry_at = %next,
                    error = %error,
                    "event delivery failed; will retry"
                );
            }
        }
    }
    Ok(())
}

/// Gives a delivery up, with its audit event, in one transaction.
async fn give_up(
    svc: &Services,
    d: &Claimed,
    claim: Uuid,
    now: DateTime<Utc>,
    error: &str,
) -> Result<(), StoreError> {
    let kind = kind_label(&d.kind);
    let mut tx = svc.store.begin().await?;
    if !store::event_deliveries::finish(&mut tx, d.id, claim, "given_up", now, Some(error)).await? {
        return Ok(());
    }
    let mut detail = format!("kind={kind} id={} attempts={}", d.id, d.attempts);
    if let Some(endpoint) = d.endpoint_id {
        detail.push_str(&format!(" endpoint={endpoint}"));
    }
    if let Some(event_type) = &d.event_type {
        detail.push_str(&format!(" type={event_type}"));
    }
    // Named only while the account is there: an erased account's trail is
    // under a pseudonym, which its own id must not be written beside.
    let user = match d.user_id {
        Some(user) if store::users::find(&mut tx, user).await?.is_some() => Some(user),
        _ => None,
    };
    let mut event = AuditEvent::new(
        AuditKind::WebhookGivenUp,
        user,
        None,
        &RequestMeta::default(),
        now,
    )
    .with_detail(detail);
    if let Some(client) = &d.client_id {
        event = event.with_client(client.clone());
    }
    audit::record(&mut tx, &event).await?;
    tx.commit().await?;
    svc.metrics
        .events
        .deliveries
        .with_label_values(&[kind, "given_up"])
        .inc();
    svc.metrics.events.given_up.with_label_values(&[kind]).inc();
    tracing::error!(
        delivery.id = %d.id,
        delivery.kind = kind,
        attempts = d.attempts,
        error = %error,
        "event delivery given up"
    );
    Ok(())
}

/// One POST: a signed webhook, or a back-channel logout form.
async fn deliver(svc: &Services, http: &reqwest::Client, d: &Claimed) -> Result<(), Failure> {
    let Some(payload) = &d.payload else {
        return Err(Failure::Final("missing: the payload is gone".to_owned()));
    };
    let request = match d.kind.as_str() {
        WEBHOOK => {
            let Some(endpoint) = d.endpoint_id else {
                return Err(Failure::Final("a webhook without an endpoint".to_owned()));
            };
            let now = svc.now();
            let (url, keys) = endpoint_keys(svc, endpoint, now).await?;
            let id = d.id.to_string();
            let timestamp = now.timestamp();
            let signature = sign::header(&keys, &id, timestamp, payload.as_bytes());
            http.post(url)
                .header("content-type", "application/json")
                .header("webhook-id", id)
                .header("webhook-timestamp", timestamp.to_string())
                .header("webhook-signature", signature)
                .body(payload.clone())
        }
        BACKCHANNEL_LOGOUT => {
            let (uri, token) = logout_token(svc, d, payload).await?;
            let body = form_urlencoded::Serializer::new(String::new())
                .append_pair("logout_token", &token)
                .finish();
            http.post(uri)
                .header("content-type", "application/x-www-form-urlencoded")
                .header("cache-control", "no-store")
                .body(body)
        }
        other => return Err(Failure::Final(format!("unknown kind {other:?}"))),
    };
    match request.send().await {
        Ok(answer) if answer.status().is_success() => Ok(()),
        Ok(answer) => Err(Failure::Retry(format!("HTTP {}", answer.status().as_u16()))),
        Err(e) if e.is_timeout() => Err(Failure::Retry("timed out".to_owned())),
        Err(e) if e.is_connect() => Err(Failure::Retry("could not connect".to_owned())),
        Err(e) if e.is_builder() => Err(Failure::Final("not a valid URL".to_owned())),
        Err(e) => Err(Failure::Retry(format!(
            "request failed: {}",
            e.without_url()
        ))),
    }
}

/// Where a back-channel logout delivery goes now and the logout token it
/// sends: its queued parts (`oidc::logout_token::Queued`) signed at this
/// attempt, to the client's current URI. A payload that is not JSON is a
/// token signed when queued (a delivery queued before tokens were signed at
/// send time), sent as it is to the URI it was queued for.
async fn logout_token(
    svc: &Services,
    d: &Claimed,
    payload: &str,
) -> Result<(String, String), Failure> {
    if !payload.starts_with('{') {
        let Some(uri) = &d.target_uri else {
            return Err(Failure::Final(
                "a back-channel logout without a URI".to_owned(),
            ));
        };
        return Ok((uri.clone(), payload.to_owned()));
    }
    let logout: Queued = serde_json::from_str(payload)
        .map_err(|_| Failure::Final("a back-channel logout that does not read".to_owned()))?;
    let Some(client) = &d.client_id else {
        return Err(Failure::Final(
            "a back-channel logout without a client".to_owned(),
        ));
    };
    backchannel::sign_queued(svc, client, &logout, svc.now())
        .await
        .map_err(|e| Failure::Retry(format!("database: {e}")))?
        .map_err(Failure::Final)
}

/// The endpoint's URL and the keys that sign for it at `now`.
async fn endpoint_keys(
    svc: &Services,
    endpoint: Uuid,
    now: DateTime<Utc>,
) -> Result<(String, Vec<hmac::Key>), Failure> {
    let row = {
        let mut conn = svc
            .store
            .conn()
            .await
            .map_err(|e| Failure::Retry(format!("database: {e}")))?;
        store::webhooks::find(&mut conn, endpoint)
            .await
            .map_err(|e| Failure::Retry(format!("database: {e}")))?
    };
    let Some(row) = row else {
        return Err(Failure::Final("the endpoint was deleted".to_owned()));
    };
    if row.disabled_at.is_some() {
        return Err(Failure::Final("the endpoint is disabled".to_owned()));
    }
    let current = webhooks::open_secret(svc, row.id, &row.secret())
        .and_then(|s| sign::key_of(&s))
        .ok_or_else(|| {
            Failure::Final(
                "key_gone: the endpoint's secret does not open (its refresh key left the ring)"
                    .to_owned(),
            )
        })?;
    let mut keys = vec![current];
    if let Some(previous) = row
        .previous(now)
        .and_then(|p| webhooks::open_secret(svc, row.id, &p))
        .and_then(|s| sign::key_of(&s))
    {
        keys.push(previous);
    }
    Ok((row.url, keys))
}

/// The wait after `attempts` failed attempts: the base, doubled per further
/// failure, capped, plus up to a quarter at random.
fn backoff(svc: &Services, attempts: i32) -> chrono::Duration {
    let w = &svc.settings.webhooks;
    let base = crate::mail::sender::delay(w.retry_base_ms, w.retry_max_secs, attempts);
    let quarter = u64::try_from(base.num_milliseconds() / 4).unwrap_or(0);
    let mut bytes = [0u8; 8];
    let jitter = match SystemRandom::new().fill(&mut bytes) {
        Ok(()) if quarter > 0 => u64::from_le_bytes(bytes) % (quarter + 1),
        _ => 0,
    };
    base + chrono::Duration::milliseconds(i64::try_from(jitter).unwrap_or(0))
}
