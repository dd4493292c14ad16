//! Queueing deliveries in the caller's transaction: a webhook event for each
//! subscribed endpoint (from `audit::record`), and a back-channel logout
//! for a client (`enqueue_backchannel_logout`, for OpenID Connect
//! Back-Channel Logout: the token's parts, signed when sent). Both go into the one outbox the `worker` drains.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::audit::AuditEvent;
use crate::oidc::logout_token::Queued;
use crate::store::event_deliveries::{self, NewDelivery};
use crate::store::{self, AsDb, StoreError};

/// The kind of a webhook event's delivery.
pub const WEBHOOK: &str = "webhook";
/// The kind of a back-channel logout's delivery.
pub const BACKCHANNEL_LOGOUT: &str = "backchannel_logout";

/// Whether an endpoint whose filter is `types` (as stored: `*`, or types
/// separated by spaces) takes events of `event_type`.
pub fn subscribes(types: &str, event_type: &str) -> bool {
    types
        .split_ascii_whitespace()
        .any(|t| t == "*" || t == event_type)
}

/// Queues `event` for every endpoint subscribed to its type, if it is an
/// event at all (`events::of_audit`), on `db`: the transaction of the change
/// it records. Ordered per user: the user id is the order key.
pub async fn on_audit(db: &mut impl AsDb, event: &AuditEvent) -> Result<(), StoreError> {
    let Some(event_type) = super::of_audit(event.kind) else {
        return Ok(());
    };
    let endpoints: Vec<Uuid> = store::webhooks::subscribers(db)
        .await?
        .into_iter()
        .filter(|(_, types)| subscribes(types, event_type))
        .map(|(id, _)| id)
        .collect();
    if endpoints.is_empty() {
        return Ok(());
    }
    let payload = super::payload(event, event_type);
    let order_key = event.user_id.map(|u| u.to_string());
    for endpoint in endpoints {
        event_deliveries::insert(
            db,
            &NewDelivery {
                id: Uuid::now_v7(),
                kind: WEBHOOK,
                endpoint_id: Some(endpoint),
                target_uri: None,
                client_id: event.client_id.as_deref(),
                event_type: Some(event_type),
                order_key: order_key.as_deref(),
                user_id: event.user_id,
                payload: &payload,
                created_at: event.at,
            },
        )
        .await?;
    }
    Ok(())
}

/// Queues a back-channel logout (OpenID Connect Back-Channel Logout 1.0):
/// a POST of `logout_token=<logout_token>` as
/// `application/x-www-form-urlencoded` to the client's `uri`, without
/// signature headers (the token is the signed statement), retried like a
/// webhook. Call it in the transaction that ends the session, with that
/// change's `now`; the worker delivers it after the commit. The outbox keeps
/// the token's parts (`logout`, as JSON), never a token: the worker signs
/// it at each attempt with the client's current ID-token key
/// (`oidc::logout_token`). Returns the delivery's id.
///
/// The caller checks `uri` (the client's registered
/// `backchannel_logout_uri`); the worker follows no redirect.
pub async fn enqueue_backchannel_logout(
    db: &mut impl AsDb,
    client_id: &str,
    uri: &str,
    logout: &Queued,
    now: DateTime<Utc>,
) -> Result<Uuid, StoreError> {
    let id = Uuid::now_v7();
    let payload = serde_json::to_string(logout)
        .map_err(|e| StoreError::Database(sqlx::Error::Encode(Box::new(e))))?;
    event_deliveries::insert(
        db,
        &NewDelivery {
            id,
            kind: BACKCHANNEL_LOGOUT,
            endpoint_id: None,
            target_uri: Some(uri),
            client_id: Some(client_id),
            event_type: None,
            order_key: None,
            user_id: None,
            payload: &payload,
            created_at: now,
        },
    )
    .await?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filter_takes_its_types_or_all() {
        assert!(subscribes("*", "user.created"));
        assert!(subscribes("user.created session.ended", "session.ended"));
        assert!(!subscribes("user.created", "session.ended"));
        assert!(!subscribes("", "session.ended"));
    }
}
