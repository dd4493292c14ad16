//! What a user's tokens carry from the account, under the configured names
//! (`[tokens]`): the roles (`tokens.roles_claim`, left out when the user has
//! none) and the app_metadata (`tokens.app_metadata_claim`, only when set).
//! Read at every issue of an access or ID token (a sign-in, a refresh, a
//! code grant), so a change reaches tokens at their next issue, and never a
//! token already issued.

use serde_json::{Map, Value};
use uuid::Uuid;

use crate::error::ServiceError;
use crate::services::Services;
use crate::store;

/// The claims from the account of `user`, keyed by their configured names.
pub async fn of_user(svc: &Services, user: Uuid) -> Result<Map<String, Value>, ServiceError> {
    let settings = &svc.settings.tokens;
    let mut conn = svc.store.conn().await?;
    let mut claims = Map::new();
    let roles = store::user_roles::list(&mut conn, user).await?;
    if !roles.is_empty() {
        claims.insert(settings.roles_claim.clone(), Value::from(roles));
    }
    if let Some(name) = &settings.app_metadata_claim
        && let Some(metadata) = super::app_metadata::get(&mut conn, user).await?
    {
        claims.insert(name.clone(), Value::Object(metadata));
    }
    Ok(claims)
}
