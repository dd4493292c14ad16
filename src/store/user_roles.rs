//! The `user_roles` table: the roles of each user (names checked by
//! `accounts::roles`), put in the user's tokens.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{AsDb, StoreError, on_db};

/// The roles of `user`, sorted by name.
#[tracing::instrument(skip_all, fields(user = %user))]
pub async fn list(db: &mut impl AsDb, user: Uuid) -> Result<Vec<String>, StoreError> {
    const SQL: &str = "SELECT role FROM user_roles WHERE user_id = $1 ORDER BY role";
    Ok(on_db!(db, |c| sqlx::query_scalar::<_, String>(SQL)
        .bind(user)
        .fetch_all(c)
        .await)?)
}

/// Gives `user` the role `role`; returns whether it is new.
#[tracing::instrument(skip_all, fields(user = %user))]
pub async fn add(
    db: &mut impl AsDb,
    user: Uuid,
    role: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    const SQL: &str = "INSERT INTO user_roles (user_id, role, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT (user_id, role) DO NOTHING";
    Ok(on_db!(db, |c| sqlx::query(SQL)
        .bind(user)
        .bind(role)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected() > 0))?)
}

/// Takes the role `role` from `user`; returns whether it had it.
#[tracing::instrument(skip_all, fields(user = %user))]
pub async fn remove(db: &mut impl AsDb, user: Uuid, role: &str) -> Result<bool, StoreError> {
    const SQL: &str = "DELETE FROM user_roles WHERE user_id = $1 AND role = $2";
    Ok(on_db!(db, |c| sqlx::query(SQL)
        .bind(user)
        .bind(role)
        .execute(c)
        .await
        .map(|r| r.rows_affected() > 0))?)
}
