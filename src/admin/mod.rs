//! The admin API's services: who may call it (`authorize`: an [`Admin`] with
//! the actor its acts are audited as), and what it does to users (`users`:
//! the list and one user; `sessions`: ending every session of a user;
//! `status`: disabling and enabling; `create`: a new account, with its
//! invitation; `update`: its address, roles and app_metadata, never giving
//! away a permission the caller does not hold; `erase`: erasing an account's
//! personal data; `credentials`: the login lockout cleared, a reset link
//! sent, every second factor removed) and to clients (`clients`: what an
//! admin may hand over or take control of).
//!
//! A caller is a registered client holding the permission the endpoint needs
//! (`clients::Permission`), authenticated with its own credentials on every
//! request, as introspection and the revocation feed are: permissions are
//! never put in access tokens, so a client holding only admin permissions has
//! no token to present, and a permission taken away or a client deleted stops
//! it at its next request. Each client's requests are counted
//! (`limits.admin_per_client`) once it has authenticated, before its
//! permission is checked or anything is read.
//!
//! Users holding a role that `admin.roles` maps to the permission are the
//! other kind of caller ([`authorize_user`]), from a session signed in with
//! a second factor recently; audited as `admin:<user id>`.

pub mod audit;
pub mod clients;
pub mod create;
pub mod credentials;
pub mod erase;
pub mod sessions;
pub mod status;
pub mod update;
pub mod users;

use uuid::Uuid;

use crate::audit::Actor;
use crate::clients::Permission;
use crate::error::ServiceError;
use crate::oauth::permissions::require_client;
use crate::oauth::{ClientCredentials, OAuthError};
use crate::services::Services;

/// Who is acting through the admin API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminActor {
    /// A registered client, by id.
    Client(String),
    /// A user holding a role that grants the permission (`admin.roles`).
    User(Uuid),
}

/// An authorized caller of the admin API: it holds the permission it was
/// authorized for, and knows every permission it holds (a client: its
/// scopes; a user: what `admin.roles` maps their roles to), so that no act
/// of it hands over, or takes control of, a power it lacks
/// (`update::set_roles`, `clients`).
#[derive(Debug, Clone)]
pub struct Admin {
    actor: AdminActor,
    held: Vec<Permission>,
}

impl Admin {
    /// The actor its acts are audited as: `admin:<client_id>` or
    /// `admin:<user id>`.
    pub fn actor(&self) -> Actor {
        match &self.actor {
            AdminActor::Client(id) => Actor::Admin(id.clone()),
            AdminActor::User(id) => Actor::Admin(id.to_string()),
        }
    }

    /// Whether the caller holds `permission`: a client among its scopes, a
    /// user by one of their roles (`admin.roles`).
    pub fn holds(&self, permission: Permission) -> bool {
        self.held.contains(&permission)
    }

    /// The registered client calling, if the caller is one.
    pub fn client_id(&self) -> Option<&str> {
        match &self.actor {
            AdminActor::Client(id) => Some(id),
            AdminActor::User(_) => None,
        }
    }

    /// The caller, for logs.
    pub fn id(&self) -> String {
        match &self.actor {
            AdminActor::Client(id) => id.clone(),
            AdminActor::User(id) => id.to_string(),
        }
    }
}

/// What the admin API refuses; `http::error` names each answer.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// 401 `invalid_client` with `WWW-Authenticate: Basic`: no or wrong
    /// client credentials, or a public client's.
    #[error("client authentication failed")]
    InvalidClient,
    /// 403 `insufficient_scope`: the caller lacks the permission (named).
    #[error("this caller lacks the permission {0}")]
    Forbidden(Permission),
    /// 429 `too_many_requests` with `Retry-After`: over
    /// `limits.admin_per_client`.
    #[error("too many admin requests; retry after {retry_after_secs} seconds")]
    TooManyRequests { retry_after_secs: i64 },
    /// 400 `invalid_request`: a query parameter out of its bounds, or a
    /// cursor that is not one of ours.
    #[error("{0}")]
    InvalidQuery(String),
    /// 404 `not_found`: no such user.
    #[error("no such user")]
    NoSuchUser,
    /// 404 `not_found`: no such client.
    #[error("no such client")]
    NoSuchClient,
    /// 400 `invalid_request`: a client's settings that do not hold together
    /// (`clients::ClientError`), or an act a client may not do to itself.
    #[error("{0}")]
    InvalidClientSettings(String),
    /// Whatever the services underneath fail with (503, 500, ...).
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl From<crate::store::StoreError> for AdminError {
    fn from(e: crate::store::StoreError) -> Self {
        Self::Service(e.into())
    }
}

/// A registered client allowed to do what `needed` opens: authenticated (a
/// secret, never a public client), within its request limit, and holding the
/// permission.
pub async fn authorize_client(
    svc: &Services,
    credentials: ClientCredentials,
    needed: Permission,
) -> Result<Admin, AdminError> {
    let client = require_client(svc, credentials)
        .await
        .map_err(|e| match e {
            OAuthError::Service(e) => AdminError::Service(e),
            _ => AdminError::InvalidClient,
        })?;
    svc.client_limits
        .admin_request(&client.id, svc.now())
        .map_err(|retry_after_secs| {
            tracing::info!(client = %client.id, "admin request refused: over the client's limit");
            AdminError::TooManyRequests { retry_after_secs }
        })?;
    if !client.may(needed) {
        tracing::info!(client = %client.id, permission = %needed, "admin request refused: client lacks the permission");
        return Err(AdminError::Forbidden(needed));
    }
    let held = permissions_where(|p| client.may(p));
    Ok(Admin {
        actor: AdminActor::Client(client.id),
        held,
    })
}

/// A signed-in user allowed to do what `needed` opens: one of the user's
/// roles grants it (`admin.roles`), the request is within the user's
/// limit, and the session `session` it comes from was signed in with a
/// second factor at most `mfa.step_up_max_age_secs` ago. Without a role
/// that grants it: 403, before anything else is said. With one, but no
/// recent second factor (none at all included): 401
/// `insufficient_user_authentication` (`StepUpRequired`), which the user
/// meets by signing in again with the factor.
pub async fn authorize_user(
    svc: &Services,
    user: Uuid,
    session: Uuid,
    needed: Permission,
) -> Result<Admin, AdminError> {
    let mut conn = svc.store.conn().await?;
    let roles = crate::store::user_roles::list(&mut conn, user).await?;
    if !svc.settings.admin.grants(&roles, needed) {
        tracing::info!(user = %user, permission = %needed, "admin request refused: no role of the user grants the permission");
        return Err(AdminError::Forbidden(needed));
    }
    let now = svc.now();
    svc.client_limits
        .admin_request(&format!("user:{user}"), now)
        .map_err(|retry_after_secs| {
            tracing::info!(user = %user, "admin request refused: over the user's limit");
            AdminError::TooManyRequests { retry_after_secs }
        })?;
    if !crate::factors::step_up::recent_second_factor(svc, &mut conn, user, session, now).await? {
        tracing::info!(user = %user, "admin request refused: no recent second factor");
        let max_age_secs = svc.settings.mfa.step_up_max_age_secs;
        return Err(ServiceError::StepUpRequired { max_age_secs }.into());
    }
    let held = permissions_where(|p| svc.settings.admin.grants(&roles, p));
    Ok(Admin {
        actor: AdminActor::User(user),
        held,
    })
}

/// The permissions `held` says yes to.
fn permissions_where(held: impl Fn(Permission) -> bool) -> Vec<Permission> {
    Permission::ALL
        .iter()
        .copied()
        .filter(|&p| held(p))
        .collect()
}
