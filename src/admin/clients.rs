//! The admin API's management of clients (`/admin/clients...`, all needing
//! `authd:admin:clients`), through the same `clients::manage` acts as
//! `authd clients ...`, with the admin as the audited actor and holding only
//! its own permissions: an admin cannot give a client an `authd:*`
//! permission it lacks, nor change, delete or take a new secret of a client
//! holding one (403 `insufficient_scope`).
//!
//! A client calling the API never deletes itself nor rotates its own secret
//! here (400 `invalid_request`): the first would end its own access in the
//! middle of an act, the second would hand the new secret to whoever holds
//! the old one, which is what a rotation is meant to stop. Another admin or
//! the operator does both. It may change its own settings, within the
//! permissions it holds.
//!
//! The list is every client in one answer, oldest first: clients are
//! registered by hand by operators, a table of tens or hundreds, not of
//! users; a page of them would only add a cursor to every caller.

use secrecy::SecretString;

use super::{Admin, AdminError};
use crate::clients::manage::{self, Authority, ManageError};
use crate::clients::{self, Client, ClientChanges, ClientError, ClientSpec, Permission, Policy};
use crate::services::Services;

impl Admin {
    /// The authority the admin acts on clients with: its actor, its
    /// permissions.
    fn authority(&self) -> Authority {
        let held = Permission::ALL
            .iter()
            .copied()
            .filter(|&p| self.holds(p))
            .collect();
        Authority::holding(self.actor(), held)
    }
}

impl From<ManageError> for AdminError {
    fn from(e: ManageError) -> Self {
        match e {
            ManageError::NotHeld(permission) => Self::Forbidden(permission),
            ManageError::Invalid(ClientError::Random) => Self::Service(
                crate::error::ServiceError::Internal(anyhow::anyhow!("no randomness available")),
            ),
            ManageError::Invalid(e) => Self::InvalidClientSettings(e.to_string()),
            ManageError::NoSecret => Self::InvalidClientSettings(e.to_string()),
            ManageError::Store(e) => e.into(),
        }
    }
}

fn policy(svc: &Services) -> Policy {
    Policy::of(&svc.settings)
}

/// Refuses an act of a client on itself that would end or hand over its own
/// access.
fn not_itself(admin: &Admin, id: &str, what: &str) -> Result<(), AdminError> {
    if admin.client_id() == Some(id) {
        return Err(AdminError::InvalidClientSettings(format!(
            "a client cannot {what} through the admin API; another admin or the operator can"
        )));
    }
    Ok(())
}

/// Every registered client, oldest first.
pub async fn list(svc: &Services) -> Result<Vec<Client>, AdminError> {
    Ok(clients::list(&svc.store).await?)
}

/// The client `id`.
pub async fn get(svc: &Services, id: &str) -> Result<Client, AdminError> {
    clients::find(&svc.store, id)
        .await?
        .ok_or(AdminError::NoSuchClient)
}

/// Registers a client for `admin`; its secret comes back once.
pub async fn create(
    svc: &Services,
    admin: &Admin,
    spec: ClientSpec,
) -> Result<(Client, Option<SecretString>), AdminError> {
    let keys = svc.access.keys();
    let by = admin.authority();
    Ok(manage::create(&svc.store, spec, policy(svc), keys, &by, svc.now()).await?)
}

/// Changes client `id` for `admin`.
pub async fn update(
    svc: &Services,
    admin: &Admin,
    id: &str,
    changes: ClientChanges,
) -> Result<Client, AdminError> {
    let keys = svc.access.keys();
    let by = admin.authority();
    manage::update(&svc.store, id, changes, policy(svc), keys, &by, svc.now())
        .await?
        .ok_or(AdminError::NoSuchClient)
}

/// Deletes client `id` for `admin` (never the calling client itself).
pub async fn delete(svc: &Services, admin: &Admin, id: &str) -> Result<(), AdminError> {
    not_itself(admin, id, "delete itself")?;
    match manage::delete(&svc.store, id, &admin.authority(), svc.now()).await? {
        true => Ok(()),
        false => Err(AdminError::NoSuchClient),
    }
}

/// Gives client `id` a new secret for `admin` (never the calling client's
/// own); the old one stops at once.
pub async fn rotate_secret(
    svc: &Services,
    admin: &Admin,
    id: &str,
) -> Result<(Client, SecretString), AdminError> {
    not_itself(admin, id, "rotate its own secret")?;
    manage::rotate_secret(&svc.store, id, &admin.authority(), svc.now())
        .await?
        .ok_or(AdminError::NoSuchClient)
}
