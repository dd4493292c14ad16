//! Second factors across a rotation of the refresh-key ring: a TOTP secret
//! sealed under key 1 is moved to key 2 by the sweep (`factors::reseal`),
//! so removing key 1 leaves the factor working; without the sweep the
//! factor stops working, which is what the sweep is for. Recovery codes,
//! keyed hashes, stay under the key they were made with (README).

use authd::config::{RefreshKeySettings, Settings};
use authd::factors::reseal::{Resealed, reseal_once};

use super::{challenge, enrolled, verify, verify_recovery};
use crate::helpers::{Backend, TestApp, spawn_app_with};
use crate::on_both_stores;

on_both_stores!(a_totp_factor_survives_the_removal_of_the_ring_key_it_was_sealed_under);

const KEY_1: &str = "the refresh.secret of before the rotation";
const KEY_2: &str = "the refresh key that replaces it, 32+ bytes";

fn ring(keys: &[(u32, &str)], current: u32) -> impl FnOnce(&mut Settings) {
    let keys: Vec<RefreshKeySettings> = keys
        .iter()
        .map(|(id, secret)| RefreshKeySettings {
            id: *id,
            secret: Some((*secret).to_owned().into()),
            secret_file: None,
        })
        .collect();
    move |s| {
        s.refresh.secret = None;
        s.refresh.keys = keys;
        s.refresh.current = Some(current);
    }
}

async fn a_totp_factor_survives_the_removal_of_the_ring_key_it_was_sealed_under(backend: Backend) {
    let before = spawn_app_with(backend, |s| {
        s.refresh.secret = Some(KEY_1.to_owned().into())
    })
    .await;
    let moved = enrolled(&before).await;
    assert_eq!(sealed_under(&before, &moved.email).await, 1);

    // Key 2 current, key 1 retired: the sweep (run at start-up, and here)
    // moves the secret to key 2.
    let step2 = before
        .spawn_sibling(ring(&[(2, KEY_2), (1, KEY_1)], 2))
        .await;
    reseal_once(step2.services()).await.unwrap();
    assert_eq!(sealed_under(&step2, &moved.email).await, 2);
    assert_eq!(
        reseal_once(step2.services()).await.unwrap(),
        Resealed::default(),
        "nothing is left under key 1"
    );

    // Key 1 removed.
    let after = before.spawn_sibling(ring(&[(2, KEY_2)], 2)).await;
    after.advance(120);
    let c = challenge(&after, &moved.email).await;
    let signed_in = verify(&after, &c, &moved.code(&after)).await;
    assert_eq!(signed_in.status, 200, "{}", signed_in.text);

    // Without the sweep (key 1 removed straight after it was current), the
    // factor does not open: this is what the sweep prevents.
    let unswept = spawn_app_with(backend, |s| {
        s.refresh.secret = Some(KEY_1.to_owned().into())
    })
    .await;
    let left = enrolled(&unswept).await;
    let key_1_gone = unswept.spawn_sibling(ring(&[(2, KEY_2)], 2)).await;
    key_1_gone.advance(120);
    let c = challenge(&key_1_gone, &left.email).await;
    let refused = verify(&key_1_gone, &c, &left.code(&key_1_gone)).await;
    assert_eq!(refused.status, 401, "{}", refused.text);
    assert_eq!(refused.error(), "invalid_mfa_code");

    // Recovery codes cannot be moved: those made under key 1 end with it.
    let c = challenge(&after, &moved.email).await;
    let refused = verify_recovery(&after, &c, &moved.recovery_codes[0]).await;
    assert_eq!(refused.status, 401, "{}", refused.text);
    assert_eq!(refused.error(), "invalid_mfa_code");
}

/// The ring key id the TOTP secret of `email` is sealed under.
async fn sealed_under(app: &TestApp, email: &str) -> i32 {
    let user = app.user_id(email).await;
    let mut conn = app.store().conn().await.unwrap();
    authd::store::factors::find_totp(&mut conn, user)
        .await
        .unwrap()
        .unwrap()
        .sealed_key_id
}
