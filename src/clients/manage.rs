//! The acts on registered clients that an operator (`authd clients ...`) and
//! an admin (`/admin/clients...`) both do, through these same functions:
//! registering a client, changing it, deleting it and rotating its secret.
//! Each change is written with its audit event in one transaction
//! (`client_created`, `client_updated`, `client_deleted`,
//! `client_secret_rotated`: the actor and the client set, no user, never a
//! secret).
//!
//! The rule of who may hand over what lives here too, with an
//! [`Authority`]: whoever acts cannot give a client an `authd:*` permission
//! they do not hold themselves, nor act on (change, delete, take a new
//! secret of) a client holding one, since whoever holds a client's secret
//! holds its power. The operator at the command line holds every
//! permission; an admin holds its own (`crate::admin::Admin::holds`).
//!
//! A rotation has no grace: the old secret stops at the commit, and the new
//! one is shown once. (A grace would keep two secrets valid, and a leaked
//! secret is the usual reason to rotate.)

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};

use super::registration::{self, ClientChanges, ClientSpec, Policy};
use super::{Client, ClientError, ClientKind, Permission, check_id_token_key, hash_secret};
use crate::audit::{self, Actor, AuditEvent, AuditKind, RequestMeta};
use crate::keys::KeySet;
use crate::store::{self, Store, StoreError};

/// Who acts on clients, and the permissions they hold.
#[derive(Debug, Clone)]
pub struct Authority {
    actor: Actor,
    /// `None`: every permission (the operator at the command line).
    held: Option<Vec<Permission>>,
}

impl Authority {
    /// The operator at the command line (`operator:cli`), who holds every
    /// permission: the server's files and database are theirs anyway.
    pub fn operator() -> Self {
        Self {
            actor: Actor::CLI,
            held: None,
        }
    }

    /// An actor holding only `held`.
    pub fn holding(actor: Actor, held: Vec<Permission>) -> Self {
        Self {
            actor,
            held: Some(held),
        }
    }

    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    fn holds(&self, permission: Permission) -> bool {
        self.held
            .as_ref()
            .is_none_or(|held| held.contains(&permission))
    }

    /// The first permission `client` holds that this authority does not.
    fn lacks_any_of(&self, client: &Client) -> Option<Permission> {
        Permission::ALL
            .iter()
            .copied()
            .find(|&p| client.may(p) && !self.holds(p))
    }

    fn check(&self, client: &Client) -> Result<(), ManageError> {
        match self.lacks_any_of(client) {
            Some(permission) => Err(ManageError::NotHeld(permission)),
            None => Ok(()),
        }
    }
}

/// What these acts refuse or fail with.
#[derive(Debug, thiserror::Error)]
pub enum ManageError {
    /// Settings that do not hold together (or no randomness).
    #[error(transparent)]
    Invalid(#[from] ClientError),
    /// The actor lacks a permission the client would hold, or holds.
    #[error("the caller lacks the permission {0}, which the client holds or would hold")]
    NotHeld(Permission),
    /// A public client has no secret to rotate.
    #[error("a public client has no secret to rotate")]
    NoSecret,
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn event(kind: AuditKind, by: &Authority, client: &str, now: DateTime<Utc>) -> AuditEvent {
    AuditEvent::new(kind, None, None, &RequestMeta::default(), now)
        .with_actor(by.actor.clone())
        .with_client(client)
}

/// Registers a new client of any kind for `by`; returns it with its secret
/// (none for a public client). Refused when `keys` cannot sign its ID
/// tokens, or when it would hold a permission `by` lacks.
pub async fn create(
    store: &Store,
    spec: ClientSpec,
    policy: Policy,
    keys: &KeySet,
    by: &Authority,
    now: DateTime<Utc>,
) -> Result<(Client, Option<SecretString>), ManageError> {
    let (client, secret) = registration::generate(spec, policy, now)?;
    check_id_token_key(&client, keys)?;
    by.check(&client)?;
    let mut tx = store.begin().await?;
    store::clients::insert(&mut tx, &client).await?;
    let audit =
        event(AuditKind::ClientCreated, by, &client.id, now).with_detail(client.kind.as_str());
    audit::record(&mut tx, &audit).await?;
    tx.commit().await?;
    if let Some(warning) = super::pkce_exemption_warning(&client) {
        tracing::warn!("{warning}");
    }
    tracing::info!(client = %client.id, kind = client.kind.as_str(), actor = %by.actor.to_text(), "client registered");
    Ok((client, secret))
}

/// Changes client `id`'s settings for `by` (never its kind or secret);
/// returns it as stored, or `None` if there is no such client. Refused when
/// the client holds, or would hold, a permission `by` lacks. Tokens it
/// already holds keep what they were issued with until they expire.
pub async fn update(
    store: &Store,
    id: &str,
    changes: ClientChanges,
    policy: Policy,
    keys: &KeySet,
    by: &Authority,
    now: DateTime<Utc>,
) -> Result<Option<Client>, ManageError> {
    if !super::plausible_id(id) {
        return Ok(None);
    }
    let mut tx = store.begin().await?;
    let Some(before) = store::clients::find(&mut tx, id).await? else {
        return Ok(None);
    };
    by.check(&before)?;
    let client = registration::apply(before.clone(), changes, policy)?;
    check_id_token_key(&client, keys)?;
    by.check(&client)?;
    if !store::clients::update(&mut tx, &client).await? {
        return Ok(None);
    }
    // The settings changed, by name; none when the change changed nothing.
    let mut audit = event(AuditKind::ClientUpdated, by, id, now);
    let changed = changed_settings(&before, &client);
    if !changed.is_empty() {
        audit = audit.with_detail(changed.join(" "));
    }
    audit::record(&mut tx, &audit).await?;
    tx.commit().await?;
    if let Some(warning) = super::pkce_exemption_warning(&client) {
        tracing::warn!("{warning}");
    }
    Ok(Some(client))
}

/// Deletes client `id` for `by`; false if there was none. Refused when it
/// holds a permission `by` lacks. As [`super::delete`]: it can no longer
/// authenticate, and its tokens stop being active at introspection at once.
pub async fn delete(
    store: &Store,
    id: &str,
    by: &Authority,
    now: DateTime<Utc>,
) -> Result<bool, ManageError> {
    if !super::plausible_id(id) {
        return Ok(false);
    }
    let mut tx = store.begin().await?;
    let Some(client) = store::clients::find(&mut tx, id).await? else {
        return Ok(false);
    };
    by.check(&client)?;
    if !store::clients::delete(&mut tx, id).await? {
        return Ok(false);
    }
    audit::record(
        &mut tx,
        &event(AuditKind::ClientDeleted, by, id, now).with_detail(client.kind.as_str()),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(client = %id, actor = %by.actor.to_text(), "client deleted");
    Ok(true)
}

/// Gives client `id` a new secret for `by`; returns it with the new secret,
/// or `None` if there is no such client. The old secret stops at once (no
/// grace). Refused for a public client (it has none) and when the client
/// holds a permission `by` lacks.
pub async fn rotate_secret(
    store: &Store,
    id: &str,
    by: &Authority,
    now: DateTime<Utc>,
) -> Result<Option<(Client, SecretString)>, ManageError> {
    if !super::plausible_id(id) {
        return Ok(None);
    }
    let mut tx = store.begin().await?;
    let Some(mut client) = store::clients::find(&mut tx, id).await? else {
        return Ok(None);
    };
    by.check(&client)?;
    if client.kind == ClientKind::Public {
        return Err(ManageError::NoSecret);
    }
    let secret = registration::new_secret()?;
    client.secret_hash = hash_secret(secret.expose_secret());
    if !store::clients::set_secret_hash(&mut tx, id, &client.secret_hash).await? {
        return Ok(None);
    }
    audit::record(&mut tx, &event(AuditKind::ClientSecretRotated, by, id, now)).await?;
    tx.commit().await?;
    tracing::info!(client = %id, actor = %by.actor.to_text(), "client secret rotated");
    Ok(Some((client, secret)))
}

/// The names of the settings that differ, for the audit detail (never a
/// value).
fn changed_settings(a: &Client, b: &Client) -> Vec<&'static str> {
    let fields = [
        (a.name != b.name, "name"),
        (a.auth_method != b.auth_method, "token_endpoint_auth_method"),
        (a.scopes != b.scopes, "scopes"),
        (a.redirect_uris != b.redirect_uris, "redirect_uris"),
        (
            a.post_logout_redirect_uris != b.post_logout_redirect_uris,
            "post_logout_redirect_uris",
        ),
        (a.web_origins != b.web_origins, "web_origins"),
        (a.first_party != b.first_party, "first_party"),
        (a.id_token_alg != b.id_token_alg, "id_token_alg"),
        (
            a.access_token_ttl_secs != b.access_token_ttl_secs,
            "access_token_ttl_secs",
        ),
        (
            a.refresh_idle_secs != b.refresh_idle_secs,
            "refresh_idle_secs",
        ),
        (
            a.refresh_absolute_secs != b.refresh_absolute_secs,
            "refresh_absolute_secs",
        ),
        (a.require_par != b.require_par, "require_par"),
        (a.require_pkce != b.require_pkce, "require_pkce"),
        (
            a.backchannel_logout_uri != b.backchannel_logout_uri,
            "backchannel_logout_uri",
        ),
        (
            a.backchannel_logout_session_required != b.backchannel_logout_session_required,
            "backchannel_logout_session_required",
        ),
    ];
    fields
        .into_iter()
        .filter_map(|(changed, name)| changed.then_some(name))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_authority_lacking_a_permission_the_client_holds_is_refused() {
        let (client, _) = super::super::generate("c", "a authd:introspect", Utc::now()).unwrap();
        let admin = Authority::holding(Actor::Admin("x".into()), vec![Permission::AdminClients]);
        assert!(matches!(
            admin.check(&client),
            Err(ManageError::NotHeld(Permission::Introspect))
        ));
        let both = Authority::holding(
            Actor::Admin("x".into()),
            vec![Permission::AdminClients, Permission::Introspect],
        );
        assert!(both.check(&client).is_ok());
        assert!(Authority::operator().check(&client).is_ok());
    }

    #[test]
    fn the_audit_detail_names_changed_settings_only() {
        let (a, _) = super::super::generate("c", "x", Utc::now()).unwrap();
        let mut b = a.clone();
        b.name = "d".into();
        b.scopes = "y".into();
        assert_eq!(changed_settings(&a, &b), vec!["name", "scopes"]);
        assert!(changed_settings(&a, &a).is_empty());
    }
}
