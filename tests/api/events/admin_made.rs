//! What the admin API makes and erases is an event too: `user.created` and
//! `user.deleted` for accounts, `client.created` and `client.deleted` for
//! clients, each naming the admin as the actor. `user.deleted` names the
//! account's own id (the `sub` receivers know), not the pseudonym the audit
//! trail moves to, and comes after the account's earlier events. A delivery
//! given up after the erasure records its `webhook_given_up` without the
//! account's id, which would tie the pseudonymous trail back to it.

use serde_json::json;

use super::{app, endpoint};
use crate::helpers::Backend;
use crate::on_both_stores;

use super::receiver::{Receiver, verifies};

on_both_stores!(
    accounts_and_clients_made_and_erased_by_an_admin_are_events,
    a_delivery_given_up_after_an_erasure_does_not_name_the_account,
);

async fn accounts_and_clients_made_and_erased_by_an_admin_are_events(backend: Backend) {
    let app = app(backend).await;
    let receiver = Receiver::start().await;
    let types = [
        "user.created",
        "user.deleted",
        "client.created",
        "client.deleted",
    ];
    let (_, secret) = endpoint(&app, &receiver.url("/hook"), &types).await;
    let (admin, admin_secret) = app
        .create_client("ops", "authd:admin:users:write authd:admin:clients")
        .await;
    let as_admin = |rb: reqwest::RequestBuilder| rb.basic_auth(&admin, Some(&admin_secret));

    let made = app
        .send(
            as_admin(app.client.post(app.url("/admin/users"))).json(&json!({
                "email": "made@example.com",
                "password": crate::helpers::PASSWORD,
            })),
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.text);
    let user = made.body["id"].as_str().unwrap().to_owned();
    let client = app
        .send(
            as_admin(app.client.post(app.url("/admin/clients"))).json(&json!({
                "name": "orders", "scopes": "orders:read",
            })),
        )
        .await;
    assert_eq!(client.status, 201, "{}", client.text);
    let client_id = client.body["client_id"].as_str().unwrap().to_owned();
    let gone = app
        .send(as_admin(
            app.client
                .delete(app.url(&format!("/admin/clients/{client_id}"))),
        ))
        .await;
    assert_eq!(gone.status, 204, "{}", gone.text);
    let erased = app
        .send(as_admin(
            app.client.delete(app.url(&format!("/admin/users/{user}"))),
        ))
        .await;
    assert_eq!(erased.status, 204, "{}", erased.text);

    let got = receiver.wait_for(4).await;
    let actor = format!("admin:{admin}");
    let of = |t: &str| {
        let all: Vec<_> = got
            .iter()
            .map(|r| r.json())
            .filter(|b| b["type"] == t)
            .collect();
        assert_eq!(all.len(), 1, "one {t} in {got:#?}");
        all[0].clone()
    };
    for r in &got {
        assert!(verifies(r, &secret), "{r:#?}");
    }
    let created = of("user.created");
    assert_eq!(created["data"]["user_id"], user.as_str());
    assert_eq!(created["data"]["actor"], actor.as_str());
    let deleted = of("user.deleted");
    assert_eq!(
        deleted["data"]["user_id"],
        user.as_str(),
        "the account's own id"
    );
    assert_eq!(deleted["data"]["actor"], actor.as_str());
    for t in ["client.created", "client.deleted"] {
        let event = of(t);
        assert_eq!(event["data"]["client_id"], client_id.as_str(), "{t}");
        assert_eq!(event["data"]["actor"], actor.as_str(), "{t}");
        assert!(event["data"].get("user_id").is_none(), "{t}");
    }
    // The account's events in their order: created before deleted.
    let position = |t: &str| got.iter().position(|r| r.json()["type"] == t).unwrap();
    assert!(position("user.created") < position("user.deleted"));
    assert!(!got.iter().any(|r| r.body.contains("made@example.com")));
}

async fn a_delivery_given_up_after_an_erasure_does_not_name_the_account(backend: Backend) {
    let app = crate::helpers::spawn_app_with(backend, |s| {
        super::fast(s);
        s.webhooks.max_attempts = 2;
    })
    .await;
    let receiver = Receiver::start().await;
    receiver.answer(&[503, 503]);
    endpoint(&app, &receiver.url("/hook"), &["user.created"]).await;
    let reply = app.register("erased@example.com").await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let user = app.user_id("erased@example.com").await;
    receiver.wait_for(1).await;

    let (admin, secret) = app.create_client("ops", "authd:admin:users:write").await;
    let erased = app
        .send(
            app.client
                .delete(app.url(&format!("/admin/users/{user}")))
                .basic_auth(&admin, Some(&secret)),
        )
        .await;
    assert_eq!(erased.status, 204, "{}", erased.text);
    app.advance(5);
    receiver.wait_for(2).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let given_up = loop {
        let mut conn = app.store().conn().await.unwrap();
        let found = authd::store::audit::list_of_kind(&mut conn, "webhook_given_up", 10)
            .await
            .unwrap();
        if !found.is_empty() {
            break found;
        }
        assert!(std::time::Instant::now() < deadline, "never given up");
        drop(conn);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    // `list_of_kind` lists events without a user only.
    assert_eq!(given_up.len(), 1);
    assert!(
        app.audit_events(user).await.is_empty(),
        "nothing under the account's own id"
    );
}
