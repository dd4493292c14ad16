//! The `webhook_endpoints` table: where events are delivered, and their
//! signing secrets sealed at rest. Which events go where, and the secrets'
//! rules, are decided in `crate::events`.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{AsDb, StoreError, on_db};

/// A sealed secret as stored: the ring key's id, the nonce, the ciphertext.
#[derive(Clone)]
pub struct SealedSecret {
    pub key_id: i32,
    pub nonce: Vec<u8>,
    pub sealed: Vec<u8>,
}

/// An endpoint as stored.
#[derive(Clone, sqlx::FromRow)]
pub struct EndpointRow {
    pub id: Uuid,
    pub url: String,
    pub event_types: String,
    pub description: Option<String>,
    pub secret_key_id: i32,
    pub secret_nonce: Vec<u8>,
    pub secret_sealed: Vec<u8>,
    pub previous_key_id: Option<i32>,
    pub previous_nonce: Option<Vec<u8>>,
    pub previous_sealed: Option<Vec<u8>>,
    pub previous_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub disabled_at: Option<DateTime<Utc>>,
}

/// The row without its ciphertexts.
impl std::fmt::Debug for EndpointRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EndpointRow")
            .field("id", &self.id)
            .field("url", &self.url)
            .field("event_types", &self.event_types)
            .field("previous_until", &self.previous_until)
            .field("created_at", &self.created_at)
            .field("disabled_at", &self.disabled_at)
            .finish_non_exhaustive()
    }
}

impl EndpointRow {
    pub fn secret(&self) -> SealedSecret {
        SealedSecret {
            key_id: self.secret_key_id,
            nonce: self.secret_nonce.clone(),
            sealed: self.secret_sealed.clone(),
        }
    }

    /// The previous secret, while it still signs at `now`.
    pub fn previous(&self, now: DateTime<Utc>) -> Option<SealedSecret> {
        match (
            self.previous_key_id,
            &self.previous_nonce,
            &self.previous_sealed,
            self.previous_until,
        ) {
            (Some(key_id), Some(nonce), Some(sealed), Some(until)) if until > now => {
                Some(SealedSecret {
                    key_id,
                    nonce: nonce.clone(),
                    sealed: sealed.clone(),
                })
            }
            _ => None,
        }
    }
}

#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn insert(
    db: &mut impl AsDb,
    id: Uuid,
    url: &str,
    event_types: &str,
    description: Option<&str>,
    secret: &SealedSecret,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    const SQL: &str = "INSERT INTO webhook_endpoints (id, url, event_types, description, \
         secret_key_id, secret_nonce, secret_sealed, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
    on_db!(db, |c| sqlx::query(SQL)
        .bind(id)
        .bind(url)
        .bind(event_types)
        .bind(description)
        .bind(secret.key_id)
        .bind(&secret.nonce)
        .bind(&secret.sealed)
        .bind(now)
        .execute(c)
        .await
        .map(|_| ()))?;
    Ok(())
}

/// Every endpoint, oldest first.
#[tracing::instrument(skip_all)]
pub async fn list(db: &mut impl AsDb) -> Result<Vec<EndpointRow>, StoreError> {
    const SQL: &str = "SELECT id, url, event_types, description, secret_key_id, secret_nonce, \
         secret_sealed, previous_key_id, previous_nonce, previous_sealed, previous_until, \
         created_at, disabled_at FROM webhook_endpoints ORDER BY created_at, id";
    Ok(on_db!(db, |c| sqlx::query_as(SQL).fetch_all(c).await)?)
}

/// The endpoints that are not disabled: their ids and event filters.
#[tracing::instrument(skip_all)]
pub async fn subscribers(db: &mut impl AsDb) -> Result<Vec<(Uuid, String)>, StoreError> {
    const SQL: &str = "SELECT id, event_types FROM webhook_endpoints WHERE disabled_at IS NULL";
    Ok(on_db!(db, |c| sqlx::query_as(SQL).fetch_all(c).await)?)
}

#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn find(db: &mut impl AsDb, id: Uuid) -> Result<Option<EndpointRow>, StoreError> {
    const SQL: &str = "SELECT id, url, event_types, description, secret_key_id, secret_nonce, \
         secret_sealed, previous_key_id, previous_nonce, previous_sealed, previous_until, \
         created_at, disabled_at FROM webhook_endpoints WHERE id = $1";
    Ok(on_db!(db, |c| sqlx::query_as(SQL)
        .bind(id)
        .fetch_optional(c)
        .await)?)
}

/// Deletes an endpoint and (by the foreign key) its deliveries; false when
/// there was none.
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn delete(db: &mut impl AsDb, id: Uuid) -> Result<bool, StoreError> {
    const SQL: &str = "DELETE FROM webhook_endpoints WHERE id = $1";
    Ok(on_db!(db, |c| sqlx::query(SQL)
        .bind(id)
        .execute(c)
        .await
        .map(|r| r.rows_affected() == 1))?)
}

/// Makes `secret` the endpoint's secret and `previous` (the one it had) its
/// previous until `until`, if `previous` is still its secret; false when
/// there is no such endpoint, or another rotation came first.
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn rotate(
    db: &mut impl AsDb,
    id: Uuid,
    secret: &SealedSecret,
    previous: &SealedSecret,
    until: DateTime<Utc>,
) -> Result<bool, StoreError> {
    const SQL: &str = "UPDATE webhook_endpoints SET secret_key_id = $2, secret_nonce = $3, \
         secret_sealed = $4, previous_key_id = $5, previous_nonce = $6, previous_sealed = $7, \
         previous_until = $8 WHERE id = $1 AND secret_nonce = $6";
    Ok(on_db!(db, |c| sqlx::query(SQL)
        .bind(id)
        .bind(secret.key_id)
        .bind(&secret.nonce)
        .bind(&secret.sealed)
        .bind(previous.key_id)
        .bind(&previous.nonce)
        .bind(&previous.sealed)
        .bind(until)
        .execute(c)
        .await
        .map(|r| r.rows_affected() == 1))?)
}

/// Which of an endpoint's two secrets [`reseal`] moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    Current,
    Previous,
}

/// Replaces the endpoint's `which` secret by `new` if it is still `old`
/// (the same ring key and nonce): a rotation or another instance's re-seal
/// in between wins. False when it was not replaced.
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn reseal(
    db: &mut impl AsDb,
    id: Uuid,
    which: Which,
    old: &SealedSecret,
    new: &SealedSecret,
) -> Result<bool, StoreError> {
    const CURRENT: &str = "UPDATE webhook_endpoints SET secret_key_id = $4, secret_nonce = $5, \
         secret_sealed = $6 WHERE id = $1 AND secret_key_id = $2 AND secret_nonce = $3";
    const PREVIOUS: &str = "UPDATE webhook_endpoints SET previous_key_id = $4, \
         previous_nonce = $5, previous_sealed = $6 \
         WHERE id = $1 AND previous_key_id = $2 AND previous_nonce = $3";
    let sql = match which {
        Which::Current => CURRENT,
        Which::Previous => PREVIOUS,
    };
    Ok(on_db!(db, |c| sqlx::query(sql)
        .bind(id)
        .bind(old.key_id)
        .bind(&old.nonce)
        .bind(new.key_id)
        .bind(&new.nonce)
        .bind(&new.sealed)
        .execute(c)
        .await
        .map(|r| r.rows_affected() == 1))?)
}

/// Disables the endpoint from `at` (`Some`), or enables it (`None`); false
/// when there is no such endpoint.
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn set_disabled(
    db: &mut impl AsDb,
    id: Uuid,
    at: Option<DateTime<Utc>>,
) -> Result<bool, StoreError> {
    const SQL: &str = "UPDATE webhook_endpoints SET disabled_at = $2 WHERE id = $1";
    Ok(on_db!(db, |c| sqlx::query(SQL)
        .bind(id)
        .bind(at)
        .execute(c)
        .await
        .map(|r| r.rows_affected() == 1))?)
}
