//! Disabling and enabling an account through the admin API, on both
//! stores: the write permission only; disabling ends every session at once
//! and refuses the next sign-in, audited with the admin as the actor;
//! enabling lets the user sign in again; an unknown user is 404.

use serde_json::json;
use uuid::Uuid;

use super::{READ, WRITE, admin_post};
use crate::helpers::{Backend, PASSWORD, spawn_app};
use crate::on_both_stores;

on_both_stores!(an_admin_disables_and_enables_an_account);

async fn an_admin_disables_and_enables_an_account(backend: Backend) {
    let app = spawn_app(backend).await;
    let (email, tokens) = app.user_with_tokens().await;
    let user = app.user_id(&email).await;
    let disable = format!("/admin/users/{user}/disable");
    let enable = format!("/admin/users/{user}/enable");

    // The read permission cannot.
    let reader = app.create_client("support", READ).await;
    let refused = admin_post(&app, &disable, &reader).await;
    assert_eq!(refused.status, 403, "{}", refused.text);
    assert!(app.access_works(&tokens.access).await, "nothing changed");

    let (writer_id, writer_secret) = app.create_client("desk", WRITE).await;
    let writer = (writer_id.clone(), writer_secret);
    let done = admin_post(&app, &disable, &writer).await;
    assert_eq!(done.status, 200, "{}", done.text);
    assert_eq!(done.body, json!({"disabled": true, "sessions_ended": 1}));
    assert!(
        !app.access_works(&tokens.access).await,
        "its sessions ended"
    );
    let login = json!({"email": email, "password": PASSWORD, "token_delivery": "body"});
    let refused = app.post_json("/auth/login", &login).await;
    assert_eq!(
        (refused.status, refused.error()),
        (403, "account_disabled"),
        "{}",
        refused.text
    );
    let again = admin_post(&app, &disable, &writer).await;
    assert_eq!(again.body, json!({"disabled": true, "sessions_ended": 0}));

    let events = app.audit_events(user).await;
    let event = events
        .iter()
        .find(|e| e.kind == "user_disabled")
        .expect("audited");
    let actor = format!("admin:{writer_id}");
    assert_eq!(event.actor.as_deref(), Some(actor.as_str()));

    let done = admin_post(&app, &enable, &writer).await;
    assert_eq!(done.status, 200, "{}", done.text);
    assert_eq!(done.body, json!({"disabled": false, "sessions_ended": 0}));
    let back = app.post_json("/auth/login", &login).await;
    assert_eq!(back.status, 200, "{}", back.text);
    let events = app.audit_events(user).await;
    let event = events
        .iter()
        .find(|e| e.kind == "user_enabled")
        .expect("audited");
    assert_eq!(event.actor.as_deref(), Some(actor.as_str()));

    let unknown = format!("/admin/users/{}/disable", Uuid::new_v4());
    let missing = admin_post(&app, &unknown, &writer).await;
    assert_eq!((missing.status, missing.error()), (404, "not_found"));
}
