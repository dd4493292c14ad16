//! Webhook endpoints: registering one (its URL and event filter checked, a
//! secret made and returned once), listing, deleting (its pending deliveries
//! go with it), disabling (no event is queued for it, and the worker gives
//! its pending deliveries up) and enabling it again, and rotating its secret (the new one returned once; the
//! previous one signs alongside it for `webhooks.rotation_grace_secs`). The
//! admin API (`/admin/webhooks`) and `authd webhooks` both call these.
//!
//! Each of these changes records its audit event (`webhook_created`,
//! `webhook_deleted`, `webhook_secret_rotated`, `webhook_disabled`,
//! `webhook_enabled`) in its own transaction,
//! naming the actor (an admin, or `operator:cli`), the endpoint's id and its
//! URL's host: never the URL's path or query, never a secret.
//!
//! A secret is stored only sealed (`mail::seal`: AES-256-GCM under a key
//! derived from the refresh-key ring, bound to the endpoint's id); a copy of
//! the database cannot sign.

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use uuid::Uuid;

use super::{EVENT_TYPES, sign};
use crate::audit::{self, Actor, AuditEvent, AuditKind, RequestMeta};
use crate::error::ServiceError;
use crate::mail::seal;
use crate::services::Services;
use crate::store::webhooks::{EndpointRow, SealedSecret};
use crate::store::{self, StoreError};

/// At most this many bytes in a URL, and in a description.
const MAX_URL: usize = 2048;
const MAX_DESCRIPTION: usize = 256;

/// What a webhook change refuses or fails with.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// 400 `invalid_webhook_url`: not an absolute https URL (http only to
    /// localhost and loopback addresses unless `webhooks.allow_http`), or
    /// with credentials, a fragment, or too long.
    #[error("{0}")]
    InvalidUrl(String),
    /// 400 `invalid_event_type`: a type not in `events::EVENT_TYPES` (named).
    #[error("{0}")]
    InvalidEventType(String),
    /// 400 `invalid_request`: another field out of bounds.
    #[error("{0}")]
    InvalidRequest(String),
    /// 404 `not_found`: no such endpoint.
    #[error("no such webhook endpoint")]
    NoSuchEndpoint,
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl From<StoreError> for WebhookError {
    fn from(e: StoreError) -> Self {
        Self::Service(e.into())
    }
}

/// An endpoint as shown to operators: never its secret.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Endpoint {
    pub id: Uuid,
    pub url: String,
    /// The event types it takes; `["*"]` for all.
    pub event_types: Vec<String>,
    pub description: Option<String>,
    pub created_at: DateTime<Utc>,
    /// Until when the secret it had before its last rotation still signs.
    pub previous_secret_until: Option<DateTime<Utc>>,
    pub disabled: bool,
}

impl Endpoint {
    fn of(row: &EndpointRow, now: DateTime<Utc>) -> Self {
        Self {
            id: row.id,
            url: row.url.clone(),
            event_types: row
                .event_types
                .split_ascii_whitespace()
                .map(str::to_owned)
                .collect(),
            description: row.description.clone(),
            created_at: row.created_at,
            previous_secret_until: row.previous_until.filter(|until| *until > now),
            disabled: row.disabled_at.is_some(),
        }
    }
}

/// An endpoint to register.
pub struct NewEndpoint {
    pub url: String,
    /// Empty or `["*"]`: every type.
    pub event_types: Vec<String>,
    pub description: Option<String>,
}

/// Checks a URL: absolute, https (or http to localhost and loopback
/// addresses, or anywhere with `allow_http`), no credentials, no fragment.
pub fn check_url(url: &str, allow_http: bool) -> Result<String, WebhookError> {
    let invalid = |why: &str| WebhookError::InvalidUrl(format!("url: {why}"));
    if url.len() > MAX_URL {
        return Err(invalid("longer than 2048 bytes"));
    }
    let parsed = url::Url::parse(url).map_err(|_| invalid("not an absolute URL"))?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(invalid("must not carry credentials"));
    }
    if parsed.fragment().is_some() {
        return Err(invalid("must not have a fragment"));
    }
    let loopback = match parsed.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => return Err(invalid("has no host")),
    };
    match parsed.scheme() {
        "https" => {}
        "http" if loopback || allow_http => {}
        "http" => {
            return Err(invalid(
                "must be https (http only to localhost or a loopback address)",
            ));
        }
        _ => return Err(invalid("must be https")),
    }
    Ok(parsed.to_string())
}

/// Checks event types and gives their stored form: `*`, or the known types
/// given, each once, separated by spaces.
pub fn check_types(types: &[String]) -> Result<String, WebhookError> {
    if types.is_empty() || types.iter().any(|t| t == "*") {
        return Ok("*".to_owned());
    }
    let mut kept: Vec<&str> = Vec::new();
    for t in types {
        let Some(known) = EVENT_TYPES.iter().find(|k| **k == t) else {
            let shown: String = t.chars().take(64).collect();
            return Err(WebhookError::InvalidEventType(format!(
                "{shown:?} is not an event type (one of {}, or *)",
                EVENT_TYPES.join(", ")
            )));
        };
        if !kept.contains(known) {
            kept.push(known);
        }
    }
    Ok(kept.join(" "))
}

/// Seals a secret for the endpoint `id`.
pub(super) fn seal_secret(
    svc: &Services,
    id: Uuid,
    secret: &SecretString,
) -> Result<SealedSecret, WebhookError> {
    let sealed =
        seal::seal(&svc.refresh, id, "", secret.expose_secret()).map_err(ServiceError::internal)?;
    Ok(SealedSecret {
        key_id: i32::from(sealed.key_id),
        nonce: sealed.nonce.to_vec(),
        sealed: sealed.text,
    })
}

/// Opens a secret sealed for the endpoint `id`; none if it does not open
/// (its ring key is gone, or it was altered or moved).
pub fn open_secret(svc: &Services, id: Uuid, s: &SealedSecret) -> Option<SecretString> {
    seal::open(&svc.refresh, id, s.key_id, &s.nonce, &s.sealed)
        .ok()
        .map(|opened| SecretString::from(opened.message))
}

/// The audit event of `kind` on the endpoint `id` at `url`, by `by`.
fn event(kind: AuditKind, by: &Actor, id: Uuid, url: &str, now: DateTime<Utc>) -> AuditEvent {
    let host = url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default();
    AuditEvent::new(kind, None, None, &RequestMeta::default(), now)
        .with_actor(by.clone())
        .with_detail(format!("endpoint={id} host={host}"))
}

/// Registers an endpoint for `by`; its secret, returned once.
pub async fn create(
    svc: &Services,
    new: NewEndpoint,
    by: &Actor,
) -> Result<(Endpoint, SecretString), WebhookError> {
    let url = check_url(&new.url, svc.settings.webhooks.allow_http)?;
    let types = check_types(&new.event_types)?;
    let description = new.description.filter(|d| !d.trim().is_empty());
    if description
        .as_ref()
        .is_some_and(|d| d.len() > MAX_DESCRIPTION || d.chars().any(char::is_control))
    {
        return Err(WebhookError::InvalidRequest(
            "description: at most 256 bytes, one line".to_owned(),
        ));
    }
    let id = Uuid::new_v4();
    let secret = sign::generate().map_err(ServiceError::internal)?;
    let sealed = seal_secret(svc, id, &secret)?;
    let now = svc.now();
    let mut tx = svc.store.begin().await?;
    store::webhooks::insert(
        &mut tx,
        id,
        &url,
        &types,
        description.as_deref(),
        &sealed,
        now,
    )
    .await?;
    let row = store::webhooks::find(&mut tx, id)
        .await?
        .ok_or(WebhookError::NoSuchEndpoint)?;
    audit::record(
        &mut tx,
        &event(AuditKind::WebhookCreated, by, id, &url, now),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(webhook.id = %id, "webhook endpoint registered");
    Ok((Endpoint::of(&row, now), secret))
}

/// Every endpoint, oldest first.
pub async fn list(svc: &Services) -> Result<Vec<Endpoint>, WebhookError> {
    let now = svc.now();
    let mut conn = svc.store.conn().await?;
    let rows = store::webhooks::list(&mut conn).await?;
    Ok(rows.iter().map(|row| Endpoint::of(row, now)).collect())
}

/// Deletes an endpoint and its deliveries, pending or not, for `by`.
pub async fn delete(svc: &Services, id: Uuid, by: &Actor) -> Result<(), WebhookError> {
    let mut tx = svc.store.begin().await?;
    let row = store::webhooks::find(&mut tx, id)
        .await?
        .ok_or(WebhookError::NoSuchEndpoint)?;
    if !store::webhooks::delete(&mut tx, id).await? {
        return Err(WebhookError::NoSuchEndpoint);
    }
    let audit = event(AuditKind::WebhookDeleted, by, id, &row.url, svc.now());
    audit::record(&mut tx, &audit).await?;
    tx.commit().await?;
    tracing::info!(webhook.id = %id, "webhook endpoint deleted");
    Ok(())
}

/// Disables (`disabled`) or enables an endpoint for `by`; the endpoint as
/// it is then. Disabling one already disabled keeps its first time, and
/// records no event; so does enabling one that is not disabled.
pub async fn set_disabled(
    svc: &Services,
    id: Uuid,
    disabled: bool,
    by: &Actor,
) -> Result<Endpoint, WebhookError> {
    let now = svc.now();
    let mut tx = svc.store.begin().await?;
    let row = store::webhooks::find(&mut tx, id)
        .await?
        .ok_or(WebhookError::NoSuchEndpoint)?;
    if row.disabled_at.is_some() == disabled {
        return Ok(Endpoint::of(&row, now));
    }
    if !store::webhooks::set_disabled(&mut tx, id, disabled.then_some(now)).await? {
        return Err(WebhookError::NoSuchEndpoint);
    }
    let kind = if disabled {
        AuditKind::WebhookDisabled
    } else {
        AuditKind::WebhookEnabled
    };
    audit::record(&mut tx, &event(kind, by, id, &row.url, now)).await?;
    let row = store::webhooks::find(&mut tx, id)
        .await?
        .ok_or(WebhookError::NoSuchEndpoint)?;
    tx.commit().await?;
    tracing::info!(webhook.id = %id, disabled, "webhook endpoint disabled or enabled");
    Ok(Endpoint::of(&row, now))
}

/// Gives an endpoint a new secret, returned once with the time until which
/// the one it replaces still signs alongside it. The one before that stops
/// signing at once. Done for `by`.
pub async fn rotate_secret(
    svc: &Services,
    id: Uuid,
    by: &Actor,
) -> Result<(SecretString, DateTime<Utc>), WebhookError> {
    let grace = chrono::Duration::seconds(
        i64::try_from(svc.settings.webhooks.rotation_grace_secs).unwrap_or(86_400),
    );
    // A concurrent rotation makes the compare-and-set fail; try again on the
    // secret it left.
    for _ in 0..3 {
        let mut tx = svc.store.begin().await?;
        let row = store::webhooks::find(&mut tx, id)
            .await?
            .ok_or(WebhookError::NoSuchEndpoint)?;
        let secret = sign::generate().map_err(ServiceError::internal)?;
        let sealed = seal_secret(svc, id, &secret)?;
        let now = svc.now();
        let until = now + grace;
        if store::webhooks::rotate(&mut tx, id, &sealed, &row.secret(), until).await? {
            let audit = event(AuditKind::WebhookSecretRotated, by, id, &row.url, now);
            audit::record(&mut tx, &audit).await?;
            tx.commit().await?;
            tracing::info!(webhook.id = %id, "webhook secret rotated");
            return Ok((secret, until));
        }
    }
    Err(ServiceError::Busy.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_must_be_https_unless_it_is_loopback() {
        assert!(check_url("https://hooks.example/in", false).is_ok());
        assert!(check_url("http://127.0.0.1:8080/in", false).is_ok());
        assert!(check_url("http://localhost/in", false).is_ok());
        assert!(check_url("http://[::1]/in", false).is_ok());
        assert!(check_url("http://hooks.example/in", false).is_err());
        assert!(check_url("http://hooks.example/in", true).is_ok());
        assert!(check_url("ftp://hooks.example/in", true).is_err());
        assert!(check_url("https://user:pw@hooks.example/in", false).is_err());
        assert!(check_url("https://hooks.example/in#x", false).is_err());
        assert!(check_url("/in", false).is_err());
    }

    #[test]
    fn types_are_known_ones_or_all() {
        assert_eq!(check_types(&[]).unwrap(), "*");
        assert_eq!(
            check_types(&["user.created".into(), "user.created".into()]).unwrap(),
            "user.created"
        );
        assert!(matches!(
            check_types(&["user.exploded".into()]),
            Err(WebhookError::InvalidEventType(_))
        ));
    }
}
