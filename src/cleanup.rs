//! The cleanup sweep: deletes what no rule needs any more, in batches so no
//! statement holds locks for long.

use std::sync::Arc;
use std::time::Duration;

use crate::services::Services;
use crate::store::{self, StoreError};

/// What one cleanup sweep deleted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    pub sessions: u64,
    pub user_revocations: u64,
    pub audit_events: u64,
    pub throttle_counters: u64,
    pub code_try_counts: u64,
    pub mail_messages: u64,
    pub mail_send_counts: u64,
    /// Event deliveries sent or given up (`crate::events`).
    pub event_deliveries: u64,
    pub account_tokens: u64,
    /// `.eml` files under `data_dir/mail` (`mail::files`).
    pub mail_files: u64,
    pub authorization_requests: u64,
    pub authorization_codes: u64,
    /// Sign-in challenges past their expiry (`factors::challenge`).
    pub mfa_challenges: u64,
    /// Passkey ceremonies past their expiry (`factors::passkey`).
    pub webauthn_ceremonies: u64,
    /// Sign-ins of browser sessions nothing is left of (`oidc::backchannel`).
    pub browser_session_clients: u64,
}

const BATCH: i64 = 1_000;

/// One sweep:
/// - sessions whose current token expired longer ago than an access token can
///   live (a revoked session is kept until then, so its refresh tokens are
///   answered as revoked, not unknown, and the revocation feed still lists it
///   while any of its access tokens could be accepted);
/// - user revocations (`sessions::feed`) made longer ago than twice that: the
///   feed stops listing one after one access-token lifetime (its `until`),
///   and it is kept as long again so that a login right after it, on an
///   instance whose clock is behind, still starts after it (`sessions::start`)
///   while verifiers with a generous leeway still hold it;
/// - audit events older than `database.audit_retention_days`;
/// - login-throttle counters whose window and lockout are over, and counts
///   of login-code tries whose day is over;
/// - outbox rows sent or given up more than `email.retention_days` ago (their
///   address and text went when they were settled), and send counts whose
///   window is over (`crate::mail`);
/// - event deliveries (webhooks, back-channel logouts) sent or given up more
///   than `webhooks.retention_days` ago (`crate::events`);
/// - account tokens (emailed links and codes) that have expired, spent or not
///   (`accounts::tokens`);
/// - authorization requests that have expired, used or not; authorization
///   codes expired longer ago than an access token can live, so that a spent
///   code presented again within that time still ends the family made from
///   it (`oauth::codes`);
/// - sign-in challenges (`factors::challenge`) and passkey ceremonies
///   (`factors::passkey`) that have expired, used or not;
/// - `.eml` files under `data_dir/mail` (delivery without SMTP) older than
///   `email.retention_days`, whatever the delivery is now: they hold live
///   links and codes;
/// - the clients a browser session signed in to (`oidc::backchannel`), once
///   neither the browser session nor a family signed in through it is left.
///
/// Storage stays proportional to the sessions used within the idle limit.
pub async fn purge_once(svc: &Services) -> Result<Purged, StoreError> {
    let now = svc.now();
    let retention = chrono::Duration::days(i64::from(svc.settings.database.audit_retention_days));
    let session_cutoff = now - svc.access.max_acceptance();
    let throttle_cutoff = svc.throttle.expired_before(now);
    let mut purged = Purged::default();
    loop {
        let mut tx = svc.store.begin().await?;
        let n = store::sessions::purge_expired(&mut tx, session_cutoff, BATCH).await?;
        tx.commit().await?;
        purged.sessions += n;
        if n < BATCH as u64 {
            break;
        }
    }
    let user_revocation_cutoff = session_cutoff - svc.access.max_acceptance();
    loop {
        let mut tx = svc.store.begin().await?;
        let n = store::user_revocations::purge(&mut tx, user_revocation_cutoff, BATCH).await?;
        tx.commit().await?;
        purged.user_revocations += n;
        if n < BATCH as u64 {
            break;
        }
    }
    loop {
        let mut tx = svc.store.begin().await?;
        let n = store::audit::purge_older_than(&mut tx, now - retention, BATCH).await?;
        tx.commit().await?;
        purged.audit_events += n;
        if n < BATCH as u64 {
            break;
        }
    }
    loop {
        let mut tx = svc.store.begin().await?;
        let n = store::throttle::purge(&mut tx, throttle_cutoff, now, BATCH).await?;
        tx.commit().await?;
        purged.throttle_counters += n;
        if n < BATCH as u64 {
            break;
        }
    }
    let code_cutoff = svc.throttle.code_tries_expired_before(now);
    loop {
        let mut tx = svc.store.begin().await?;
        let n = store::code_tries::purge(&mut tx, code_cutoff, BATCH).await?;
        tx.commit().await?;
        purged.code_try_counts += n;
        if n < BATCH as u64 {
            break;
        }
    }
    let mail_cutoff = now - chrono::Duration::days(i64::from(svc.settings.email.retention_days));
    loop {
        let mut tx = svc.store.begin().await?;
        let n = store::outbox::purge_finished(&mut tx, mail_cutoff, BATCH).await?;
        tx.commit().await?;
        purged.mail_messages += n;
        if n < BATCH as u64 {
            break;
        }
    }
    let events_cutoff =
        now - chrono::Duration::days(i64::from(svc.settings.webhooks.retention_days));
    loop {
        let mut tx = svc.store.begin().await?;
        let n = store::event_deliveries::purge_finished(&mut tx, events_cutoff, BATCH).await?;
        tx.commit().await?;
        purged.event_deliveries += n;
        if n < BATCH as u64 {
            break;
        }
    }
    let window = i64::try_from(svc.settings.email.per_recipient_window_secs).unwrap_or(86_400);
    loop {
        let mut tx = svc.store.begin().await?;
        let n = store::outbox::purge_send_counts(
            &mut tx,
            now - chrono::Duration::seconds(window),
            BATCH,
        )
        .await?;
        tx.commit().await?;
        purged.mail_send_counts += n;
        if n < BATCH as u64 {
            break;
        }
    }
    loop {
        let mut tx = svc.store.begin().await?;
        let n = store::account_tokens::purge_expired(&mut tx, now, BATCH).await?;
        tx.commit().await?;
        purged.account_tokens += n;
        if n < BATCH as u64 {
            break;
        }
    }
    loop {
        let mut tx = svc.store.begin().await?;
        let n = store::authorization_requests::delete_expired(&mut tx, now, BATCH).await?;
        tx.commit().await?;
        purged.authorization_requests += n;
        if n < BATCH as u64 {
            break;
        }
    }
    loop {
        let mut tx = svc.store.begin().await?;
        let n = store::authorization_codes::delete_expired(&mut tx, session_cutoff, BATCH).await?;
        tx.commit().await?;
        purged.authorization_codes += n;
        if n < BATCH as u64 {
            break;
        }
    }
    loop {
        let mut tx = svc.store.begin().await?;
        let n = store::factors::delete_expired_challenges(&mut tx, now, BATCH).await?;
        tx.commit().await?;
        purged.mfa_challenges += n;
        if n < BATCH as u64 {
            break;
        }
    }
    loop {
        let mut tx = svc.store.begin().await?;
        let n = store::passkeys::delete_expired_ceremonies(&mut tx, now, BATCH).await?;
        tx.commit().await?;
        purged.webauthn_ceremonies += n;
        if n < BATCH as u64 {
            break;
        }
    }
    loop {
        let mut tx = svc.store.begin().await?;
        let n = store::browser_session_clients::sweep(&mut tx, BATCH).await?;
        tx.commit().await?;
        purged.browser_session_clients += n;
        if n < BATCH as u64 {
            break;
        }
    }
    let files = crate::mail::files::Files::new(svc.settings.data_path("mail"));
    match files.purge_older_than(mail_cutoff).await {
        Ok(n) => purged.mail_files = n,
        Err(e) => tracing::warn!(
            error = %e,
            "cleanup: the .eml files under data_dir/mail could not be purged; will retry"
        ),
    }
    if purged != Purged::default() {
        tracing::info!(
            sessions = purged.sessions,
            user_revocations = purged.user_revocations,
            audit_events = purged.audit_events,
            throttle_counters = purged.throttle_counters,
            code_try_counts = purged.code_try_counts,
            mail_messages = purged.mail_messages,
            mail_send_counts = purged.mail_send_counts,
            account_tokens = purged.account_tokens,
            mail_files = purged.mail_files,
            authorization_requests = purged.authorization_requests,
            authorization_codes = purged.authorization_codes,
            mfa_challenges = purged.mfa_challenges,
            webauthn_ceremonies = purged.webauthn_ceremonies,
            browser_session_clients = purged.browser_session_clients,
            "cleanup"
        );
    }
    Ok(purged)
}

/// Runs the sweep every `database.cleanup_interval_secs`, and after it the
/// re-seal of second factors and webhook secrets under a retired ring key
/// (`factors::reseal`, `events::reseal`).
pub fn spawn(svc: Arc<Services>) {
    let interval = Duration::from_secs(svc.settings.database.cleanup_interval_secs.max(1));
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            if let Err(e) = purge_once(&svc).await {
                tracing::warn!(error = %e, "cleanup failed; will retry");
            }
            if let Err(e) = crate::factors::reseal::reseal_once(&svc).await {
                tracing::warn!(error = %e, "re-seal of second factors failed; will retry");
            }
            if let Err(e) = crate::events::reseal::reseal_once(&svc).await {
                tracing::warn!(error = %e, "re-seal of webhook secrets failed; will retry");
            }
        }
    });
}
