//! Send limits: how many messages a request may ask for, per recipient and
//! per client IP. Every endpoint that sends mail calls [`check_send_limits`]
//! first, before its transaction, whether or not it will end up sending.
//!
//! - Per recipient (`email.per_recipient_limit` per
//!   `email.per_recipient_window_secs`): counted in the database
//!   (`mail_send_counts`, one atomic upsert), so the limit holds across every
//!   instance. The request is counted, not the message: an endpoint that
//!   sends nothing to an address without an account counts the same, so a
//!   refusal reveals nothing about which addresses have accounts. The key is
//!   the keyed hash of the address (`tokens::address`).
//! - Per client IP (`email.per_ip_limit` per `email.per_ip_window_secs`): in
//!   each instance's memory, like the registration limit.
//!
//! Over either, [`ServiceError::SendLimited`] (429 with `Retry-After`).

use chrono::Duration;

use crate::audit::RequestMeta;
use crate::domain::Email;
use crate::error::ServiceError;
use crate::services::Services;
use crate::store;
use crate::tokens::address::address_hash;

/// `Ok` when a message to `to`, asked for by the client of `meta`, is within the limits;
/// counts the request. Not inside a transaction: the count stands whatever
/// the caller does next (and on SQLite the caller's transaction would hold
/// the write turn this needs).
pub async fn check_send_limits(
    svc: &Services,
    to: &Email,
    meta: &RequestMeta,
) -> Result<(), ServiceError> {
    let ip = meta.ip_addr();
    let now = svc.now();
    let settings = &svc.settings.email;
    if let Err(retry_after_secs) = svc.mail.ip_limit.check(ip, now) {
        tracing::warn!(limit = "ip", retry_after_secs, "mail send limit reached");
        return Err(ServiceError::SendLimited { retry_after_secs });
    }
    let window =
        Duration::seconds(i64::try_from(settings.per_recipient_window_secs).unwrap_or(86_400));
    let key = format!("to:{}", address_hash(&svc.refresh, to.as_str()));
    let mut conn = svc.store.write_conn().await?;
    let (count, started) = store::outbox::count_send(&mut conn, &key, now, now - window).await?;
    if count > i64::from(settings.per_recipient_limit) {
        let left = started + window - now;
        let retry_after_secs = ((left.num_milliseconds() + 999) / 1000).max(1);
        tracing::warn!(
            limit = "recipient",
            mail.to_domain = super::domain_of(to.as_str()),
            retry_after_secs,
            "mail send limit reached"
        );
        return Err(ServiceError::SendLimited { retry_after_secs });
    }
    Ok(())
}
