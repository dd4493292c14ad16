//! Every act on a webhook endpoint is audited in its own transaction:
//! `webhook_created`, `webhook_secret_rotated` and `webhook_deleted`, with no
//! user, the actor (the admin API's caller, or `operator:cli` at the command
//! line), and a detail naming the endpoint's id and its URL's host: never
//! the URL's path or query, never a secret. A refused act records nothing.

use serde_json::json;

use super::{admin, app, create};
use crate::helpers::{Backend, TestApp};
use crate::on_both_stores;

on_both_stores!(an_admins_acts_on_a_webhook_endpoint_are_audited);

/// The newest events of `kind` (about no user).
async fn of_kind(app: &TestApp, kind: &str) -> Vec<authd::store::audit::AuditRecord> {
    let mut conn = app.store().conn().await.unwrap();
    authd::store::audit::list_of_kind(&mut conn, kind, 50)
        .await
        .unwrap()
}

async fn an_admins_acts_on_a_webhook_endpoint_are_audited(backend: Backend) {
    let app = app(backend).await;
    let who = admin(&app).await;
    let actor = format!("admin:{}", who.0);
    let url = "https://hooks.example/in/private-path?token=q";
    let reply = create(&app, &who, &json!({ "url": url })).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let id = reply.body["id"].as_str().unwrap().to_owned();
    let first_secret = reply.body["secret"].as_str().unwrap().to_owned();
    let detail = format!("endpoint={id} host=hooks.example");

    let created = of_kind(&app, "webhook_created").await;
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].actor.as_deref(), Some(actor.as_str()));
    assert_eq!(created[0].detail.as_deref(), Some(detail.as_str()));

    let as_admin = |rb: reqwest::RequestBuilder| rb.basic_auth(&who.0, Some(&who.1));
    let rotate = app.url(&format!("/admin/webhooks/{id}/secret/rotate"));
    let reply = app.send(as_admin(app.client.post(&rotate))).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let second_secret = reply.body["secret"].as_str().unwrap().to_owned();
    let rotated = of_kind(&app, "webhook_secret_rotated").await;
    assert_eq!(rotated.len(), 1);
    assert_eq!(rotated[0].actor.as_deref(), Some(actor.as_str()));
    assert_eq!(rotated[0].detail.as_deref(), Some(detail.as_str()));

    // A caller without the permission changes nothing and records nothing.
    let other = app
        .create_client("users admin", "authd:admin:users:read")
        .await;
    let reply = app
        .send(
            app.client
                .post(&rotate)
                .basic_auth(&other.0, Some(&other.1)),
        )
        .await;
    assert_eq!((reply.status, reply.error()), (403, "insufficient_scope"));
    assert_eq!(of_kind(&app, "webhook_secret_rotated").await.len(), 1);
    // Nor does an unknown endpoint.
    let unknown = app.url(&format!(
        "/admin/webhooks/{}/secret/rotate",
        uuid::Uuid::new_v4()
    ));
    let reply = app.send(as_admin(app.client.post(&unknown))).await;
    assert_eq!((reply.status, reply.error()), (404, "not_found"));
    assert_eq!(of_kind(&app, "webhook_secret_rotated").await.len(), 1);

    let reply = app
        .send(as_admin(
            app.client.delete(app.url(&format!("/admin/webhooks/{id}"))),
        ))
        .await;
    assert_eq!(reply.status, 204, "{}", reply.text);
    let deleted = of_kind(&app, "webhook_deleted").await;
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0].actor.as_deref(), Some(actor.as_str()));
    assert_eq!(deleted[0].detail.as_deref(), Some(detail.as_str()));

    for event in created.iter().chain(&rotated).chain(&deleted) {
        let text = format!("{event:?}");
        for secret in [&first_secret, &second_secret] {
            assert!(!text.contains(secret.as_str()), "a secret in {text}");
        }
        assert!(!text.contains("private-path") && !text.contains("token=q"));
    }
}

/// `authd webhooks create|rotate-secret|disable|enable|delete` audit as
/// `operator:cli`.
#[tokio::test]
async fn the_clis_acts_on_a_webhook_endpoint_are_audited() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("authd.db").display());
    let authd = |args: &[&str]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_authd"))
            .args(args)
            .env("AUTHD__DATA_DIR", dir.path().join("data"))
            .env("AUTHD__DATABASE__URL", &db)
            .env_remove("AUTHD_CONFIG")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "{args:?}: {stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        stdout
    };
    let out = authd(&["webhooks", "create", "https://cli-hooks.example/in"]);
    let id = out
        .split_ascii_whitespace()
        .next()
        .expect("the endpoint's id first")
        .to_owned();
    authd(&["webhooks", "rotate-secret", &id]);
    let out = authd(&["webhooks", "disable", &id]);
    assert!(out.trim_end().ends_with("disabled"), "{out}");
    let out = authd(&["webhooks", "enable", &id]);
    assert!(!out.contains("disabled"), "{out}");
    authd(&["webhooks", "delete", &id]);

    let settings = authd::config::DatabaseSettings {
        url: db.clone().into(),
        max_connections: 1,
        acquire_timeout_ms: 2000,
        cleanup_interval_secs: 3600,
        audit_retention_days: 90,
    };
    let store = authd::store::Store::connect(&settings).await.unwrap();
    let mut conn = store.conn().await.unwrap();
    for kind in [
        "webhook_created",
        "webhook_secret_rotated",
        "webhook_disabled",
        "webhook_enabled",
        "webhook_deleted",
    ] {
        let events = authd::store::audit::list_of_kind(&mut conn, kind, 10)
            .await
            .unwrap();
        assert_eq!(events.len(), 1, "{kind}");
        assert_eq!(events[0].actor.as_deref(), Some("operator:cli"), "{kind}");
        assert_eq!(
            events[0].detail.as_deref(),
            Some(format!("endpoint={id} host=cli-hooks.example").as_str())
        );
    }
}
