//! Creating an account.

use uuid::Uuid;

use crate::audit::{self, AuditEvent, AuditKind, RequestMeta};
use crate::domain::{Email, Password};
use crate::error::ServiceError;
use crate::passwords::weakness;
use crate::services::Services;
use crate::store::{self, users::NewUser, users::User};

/// Creates an account, or fails with `WeakPassword`, or `EmailTaken` (a store
/// error) when the email has one. The new user is not logged in.
pub async fn register(
    svc: &Services,
    email: &Email,
    password: &Password,
    meta: &RequestMeta,
) -> Result<User, ServiceError> {
    let min_strength = svc.settings.password.min_strength;
    if let Some(why) = weakness(password.expose(), email.as_str(), min_strength) {
        return Err(ServiceError::WeakPassword(why));
    }
    let hash = svc.hasher.hash(password).await?;
    let now = svc.now();
    let mut tx = svc.store.begin().await?;
    let user = store::users::insert(
        &mut tx,
        NewUser {
            id: Uuid::new_v4(),
            email: email.as_str(),
            password_hash: &hash,
            now,
        },
    )
    .await?;
    let event = AuditEvent::new(AuditKind::Registered, Some(user.id), None, meta, now);
    audit::record(&mut tx, &event).await?;
    tx.commit().await?;
    tracing::info!(user = %user.id, "registered");
    Ok(user)
}
