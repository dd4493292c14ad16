//! A user's `app_metadata`: a JSON object set by operators only (`authd
//! users app-metadata`; later the admin API), never by the user (no user
//! endpoint writes it), copied into the user's tokens under
//! `tokens.app_metadata_claim` when that is set (`tokens::claims`). Bounded:
//! an object of at most [`MAX_BYTES`] bytes as stored.

use serde_json::{Map, Value};
use uuid::Uuid;

use crate::audit::{self, Actor, AuditEvent, AuditKind, RequestMeta};
use crate::domain::InputError;
use crate::error::ServiceError;
use crate::services::Services;
use crate::store::{self, AsDb, Tx};

/// The largest `app_metadata`, in bytes of its compact JSON: what every
/// token of the user carries when it is configured.
pub const MAX_BYTES: usize = 4096;

/// `raw` checked: a JSON object of at most [`MAX_BYTES`] bytes once
/// compacted; its compact text, or `None` for `{}` (no metadata).
pub fn parse(raw: &str) -> Result<Option<String>, InputError> {
    let refused = InputError::AppMetadata(MAX_BYTES);
    // Longer input is not even parsed.
    if raw.len() > 4 * MAX_BYTES {
        return Err(refused);
    }
    let Ok(Value::Object(object)) = serde_json::from_str::<Value>(raw) else {
        return Err(refused);
    };
    if object.is_empty() {
        return Ok(None);
    }
    let compact = Value::Object(object).to_string();
    if compact.len() > MAX_BYTES {
        return Err(refused);
    }
    Ok(Some(compact))
}

/// Replaces the `app_metadata` of `user` with `raw` (checked by [`parse`];
/// `{}` removes it) for `actor`, audited (`app_metadata_changed`, the size
/// only: the content may be personal). `Ok(None)`: no such account.
pub async fn set(
    svc: &Services,
    user: Uuid,
    raw: &str,
    actor: Actor,
) -> Result<Option<()>, ServiceError> {
    let compact = parse(raw)?;
    let mut tx = svc.store.begin().await?;
    if store::users::lock(&mut tx, user).await?.is_none() {
        return Ok(None);
    }
    set_locked(svc, &mut tx, user, compact.as_deref(), actor).await?;
    tx.commit().await?;
    Ok(Some(()))
}

/// [`set`] in `tx`, which holds the user's lock, with `compact` as [`parse`]
/// returned it; the caller commits.
pub async fn set_locked(
    svc: &Services,
    tx: &mut Tx<'_>,
    user: Uuid,
    compact: Option<&str>,
    actor: Actor,
) -> Result<(), ServiceError> {
    let now = svc.now();
    store::users::set_app_metadata(tx, user, compact, now).await?;
    let size = compact.map_or(0, str::len);
    let event = AuditEvent::new(
        AuditKind::AppMetadataChanged,
        Some(user),
        None,
        &RequestMeta::default(),
        now,
    )
    .with_actor(actor)
    .with_detail(format!("{size} bytes"));
    audit::record(tx, &event).await?;
    tracing::info!(user = %user, size, "app_metadata replaced");
    Ok(())
}

/// The `app_metadata` of `user`, if any.
pub async fn get(
    db: &mut impl AsDb,
    user: Uuid,
) -> Result<Option<Map<String, Value>>, ServiceError> {
    let Some(text) = store::users::app_metadata(db, user).await? else {
        return Ok(None);
    };
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(object)) => Ok(Some(object)),
        _ => Err(ServiceError::internal(anyhow::anyhow!(
            "a stored app_metadata is not a JSON object"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_bounded_objects_are_taken() {
        assert_eq!(
            parse(r#"{ "plan": "pro" }"#),
            Ok(Some(r#"{"plan":"pro"}"#.into()))
        );
        assert_eq!(parse("{}"), Ok(None));
        for bad in ["[]", "1", "\"x\"", "null", "{", ""] {
            assert_eq!(
                parse(bad),
                Err(InputError::AppMetadata(MAX_BYTES)),
                "{bad:?}"
            );
        }
        let fits = format!(r#"{{"k":"{}"}}"#, "x".repeat(MAX_BYTES - 8));
        assert_eq!(fits.len(), MAX_BYTES);
        assert!(parse(&fits).is_ok());
        let over = format!(r#"{{"k":"{}"}}"#, "x".repeat(MAX_BYTES - 7));
        assert_eq!(parse(&over), Err(InputError::AppMetadata(MAX_BYTES)));
    }
}
