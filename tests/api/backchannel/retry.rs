//! A back-channel logout retried after its first token's two minutes: the
//! token is signed at each attempt, so the retry carries a valid one (its
//! `exp` after the test clock's now) with the same `jti`; a client deleted
//! before the retry gives the delivery up; a retry goes to the client's
//! current URI, and none is given up. The relying party is the events
//! tests' scripted receiver (it answers 503 first).

use std::time::Duration;

use crate::authorize::support::Browser;
use crate::events::receiver::Receiver;
use crate::helpers::{Backend, TestApp, spawn_app_with, urlencode};
use crate::on_both_stores;

use super::support::{client, says, sid_and_sub, sign_in, user, verified};

on_both_stores!(
    a_retry_past_the_tokens_life_carries_a_fresh_token_with_the_same_jti,
    a_retry_for_a_deleted_client_is_given_up,
    a_retry_follows_the_clients_current_uri_and_stops_without_one,
);

/// The logout token of a received form.
fn token_of(body: &str) -> String {
    form_urlencoded::parse(body.as_bytes())
        .find(|(k, _)| k == "logout_token")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("no logout_token in {body:?}"))
}

/// The state and last error of the only back-channel delivery, once it is
/// no longer pending (fails after 5 s).
async fn settled(app: &TestApp) -> (String, Option<String>) {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let records = {
            let mut conn = app.store().conn().await.unwrap();
            authd::store::event_deliveries::list(&mut conn, 100)
                .await
                .unwrap()
        };
        let record = records
            .iter()
            .find(|r| r.kind == "backchannel_logout")
            .expect("a back-channel delivery");
        if record.state != "pending" {
            return (record.state.clone(), record.last_error.clone());
        }
        assert!(std::time::Instant::now() < deadline, "{records:#?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A client whose logout URI is `receiver`'s, a user signed in to it, and
/// that browser logged out at the end-session endpoint: a logout token is
/// queued. Returns the client's id, `sid` and `sub`.
async fn logged_out(app: &TestApp, receiver: &Receiver) -> (String, String, String) {
    let rp = client(app, "rp", Some(receiver.url("/bc"))).await;
    let email = user(app).await;
    let mut browser = Browser::new(app);
    let tokens = sign_in(&mut browser, &rp, &email).await;
    let (sid, sub) = sid_and_sub(&tokens);
    let hint = tokens["id_token"].as_str().unwrap();
    let reply = browser
        .get(&format!("/oauth/logout?id_token_hint={}", urlencode(hint)))
        .await;
    assert_eq!(reply.status, 303, "{}", reply.text);
    (rp.id, sid, sub)
}

async fn a_retry_past_the_tokens_life_carries_a_fresh_token_with_the_same_jti(backend: Backend) {
    let app = spawn_app_with(backend, crate::events::fast).await;
    let receiver = Receiver::start().await;
    receiver.answer(&[503]);
    let (rp, sid, sub) = logged_out(&app, &receiver).await;

    let first = receiver.wait_for(1).await;
    assert_eq!(first[0].status, 503);
    let first = verified(&app, &token_of(&first[0].body), &rp).await;
    let jti = says(&first, &sub, &sid);

    // Past the first token's life (and the retry's backoff).
    app.advance(150);
    assert!(
        first["exp"].as_i64().unwrap() < app.now().timestamp(),
        "the first token has expired by now"
    );
    let got = receiver.wait_for(2).await;
    assert_eq!(got[1].status, 200);
    let retried = verified(&app, &token_of(&got[1].body), &rp).await;
    assert_eq!(
        says(&retried, &sub, &sid),
        jti,
        "the same jti at every attempt"
    );
    assert!(
        retried["exp"].as_i64().unwrap() > app.now().timestamp(),
        "the retried token is valid at the clock's now: {retried}"
    );
    assert!(retried["iat"].as_i64().unwrap() >= app.now().timestamp() - 1);
    assert_eq!(settled(&app).await.0, "sent");
}

async fn a_retry_for_a_deleted_client_is_given_up(backend: Backend) {
    let app = spawn_app_with(backend, crate::events::fast).await;
    let receiver = Receiver::start().await;
    receiver.answer(&[503]);
    let (rp, _, _) = logged_out(&app, &receiver).await;
    receiver.wait_for(1).await;

    assert!(authd::clients::delete(app.store(), &rp).await.unwrap());
    app.advance(150);
    let (state, error) = settled(&app).await;
    assert_eq!(state, "given_up");
    assert_eq!(error.as_deref(), Some("the client was deleted"));
    receiver
        .assert_stays_at(1, Duration::from_millis(300))
        .await;
}

/// Changes the client's `backchannel_logout_uri` through the admin API.
async fn set_uri(app: &TestApp, rp: &str, uri: serde_json::Value) {
    let (admin, secret) = app.create_client("ops", "authd:admin:clients").await;
    let reply = app
        .send(
            app.client
                .patch(app.url(&format!("/admin/clients/{rp}")))
                .basic_auth(&admin, Some(&secret))
                .json(&serde_json::json!({ "backchannel_logout_uri": uri })),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
}

async fn a_retry_follows_the_clients_current_uri_and_stops_without_one(backend: Backend) {
    let app = spawn_app_with(backend, crate::events::fast).await;
    let receiver = Receiver::start().await;
    receiver.answer(&[503]);
    let (rp, sid, sub) = logged_out(&app, &receiver).await;
    receiver.wait_for(1).await;

    set_uri(&app, &rp, serde_json::json!(receiver.url("/moved"))).await;
    app.advance(150);
    let got = receiver.wait_for(2).await;
    assert_eq!(got[1].path, "/moved", "the retry went to the URI of now");
    says(
        &verified(&app, &token_of(&got[1].body), &rp).await,
        &sub,
        &sid,
    );

    // A second logout, refused at first; then the client drops its URI.
    receiver.answer(&[503]);
    let (second, _, _) = logged_out(&app, &receiver).await;
    receiver.wait_for(3).await;
    set_uri(&app, &second, serde_json::Value::Null).await;
    app.advance(150);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let records = {
            let mut conn = app.store().conn().await.unwrap();
            authd::store::event_deliveries::list(&mut conn, 100)
                .await
                .unwrap()
        };
        let last = records
            .iter()
            .rev()
            .find(|r| r.kind == "backchannel_logout")
            .expect("the second logout's delivery (the list is oldest first)");
        if last.state != "pending" {
            assert_eq!(last.state, "given_up");
            assert_eq!(
                last.last_error.as_deref(),
                Some("the client has no backchannel_logout_uri any more")
            );
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{records:#?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    receiver
        .assert_stays_at(3, Duration::from_millis(300))
        .await;
}
