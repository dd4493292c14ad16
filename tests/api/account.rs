//! Account endpoints: password strength, password change, the audit log
//! (with each event's actor and client).

use serde_json::json;

use crate::helpers::{Backend, PASSWORD, spawn_app, spawn_app_with};
use crate::on_both_stores;

on_both_stores!(
    common_passwords_are_refused_with_a_clear_error,
    changing_the_password_keeps_this_session_and_ends_every_other,
    a_password_change_needs_the_current_password_and_a_strong_new_one,
    the_audit_log_shows_a_user_their_own_events_only,
    audit_events_name_their_actor_and_client,
);

async fn common_passwords_are_refused_with_a_clear_error(backend: Backend) {
    let app = spawn_app(backend).await;
    for weak in [
        "password123",
        "qwerty12345",
        "iloveyou2",
        "weak@example.com",
    ] {
        let reply = app
            .post_json(
                "/auth/register",
                &json!({ "email": "weak@example.com", "password": weak }),
            )
            .await;
        assert_eq!(reply.status, 400, "{weak}: {}", reply.text);
        assert_eq!(reply.error(), "weak_password");
        assert!(
            reply.body["error_description"]
                .as_str()
                .unwrap()
                .contains("too easy to guess")
        );
        assert!(!reply.text.contains(weak), "the password is not echoed");
    }
    let lax = spawn_app_with(backend, |s| s.password.min_strength = 0).await;
    let reply = lax
        .post_json(
            "/auth/register",
            &json!({ "email": "weak@example.com", "password": "password123" }),
        )
        .await;
    assert_eq!(reply.status, 201, "min_strength = 0 turns the check off");
}

async fn changing_the_password_keeps_this_session_and_ends_every_other(backend: Backend) {
    let app = spawn_app(backend).await;
    let (email, here) = app.user_with_tokens().await;
    let elsewhere = app.login_body(&email).await;
    let new_password = "tangerine submarine velvet 42";
    let reply = app
        .send(
            app.client
                .post(app.url("/auth/password"))
                .bearer_auth(&here.access)
                .json(&json!({ "current_password": PASSWORD, "new_password": new_password })),
        )
        .await;
    assert_eq!(reply.status, 204, "{}", reply.text);
    assert!(
        app.access_works(&here.access).await,
        "the current session stays"
    );
    assert_eq!(app.refresh_body(&here.refresh).await.status, 200);
    assert!(
        !app.access_works(&elsewhere.access).await,
        "other sessions end"
    );
    assert_eq!(app.refresh_body(&elsewhere.refresh).await.status, 401);

    let old = app.try_login(&email, PASSWORD).await;
    assert_eq!(old.status, 401);
    let new = app.try_login(&email, new_password).await;
    assert_eq!(new.status, 200);
    let user = app.state_user(&here.access);
    let kinds = app.audit_kinds(user).await;
    assert!(kinds.iter().any(|k| k == "password_changed"), "{kinds:?}");
}

async fn a_password_change_needs_the_current_password_and_a_strong_new_one(backend: Backend) {
    let app = spawn_app(backend).await;
    let (email, tokens) = app.user_with_tokens().await;
    let other = app.login_body(&email).await;
    let change = |current: &str, new: &str| {
        app.client
            .post(app.url("/auth/password"))
            .bearer_auth(&tokens.access)
            .json(&json!({ "current_password": current, "new_password": new }))
    };
    let wrong = app
        .send(change("not my password", "tangerine submarine velvet 42"))
        .await;
    assert_eq!(wrong.status, 401);
    assert_eq!(wrong.error(), "invalid_credentials");
    let weak = app.send(change(PASSWORD, "password123")).await;
    assert_eq!(weak.status, 400);
    assert_eq!(weak.error(), "weak_password");
    let short = app.send(change(PASSWORD, "short")).await;
    assert_eq!(short.status, 400);
    assert_eq!(short.error(), "invalid_request");
    let anonymous = app
        .send(app.client.post(app.url("/auth/password")).json(&json!({ "current_password": PASSWORD, "new_password": "tangerine submarine velvet 42" })))
        .await;
    assert_eq!(anonymous.status, 401);
    // Nothing changed: the old password works and the other session lives.
    assert!(app.access_works(&other.access).await);
    assert_eq!(app.try_login(&email, PASSWORD).await.status, 200);
}

async fn the_audit_log_shows_a_user_their_own_events_only(backend: Backend) {
    let app = spawn_app(backend).await;
    let (email, tokens) = app.user_with_tokens().await;
    let (_, stranger) = app.user_with_tokens().await;
    let failed = app.try_login(&email, "wrong guess 1234").await;
    assert_eq!(failed.status, 401);
    let reply = app.get_bearer("/auth/audit", &tokens.access).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let events = reply.body["events"].as_array().unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds.first(),
        Some(&"login_failed"),
        "newest first: {kinds:?}"
    );
    assert!(
        kinds.contains(&"login_succeeded") && kinds.contains(&"registered"),
        "{kinds:?}"
    );
    for e in events {
        assert_eq!(e["ip"], "127.0.0.1");
        assert!(e["created_at"].is_string());
    }
    assert!(!reply.text.contains(&tokens.refresh) && !reply.text.contains(PASSWORD));
    let theirs = app.get_bearer("/auth/audit", &stranger.access).await;
    assert!(
        !theirs.body["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "login_failed")
    );
    assert_eq!(
        app.get_bearer("/auth/audit?limit=1", &tokens.access)
            .await
            .body["events"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        app.get_bearer("/auth/audit?limit=0", &tokens.access)
            .await
            .status,
        400
    );
    assert_eq!(
        app.get_bearer("/auth/audit?limit=abc", &tokens.access)
            .await
            .status,
        400
    );
    assert_eq!(app.get("/auth/audit").await.status, 401);
}

/// The user is the actor of what they did themselves, not of what anyone
/// knowing their address could try; an event naming a client returns it.
async fn audit_events_name_their_actor_and_client(backend: Backend) {
    let app = spawn_app(backend).await;
    let (email, tokens) = app.user_with_tokens().await;
    let user = app.user_id(&email).await;
    let failed = app.try_login(&email, "wrong guess 1234").await;
    assert_eq!(failed.status, 401);
    let meta = authd::audit::RequestMeta::default();
    let consented = authd::audit::AuditEvent::new(
        authd::audit::AuditKind::SessionRevoked,
        Some(user),
        None,
        &meta,
        app.now() + chrono::Duration::seconds(1),
    )
    .with_client("client_0123");
    let mut tx = app.store().begin().await.unwrap();
    authd::audit::record(&mut tx, &consented).await.unwrap();
    tx.commit().await.unwrap();

    let reply = app.get_bearer("/auth/audit", &tokens.access).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let events = reply.body["events"].as_array().unwrap();
    let of = |kind: &str| {
        events
            .iter()
            .find(|e| e["kind"] == kind)
            .unwrap_or_else(|| panic!("no {kind} in {events:?}"))
            .clone()
    };
    let actor = format!("user:{user}");
    for kind in ["registered", "login_succeeded"] {
        assert_eq!(of(kind)["actor"], actor.as_str(), "{kind}");
        assert!(of(kind)["client_id"].is_null(), "{kind}");
    }
    assert!(
        of("login_failed")["actor"].is_null(),
        "anyone may fail a login"
    );
    assert_eq!(of("session_revoked")["client_id"], "client_0123");
    assert_eq!(of("session_revoked")["actor"], actor.as_str());
}
