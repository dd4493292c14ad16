//! Webhook secrets across a rotation of the refresh-key ring (README,
//! "Rotating the refresh-token key").
//!
//! An endpoint's secret is sealed under the ring key that was current when
//! it was made (`events::webhooks`). Left there, removing that key (the
//! rotation's last step) would leave the endpoint unable to sign, and its
//! deliveries given up. So every cleanup sweep moves the secrets sealed
//! under a retired key to the current key, as `factors::reseal` does for
//! TOTP secrets: each is opened and sealed again, and written only while it
//! is still the one read (same key and nonce), so a rotation or another
//! instance's sweep in between wins. A previous secret still in its grace
//! moves too; one past it signs nothing and is left.

use crate::services::Services;
use crate::store::webhooks::{SealedSecret, Which};
use crate::store::{self, StoreError};

/// What one pass moved and found.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Resealed {
    /// Secrets (current or previous) moved to the current key.
    pub moved: u64,
    /// Secrets under a retired key in the ring that did not open (altered
    /// rows): left as they are.
    pub unreadable: u64,
}

/// Moves every webhook secret sealed under a retired ring key to the
/// current key.
pub async fn reseal_once(svc: &Services) -> Result<Resealed, StoreError> {
    let retired: Vec<i32> = svc
        .refresh
        .retired_key_ids()
        .into_iter()
        .map(i32::from)
        .collect();
    let mut done = Resealed::default();
    if retired.is_empty() {
        return Ok(done);
    }
    let now = svc.now();
    // Endpoints are few (an operator registers each): read them all.
    let endpoints = {
        let mut conn = svc.store.conn().await?;
        store::webhooks::list(&mut conn).await?
    };
    for row in &endpoints {
        let mut secrets = vec![(Which::Current, row.secret())];
        if let Some(previous) = row.previous(now) {
            secrets.push((Which::Previous, previous));
        }
        for (which, old) in secrets {
            if !retired.contains(&old.key_id) {
                continue;
            }
            let Some(secret) = super::webhooks::open_secret(svc, row.id, &old) else {
                done.unreadable += 1;
                continue;
            };
            let new: SealedSecret = match super::webhooks::seal_secret(svc, row.id, &secret) {
                Ok(new) => new,
                Err(e) => {
                    tracing::warn!(error = %e, "re-seal: sealing a webhook secret failed; will retry");
                    continue;
                }
            };
            let mut conn = svc.store.write_conn().await?;
            if store::webhooks::reseal(&mut conn, row.id, which, &old, &new).await? {
                done.moved += 1;
            }
        }
    }
    if done.moved > 0 {
        tracing::info!(
            moved = done.moved,
            current_key = svc.refresh.current_key_id(),
            "re-seal: webhook secrets moved to the current ring key"
        );
    }
    if done.unreadable > 0 {
        tracing::warn!(
            unreadable = done.unreadable,
            "re-seal: webhook secrets under a retired ring key do not open (altered rows); left as they are"
        );
    }
    Ok(done)
}
