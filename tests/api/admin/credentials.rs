//! An account's ways in, through the admin API, on both stores: its login
//! lockout cleared (`POST /admin/users/{id}/lockout/clear`), a reset link
//! and code sent (`POST /admin/users/{id}/password_reset`), every second
//! factor removed (`DELETE /admin/users/{id}/factors`): the write permission
//! only, 404 for no user, each audited with the admin as the actor.

use serde_json::json;
use uuid::Uuid;

use super::{READ, WRITE, admin_send};
use crate::helpers::{Backend, PASSWORD, spawn_app};
use crate::mfa::enrolled;
use crate::on_both_stores;

on_both_stores!(
    an_admin_clears_a_lockout,
    an_admin_sends_a_reset_link_that_works,
    an_admin_removes_every_factor,
);

async fn an_admin_clears_a_lockout(backend: Backend) {
    let app = spawn_app(backend).await;
    let (email, _) = app.user_with_tokens().await;
    let user = app.user_id(&email).await;
    for i in 0..5 {
        app.try_login(&email, &format!("wrong guess number {i}"))
            .await;
    }
    assert_eq!(
        app.try_login(&email, PASSWORD).await.status,
        429,
        "locked out"
    );
    let path = format!("/admin/users/{user}/lockout/clear");
    let reader = app.create_client("support", READ).await;
    let refused = admin_send(&app, "POST", &path, &reader, None).await;
    assert_eq!(
        (refused.status, refused.error()),
        (403, "insufficient_scope")
    );
    assert_eq!(
        app.try_login(&email, PASSWORD).await.status,
        429,
        "still locked out"
    );

    let (writer_id, secret) = app.create_client("desk", WRITE).await;
    let writer = (writer_id.clone(), secret);
    let bad = admin_send(&app, "POST", &path, &writer, Some(&json!({ "ip": "nope" }))).await;
    assert_eq!(
        (bad.status, bad.error()),
        (400, "invalid_request"),
        "{}",
        bad.text
    );
    let body = json!({ "ip": "127.0.0.1" });
    let done = admin_send(&app, "POST", &path, &writer, Some(&body)).await;
    assert_eq!(done.status, 204, "{}", done.text);
    assert_eq!(app.try_login(&email, PASSWORD).await.status, 200, "cleared");
    // Without a body too.
    let done = admin_send(&app, "POST", &path, &writer, None).await;
    assert_eq!(done.status, 204, "{}", done.text);

    let events = app.audit_events(user).await;
    let actor = format!("admin:{writer_id}");
    assert_eq!(
        events
            .iter()
            .filter(|e| e.kind == "lockout_cleared" && e.actor.as_deref() == Some(actor.as_str()))
            .count(),
        2
    );
    let unknown = format!("/admin/users/{}/lockout/clear", Uuid::new_v4());
    let missing = admin_send(&app, "POST", &unknown, &writer, None).await;
    assert_eq!((missing.status, missing.error()), (404, "not_found"));
}

async fn an_admin_sends_a_reset_link_that_works(backend: Backend) {
    let app = spawn_app(backend).await;
    let (email, _) = app.user_with_tokens().await;
    let user = app.user_id(&email).await;
    let path = format!("/admin/users/{user}/password_reset");
    let reader = app.create_client("support", READ).await;
    let refused = admin_send(&app, "POST", &path, &reader, None).await;
    assert_eq!(
        (refused.status, refused.error()),
        (403, "insufficient_scope")
    );
    let resets = |app: &crate::helpers::TestApp| {
        app.mail_to(&email)
            .iter()
            .filter(|m| m.action().as_deref() == Some("password_reset"))
            .count()
    };
    assert_eq!(resets(&app), 0, "nothing sent");

    let (writer_id, secret) = app.create_client("desk", WRITE).await;
    let writer = (writer_id.clone(), secret);
    let done = admin_send(&app, "POST", &path, &writer, None).await;
    assert_eq!(done.status, 202, "{}", done.text);
    let message = app.wait_for_action(&email, "password_reset").await;
    let new_password = "a passphrase an admin's link set";
    let reset = app
        .post_json(
            "/auth/password/reset",
            &json!({ "token": message.link_token(), "new_password": new_password }),
        )
        .await;
    assert!(reset.status < 300, "{}", reset.text);
    assert_eq!(app.try_login(&email, new_password).await.status, 200);

    let events = app.audit_events(user).await;
    let event = events
        .iter()
        .find(|e| e.kind == "password_reset_requested")
        .expect("audited");
    assert_eq!(
        event.actor.as_deref(),
        Some(format!("admin:{writer_id}").as_str())
    );
    let unknown = format!("/admin/users/{}/password_reset", Uuid::new_v4());
    let missing = admin_send(&app, "POST", &unknown, &writer, None).await;
    assert_eq!((missing.status, missing.error()), (404, "not_found"));
}

async fn an_admin_removes_every_factor(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = enrolled(&app).await;
    let id = app.user_id(&user.email).await;
    let path = format!("/admin/users/{id}/factors");
    let reader = app.create_client("support", READ).await;
    let refused = admin_send(&app, "DELETE", &path, &reader, None).await;
    assert_eq!(
        (refused.status, refused.error()),
        (403, "insufficient_scope")
    );
    assert!(app.access_works(&user.access).await, "nothing changed");

    let (writer_id, secret) = app.create_client("desk", WRITE).await;
    let writer = (writer_id.clone(), secret);
    let done = admin_send(&app, "DELETE", &path, &writer, None).await;
    assert_eq!(done.status, 200, "{}", done.text);
    assert_eq!(done.body["removed"], true, "{}", done.text);
    assert!(!app.access_works(&user.access).await, "its sessions ended");
    // The password alone signs in now.
    let login = app.login_body(&user.email).await;
    assert!(!login.access.is_empty());
    let again = admin_send(&app, "DELETE", &path, &writer, None).await;
    assert_eq!(again.body, json!({ "removed": false, "sessions_ended": 0 }));

    let events = app.audit_events(id).await;
    let event = events
        .iter()
        .find(|e| e.kind == "factor_removed" && e.detail.as_deref() == Some("all"))
        .expect("audited");
    assert_eq!(
        event.actor.as_deref(),
        Some(format!("admin:{writer_id}").as_str())
    );
    let unknown = format!("/admin/users/{}/factors", Uuid::new_v4());
    let missing = admin_send(&app, "DELETE", &unknown, &writer, None).await;
    assert_eq!((missing.status, missing.error()), (404, "not_found"));
}
