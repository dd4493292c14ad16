//! Second factors across a rotation of the refresh-key ring (README,
//! "Rotating the refresh-token key").
//!
//! A TOTP secret is sealed under the ring key that was current at its
//! enrolment. Left there, removing that key (the rotation's last step) would
//! make the factor unusable and lock its owner out. So every cleanup sweep
//! moves the secrets sealed under a retired key to the current key: each is
//! opened and sealed again, and written with a conditional UPDATE (still
//! under the old key), so instances sweeping at once move each secret once.
//!
//! Recovery codes cannot move: they are stored as keyed hashes of codes
//! authd never keeps, so only their owner can replace them (a new set is
//! made under the current key). The sweep says in the log how many users
//! still have unused codes under each retired key, and under keys no longer
//! in the ring (codes that no longer work), so the operator waits or tells
//! those users before removing a key.

use uuid::Uuid;

use super::totp;
use crate::services::Services;
use crate::store::{self, StoreError};

/// Factors read per batch.
const BATCH: i64 = 500;

/// What one pass moved and found.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Resealed {
    /// TOTP secrets moved to the current key.
    pub moved: u64,
    /// TOTP secrets under a key in the ring that did not open (altered rows):
    /// left as they are, and refused at sign-in as they were.
    pub unreadable: u64,
}

/// Moves every TOTP secret sealed under a retired ring key to the current
/// key, and logs the recovery codes still under retired or removed keys.
pub async fn reseal_once(svc: &Services) -> Result<Resealed, StoreError> {
    let ring = &svc.refresh;
    let current = i32::from(ring.current_key_id());
    let mut done = Resealed::default();
    for retired in ring.retired_key_ids() {
        let retired = i32::from(retired);
        let mut after = Uuid::nil();
        loop {
            let mut conn = svc.store.conn().await?;
            let batch = store::factors::totp_sealed_under(&mut conn, retired, after, BATCH).await?;
            drop(conn);
            let Some(last) = batch.last() else {
                break;
            };
            after = last.id;
            for factor in &batch {
                let opened = totp::open(
                    ring,
                    factor.id,
                    factor.user_id,
                    factor.sealed_key_id,
                    &factor.sealed_nonce,
                    &factor.sealed_secret,
                );
                let Some(secret) = opened else {
                    done.unreadable += 1;
                    continue;
                };
                let sealed = match totp::seal(ring, factor.id, factor.user_id, &secret) {
                    Ok(sealed) => sealed,
                    Err(e) => {
                        tracing::warn!(error = %e, "re-seal: sealing a TOTP secret failed; will retry");
                        continue;
                    }
                };
                let mut conn = svc.store.conn().await?;
                let moved = store::factors::reseal_totp(
                    &mut conn,
                    factor.id,
                    retired,
                    i32::from(sealed.key_id),
                    &sealed.nonce,
                    &sealed.text,
                )
                .await?;
                done.moved += u64::from(moved);
            }
            if (batch.len() as i64) < BATCH {
                break;
            }
        }
    }
    if done.moved > 0 {
        tracing::info!(
            moved = done.moved,
            current_key = current,
            "re-seal: TOTP secrets moved to the current ring key"
        );
    }
    if done.unreadable > 0 {
        tracing::warn!(
            unreadable = done.unreadable,
            "re-seal: TOTP secrets under a retired ring key do not open (altered rows); left as they are"
        );
    }
    report_recovery_codes(svc, current).await?;
    Ok(done)
}

/// Logs, per ring key other than the current one, how many users still have
/// unused recovery codes keyed under it.
async fn report_recovery_codes(svc: &Services, current: i32) -> Result<(), StoreError> {
    let mut conn = svc.store.conn().await?;
    let in_ring: Vec<i32> = svc
        .refresh
        .retired_key_ids()
        .into_iter()
        .map(i32::from)
        .collect();
    for key_id in store::factors::factor_key_ids(&mut conn).await? {
        if key_id == current {
            continue;
        }
        let users = store::factors::users_with_recovery_codes_under(&mut conn, key_id).await?;
        if users == 0 {
            continue;
        }
        if in_ring.contains(&key_id) {
            tracing::info!(
                key_id,
                users,
                "re-seal: users have unused recovery codes keyed under a retired ring key; \
                 they stop working when the key leaves the ring (a new set is keyed under the current key)"
            );
        } else {
            tracing::warn!(
                key_id,
                users,
                "re-seal: users have unused recovery codes keyed under a ring key that is gone: \
                 those codes no longer work"
            );
        }
    }
    Ok(())
}
