//! What the admin API makes and erases is an event too: `user.created` and
//! `user.deleted` for accounts, `client.created` and `client.deleted` for
//! clients, each naming the admin as the actor. `user.deleted` names the
//! account's own id (the `sub` receivers know), not the pseudonym the audit
//! trail moves to, and comes after the account's earlier events.

use serde_json::json;

use super::{app, endpoint};
use crate::helpers::Backend;
use crate::on_both_stores;

use super::receiver::{Receiver, verifies};

on_both_stores!(accounts_and_clients_made_and_erased_by_an_admin_are_events);

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
