//! The roles of a user (`user_roles`), set by operators (`authd users
//! roles`; later the admin API) and put in the user's tokens under
//! `tokens.roles_claim` (`tokens::claims`). A change reaches tokens at their
//! next issue (a sign-in or a refresh), never a token already issued.

use uuid::Uuid;

use crate::audit::{self, Actor, AuditEvent, AuditKind, RequestMeta};
use crate::domain::Role;
use crate::error::ServiceError;
use crate::services::Services;
use crate::store::{self, AsDb};

/// Roles to give and to take away, as given (checked by [`change`]).
#[derive(Debug, Clone, Default)]
pub struct RoleChanges {
    pub add: Vec<String>,
    pub remove: Vec<String>,
}

/// Applies `changes` to the roles of `user` for `actor` in one transaction,
/// audited (`roles_changed`, detail `+a -b`) when something changed, and
/// returns the user's roles after it. Every name is checked before anything
/// is written (`InputError::RoleName`, 400). `Ok(None)`: no such account.
pub async fn change(
    svc: &Services,
    user: Uuid,
    changes: &RoleChanges,
    actor: Actor,
) -> Result<Option<Vec<String>>, ServiceError> {
    let parse = |names: &[String]| {
        names
            .iter()
            .map(|n| Role::parse(n))
            .collect::<Result<Vec<_>, _>>()
    };
    let add = parse(&changes.add)?;
    let remove = parse(&changes.remove)?;
    let now = svc.now();
    let mut tx = svc.store.begin().await?;
    if store::users::lock(&mut tx, user).await?.is_none() {
        return Ok(None);
    }
    let mut detail = Vec::new();
    for role in &add {
        if store::user_roles::add(&mut tx, user, role.as_str(), now).await? {
            detail.push(format!("+{}", role.as_str()));
        }
    }
    for role in &remove {
        if store::user_roles::remove(&mut tx, user, role.as_str()).await? {
            detail.push(format!("-{}", role.as_str()));
        }
    }
    if !detail.is_empty() {
        let event = AuditEvent::new(
            AuditKind::RolesChanged,
            Some(user),
            None,
            &RequestMeta::default(),
            now,
        )
        .with_actor(actor)
        .with_detail(detail.join(" "));
        audit::record(&mut tx, &event).await?;
    }
    let roles = store::user_roles::list(&mut tx, user).await?;
    tx.commit().await?;
    if !detail.is_empty() {
        tracing::info!(user = %user, change = %detail.join(" "), "roles changed");
    }
    Ok(Some(roles))
}

/// The roles of `user`, sorted.
pub async fn list(db: &mut impl AsDb, user: Uuid) -> Result<Vec<String>, ServiceError> {
    Ok(store::user_roles::list(db, user).await?)
}
