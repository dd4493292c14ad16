//! Accounts created through the admin API (`POST /admin/users`), on both
//! stores: the write permission only; a password checked as at
//! registration, or none and an invitation whose link (a reset link living
//! 72 hours) sets the password; roles and app_metadata given at creation;
//! audited with the admin as the actor; a taken address is 409 and every
//! malformed body 400, nothing created.

use serde_json::{Value, json};

use super::{READ, WRITE, admin_send};
use crate::helpers::{Backend, PASSWORD, TestApp, spawn_app};
use crate::on_both_stores;

on_both_stores!(
    an_admin_creates_an_account_with_a_password_roles_and_metadata,
    an_invited_account_chooses_its_password_by_the_link,
    a_reader_a_taken_address_and_bad_bodies_create_nothing,
);

async fn create(app: &TestApp, client: &(String, String), body: &Value) -> crate::helpers::Reply {
    admin_send(app, "POST", "/admin/users", client, Some(body)).await
}

async fn exists(app: &TestApp, email: &str) -> bool {
    let mut conn = app.store().conn().await.unwrap();
    authd::store::users::find_by_email(&mut conn, email)
        .await
        .unwrap()
        .is_some()
}

async fn an_admin_creates_an_account_with_a_password_roles_and_metadata(backend: Backend) {
    let app = spawn_app(backend).await;
    let (writer_id, secret) = app.create_client("desk", WRITE).await;
    let writer = (writer_id.clone(), secret);
    let body = json!({
        "email": "Grace@Example.com",
        "email_verified": true,
        "password": PASSWORD,
        "roles": ["billing", "support"],
        "app_metadata": {"plan": "pro"},
    });
    let reply = create(&app, &writer, &body).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(reply.body["email"], "grace@example.com");
    assert_eq!(reply.body["email_verified"], true);
    let id = reply.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        reply.header("location"),
        Some(format!("/admin/users/{id}").as_str())
    );
    let user = app.user_id("grace@example.com").await;
    assert_eq!(user.to_string(), id);
    let login = app.try_login("grace@example.com", PASSWORD).await;
    assert_eq!(login.status, 200, "the password works: {}", login.text);

    let mut conn = app.store().conn().await.unwrap();
    let roles = authd::store::user_roles::list(&mut conn, user)
        .await
        .unwrap();
    assert_eq!(roles, ["billing", "support"]);
    let metadata = authd::store::users::app_metadata(&mut conn, user)
        .await
        .unwrap();
    assert_eq!(metadata.as_deref(), Some(r#"{"plan":"pro"}"#));
    drop(conn);

    let events = app.audit_events(user).await;
    let event = events
        .iter()
        .find(|e| e.kind == "user_created")
        .expect("audited");
    let actor = format!("admin:{writer_id}");
    assert_eq!(event.actor.as_deref(), Some(actor.as_str()));
    // No invitation was asked for: nothing sent.
    assert!(app.mail_to("grace@example.com").is_empty());
}

async fn an_invited_account_chooses_its_password_by_the_link(backend: Backend) {
    let app = spawn_app(backend).await;
    let writer = app.create_client("desk", WRITE).await;
    let email = "invited@example.com";
    let body = json!({ "email": email, "send_invitation": true });
    let reply = create(&app, &writer, &body).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(reply.body["email_verified"], false);
    // No password yet: none signs in.
    let refused = app.try_login(email, PASSWORD).await;
    assert_eq!(refused.status, 401, "{}", refused.text);

    let invitation = app.wait_for_action(email, "password_reset").await;
    assert!(
        invitation.subject.contains("invited"),
        "{}",
        invitation.subject
    );
    // It outlives a reset link (accounts.reset_ttl_secs): two days later it
    // still works.
    app.advance(48 * 3600);
    let token = invitation.link_token();
    let new_password = "an invited user's own passphrase";
    let set = app
        .post_json(
            "/auth/password/reset",
            &json!({ "token": token, "new_password": new_password }),
        )
        .await;
    assert!(set.status < 300, "{}", set.text);
    let login = app.try_login(email, new_password).await;
    assert_eq!(login.status, 200, "{}", login.text);
    // Using the link proved the address.
    let user = app.user_id(email).await;
    let mut conn = app.store().conn().await.unwrap();
    let found = authd::store::users::find(&mut conn, user)
        .await
        .unwrap()
        .unwrap();
    assert!(found.email_verified);
    // Once only.
    let again = app
        .post_json(
            "/auth/password/reset",
            &json!({ "token": token, "new_password": "yet another passphrase here" }),
        )
        .await;
    assert_eq!(again.status, 400, "{}", again.text);
}

async fn a_reader_a_taken_address_and_bad_bodies_create_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let reader = app.create_client("support", READ).await;
    let writer = app.create_client("desk", WRITE).await;
    let body = json!({ "email": "new@example.com", "password": PASSWORD });
    let refused = create(&app, &reader, &body).await;
    assert_eq!(
        (refused.status, refused.error()),
        (403, "insufficient_scope"),
        "{}",
        refused.text
    );
    assert!(!exists(&app, "new@example.com").await);

    let (taken, _) = app.user_with_tokens().await;
    let reply = create(
        &app,
        &writer,
        &json!({ "email": taken, "password": PASSWORD }),
    )
    .await;
    assert_eq!(
        (reply.status, reply.error()),
        (409, "email_taken"),
        "{}",
        reply.text
    );

    for (bad, error) in [
        (json!({ "email": "not an address" }), "invalid_request"),
        (
            json!({ "email": "new@example.com", "password": "short" }),
            "invalid_request",
        ),
        (
            json!({ "email": "new@example.com", "password": "password123" }),
            "weak_password",
        ),
        (
            json!({ "email": "new@example.com", "password": PASSWORD, "send_invitation": true }),
            "invalid_request",
        ),
        (
            json!({ "email": "new@example.com", "roles": ["Not A Role"] }),
            "invalid_request",
        ),
        (
            json!({ "email": "new@example.com", "app_metadata": [1, 2] }),
            "invalid_request",
        ),
        (
            json!({ "email": "new@example.com", "is_admin": true }),
            "invalid_request",
        ),
        (json!({ "password": PASSWORD }), "invalid_request"),
    ] {
        let reply = create(&app, &writer, &bad).await;
        assert_eq!(
            (reply.status, reply.error()),
            (400, error),
            "{bad}: {}",
            reply.text
        );
    }
    assert!(!exists(&app, "new@example.com").await);
}
