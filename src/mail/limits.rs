//! Send limits: who may make authd send how much mail, to whom.
//!
//! - Per client IP ([`check_client_limit`]; `email.per_ip_limit` requests per
//!   `email.per_ip_window_secs`): every endpoint that may send mail checks it
//!   before the answer, in each instance's memory, alike for every address,
//!   and answers 429 with `Retry-After` past it ([`ServiceError::SendLimited`]).
//! - Per recipient, a budget per kind of message ([`admit`]): counted in the
//!   database (`mail_send_counts`) where the message is decided, in the
//!   transaction that queues it, so only messages really queued count, and a
//!   rolled-back change takes its count back with it. A request that sends
//!   nothing (a resend for a verified address, a reset for an address without
//!   an account, a registration answered 409) spends nothing, and one kind's
//!   budget never blocks another (verification resends do not block a reset).
//!   The recipient in a key is the keyed hash of the address (`tokens::address`).
//!   Two counts per message: to this recipient from this client (an IPv4
//!   address, or an IPv6 /64: `email.per_recipient_limit`), and to this
//!   recipient from every client (`email.per_recipient_total_limit`, the
//!   looser cap), both per `email.per_recipient_window_secs`. So a stranger
//!   spends only their own client's budget for an address, and the owner,
//!   asking from another network, is still served until the total is spent.
//! - A message over its budget is not sent, silently: the flow goes on as if
//!   it had nothing to send, the request's answer does not change (it could
//!   otherwise tell an address with an account, which has something to send,
//!   from one without), and the drop is logged (kind, recipient's domain,
//!   which count) and counted in `authd_mail_dropped_total`.

use chrono::Duration;

use super::MailKind;
use crate::audit::RequestMeta;
use crate::domain::Email;
use crate::error::ServiceError;
use crate::services::Services;
use crate::store::{self, AsDb};
use crate::throttle::client_bucket;
use crate::tokens::address::address_hash;

/// `Ok` when the client of `meta` is within `email.per_ip_limit`, and counts
/// the request; `SendLimited` (429 with `Retry-After`) past it. In memory
/// only: the same work for every address.
pub fn check_client_limit(svc: &Services, meta: &RequestMeta) -> Result<(), ServiceError> {
    if let Err(retry_after_secs) = svc.mail.ip_limit.check(meta.ip_addr(), svc.now()) {
        tracing::warn!(limit = "ip", retry_after_secs, "mail send limit reached");
        return Err(ServiceError::SendLimited { retry_after_secs });
    }
    Ok(())
}

/// Counts a message of `kind` to `to`, asked for by the client of `meta`,
/// against its budgets in `db`, the transaction that will queue it. `true`:
/// counted, send it. `false`: a budget is spent, nothing is counted, and the
/// caller sends nothing (and issues no token: a newer link would shorten the
/// older one for nothing) and answers as if it had sent.
pub async fn admit(
    svc: &Services,
    db: &mut impl AsDb,
    kind: MailKind,
    to: &Email,
    meta: &RequestMeta,
) -> Result<bool, ServiceError> {
    let settings = &svc.settings.email;
    let now = svc.now();
    let window =
        Duration::seconds(i64::try_from(settings.per_recipient_window_secs).unwrap_or(86_400));
    let since = now - window;
    let recipient = format!(
        "send:{}:{}",
        kind.as_str(),
        address_hash(&svc.refresh, to.as_str())
    );
    let from_client = format!("{recipient}:{}", client_of(meta));
    let per_client = i64::from(settings.per_recipient_limit);
    let total = i64::from(settings.per_recipient_total_limit);
    // The client's count first: a stranger past their own budget does not
    // also spend the total the owner's requests need.
    let dropped_by =
        if !store::outbox::count_send_within(db, &from_client, now, since, per_client).await? {
            "recipient_client"
        } else if !store::outbox::count_send_within(db, &recipient, now, since, total).await? {
            store::outbox::uncount_send(db, &from_client).await?;
            "recipient"
        } else {
            return Ok(true);
        };
    svc.metrics
        .mail
        .dropped
        .with_label_values(&[kind.as_str()])
        .inc();
    tracing::warn!(
        limit = dropped_by,
        mail.kind = kind.as_str(),
        mail.to_domain = super::domain_of(to.as_str()),
        "mail send budget spent: message not sent"
    );
    Ok(false)
}

/// The client a budget is counted for: its IPv4 address, or its IPv6 /64.
fn client_of(meta: &RequestMeta) -> String {
    meta.ip_addr()
        .map_or_else(|| "unknown".to_owned(), client_bucket)
}
