//! The admin API's changes to an account: its address and whether it is
//! verified (`PATCH /admin/users/{id}`), its roles (`PUT
//! /admin/users/{id}/roles`) and its app_metadata (`PUT
//! /admin/users/{id}/app_metadata`), each audited with the admin as the
//! actor.
//!
//! The rule against escalation lives here: a role that `admin.roles` maps to
//! an admin permission may be given or taken away only by a caller holding
//! every permission it maps to ([`may_change_role`]). Otherwise a holder of
//! `authd:admin:users:write` alone could give themselves (or a friend) a
//! role opening `authd:admin:clients`; and taking such a role away from its
//! holders is as much a use of that permission as giving it.
//!
//! An address changed by an admin ends no session (the admin, not a link,
//! vouches for it), but every link and code sent to the old address stops
//! working, by the rule a confirmed email change follows
//! (`accounts::end_links_to_old_address`), and the old address is told
//! (`email_changed`, queued in the change's transaction), as after a change
//! the user confirms: if the admin was misled, its owner learns at once.

use uuid::Uuid;

use super::{Admin, AdminError};
use crate::accounts::roles::{self, Replaced};
use crate::accounts::{app_metadata, end_links_to_old_address};
use crate::audit::{self, AuditEvent, AuditKind, RequestMeta};
use crate::clients::Permission;
use crate::domain::Email;
use crate::error::ServiceError;
use crate::mail::{self, Mail};
use crate::services::Services;
use crate::store::{self, users::User};

/// The first admin permission that `role` maps to through `admin.roles` and
/// `admin` does not hold; `None`: `admin` may give or take the role.
pub fn may_change_role(svc: &Services, admin: &Admin, role: &str) -> Option<Permission> {
    svc.settings
        .admin
        .roles
        .get(role)?
        .iter()
        .filter_map(|name| Permission::parse(name))
        .find(|&p| !admin.holds(p))
}

/// Refuses (`Forbidden`, naming the permission) a change by `admin` to the
/// account `user` when one of its roles maps to an admin permission `admin`
/// does not hold: a caller may not take over, or erase, an account more
/// powerful than itself (its address moved to the caller's mailbox, its
/// factors removed, a reset link then used). `db` is the change's
/// transaction, holding the user's lock, where there is one.
pub async fn may_act_on(
    svc: &Services,
    admin: &Admin,
    db: &mut impl store::AsDb,
    user: Uuid,
) -> Result<(), AdminError> {
    for role in store::user_roles::list(db, user).await? {
        if let Some(lacking) = may_change_role(svc, admin, &role) {
            tracing::info!(admin = admin.id(), user = %user, permission = %lacking,
                "admin refused: the account holds a permission the caller does not");
            return Err(AdminError::Forbidden(lacking));
        }
    }
    Ok(())
}

/// Opens the transaction of an act by `admin` on the account `user`: the
/// user's row locked (none, or erased: `NoSuchUser`), then the account's
/// roles read under that lock and checked ([`may_act_on`]), so that a role
/// given between the check and the act cannot slip through. Every admin act
/// on one account that could hand it over, lock it out or log it out
/// begins here.
pub async fn begin_act_on(
    svc: &Services,
    admin: &Admin,
    user: Uuid,
) -> Result<store::Tx<'static>, AdminError> {
    let mut tx = svc.store.begin().await?;
    if store::users::lock(&mut tx, user).await?.is_none() {
        return Err(AdminError::NoSuchUser);
    }
    may_act_on(svc, admin, &mut tx, user).await?;
    Ok(tx)
}

/// Makes the roles of `user` exactly `wanted`. A role to be added or removed
/// that maps to a permission the caller lacks: `Forbidden` naming it, and
/// nothing changes.
pub async fn set_roles(
    svc: &Services,
    admin: &Admin,
    user: Uuid,
    wanted: &[String],
) -> Result<Vec<String>, AdminError> {
    let replaced = roles::replace(svc, user, wanted, admin.actor(), |role| {
        may_change_role(svc, admin, role).is_none()
    })
    .await?;
    match replaced {
        None => Err(AdminError::NoSuchUser),
        Some(Replaced::Done(roles)) => Ok(roles),
        Some(Replaced::Refused(role)) => {
            let lacking = may_change_role(svc, admin, &role).unwrap_or(Permission::AdminClients);
            tracing::info!(admin = admin.id(), user = %user, role = %role, permission = %lacking,
                "admin refused: the role maps to a permission the caller does not hold");
            Err(AdminError::Forbidden(lacking))
        }
    }
}

/// Replaces the app_metadata of `user` with `raw`, a JSON object (`{}`
/// removes it; checked by `accounts::app_metadata::parse`).
pub async fn set_app_metadata(
    svc: &Services,
    admin: &Admin,
    user: Uuid,
    raw: &str,
) -> Result<(), AdminError> {
    let compact = app_metadata::parse(raw).map_err(ServiceError::from)?;
    let mut tx = begin_act_on(svc, admin, user).await?;
    app_metadata::set_locked(svc, &mut tx, user, compact.as_deref(), admin.actor()).await?;
    tx.commit().await?;
    Ok(())
}

/// What a `PATCH` changes; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct Changes {
    pub email: Option<Email>,
    pub email_verified: Option<bool>,
}

/// Applies `changes` to `user` in one transaction under the user's lock
/// (an account holding a permission the caller lacks: `Forbidden`,
/// [`may_act_on`]),
/// audited as `user_updated` (the detail names the fields, never an
/// address). A new address is unverified unless `email_verified` says
/// otherwise; another account's address is `EmailTaken` (409) and nothing
/// changes. Returns the user as it is after.
pub async fn update(
    svc: &Services,
    admin: &Admin,
    user: Uuid,
    changes: &Changes,
    meta: &RequestMeta,
) -> Result<User, AdminError> {
    let now = svc.now();
    let mut tx = begin_act_on(svc, admin, user).await?;
    let current = store::users::find(&mut tx, user)
        .await?
        .ok_or(AdminError::NoSuchUser)?;
    let mut detail = Vec::new();
    let mut told_old_address = false;
    match &changes.email {
        Some(email) if email.as_str() != current.email => {
            let verified_at = changes.email_verified.unwrap_or(false).then_some(now);
            // Another account's address: `EmailTaken`, and dropping `tx`
            // rolls back.
            store::users::set_email_as_admin(&mut tx, user, email.as_str(), verified_at, now)
                .await?;
            end_links_to_old_address(svc, &mut tx, user).await?;
            // The old address is told, as after a change the user confirms
            // (`email_changed`), but no session ended.
            let old = Email::parse(&current.email).map_err(|_| {
                ServiceError::internal(anyhow::anyhow!("a stored address does not parse"))
            })?;
            let notice = Mail::EmailChanged {
                new_email: email.clone(),
                sessions_ended: false,
            };
            mail::queue(svc, &mut tx, Some(user), &old, &notice).await?;
            told_old_address = true;
            detail.push("email".to_owned());
            detail.push(format!("email_verified={}", verified_at.is_some()));
        }
        _ => {
            if let Some(verified) = changes.email_verified
                && verified != current.email_verified
            {
                store::users::set_verified(&mut tx, user, verified, now).await?;
                detail.push(format!("email_verified={verified}"));
            }
        }
    }
    if !detail.is_empty() {
        let event = AuditEvent::new(AuditKind::UserUpdated, Some(user), None, meta, now)
            .with_actor(admin.actor())
            .with_detail(detail.join(" "));
        audit::record(&mut tx, &event).await?;
    }
    let after = store::users::find(&mut tx, user)
        .await?
        .ok_or(AdminError::NoSuchUser)?;
    tx.commit().await?;
    if told_old_address {
        svc.mail.wake();
    }
    if !detail.is_empty() {
        tracing::info!(admin = admin.id(), user = %user, change = %detail.join(" "), "account changed by an admin");
    }
    Ok(after)
}
