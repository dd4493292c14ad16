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
    let roles = apply(&mut tx, user, &add, &remove, actor, now).await?;
    tx.commit().await?;
    Ok(Some(roles))
}

/// What [`replace`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replaced {
    /// The user's roles now.
    Done(Vec<String>),
    /// `may_change` refused this role, to be added or removed: nothing
    /// changed.
    Refused(String),
}

/// Makes the roles of `user` exactly `wanted` for `actor`, in one
/// transaction under the user's lock, audited as [`change`] is. Every name
/// is checked first (400); then each role to be added or removed is put to
/// `may_change` (the roles as they stand under the lock), and one it
/// refuses changes nothing. `Ok(None)`: no such account.
pub async fn replace(
    svc: &Services,
    user: Uuid,
    wanted: &[String],
    actor: Actor,
    may_change: impl Fn(&str) -> bool,
) -> Result<Option<Replaced>, ServiceError> {
    let mut wanted = wanted
        .iter()
        .map(|n| Role::parse(n))
        .collect::<Result<Vec<_>, _>>()?;
    wanted.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    wanted.dedup_by(|a, b| a.as_str() == b.as_str());
    let now = svc.now();
    let mut tx = svc.store.begin().await?;
    if store::users::lock(&mut tx, user).await?.is_none() {
        return Ok(None);
    }
    let current = store::user_roles::list(&mut tx, user).await?;
    let add: Vec<Role> = wanted
        .iter()
        .filter(|r| !current.iter().any(|c| c == r.as_str()))
        .cloned()
        .collect();
    let remove: Vec<Role> = current
        .iter()
        .filter(|c| !wanted.iter().any(|r| r.as_str() == c.as_str()))
        .map(|c| Role::parse(c))
        .collect::<Result<_, _>>()?;
    if let Some(refused) = add.iter().chain(&remove).find(|r| !may_change(r.as_str())) {
        return Ok(Some(Replaced::Refused(refused.as_str().to_owned())));
    }
    let roles = apply(&mut tx, user, &add, &remove, actor, now).await?;
    tx.commit().await?;
    Ok(Some(Replaced::Done(roles)))
}

/// Adds and removes roles of `user` in `tx` (holding the user's lock), with
/// the audit event when something changed; the roles after it.
async fn apply(
    tx: &mut store::Tx<'_>,
    user: Uuid,
    add: &[Role],
    remove: &[Role],
    actor: Actor,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<String>, ServiceError> {
    let mut detail = Vec::new();
    for role in add {
        if store::user_roles::add(tx, user, role.as_str(), now).await? {
            detail.push(format!("+{}", role.as_str()));
        }
    }
    for role in remove {
        if store::user_roles::remove(tx, user, role.as_str()).await? {
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
        audit::record(tx, &event).await?;
    }
    let roles = store::user_roles::list(tx, user).await?;
    if !detail.is_empty() {
        tracing::info!(user = %user, change = %detail.join(" "), "roles changed");
    }
    Ok(roles)
}

/// The roles of `user`, sorted.
pub async fn list(db: &mut impl AsDb, user: Uuid) -> Result<Vec<String>, ServiceError> {
    Ok(store::user_roles::list(db, user).await?)
}
