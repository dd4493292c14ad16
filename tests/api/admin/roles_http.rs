//! An account's roles replaced through the admin API (`PUT
//! /admin/users/{id}/roles`), on both stores, and the rule against
//! escalation: a role that `admin.roles` maps to an admin permission is
//! given or taken (at creation too) only by a caller holding that
//! permission, a client by its scopes, a user by their own roles; else 403
//! `insufficient_scope` and nothing changes. Nor may a caller move the
//! address of, reset, strip the factors of, or erase an account holding
//! such a permission it lacks, nor disable, enable or end the sessions of
//! one.

use std::collections::BTreeMap;

use authd::accounts::roles::{self, RoleChanges};
use authd::audit::Actor;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{READ, WRITE, admin_send};
use crate::helpers::{Backend, PASSWORD, Reply, TestApp, spawn_app_with};
use crate::mfa::{enrolled, stepped_up};
use crate::on_both_stores;

on_both_stores!(
    a_client_gives_and_takes_only_roles_within_its_permissions,
    a_user_admin_gives_and_takes_only_roles_within_their_own,
    a_caller_cannot_take_over_or_erase_a_more_powerful_account,
    a_caller_cannot_disable_enable_or_log_out_a_more_powerful_account,
);

const CLIENTS: &str = "authd:admin:clients";

async fn app_with_roles(backend: Backend) -> TestApp {
    spawn_app_with(backend, |s| {
        s.admin.roles = BTreeMap::from([
            ("support".to_owned(), vec![READ.to_owned()]),
            ("admin".to_owned(), vec![READ.to_owned(), WRITE.to_owned()]),
            (
                "owner".to_owned(),
                vec![READ.to_owned(), WRITE.to_owned(), CLIENTS.to_owned()],
            ),
        ]);
    })
    .await
}

async fn give(app: &TestApp, user: Uuid, role: &str) {
    let changes = RoleChanges {
        add: vec![role.to_owned()],
        remove: vec![],
    };
    roles::change(app.services(), user, &changes, Actor::CLI)
        .await
        .unwrap()
        .unwrap();
}

async fn roles_of(app: &TestApp, user: Uuid) -> Vec<String> {
    let mut conn = app.store().conn().await.unwrap();
    authd::store::user_roles::list(&mut conn, user)
        .await
        .unwrap()
}

fn assert_forbidden(reply: &Reply, what: &str) {
    assert_eq!(
        (reply.status, reply.error()),
        (403, "insufficient_scope"),
        "{what}: {}",
        reply.text
    );
}

async fn a_client_gives_and_takes_only_roles_within_its_permissions(backend: Backend) {
    let app = app_with_roles(backend).await;
    let (email, _) = app.user_with_tokens().await;
    let user = app.user_id(&email).await;
    let path = format!("/admin/users/{user}/roles");
    let put = |roles: Value| json!({ "roles": roles });

    let reader = app.create_client("support", READ).await;
    let refused = admin_send(&app, "PUT", &path, &reader, Some(&put(json!(["billing"])))).await;
    assert_forbidden(&refused, "a reader");

    // The write permission alone: roles that open nothing, not `support`
    // (it maps to the read permission this client lacks).
    let (writer_id, secret) = app.create_client("desk", WRITE).await;
    let writer = (writer_id.clone(), secret);
    let done = admin_send(
        &app,
        "PUT",
        &path,
        &writer,
        Some(&put(json!(["billing", "billing"]))),
    )
    .await;
    assert_eq!(done.status, 200, "{}", done.text);
    assert_eq!(done.body, json!({ "roles": ["billing"] }));
    let refused = admin_send(
        &app,
        "PUT",
        &path,
        &writer,
        Some(&put(json!(["billing", "support"]))),
    )
    .await;
    assert_forbidden(&refused, "support by a writer without read");
    assert!(refused.text.contains(READ), "{}", refused.text);
    assert_eq!(roles_of(&app, user).await, ["billing"]);

    // Read and write: `admin`, never `owner`, which opens clients.
    let both = app.create_client("ops", &format!("{READ} {WRITE}")).await;
    let done = admin_send(&app, "PUT", &path, &both, Some(&put(json!(["admin"])))).await;
    assert_eq!(done.body, json!({ "roles": ["admin"] }), "{}", done.text);
    let refused = admin_send(
        &app,
        "PUT",
        &path,
        &both,
        Some(&put(json!(["admin", "owner"]))),
    )
    .await;
    assert_forbidden(&refused, "owner by a users admin");
    // Nor take it away from its holder.
    give(&app, user, "owner").await;
    let refused = admin_send(&app, "PUT", &path, &both, Some(&put(json!(["admin"])))).await;
    assert_forbidden(&refused, "removing owner");
    assert_eq!(roles_of(&app, user).await, ["admin", "owner"]);
    // Nor at creation.
    let new = json!({ "email": "owner@example.com", "roles": ["owner"] });
    let refused = admin_send(&app, "POST", "/admin/users", &both, Some(&new)).await;
    assert_forbidden(&refused, "owner at creation");
    // A client holding every permission may.
    let all = app
        .create_client("root", &format!("{READ} {WRITE} {CLIENTS}"))
        .await;
    let done = admin_send(&app, "PUT", &path, &all, Some(&put(json!([])))).await;
    assert_eq!(done.body, json!({ "roles": [] }), "{}", done.text);

    // Audited with the admin; bad input and unknown users refused.
    let events = app.audit_events(user).await;
    let actor = format!("admin:{writer_id}");
    assert!(
        events
            .iter()
            .any(|e| e.kind == "roles_changed" && e.actor.as_deref() == Some(actor.as_str()))
    );
    for bad in [put(json!(["Not A Role"])), json!({ "role": [] }), json!([])] {
        let reply = admin_send(&app, "PUT", &path, &writer, Some(&bad)).await;
        assert_eq!(
            (reply.status, reply.error()),
            (400, "invalid_request"),
            "{bad}: {}",
            reply.text
        );
    }
    let unknown = format!("/admin/users/{}/roles", Uuid::new_v4());
    let reply = admin_send(&app, "PUT", &unknown, &writer, Some(&put(json!([])))).await;
    assert_eq!((reply.status, reply.error()), (404, "not_found"));
}

async fn put_bearer(app: &TestApp, path: &str, token: &str, body: &Value) -> Reply {
    app.send(app.client.put(app.url(path)).bearer_auth(token).json(body))
        .await
}

async fn a_user_admin_gives_and_takes_only_roles_within_their_own(backend: Backend) {
    let app = app_with_roles(backend).await;
    let (email, _) = app.user_with_tokens().await;
    let target = app.user_id(&email).await;
    let path = format!("/admin/users/{target}/roles");

    let admin = enrolled(&app).await;
    let admin_id = app.user_id(&admin.email).await;
    give(&app, admin_id, "admin").await;
    let fresh = stepped_up(&app, &admin).await;

    let done = put_bearer(&app, &path, &fresh, &json!({ "roles": ["support"] })).await;
    assert_eq!(done.status, 200, "{}", done.text);
    let refused = put_bearer(&app, &path, &fresh, &json!({ "roles": ["owner"] })).await;
    assert_forbidden(&refused, "owner by an admin user");
    // Not even to themselves.
    let own = format!("/admin/users/{admin_id}/roles");
    let refused = put_bearer(&app, &own, &fresh, &json!({ "roles": ["admin", "owner"] })).await;
    assert_forbidden(&refused, "owner to oneself");
    give(&app, target, "owner").await;
    let refused = put_bearer(&app, &path, &fresh, &json!({ "roles": ["support"] })).await;
    assert_forbidden(&refused, "removing owner by an admin user");
    assert_eq!(roles_of(&app, target).await, ["owner", "support"]);
    assert_eq!(roles_of(&app, admin_id).await, ["admin"]);

    // An owner may.
    let owner = enrolled(&app).await;
    let owner_id = app.user_id(&owner.email).await;
    give(&app, owner_id, "owner").await;
    let fresh = stepped_up(&app, &owner).await;
    let done = put_bearer(&app, &path, &fresh, &json!({ "roles": [] })).await;
    assert_eq!(done.body, json!({ "roles": [] }), "{}", done.text);
    let events = app.audit_events(target).await;
    let actor = format!("admin:{owner_id}");
    assert!(
        events
            .iter()
            .any(|e| e.kind == "roles_changed" && e.actor.as_deref() == Some(actor.as_str()))
    );
}

async fn a_caller_cannot_take_over_or_erase_a_more_powerful_account(backend: Backend) {
    let app = app_with_roles(backend).await;
    let (email, tokens) = app.user_with_tokens().await;
    let owner = app.user_id(&email).await;
    give(&app, owner, "owner").await;
    let both = app.create_client("ops", &format!("{READ} {WRITE}")).await;
    let base = format!("/admin/users/{owner}");
    let moved = json!({ "email": "attacker@example.com" });
    for (method, path, body) in [
        ("PATCH", base.clone(), Some(moved)),
        ("POST", format!("{base}/password_reset"), None),
        ("DELETE", format!("{base}/factors"), None),
        ("DELETE", base.clone(), None),
    ] {
        let reply = admin_send(&app, method, &path, &both, body.as_ref()).await;
        assert_forbidden(&reply, &format!("{method} {path}"));
    }
    assert_eq!(app.user_id(&email).await, owner, "the address stayed");
    assert!(app.access_works(&tokens.access).await, "nothing ended");
    // A caller holding every permission may.
    let all = app
        .create_client("root", &format!("{READ} {WRITE} {CLIENTS}"))
        .await;
    let done = admin_send(&app, "DELETE", &base, &all, None).await;
    assert_eq!(done.status, 204, "{}", done.text);
}

async fn post_bearer(app: &TestApp, path: &str, token: &str) -> Reply {
    app.send(app.client.post(app.url(path)).bearer_auth(token))
        .await
}

/// Whether the account at `email` is disabled: the right password is
/// refused with `account_disabled`.
async fn disabled(app: &TestApp, email: &str) -> bool {
    let login = app.try_login(email, PASSWORD).await;
    match (login.status, login.error()) {
        (200, _) => false,
        (403, "account_disabled") => true,
        other => panic!("unexpected sign-in answer {other:?}: {}", login.text),
    }
}

async fn a_caller_cannot_disable_enable_or_log_out_a_more_powerful_account(backend: Backend) {
    let app = app_with_roles(backend).await;
    let (email, tokens) = app.user_with_tokens().await;
    let owner = app.user_id(&email).await;
    give(&app, owner, "owner").await;
    let base = format!("/admin/users/{owner}");
    let (disable, enable, revoke) = (
        format!("{base}/disable"),
        format!("{base}/enable"),
        format!("{base}/sessions/revoke"),
    );
    // A client with users:read and users:write, not clients.
    let both = app.create_client("ops", &format!("{READ} {WRITE}")).await;
    // A user whose role maps to the same two.
    let admin = enrolled(&app).await;
    let admin_id = app.user_id(&admin.email).await;
    give(&app, admin_id, "admin").await;
    let fresh = stepped_up(&app, &admin).await;
    for path in [&disable, &revoke] {
        let reply = admin_send(&app, "POST", path, &both, None).await;
        assert_forbidden(&reply, &format!("client: POST {path}"));
        let reply = post_bearer(&app, path, &fresh).await;
        assert_forbidden(&reply, &format!("user: POST {path}"));
    }
    assert!(app.access_works(&tokens.access).await, "nothing ended");
    assert!(!disabled(&app, &email).await, "still enabled");
    // Nor rewrite its app_metadata (copied into its tokens), nor lift the
    // throttle on guessing its password.
    let metadata = format!("{base}/app_metadata");
    let body = serde_json::json!({ "plan": "free" });
    let reply = admin_send(&app, "PUT", &metadata, &both, Some(&body)).await;
    assert_forbidden(&reply, "client: PUT app_metadata");
    let lockout = format!("{base}/lockout/clear");
    let reply = admin_send(&app, "POST", &lockout, &both, None).await;
    assert_forbidden(&reply, "client: POST lockout/clear");
    let reply = post_bearer(&app, &lockout, &fresh).await;
    assert_forbidden(&reply, "user: POST lockout/clear");
    let mut conn = app.store().conn().await.unwrap();
    let kept = authd::accounts::app_metadata::get(&mut conn, owner)
        .await
        .unwrap();
    assert_eq!(kept, None, "the app_metadata stayed as it was");
    drop(conn);

    // Disabled by a caller holding every permission, it stays disabled.
    let all = app
        .create_client("root", &format!("{READ} {WRITE} {CLIENTS}"))
        .await;
    let done = admin_send(&app, "POST", &disable, &all, None).await;
    assert_eq!(done.status, 200, "{}", done.text);
    assert!(disabled(&app, &email).await);
    let reply = admin_send(&app, "POST", &enable, &both, None).await;
    assert_forbidden(&reply, "client: enable");
    let reply = post_bearer(&app, &enable, &fresh).await;
    assert_forbidden(&reply, "user: enable");
    assert!(disabled(&app, &email).await, "still disabled");
    let done = admin_send(&app, "POST", &enable, &all, None).await;
    assert_eq!(done.status, 200, "{}", done.text);
    assert!(
        !disabled(&app, &email).await,
        "enabled by the owner-level caller"
    );

    // The same callers may act on an account without such a role.
    let (plain, plain_tokens) = app.user_with_tokens().await;
    let plain_id = app.user_id(&plain).await;
    let path = format!("/admin/users/{plain_id}/sessions/revoke");
    let done = post_bearer(&app, &path, &fresh).await;
    assert_eq!(done.status, 200, "{}", done.text);
    assert!(
        !app.access_works(&plain_tokens.access).await,
        "its sessions ended"
    );
    let path = format!("/admin/users/{plain_id}/disable");
    let done = admin_send(&app, "POST", &path, &both, None).await;
    assert_eq!(done.status, 200, "{}", done.text);
}
