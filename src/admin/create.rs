//! An account created by an admin (`POST /admin/users`), with a password
//! (checked as at registration) or without one, and then, if asked, an
//! invitation: a password-reset link (the reset page and `accounts::reset`'s
//! rules: single use, bound to the address and the credential version; its
//! use proves the address) that lives [`INVITATION_VALID_FOR`] instead of
//! `accounts.reset_ttl_secs`, in a message of its own (`invitation`). An
//! account without a password has a hash no password matches
//! (`Hasher::unusable_hash`): nobody signs in until the link is used.
//!
//! The user, its roles, its app_metadata, the audit event `user_created`
//! (actor the admin) and the invitation are one transaction. The invitation
//! is counted against the address's reset budget (`mail::limits`), as a
//! reset link is; past it, none is sent. Giving roles at
//! creation follows `update`'s rule against escalation.

use std::time::Duration;

use uuid::Uuid;

use super::update::may_change_role;
use super::{Admin, AdminError};
use crate::accounts::app_metadata;
use crate::accounts::tokens::{self, Issue, Purpose};
use crate::audit::{self, AuditEvent, AuditKind, RequestMeta};
use crate::domain::{Email, Password, Role};
use crate::error::ServiceError;
use crate::mail::{self, Mail, MailKind};
use crate::passwords::weakness;
use crate::services::Services;
use crate::store::{self, users::NewUser, users::User};

/// How long an invitation's link works: three days, since its reader did
/// not ask for it and may read it late (a reset link asked for works
/// `accounts.reset_ttl_secs`).
pub const INVITATION_VALID_FOR: Duration = Duration::from_secs(72 * 3600);

/// What an admin gives for a new account.
pub struct NewAccount {
    pub email: Email,
    pub email_verified: bool,
    pub password: Option<Password>,
    pub send_invitation: bool,
    pub roles: Vec<String>,
    /// A JSON object's text (`accounts::app_metadata::parse`).
    pub app_metadata: Option<String>,
}

/// Creates the account. `InvalidQuery` (400) for an invitation asked with a
/// password; `WeakPassword` (400) as at registration; a bad role name or
/// app_metadata 400; a role mapping to a permission the caller lacks
/// `Forbidden` (403); a taken address `EmailTaken` (409). Nothing is stored
/// on any refusal.
pub async fn create(
    svc: &Services,
    admin: &Admin,
    new: &NewAccount,
    meta: &RequestMeta,
) -> Result<User, AdminError> {
    if new.send_invitation && new.password.is_some() {
        return Err(AdminError::InvalidQuery(
            "send_invitation is for an account created without a password".into(),
        ));
    }
    let mut roles = new
        .roles
        .iter()
        .map(|n| Role::parse(n))
        .collect::<Result<Vec<_>, _>>()
        .map_err(ServiceError::from)?;
    roles.sort();
    roles.dedup();
    if let Some(lacking) = roles
        .iter()
        .find_map(|r| may_change_role(svc, admin, r.as_str()))
    {
        tracing::info!(admin = admin.id(), permission = %lacking, "admin refused: a role of the new account maps to a permission the caller does not hold");
        return Err(AdminError::Forbidden(lacking));
    }
    let metadata = match &new.app_metadata {
        Some(raw) => app_metadata::parse(raw).map_err(ServiceError::from)?,
        None => None,
    };
    let hash = match &new.password {
        Some(password) => {
            let min_strength = svc.settings.password.min_strength;
            if let Some(why) = weakness(password.expose(), new.email.as_str(), min_strength) {
                return Err(ServiceError::WeakPassword(why).into());
            }
            svc.hasher
                .hash(password)
                .await
                .map_err(ServiceError::from)?
        }
        None => svc.hasher.unusable_hash(),
    };
    let now = svc.now();
    let mut tx = svc.store.begin().await?;
    let user = store::users::insert(
        &mut tx,
        NewUser {
            id: Uuid::new_v4(),
            email: new.email.as_str(),
            password_hash: &hash,
            now,
        },
    )
    .await?;
    if new.email_verified {
        store::users::set_verified(&mut tx, user.id, true, now).await?;
    }
    for role in &roles {
        store::user_roles::add(&mut tx, user.id, role.as_str(), now).await?;
    }
    if metadata.is_some() {
        store::users::set_app_metadata(&mut tx, user.id, metadata.as_deref(), now).await?;
    }
    let mut detail = Vec::new();
    if !roles.is_empty() {
        let names: Vec<_> = roles.iter().map(|r| format!("+{}", r.as_str())).collect();
        detail.push(format!("roles {}", names.join(" ")));
    }
    if let Some(m) = &metadata {
        detail.push(format!("app_metadata {} bytes", m.len()));
    }
    // An invitation is a reset link: it spends the address's reset budget
    // (`mail::admit`), so that creating, erasing and creating an account
    // again cannot flood an address. Past the budget the account is made
    // without it, as an admin's reset link past it is not sent; the audit
    // event says so.
    let invite = new.send_invitation
        && mail::admit(svc, &mut tx, MailKind::PasswordReset, &new.email, meta).await?;
    if new.send_invitation && !invite {
        tracing::info!(
            admin = admin.id(),
            "invitation not sent: the address's send budget is spent"
        );
        detail.push("invitation not sent: send budget spent".to_owned());
    }
    if invite {
        // A new account's credentials are at their first version.
        let issued = tokens::issue(
            svc,
            &mut tx,
            &Issue {
                purpose: Purpose::PasswordReset,
                user: user.id,
                email: new.email.as_str(),
                credential_version: 0,
                valid_for: INVITATION_VALID_FOR,
                link: true,
                code_digits: None,
            },
        )
        .await?;
        let token = issued.link.ok_or_else(|| {
            ServiceError::internal(anyhow::anyhow!("an invitation token without its link"))
        })?;
        let message = Mail::Invitation {
            token,
            valid_for: INVITATION_VALID_FOR,
        };
        mail::queue(svc, &mut tx, Some(user.id), &new.email, &message).await?;
        detail.push("invitation sent".to_owned());
    }
    let mut event = AuditEvent::new(AuditKind::UserCreated, Some(user.id), None, meta, now)
        .with_actor(admin.actor());
    if !detail.is_empty() {
        event = event.with_detail(detail.join("; "));
    }
    audit::record(&mut tx, &event).await?;
    let user = store::users::find(&mut tx, user.id)
        .await?
        .ok_or(AdminError::NoSuchUser)?;
    tx.commit().await?;
    if invite {
        svc.mail.wake();
    }
    tracing::info!(admin = admin.id(), user = %user.id, invited = invite, "account created by an admin");
    Ok(user)
}
