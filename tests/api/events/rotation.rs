//! Webhook secrets across a rotation of the refresh-key ring: an endpoint's
//! secret (and its previous one, in its grace) sealed under key 1 is moved
//! to key 2 by the sweep (`events::reseal`), so removing key 1 leaves the
//! endpoint signing and its receiver verifying; without the sweep its
//! deliveries are given up, which is what the sweep is for.

use authd::config::{RefreshKeySettings, Settings};
use authd::events::reseal::{Resealed, reseal_once};
use serde_json::json;

use super::receiver::{Receiver, verifies};
use super::{admin, create, deliveries_once, fast, register};
use crate::helpers::{Backend, TestApp, spawn_app_with};
use crate::on_both_stores;

on_both_stores!(a_webhook_secret_survives_the_removal_of_the_ring_key_it_was_sealed_under);

const KEY_1: &str = "the refresh.secret of before the rotation";
const KEY_2: &str = "the refresh key that replaces it, 32+ bytes";

/// Quick deliveries, with the ring `keys` (`current` signs).
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
        fast(s);
        s.refresh.secret = None;
        s.refresh.keys = keys;
        s.refresh.current = Some(current);
    }
}

/// Key 1 alone, and a worker that does not poll again after its start: only
/// the instance a test means delivers.
fn key_1_idle(s: &mut Settings) {
    fast(s);
    s.refresh.secret = Some(KEY_1.to_owned().into());
    s.webhooks.poll_interval_ms = 3_600_000;
}

/// An endpoint at `receiver` for `user.created`, its secret rotated once
/// (both sign during the grace); its id and both secrets.
async fn endpoint(app: &TestApp, receiver: &Receiver) -> (String, String, String) {
    let who = admin(app).await;
    let body = json!({ "url": receiver.url("/hook"), "event_types": ["user.created"] });
    let reply = create(app, &who, &body).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let id = reply.body["id"].as_str().unwrap().to_owned();
    let first = reply.body["secret"].as_str().unwrap().to_owned();
    let rotate = app.url(&format!("/admin/webhooks/{id}/secret/rotate"));
    let reply = app
        .send(app.client.post(rotate).basic_auth(&who.0, Some(&who.1)))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let second = reply.body["secret"].as_str().unwrap().to_owned();
    (id, first, second)
}

/// The ring keys the endpoint's secret and previous secret are sealed under.
async fn sealed_under(app: &TestApp, id: &str) -> (i32, Option<i32>) {
    let mut conn = app.store().conn().await.unwrap();
    let row = authd::store::webhooks::find(&mut conn, id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    (row.secret_key_id, row.previous_key_id)
}

async fn a_webhook_secret_survives_the_removal_of_the_ring_key_it_was_sealed_under(
    backend: Backend,
) {
    let before = spawn_app_with(backend, key_1_idle).await;
    let receiver = Receiver::start().await;
    let (id, first, second) = endpoint(&before, &receiver).await;
    assert_eq!(sealed_under(&before, &id).await, (1, Some(1)));

    // Key 2 current, key 1 retired: the sweep (run at start-up, and here)
    // moves both secrets to key 2.
    let step2 = before
        .spawn_sibling(|s| {
            ring(&[(2, KEY_2), (1, KEY_1)], 2)(s);
            s.webhooks.poll_interval_ms = 3_600_000;
        })
        .await;
    reseal_once(step2.services()).await.unwrap();
    assert_eq!(sealed_under(&step2, &id).await, (2, Some(2)));
    assert_eq!(
        reseal_once(step2.services()).await.unwrap(),
        Resealed::default(),
        "nothing is left under key 1"
    );

    // Key 1 removed: the endpoint still signs, with both secrets.
    let after = before.spawn_sibling(ring(&[(2, KEY_2)], 2)).await;
    register(&after, "after-the-rotation@example.com").await;
    let got = receiver.wait_for(1).await;
    assert_eq!(got[0].status, 200);
    assert!(verifies(&got[0], &second), "the current secret signs");
    assert!(
        verifies(&got[0], &first),
        "the previous one too, in its grace"
    );
    deliveries_once(&after, |r| r.iter().all(|d| d.state == "sent")).await;

    // Without the sweep (key 1 removed straight after it was current), the
    // secret does not open and the delivery is given up: what the sweep
    // prevents.
    let unswept = spawn_app_with(backend, key_1_idle).await;
    let elsewhere = Receiver::start().await;
    endpoint(&unswept, &elsewhere).await;
    let key_1_gone = unswept.spawn_sibling(ring(&[(2, KEY_2)], 2)).await;
    register(&key_1_gone, "unswept@example.com").await;
    let given_up = deliveries_once(&key_1_gone, |r| r.iter().all(|d| d.state != "pending")).await;
    assert_eq!(given_up[0].state, "given_up");
    assert!(
        given_up[0]
            .last_error
            .as_deref()
            .is_some_and(|e| e.starts_with("key_gone")),
        "{given_up:?}"
    );
    assert!(elsewhere.received().is_empty());
}
