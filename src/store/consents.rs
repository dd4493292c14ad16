//! The `consents` table: the scopes a user granted each client, remembered
//! so that the consent page is not shown again for them. The rule of when
//! consent is needed is `crate::oauth::consent`'s.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{AsDb, StoreError, on_db};

/// One user's consent to one client.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Consent {
    pub user_id: Uuid,
    pub client_id: String,
    /// The scopes granted, sorted and space-separated.
    pub scope: String,
    pub granted_at: DateTime<Utc>,
}

#[tracing::instrument(skip_all, fields(user = %user, client = client))]
pub async fn find(
    db: &mut impl AsDb,
    user: Uuid,
    client: &str,
) -> Result<Option<Consent>, StoreError> {
    const SQL: &str = "SELECT user_id, client_id, scope, granted_at FROM consents \
         WHERE user_id = $1 AND client_id = $2";
    Ok(on_db!(db, |c| sqlx::query_as::<_, Consent>(SQL)
        .bind(user)
        .bind(client)
        .fetch_optional(c)
        .await)?)
}

/// Every consent of `user`, oldest first.
#[tracing::instrument(skip_all, fields(user = %user))]
pub async fn list(db: &mut impl AsDb, user: Uuid) -> Result<Vec<Consent>, StoreError> {
    const SQL: &str = "SELECT user_id, client_id, scope, granted_at FROM consents \
         WHERE user_id = $1 ORDER BY granted_at, client_id";
    Ok(on_db!(db, |c| sqlx::query_as::<_, Consent>(SQL)
        .bind(user)
        .fetch_all(c)
        .await)?)
}

/// Stores `consent`, replacing the user's earlier consent to the same client
/// (the caller passes the union of the old and new scopes).
#[tracing::instrument(skip_all, fields(user = %consent.user_id, client = %consent.client_id))]
pub async fn upsert(db: &mut impl AsDb, consent: &Consent) -> Result<(), StoreError> {
    const SQL: &str = "INSERT INTO consents (user_id, client_id, scope, granted_at) \
         VALUES ($1, $2, $3, $4) \
         ON CONFLICT (user_id, client_id) DO UPDATE SET scope = $3, granted_at = $4";
    on_db!(db, |c| sqlx::query(SQL)
        .bind(consent.user_id)
        .bind(&consent.client_id)
        .bind(&consent.scope)
        .bind(consent.granted_at)
        .execute(c)
        .await
        .map(|_| ()))?;
    Ok(())
}

/// Forgets the user's consent to `client`; false if there was none.
#[tracing::instrument(skip_all, fields(user = %user, client = client))]
pub async fn delete(db: &mut impl AsDb, user: Uuid, client: &str) -> Result<bool, StoreError> {
    const SQL: &str = "DELETE FROM consents WHERE user_id = $1 AND client_id = $2";
    let done = on_db!(db, |c| sqlx::query(SQL)
        .bind(user)
        .bind(client)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(done == 1)
}
