//! The `oauth_clients` table: registered machine clients. Secrets are made
//! and checked in `crate::clients`; only their hashes are stored.

use chrono::{DateTime, Utc};

use super::{AsDb, StoreError, on_db};

/// A registered machine client. `secret_hash` is the hex SHA-256 of its secret;
/// `scopes` the space-separated scopes it may ask for.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Client {
    pub id: String,
    pub name: String,
    pub secret_hash: String,
    pub scopes: String,
    pub created_at: DateTime<Utc>,
}

#[tracing::instrument(skip_all, fields(client = %client.id))]
pub async fn insert(db: &mut impl AsDb, client: &Client) -> Result<(), StoreError> {
    const SQL: &str = "INSERT INTO oauth_clients (id, name, secret_hash, scopes, created_at) \
         VALUES ($1, $2, $3, $4, $5)";
    on_db!(db, |c| sqlx::query(SQL)
        .bind(&client.id)
        .bind(&client.name)
        .bind(&client.secret_hash)
        .bind(&client.scopes)
        .bind(client.created_at)
        .execute(c)
        .await
        .map(|_| ()))?;
    Ok(())
}

#[tracing::instrument(skip_all)]
pub async fn find(db: &mut impl AsDb, id: &str) -> Result<Option<Client>, StoreError> {
    const SQL: &str =
        "SELECT id, name, secret_hash, scopes, created_at FROM oauth_clients WHERE id = $1";
    Ok(on_db!(db, |c| sqlx::query_as::<_, Client>(SQL)
        .bind(id)
        .fetch_optional(c)
        .await)?)
}

#[tracing::instrument(skip_all)]
pub async fn list(db: &mut impl AsDb) -> Result<Vec<Client>, StoreError> {
    const SQL: &str = "SELECT id, name, secret_hash, scopes, created_at FROM oauth_clients ORDER BY created_at, id";
    Ok(on_db!(db, |c| sqlx::query_as::<_, Client>(SQL)
        .fetch_all(c)
        .await)?)
}

/// Deletes a client; false if there was none.
#[tracing::instrument(skip_all)]
pub async fn delete(db: &mut impl AsDb, id: &str) -> Result<bool, StoreError> {
    const SQL: &str = "DELETE FROM oauth_clients WHERE id = $1";
    let done = on_db!(db, |c| sqlx::query(SQL)
        .bind(id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(done == 1)
}

/// Replaces the scopes of client `id`; false if there is none.
#[tracing::instrument(skip_all)]
pub async fn set_scopes(db: &mut impl AsDb, id: &str, scopes: &str) -> Result<bool, StoreError> {
    const SQL: &str = "UPDATE oauth_clients SET scopes = $2 WHERE id = $1";
    let done = on_db!(db, |c| sqlx::query(SQL)
        .bind(id)
        .bind(scopes)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(done == 1)
}
