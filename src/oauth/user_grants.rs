//! A user's grants: the apps they authorized, as `GET /auth/grants` lists
//! them, and the revocation of one (`DELETE /auth/grants/{client_id}`).
//!
//! A grant of client C to user U is what U left C holding: U's remembered
//! consent to C (`consents`), and U's live client families of C (refresh
//! families made by the code flow). A first-party client skips consent, so
//! its grant may be families alone; a consent whose families all ended is
//! still a grant (the next authorization skips the consent page).
//!
//! Revoking ends every family of C of U (each listed by the revocation feed,
//! so resource servers drop their access tokens) and forgets the consent,
//! with one `grant_revoked` audit event naming C, as one transaction. The
//! browser session at authd is not touched: the user stays signed in to authd
//! and to other apps; C must ask for consent again.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::audit::{self, AuditEvent, AuditKind, RequestMeta};
use crate::error::ServiceError;
use crate::oidc::backchannel::{self, Ended};
use crate::services::Services;
use crate::sessions::logout::{self, reasons};
use crate::store;

/// Longest client id looked up; a longer one is no client's.
const MAX_CLIENT_ID: usize = 64;

/// One app the user authorized, as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct GrantView {
    pub client_id: String,
    /// The client's name; absent if the client has since been deleted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_name: Option<String>,
    /// The scopes the user consented to; empty when no consent is
    /// remembered (a first-party client, which skips consent).
    pub scopes: Vec<String>,
    /// When the consent was last given; absent without a consent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub granted_at: Option<DateTime<Utc>>,
    /// How many live refresh-token families the client holds for the user.
    pub live_refresh_families: i64,
}

/// The user's grants, by client id.
pub async fn list(svc: &Services, user: Uuid) -> Result<Vec<GrantView>, ServiceError> {
    let now = svc.now();
    let mut conn = svc.store.conn().await?;
    let mut grants: BTreeMap<String, GrantView> = BTreeMap::new();
    for consent in store::consents::list(&mut conn, user).await? {
        grants.insert(
            consent.client_id.clone(),
            GrantView {
                client_id: consent.client_id,
                client_name: None,
                scopes: consent
                    .scope
                    .split_whitespace()
                    .map(str::to_owned)
                    .collect(),
                granted_at: Some(consent.granted_at),
                live_refresh_families: 0,
            },
        );
    }
    for (client_id, live) in
        store::sessions::count_live_families_by_client(&mut conn, user, now).await?
    {
        grants
            .entry(client_id.clone())
            .or_insert_with(|| GrantView {
                client_id,
                client_name: None,
                scopes: Vec::new(),
                granted_at: None,
                live_refresh_families: 0,
            })
            .live_refresh_families = live;
    }
    let mut out = Vec::with_capacity(grants.len());
    for (_, mut grant) in grants {
        grant.client_name = store::clients::find(&mut conn, &grant.client_id)
            .await?
            .map(|c| c.name);
        out.push(grant);
    }
    Ok(out)
}

/// Revokes the user's grant to `client_id`: ends its families and forgets
/// its consent. False (a 404) when the user has no grant to that client,
/// whoever else may have one.
pub async fn revoke(
    svc: &Services,
    user: Uuid,
    client_id: &str,
    meta: &RequestMeta,
) -> Result<bool, ServiceError> {
    if client_id.is_empty() || client_id.len() > MAX_CLIENT_ID {
        return Ok(false);
    }
    let now = svc.now();
    let reason = reasons::GRANT_REVOKED;
    let mut tx = svc.store.begin().await?;
    let ended = logout::end_client_families(&mut tx, user, client_id, reason, now).await?;
    let client = client_id;
    backchannel::ended(svc, &mut tx, Ended::Grant { user, client }).await?;
    let forgotten = store::consents::delete(&mut tx, user, client_id).await?;
    if ended.is_empty() && !forgotten {
        return Ok(false);
    }
    let event = AuditEvent::new(AuditKind::GrantRevoked, Some(user), None, meta, now)
        .with_client(client_id)
        .with_detail(format!("{} sessions ended", ended.len()));
    audit::record(&mut tx, &event).await?;
    tx.commit().await?;
    tracing::info!(user = %user, client = client_id, ended = ended.len(), "grant revoked");
    svc.metrics.revoked(reason, ended.len() as u64);
    Ok(true)
}
