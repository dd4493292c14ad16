//! A disabled webhook endpoint (`POST /admin/webhooks/{id}/disable`, `authd
//! webhooks disable`) gets no event queued, and its pending deliveries are
//! given up instead of retried; enabled again, it gets the events from then
//! on. Both are audited (`webhook_disabled`, `webhook_enabled`) with the
//! actor; a caller without the permission, or an unknown endpoint, changes
//! nothing.

use std::time::Duration;

use serde_json::{Value, json};

use super::receiver::{Receiver, verifies};
use super::{admin, app, create, deliveries, deliveries_once, register};
use crate::helpers::{Backend, Reply, TestApp};
use crate::on_both_stores;

on_both_stores!(
    a_disabled_endpoint_gets_no_event_until_it_is_enabled,
    disabling_gives_up_a_pending_delivery_and_refusals_change_nothing,
);

async fn post(app: &TestApp, who: &(String, String), path: &str) -> Reply {
    app.send(
        app.client
            .post(app.url(path))
            .basic_auth(&who.0, Some(&who.1)),
    )
    .await
}

async fn kinds(app: &TestApp, kind: &str) -> Vec<authd::store::audit::AuditRecord> {
    let mut conn = app.store().conn().await.unwrap();
    authd::store::audit::list_of_kind(&mut conn, kind, 50)
        .await
        .unwrap()
}

/// An endpoint at `receiver` for every type; its id and secret.
async fn endpoint(app: &TestApp, who: &(String, String), receiver: &Receiver) -> (String, String) {
    let reply = create(app, who, &json!({ "url": receiver.url("/hook") })).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    (
        reply.body["id"].as_str().unwrap().to_owned(),
        reply.body["secret"].as_str().unwrap().to_owned(),
    )
}

async fn a_disabled_endpoint_gets_no_event_until_it_is_enabled(backend: Backend) {
    let app = app(backend).await;
    let who = admin(&app).await;
    let receiver = Receiver::start().await;
    let (id, secret) = endpoint(&app, &who, &receiver).await;

    let reply = post(&app, &who, &format!("/admin/webhooks/{id}/disable")).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["disabled"], Value::Bool(true));
    // Again: nothing changes, nothing more is recorded.
    let reply = post(&app, &who, &format!("/admin/webhooks/{id}/disable")).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let disabled = kinds(&app, "webhook_disabled").await;
    assert_eq!(disabled.len(), 1);
    assert_eq!(
        disabled[0].actor.as_deref(),
        Some(format!("admin:{}", who.0).as_str())
    );
    assert_eq!(
        disabled[0].detail.as_deref(),
        Some(format!("endpoint={id} host=127.0.0.1").as_str())
    );

    register(&app, "while-disabled@example.com").await;
    assert!(deliveries(&app).await.is_empty(), "nothing queued for it");
    receiver
        .assert_stays_at(0, Duration::from_millis(300))
        .await;

    let reply = post(&app, &who, &format!("/admin/webhooks/{id}/enable")).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["disabled"], Value::Bool(false));
    assert_eq!(kinds(&app, "webhook_enabled").await.len(), 1);
    let user = register(&app, "enabled-again@example.com").await;
    let got = receiver.wait_for(1).await;
    assert!(verifies(&got[0], &secret));
    assert_eq!(got[0].json()["data"]["user_id"], user.to_string());
    receiver
        .assert_stays_at(1, Duration::from_millis(300))
        .await;
}

async fn disabling_gives_up_a_pending_delivery_and_refusals_change_nothing(backend: Backend) {
    let app = app(backend).await;
    let who = admin(&app).await;
    let receiver = Receiver::start().await;
    receiver.answer(&[503]);
    let (id, _) = endpoint(&app, &who, &receiver).await;
    register(&app, "pending@example.com").await;
    receiver.wait_for(1).await;
    deliveries_once(&app, |r| r[0].last_error.is_some()).await;

    // Refused: no permission, an unknown endpoint, a malformed id.
    let other = app
        .create_client("users admin", "authd:admin:users:read")
        .await;
    let reply = post(&app, &other, &format!("/admin/webhooks/{id}/disable")).await;
    assert_eq!((reply.status, reply.error()), (403, "insufficient_scope"));
    let unknown = format!("/admin/webhooks/{}/disable", uuid::Uuid::new_v4());
    let reply = post(&app, &who, &unknown).await;
    assert_eq!((reply.status, reply.error()), (404, "not_found"));
    let reply = post(&app, &who, "/admin/webhooks/not-an-id/enable").await;
    assert_eq!((reply.status, reply.error()), (404, "not_found"));
    assert!(kinds(&app, "webhook_disabled").await.is_empty());

    let reply = post(&app, &who, &format!("/admin/webhooks/{id}/disable")).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    app.advance(2);
    let records = deliveries_once(&app, |r| r[0].state != "pending").await;
    assert_eq!(records[0].state, "given_up");
    assert_eq!(
        records[0].last_error.as_deref(),
        Some("the endpoint is disabled")
    );
    assert_eq!(receiver.received().len(), 1, "not sent again");
}
