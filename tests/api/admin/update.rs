//! An account's address and verification changed through the admin API
//! (`PATCH /admin/users/{id}`), and its app_metadata replaced (`PUT
//! /admin/users/{id}/app_metadata`), on both stores: the write permission
//! only; a new address ends no session but every link sent to the old one,
//! and the old address is sent the `email_changed` notice;
//! a taken address is 409 and changes nothing; audited with the admin.

use serde_json::json;
use uuid::Uuid;

use super::{READ, WRITE, admin_send};
use crate::helpers::inbox::Delivered;
use crate::helpers::{Backend, PASSWORD, TestApp, spawn_app};
use crate::on_both_stores;

on_both_stores!(
    an_admin_moves_an_account_to_a_new_address_and_old_links_die,
    a_taken_address_a_reader_and_bad_bodies_change_nothing,
    an_admin_replaces_app_metadata,
);

/// The `email_changed` notice that reached `to`, waiting for it.
async fn changed_notice(app: &TestApp, to: &str) -> Delivered {
    for _ in 0..800 {
        if let Some(m) = app
            .mail_to(to)
            .into_iter()
            .find(|m| m.subject.contains("was changed"))
        {
            return m;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("no email_changed notice reached {to}");
}

async fn an_admin_moves_an_account_to_a_new_address_and_old_links_die(backend: Backend) {
    let app = spawn_app(backend).await;
    let (email, tokens) = app.user_with_tokens().await;
    let user = app.user_id(&email).await;
    let (writer_id, secret) = app.create_client("desk", WRITE).await;
    let writer = (writer_id.clone(), secret);
    // A reset link sent to the old address.
    let forgot = app
        .post_json("/auth/password/forgot", &json!({ "email": email }))
        .await;
    assert_eq!(forgot.status, 202, "{}", forgot.text);
    let old_link = app.wait_for_action(&email, "password_reset").await;

    let path = format!("/admin/users/{user}");
    let body = json!({ "email": "moved@example.com" });
    let reply = admin_send(&app, "PATCH", &path, &writer, Some(&body)).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["email"], "moved@example.com");
    assert_eq!(
        reply.body["email_verified"], false,
        "a new address is unproven"
    );
    assert!(app.access_works(&tokens.access).await, "no session ended");
    // The old address is told, as after a change its user confirms, but
    // without saying every session ended.
    let notice = changed_notice(&app, &email).await;
    assert!(notice.text.contains("moved@example.com"), "{}", notice.text);
    assert!(!notice.text.contains("signed out"), "{}", notice.text);
    assert!(!notice.text.contains("token="), "no link: {}", notice.text);
    assert!(
        app.mail_to("moved@example.com")
            .iter()
            .all(|m| !m.subject.contains("was changed")),
        "the notice goes to the old address only"
    );
    let used = app
        .post_json(
            "/auth/password/reset",
            &json!({ "token": old_link.link_token(), "new_password": "a passphrase for the old link" }),
        )
        .await;
    assert_eq!(
        used.status, 400,
        "the old address's link died: {}",
        used.text
    );
    let login = app.try_login("moved@example.com", PASSWORD).await;
    assert_eq!(login.status, 200, "{}", login.text);

    let body = json!({ "email_verified": true });
    let reply = admin_send(&app, "PATCH", &path, &writer, Some(&body)).await;
    assert_eq!(reply.body["email_verified"], true, "{}", reply.text);
    let events = app.audit_events(user).await;
    let actor = format!("admin:{writer_id}");
    let updates: Vec<_> = events.iter().filter(|e| e.kind == "user_updated").collect();
    assert_eq!(updates.len(), 2);
    assert!(
        updates
            .iter()
            .all(|e| e.actor.as_deref() == Some(actor.as_str()))
    );
    assert!(
        updates
            .iter()
            .all(|e| !e.detail.as_deref().unwrap_or("").contains('@')),
        "no address in the trail"
    );
}

async fn a_taken_address_a_reader_and_bad_bodies_change_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let (email, _) = app.user_with_tokens().await;
    let (other, _) = app.user_with_tokens().await;
    let user = app.user_id(&email).await;
    let writer = app.create_client("desk", WRITE).await;
    let reader = app.create_client("support", READ).await;
    let path = format!("/admin/users/{user}");

    let taken = json!({ "email": other });
    let reply = admin_send(&app, "PATCH", &path, &writer, Some(&taken)).await;
    assert_eq!(
        (reply.status, reply.error()),
        (409, "email_taken"),
        "{}",
        reply.text
    );
    let refused = admin_send(
        &app,
        "PATCH",
        &path,
        &reader,
        Some(&json!({"email_verified": true})),
    )
    .await;
    assert_eq!(
        (refused.status, refused.error()),
        (403, "insufficient_scope")
    );
    for bad in [
        json!({ "email": "nope" }),
        json!({ "email": 3 }),
        json!({ "name": "x" }),
        // serde would read an array as the fields in order: every body is
        // an object.
        json!([null, null]),
        json!(["moved@example.com", true]),
        json!("x"),
    ] {
        let reply = admin_send(&app, "PATCH", &path, &writer, Some(&bad)).await;
        assert_eq!(
            (reply.status, reply.error()),
            (400, "invalid_request"),
            "{bad}: {}",
            reply.text
        );
    }
    assert_eq!(app.user_id(&email).await, user, "the address stayed");
    let unknown = format!("/admin/users/{}", Uuid::new_v4());
    let reply = admin_send(
        &app,
        "PATCH",
        &unknown,
        &writer,
        Some(&json!({"email_verified": true})),
    )
    .await;
    assert_eq!((reply.status, reply.error()), (404, "not_found"));
}

async fn an_admin_replaces_app_metadata(backend: Backend) {
    let app = spawn_app(backend).await;
    let (email, _) = app.user_with_tokens().await;
    let user = app.user_id(&email).await;
    let (writer_id, secret) = app.create_client("desk", WRITE).await;
    let writer = (writer_id.clone(), secret);
    let reader = app.create_client("support", READ).await;
    let path = format!("/admin/users/{user}/app_metadata");
    let body = json!({ "plan": "team" });
    let refused = admin_send(&app, "PUT", &path, &reader, Some(&body)).await;
    assert_eq!(
        (refused.status, refused.error()),
        (403, "insufficient_scope")
    );
    let reply = admin_send(&app, "PUT", &path, &writer, Some(&body)).await;
    assert_eq!(reply.status, 204, "{}", reply.text);
    let mut conn = app.store().conn().await.unwrap();
    let stored = authd::store::users::app_metadata(&mut conn, user)
        .await
        .unwrap();
    assert_eq!(stored.as_deref(), Some(r#"{"plan":"team"}"#));
    drop(conn);
    for bad in [json!([1]), json!("x"), json!({ "k": "x".repeat(5000) })] {
        let reply = admin_send(&app, "PUT", &path, &writer, Some(&bad)).await;
        assert_eq!(
            (reply.status, reply.error()),
            (400, "invalid_request"),
            "{}",
            reply.text
        );
    }
    let events = app.audit_events(user).await;
    let event = events
        .iter()
        .find(|e| e.kind == "app_metadata_changed")
        .expect("audited");
    assert_eq!(
        event.actor.as_deref(),
        Some(format!("admin:{writer_id}").as_str())
    );
    let unknown = format!("/admin/users/{}/app_metadata", Uuid::new_v4());
    let reply = admin_send(&app, "PUT", &unknown, &writer, Some(&body)).await;
    assert_eq!((reply.status, reply.error()), (404, "not_found"));
}
