//! Events and webhooks (issue 19), on both stores, against a real HTTP
//! receiver (`events/receiver.rs`): signatures checked with the test's own
//! HMAC, retries after a 5xx with backoff, giving up with its audit event and
//! metric, per-user order under retries, a secret's rotation, the admin
//! API's refusals, two instances on one database delivering each event once,
//! a back-channel logout's form. A `kill -9` between queueing and sending is
//! in `events/crash.rs`; what the admin API makes and erases, in
//! `events/admin_made.rs`. A delivery is also checked by the Standard
//! Webhooks reference library (`helpers::stock`).

mod admin_made;
mod audited;
mod crash;
mod disabled;
pub mod receiver;
mod rotation;

use std::collections::HashSet;
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::stock::stock_verify;
use crate::helpers::{Backend, Reply, TestApp, spawn_app_with};
use crate::on_both_stores;
use receiver::{Receiver, verifies};

on_both_stores!(
    an_event_is_signed_with_the_endpoints_secret_and_holds_ids_only,
    a_5xx_is_retried_after_a_backoff_under_the_same_id,
    a_delivery_is_given_up_after_its_last_attempt_with_an_audit_event_and_a_metric,
    a_users_events_arrive_in_order_while_an_earlier_one_is_retried,
    a_rotated_secret_signs_alongside_the_previous_one_for_the_grace,
    the_admin_api_refuses_bad_urls_types_and_callers_without_the_permission,
    two_instances_on_one_database_deliver_each_event_once,
    a_backchannel_logout_is_posted_as_a_form_without_signatures,
);

const PERMISSION: &str = "authd:admin:webhooks";

/// Settings for quick deliveries: a short poll, a 1 s first backoff.
pub fn fast(settings: &mut authd::config::Settings) {
    settings.webhooks.poll_interval_ms = 50;
    settings.webhooks.retry_base_ms = 1_000;
    settings.webhooks.retry_max_secs = 60;
    settings.webhooks.timeout_ms = 2_000;
    settings.webhooks.lease_secs = 10;
    settings.webhooks.rotation_grace_secs = 60;
}

async fn app(backend: Backend) -> TestApp {
    spawn_app_with(backend, fast).await
}

/// The admin client of these tests.
async fn admin(app: &TestApp) -> (String, String) {
    app.create_client("hooks admin", PERMISSION).await
}

async fn create(app: &TestApp, who: &(String, String), body: &Value) -> Reply {
    app.send(
        app.client
            .post(app.url("/admin/webhooks"))
            .basic_auth(&who.0, Some(&who.1))
            .json(body),
    )
    .await
}

/// Registers an endpoint at `url` for `types`; its id and secret.
async fn endpoint(app: &TestApp, url: &str, types: &[&str]) -> (String, String) {
    let who = admin(app).await;
    let reply = create(app, &who, &json!({ "url": url, "event_types": types })).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    (
        reply.body["id"].as_str().unwrap().to_owned(),
        reply.body["secret"].as_str().unwrap().to_owned(),
    )
}

async fn register(app: &TestApp, email: &str) -> uuid::Uuid {
    let reply = app.register(email).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    app.user_id(email).await
}

/// The deliveries the store keeps, oldest first.
async fn deliveries(app: &TestApp) -> Vec<authd::store::event_deliveries::DeliveryRecord> {
    let mut conn = app.store().conn().await.unwrap();
    authd::store::event_deliveries::list(&mut conn, 1000)
        .await
        .unwrap()
}

/// The deliveries once `done` holds of them: the receiver has a request
/// before the worker records its answer. Fails after 5 s.
async fn deliveries_once(
    app: &TestApp,
    done: impl Fn(&[authd::store::event_deliveries::DeliveryRecord]) -> bool,
) -> Vec<authd::store::event_deliveries::DeliveryRecord> {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let records = deliveries(app).await;
        if done(&records) {
            return records;
        }
        assert!(std::time::Instant::now() < deadline, "{records:#?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn an_event_is_signed_with_the_endpoints_secret_and_holds_ids_only(backend: Backend) {
    let app = app(backend).await;
    let receiver = Receiver::start().await;
    let (_, secret) = endpoint(&app, &receiver.url("/hook"), &["user.created"]).await;
    let user = register(&app, "signed@example.com").await;

    let got = receiver.wait_for(1).await;
    let r = &got[0];
    assert_eq!(r.path, "/hook");
    assert_eq!(r.header("content-type"), "application/json");
    assert!(uuid::Uuid::parse_str(r.header("webhook-id")).is_ok());
    assert!(r.header("webhook-timestamp").parse::<i64>().is_ok());
    assert!(verifies(r, &secret), "{r:#?}");
    // A wrong secret, or a changed body, does not verify.
    let other = authd::events::sign::generate().unwrap();
    use secrecy::ExposeSecret;
    assert!(!verifies(r, other.expose_secret()));
    let mut altered = r.clone();
    altered.body = altered.body.replace("user.created", "user.deleted");
    assert!(!verifies(&altered, &secret));

    // The Standard Webhooks reference library's own check (helpers::stock):
    // it accepts the delivery as sent, and refuses it under another secret.
    let captured = |secret: &str| {
        json!({
            "secret": secret,
            "headers": {
                "webhook-id": r.header("webhook-id"),
                "webhook-timestamp": r.header("webhook-timestamp"),
                "webhook-signature": r.header("webhook-signature"),
            },
            "body": r.body,
        })
    };
    if let Some(verdict) = stock_verify("verify_webhook.py", &captured(&secret)) {
        let parsed = verdict.expect("standardwebhooks accepts the delivery");
        assert_eq!(parsed["type"], "user.created");
        let refused = stock_verify("verify_webhook.py", &captured(other.expose_secret()));
        assert!(matches!(refused, Some(Err(_))), "{refused:?}");
    }

    let body = r.json();
    assert_eq!(body["type"], "user.created");
    assert_eq!(body["data"]["user_id"], user.to_string());
    assert!(body["timestamp"].is_string());
    assert!(!r.body.contains("signed@example.com"), "{}", r.body);
    assert!(!r.body.contains("127.0.0.1"), "{}", r.body);
    // Not subscribed to sessions: a sign-in sends nothing more.
    app.login_body("signed@example.com").await;
    receiver
        .assert_stays_at(1, Duration::from_millis(400))
        .await;
    let records = deliveries_once(&app, |r| r.iter().all(|d| d.state == "sent")).await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].state, "sent");
    assert_eq!(records[0].id.to_string(), r.header("webhook-id"));
}

async fn a_5xx_is_retried_after_a_backoff_under_the_same_id(backend: Backend) {
    let app = app(backend).await;
    let receiver = Receiver::start().await;
    receiver.answer(&[503]);
    let (_, secret) = endpoint(&app, &receiver.url("/hook"), &["*"]).await;
    register(&app, "retry@example.com").await;

    receiver.wait_for(1).await;
    // Not again before its backoff (1 s and some jitter; the clock stands still).
    receiver
        .assert_stays_at(1, Duration::from_millis(400))
        .await;
    let pending = deliveries_once(&app, |r| r[0].last_error.is_some()).await;
    assert_eq!(pending[0].state, "pending");
    assert_eq!(pending[0].attempts, 1);
    assert_eq!(pending[0].last_error.as_deref(), Some("HTTP 503"));
    let wait = pending[0].next_attempt_at - app.now();
    assert!(
        wait >= chrono::Duration::milliseconds(1000)
            && wait <= chrono::Duration::milliseconds(1250),
        "{wait}"
    );

    app.advance(2);
    let got = receiver.wait_for(2).await;
    assert_eq!(got[0].header("webhook-id"), got[1].header("webhook-id"));
    assert_eq!((got[0].status, got[1].status), (503, 200));
    assert!(verifies(&got[1], &secret));
    let sent = deliveries_once(&app, |r| r[0].state != "pending").await;
    assert_eq!((sent[0].state.as_str(), sent[0].attempts), ("sent", 2));
}

async fn a_delivery_is_given_up_after_its_last_attempt_with_an_audit_event_and_a_metric(
    backend: Backend,
) {
    let app = spawn_app_with(backend, |s| {
        fast(s);
        s.webhooks.max_attempts = 2;
    })
    .await;
    let receiver = Receiver::start().await;
    receiver.answer(&[500, 500]);
    let (endpoint_id, _) = endpoint(&app, &receiver.url("/hook"), &["user.created"]).await;
    let user = register(&app, "given-up@example.com").await;
    receiver.wait_for(1).await;
    app.advance(2);
    receiver.wait_for(2).await;

    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while deliveries(&app).await[0].state != "given_up" {
        assert!(std::time::Instant::now() < deadline, "never given up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    app.advance(120);
    receiver
        .assert_stays_at(2, Duration::from_millis(300))
        .await;
    let events = app.audit_events(user).await;
    let given_up = events
        .iter()
        .find(|e| e.kind == "webhook_given_up")
        .expect("a webhook_given_up event");
    let detail = given_up.detail.as_deref().unwrap();
    assert!(detail.contains("attempts=2"), "{detail}");
    assert!(detail.contains(&endpoint_id), "{detail}");
    let metrics = app.metrics().await.text;
    assert!(
        metrics.contains("authd_events_given_up_total{kind=\"webhook\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("authd_events_deliveries_total{kind=\"webhook\",outcome=\"retried\"} 1"),
        "{metrics}"
    );
    // Not on the public listener: a registration's event would tell a new
    // address from a taken one.
    let public = spawn_app_with(backend, |s| s.metrics.public = true).await;
    let text = public.get("/metrics").await.text;
    assert!(!text.contains("authd_events_"), "{text}");
}

async fn a_users_events_arrive_in_order_while_an_earlier_one_is_retried(backend: Backend) {
    let app = app(backend).await;
    let receiver = Receiver::start().await;
    receiver.answer(&[503]);
    endpoint(&app, &receiver.url("/hook"), &["*"]).await;
    let a = register(&app, "first@example.com").await;
    receiver.wait_for(1).await;
    // A's sign-in waits behind A's user.created; B's event does not.
    app.login_body("first@example.com").await;
    let b = register(&app, "second@example.com").await;
    let got = receiver.wait_for(2).await;
    assert_eq!(got[1].json()["data"]["user_id"], b.to_string());
    receiver
        .assert_stays_at(2, Duration::from_millis(500))
        .await;

    app.advance(2);
    let got = receiver.wait_for(4).await;
    let of_a: Vec<(String, u16)> = got
        .iter()
        .filter(|r| r.json()["data"]["user_id"] == a.to_string())
        .map(|r| (r.json()["type"].as_str().unwrap().to_owned(), r.status))
        .collect();
    assert_eq!(
        of_a,
        vec![
            ("user.created".to_owned(), 503),
            ("user.created".to_owned(), 200),
            ("session.started".to_owned(), 200),
        ]
    );
}

async fn a_rotated_secret_signs_alongside_the_previous_one_for_the_grace(backend: Backend) {
    let app = app(backend).await;
    let receiver = Receiver::start().await;
    let (id, old) = endpoint(&app, &receiver.url("/hook"), &["user.created"]).await;
    let who = admin(&app).await;
    let rotate = |id: &str| {
        app.client
            .post(app.url(&format!("/admin/webhooks/{id}/secret/rotate")))
            .basic_auth(&who.0, Some(&who.1))
    };
    let reply = app.send(rotate(&id)).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let new = reply.body["secret"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert!(reply.body["previous_secret_until"].is_string());

    register(&app, "rotated@example.com").await;
    let got = receiver.wait_for(1).await;
    assert_eq!(got[0].header("webhook-signature").split(' ').count(), 2);
    assert!(verifies(&got[0], &old));
    assert!(verifies(&got[0], &new));

    // After the grace, the new secret alone.
    app.advance(61);
    register(&app, "after-grace@example.com").await;
    let got = receiver.wait_for(2).await;
    assert_eq!(got[1].header("webhook-signature").split(' ').count(), 1);
    assert!(verifies(&got[1], &new));
    assert!(!verifies(&got[1], &old));

    // The list shows no secret; an unknown endpoint is 404.
    let list = app
        .send(
            app.client
                .get(app.url("/admin/webhooks"))
                .basic_auth(&who.0, Some(&who.1)),
        )
        .await;
    assert_eq!(list.status, 200);
    assert_eq!(list.body["webhooks"][0]["id"], id.as_str());
    assert!(!list.text.contains("whsec_"), "{}", list.text);
    let unknown = app.send(rotate(&uuid::Uuid::new_v4().to_string())).await;
    assert_eq!((unknown.status, unknown.error()), (404, "not_found"));
}

async fn the_admin_api_refuses_bad_urls_types_and_callers_without_the_permission(backend: Backend) {
    let app = app(backend).await;
    let who = admin(&app).await;
    for url in [
        "http://hooks.example/in",
        "ftp://hooks.example/in",
        "https://user:pw@hooks.example/in",
        "not a url",
    ] {
        let reply = create(&app, &who, &json!({ "url": url })).await;
        assert_eq!(
            (reply.status, reply.error()),
            (400, "invalid_webhook_url"),
            "{url}: {}",
            reply.text
        );
    }
    let reply = create(
        &app,
        &who,
        &json!({ "url": "https://hooks.example/in", "event_types": ["user.exploded"] }),
    )
    .await;
    assert_eq!((reply.status, reply.error()), (400, "invalid_event_type"));

    let other = app
        .create_client(
            "users admin",
            "authd:admin:users:read authd:admin:users:write",
        )
        .await;
    let body = json!({ "url": "https://hooks.example/in" });
    let reply = create(&app, &other, &body).await;
    assert_eq!((reply.status, reply.error()), (403, "insufficient_scope"));
    let reply = app
        .send(app.client.post(app.url("/admin/webhooks")).json(&body))
        .await;
    assert_eq!((reply.status, reply.error()), (401, "invalid_client"));
    let wrong = (who.0.clone(), "not the secret".to_owned());
    let reply = create(&app, &wrong, &body).await;
    assert_eq!((reply.status, reply.error()), (401, "invalid_client"));
    // None of these registered anything.
    let list = app
        .send(
            app.client
                .get(app.url("/admin/webhooks"))
                .basic_auth(&who.0, Some(&who.1)),
        )
        .await;
    assert_eq!(list.body["webhooks"], json!([]));

    // A deleted endpoint takes its pending deliveries with it.
    let receiver = Receiver::start().await;
    receiver.answer(&[503]);
    let (id, _) = endpoint(&app, &receiver.url("/hook"), &["*"]).await;
    register(&app, "deleted-endpoint@example.com").await;
    receiver.wait_for(1).await;
    let delete = |id: &str| {
        app.client
            .delete(app.url(&format!("/admin/webhooks/{id}")))
            .basic_auth(&who.0, Some(&who.1))
    };
    assert_eq!(app.send(delete(&id)).await.status, 204);
    assert!(deliveries(&app).await.is_empty());
    app.advance(5);
    receiver
        .assert_stays_at(1, Duration::from_millis(300))
        .await;
    let again = app.send(delete(&id)).await;
    assert_eq!((again.status, again.error()), (404, "not_found"));
}

async fn two_instances_on_one_database_deliver_each_event_once(backend: Backend) {
    const N: usize = 12;
    let one = app(backend).await;
    let two = one.spawn_sibling(fast).await;
    let receiver = Receiver::start().await;
    let (_, secret) = endpoint(&one, &receiver.url("/hook"), &["user.created"]).await;
    for i in 0..N {
        let app = if i % 2 == 0 { &one } else { &two };
        register(app, &format!("twice-{i}@example.com")).await;
    }
    // Both clocks past every event: each instance may claim any of them.
    one.advance(5);
    two.advance(5);
    let got = receiver.wait_for(N).await;
    receiver
        .assert_stays_at(N, Duration::from_millis(500))
        .await;
    let ids: HashSet<&str> = got.iter().map(|r| r.header("webhook-id")).collect();
    assert_eq!(ids.len(), N);
    assert!(got.iter().all(|r| verifies(r, &secret)));
}

async fn a_backchannel_logout_is_posted_as_a_form_without_signatures(backend: Backend) {
    let app = app(backend).await;
    let receiver = Receiver::start().await;
    let client = crate::backchannel::support::client(&app, "bcl", Some(receiver.url("/bcl"))).await;
    let logout =
        authd::oidc::logout_token::Queued::new(uuid::Uuid::new_v4(), uuid::Uuid::new_v4(), true);
    let mut tx = app.store().begin().await.unwrap();
    let id = authd::events::queue::enqueue_backchannel_logout(
        &mut tx,
        &client.id,
        &receiver.url("/bcl"),
        &logout,
        app.now(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let got = receiver.wait_for(1).await;
    let r = &got[0];
    assert_eq!(r.path, "/bcl");
    assert_eq!(
        r.header("content-type"),
        "application/x-www-form-urlencoded"
    );
    let token = r
        .body
        .strip_prefix("logout_token=")
        .expect("a logout_token form");
    let claims = crate::backchannel::support::verified(&app, token, &client.id).await;
    assert_eq!(claims["jti"], logout.jti.as_str());
    assert!(!r.headers.contains_key("webhook-signature"));
    let records = deliveries(&app).await;
    assert_eq!(
        (records[0].id, records[0].kind.as_str()),
        (id, "backchannel_logout")
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while deliveries(&app).await[0].state != "sent" {
        assert!(std::time::Instant::now() < deadline, "never marked sent");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
