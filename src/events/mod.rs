//! Events (issue 19): what authd tells registered webhook endpoints, and the
//! durable outbox that carries them (and OpenID Connect back-channel logout
//! tokens) to where they go.
//!
//! - The source is the audit trail: every change records its audit event in
//!   its own transaction (`audit::record`), and [`of_audit`] says which of
//!   them are events and of which type. [`queue::on_audit`] then queues, in
//!   that same transaction, one delivery per endpoint subscribed to the type:
//!   an event exists if and only if its change committed.
//! - A payload holds ids only (`{"type", "timestamp", "data": {user_id,
//!   session_id?, client_id?, actor?, ...}}`): never an address, an IP, a
//!   token or a secret, so a deleted user's data does not sit in the queue.
//! - Delivery (`worker`) is at least once, in order per user and endpoint,
//!   retried with backoff, given up with an audit event (`webhook_given_up`)
//!   and a metric; signed at send time as the Standard Webhooks specification
//!   says (`sign`), with the endpoint's current secret and, for a grace after
//!   a rotation, its previous one too.
//! - Endpoints and their secrets are managed in `webhooks` (the admin API and
//!   `authd webhooks`); the cleanup sweep moves secrets sealed under a
//!   retired ring key to the current one (`reseal`).

pub mod metrics;
pub mod queue;
pub mod reseal;
pub mod sign;
pub mod webhooks;
pub mod worker;

use serde_json::json;

use crate::audit::{AuditEvent, AuditKind};

/// Every event type an endpoint can subscribe to; part of the API.
pub const EVENT_TYPES: &[&str] = &[
    "user.created",
    "user.verified",
    "user.disabled",
    "user.enabled",
    "user.deleted",
    "password.changed",
    "password.reset",
    "factor.added",
    "factor.removed",
    "session.started",
    "session.ended",
    "session.reuse_detected",
    "client.created",
    "client.deleted",
];

/// The event type an audit event of `kind` is delivered as, if any.
///
/// Exhaustive on purpose: a new `AuditKind` does not compile until someone
/// decides whether it is an event.
pub fn of_audit(kind: AuditKind) -> Option<&'static str> {
    match kind {
        AuditKind::Registered | AuditKind::UserCreated => Some("user.created"),
        AuditKind::UserDeleted => Some("user.deleted"),
        AuditKind::ClientCreated => Some("client.created"),
        AuditKind::ClientDeleted => Some("client.deleted"),
        AuditKind::EmailVerified => Some("user.verified"),
        AuditKind::UserDisabled => Some("user.disabled"),
        AuditKind::UserEnabled => Some("user.enabled"),
        AuditKind::PasswordChanged => Some("password.changed"),
        AuditKind::PasswordReset => Some("password.reset"),
        AuditKind::FactorAdded => Some("factor.added"),
        AuditKind::FactorRemoved => Some("factor.removed"),
        AuditKind::LoginSucceeded => Some("session.started"),
        AuditKind::Logout
        | AuditKind::SessionRevoked
        | AuditKind::SessionEvicted
        | AuditKind::SessionsRevokedByAdmin
        | AuditKind::GrantRevoked
        | AuditKind::AuthorizationCodeReused => Some("session.ended"),
        AuditKind::RefreshReuseDetected => Some("session.reuse_detected"),
        AuditKind::LoginFailed
        | AuditKind::MailGivenUp
        | AuditKind::WebhookGivenUp
        | AuditKind::WebhookCreated
        | AuditKind::WebhookDeleted
        | AuditKind::WebhookSecretRotated
        | AuditKind::WebhookDisabled
        | AuditKind::WebhookEnabled
        | AuditKind::EmailVerificationSent
        | AuditKind::PasswordResetRequested
        | AuditKind::CodeFailed
        | AuditKind::EmailChangeRequested
        | AuditKind::EmailChanged
        | AuditKind::RegistrationAttempted
        | AuditKind::OtpSent
        | AuditKind::ConsentGranted
        | AuditKind::RecoveryCodesRegenerated
        | AuditKind::RecoveryCodeUsed
        | AuditKind::RolesChanged
        | AuditKind::AppMetadataChanged
        | AuditKind::UserUpdated
        | AuditKind::LockoutCleared
        | AuditKind::ClientUpdated
        | AuditKind::ClientSecretRotated => None,
    }
}

/// The JSON body of an event: ids only. A factor event says which kind of
/// factor (`totp`, `passkey`, `all`); a `session.ended`, why (the audit
/// kind: `logout`, `session_revoked`, ...). Nothing else of the audit
/// event's detail is copied: it is free text.
pub fn payload(event: &AuditEvent, event_type: &str) -> String {
    let mut data = serde_json::Map::new();
    if let Some(user) = event.user_id {
        data.insert("user_id".into(), json!(user));
    }
    if let Some(session) = event.session_id {
        data.insert("session_id".into(), json!(session));
    }
    if let Some(client) = &event.client_id {
        data.insert("client_id".into(), json!(client));
    }
    if let Some(actor) = &event.actor {
        data.insert("actor".into(), json!(actor.to_text()));
    }
    match event.kind {
        AuditKind::FactorAdded | AuditKind::FactorRemoved => {
            if let Some(factor) = event.detail.as_deref().filter(|d| is_word(d)) {
                data.insert("factor".into(), json!(factor));
            }
        }
        kind if event_type == "session.ended" => {
            data.insert("reason".into(), json!(kind.as_str()));
        }
        _ => {}
    }
    json!({
        "type": event_type,
        "timestamp": event.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "data": data,
    })
    .to_string()
}

/// A short lowercase word: safe to copy from a detail.
fn is_word(s: &str) -> bool {
    (1..=32).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use uuid::Uuid;

    use super::*;
    use crate::audit::RequestMeta;

    #[test]
    fn every_type_an_audit_kind_maps_to_is_a_known_event_type() {
        for kind in [
            AuditKind::Registered,
            AuditKind::LoginSucceeded,
            AuditKind::Logout,
            AuditKind::RefreshReuseDetected,
            AuditKind::FactorAdded,
            AuditKind::UserDisabled,
        ] {
            let ty = of_audit(kind).unwrap();
            assert!(EVENT_TYPES.contains(&ty), "{ty}");
        }
        assert_eq!(of_audit(AuditKind::LoginFailed), None);
        assert_eq!(of_audit(AuditKind::WebhookGivenUp), None);
        assert_eq!(of_audit(AuditKind::WebhookCreated), None);
        assert_eq!(of_audit(AuditKind::WebhookSecretRotated), None);
    }

    #[test]
    fn a_payload_holds_ids_and_never_the_request_meta() {
        let user = Uuid::new_v4();
        let meta = RequestMeta {
            ip: Some("203.0.113.7".into()),
            user_agent: Some("agent".into()),
        };
        let event = AuditEvent::new(AuditKind::FactorAdded, Some(user), None, &meta, Utc::now())
            .with_detail("totp");
        let body = payload(&event, "factor.added");
        assert!(!body.contains("203.0.113.7"));
        assert!(!body.contains("agent"));
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["type"], "factor.added");
        assert_eq!(v["data"]["user_id"], user.to_string());
        assert_eq!(v["data"]["factor"], "totp");
        let free = AuditEvent::new(AuditKind::FactorAdded, Some(user), None, &meta, Utc::now())
            .with_detail("someone@example.com");
        assert!(!payload(&free, "factor.added").contains("example.com"));
    }
}
