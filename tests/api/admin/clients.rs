//! The admin API's management of clients (`/admin/clients...`), on both
//! stores: each endpoint, the created client's secret at the token endpoint,
//! a rotation that ends the old secret at once, the audit events (the admin
//! as the actor, the client named, no user, no secret), and each refusal:
//! no `authd:admin:clients`, a permission the caller lacks given or held by
//! the client acted on, a client deleting itself or rotating its own
//! secret, bad settings. Users as admins by a role are here too; the
//! command line reading what the API wrote is in `clients_cli.rs`.

use std::collections::BTreeMap;

use authd::accounts::roles::{self, RoleChanges};
use authd::audit::Actor;
use authd::store::audit::AuditRecord;
use serde_json::{Value, json};

use super::{READ, admin_get, admin_post};
use crate::helpers::{Backend, Reply, TestApp, spawn_app, spawn_app_with};
use crate::mfa::{enrolled, post_bearer, stepped_up};
use crate::on_both_stores;

on_both_stores!(
    an_admin_registers_reads_changes_and_deletes_a_client,
    a_rotation_ends_the_old_secret_at_once,
    an_admin_cannot_hand_over_a_permission_it_lacks,
    an_admin_cannot_act_on_a_client_holding_a_permission_it_lacks,
    a_client_cannot_delete_itself_nor_rotate_its_own_secret,
    callers_without_the_permission_are_refused_everywhere,
    bad_settings_are_refused_with_a_clear_400,
    a_user_admin_holds_what_its_roles_grant,
);

pub(super) const CLIENTS: &str = "authd:admin:clients";

pub(super) async fn send(
    app: &TestApp,
    method: &str,
    path: &str,
    by: &(String, String),
    body: Option<Value>,
) -> Reply {
    let mut request = app
        .client
        .request(method.parse().unwrap(), app.url(path))
        .basic_auth(&by.0, Some(&by.1));
    if let Some(body) = body {
        request = request.json(&body);
    }
    app.send(request).await
}

pub(super) async fn create(app: &TestApp, by: &(String, String), body: Value) -> Reply {
    send(app, "POST", "/admin/clients", by, Some(body)).await
}

/// The id and secret of a client the API just made.
pub(super) fn made(reply: &Reply) -> (String, String) {
    assert_eq!(reply.status, 201, "{}", reply.text);
    (
        reply.body["client_id"].as_str().unwrap().to_owned(),
        reply.body["client_secret"].as_str().unwrap().to_owned(),
    )
}

pub(super) async fn token_status(app: &TestApp, client: &(String, String)) -> u16 {
    app.post_form(
        "/oauth/token",
        &[("grant_type", "client_credentials")],
        Some((&client.0, &client.1)),
    )
    .await
    .status
}

pub(super) async fn client_events(app: &TestApp, id: &str) -> Vec<AuditRecord> {
    let mut conn = app.store().conn().await.unwrap();
    authd::store::audit::list_of_client(&mut conn, id, 50)
        .await
        .unwrap()
}

pub(super) async fn exists(app: &TestApp, id: &str) -> bool {
    authd::clients::exists(app.store(), id).await.unwrap()
}

pub(super) fn assert_refused(reply: &Reply, status: u16, error: &str, what: &str) {
    assert_eq!(
        (reply.status, reply.error()),
        (status, error),
        "{what}: {}",
        reply.text
    );
    assert!(reply.body.get("client_secret").is_none(), "{what}");
}

async fn an_admin_registers_reads_changes_and_deletes_a_client(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.create_client("console", CLIENTS).await;

    let reply = create(
        &app,
        &admin,
        json!({"name": "orders", "scopes": "orders:read orders:write"}),
    )
    .await;
    let orders = made(&reply);
    assert_eq!(reply.body["kind"], "machine");
    assert_eq!(reply.body["scopes"], "orders:read orders:write");
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert!(reply.body.get("secret_hash").is_none());
    // The secret shown once is the client's at the token endpoint.
    assert_eq!(token_status(&app, &orders).await, 200);

    // Listed and read, never with its secret or the hash.
    let list = admin_get(&app, "/admin/clients", &admin).await;
    assert_eq!(list.status, 200, "{}", list.text);
    let mut ids: Vec<&str> = list.body["clients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["client_id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    let mut both = vec![admin.0.as_str(), orders.0.as_str()];
    both.sort_unstable();
    assert_eq!(ids, both);
    let stored = authd::clients::find(app.store(), &orders.0)
        .await
        .unwrap()
        .unwrap();
    assert!(!list.text.contains(&orders.1) && !list.text.contains(&stored.secret_hash));
    let path = format!("/admin/clients/{}", orders.0);
    let one = admin_get(&app, &path, &admin).await;
    assert_eq!(one.status, 200, "{}", one.text);
    assert_eq!(one.body["name"], "orders");
    assert!(one.body.get("client_secret").is_none());

    // Changed: only what is given.
    let patch = json!({"name": "orders v2", "scopes": "orders:read", "access_token_ttl_secs": 600});
    let changed = send(&app, "PATCH", &path, &admin, Some(patch)).await;
    assert_eq!(changed.status, 200, "{}", changed.text);
    assert_eq!(changed.body["name"], "orders v2");
    assert_eq!(changed.body["scopes"], "orders:read");
    assert_eq!(changed.body["access_token_ttl_secs"], 600);
    let back = json!({"access_token_ttl_secs": null});
    let changed = send(&app, "PATCH", &path, &admin, Some(back)).await;
    assert_eq!(changed.body["access_token_ttl_secs"], Value::Null);
    assert_eq!(changed.body["name"], "orders v2");
    let same = send(
        &app,
        "PATCH",
        &path,
        &admin,
        Some(json!({"name": "orders v2"})),
    )
    .await;
    assert_eq!(same.status, 200, "{}", same.text);
    assert_eq!(token_status(&app, &orders).await, 200, "the same secret");

    // Deleted: gone, its secret refused.
    let gone = send(&app, "DELETE", &path, &admin, None).await;
    assert_eq!(gone.status, 204, "{}", gone.text);
    assert!(!exists(&app, &orders.0).await);
    assert_eq!(token_status(&app, &orders).await, 401);
    let again = send(&app, "DELETE", &path, &admin, None).await;
    assert_refused(&again, 404, "not_found", "deleted twice");
    assert_refused(
        &admin_get(&app, &path, &admin).await,
        404,
        "not_found",
        "get",
    );
    let patch = send(&app, "PATCH", &path, &admin, Some(json!({"name": "x"}))).await;
    assert_refused(&patch, 404, "not_found", "patch");
    let nonsense = admin_get(&app, "/admin/clients/%20no", &admin).await;
    assert_refused(&nonsense, 404, "not_found", "not an id");

    // Audited: the admin as the actor, the client named, no user, no secret.
    let events = client_events(&app, &orders.0).await;
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        vec![
            "client_deleted",
            "client_updated",
            "client_updated",
            "client_updated",
            "client_created"
        ]
    );
    let actor = format!("admin:{}", admin.0);
    for event in &events {
        assert_eq!(event.actor.as_deref(), Some(actor.as_str()));
        assert_eq!(event.client_id.as_deref(), Some(orders.0.as_str()));
        let detail = event.detail.clone().unwrap_or_default();
        assert!(!detail.contains(&orders.1) && !detail.contains(&stored.secret_hash));
    }
    assert_eq!(events[1].detail, None, "nothing changed");
    assert_eq!(events[2].detail.as_deref(), Some("access_token_ttl_secs"));
    assert_eq!(
        events[3].detail.as_deref(),
        Some("name scopes access_token_ttl_secs")
    );
}

async fn a_rotation_ends_the_old_secret_at_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.create_client("console", CLIENTS).await;
    let old = made(&create(&app, &admin, json!({"name": "feed", "scopes": "feed:read"})).await);
    let rotate = format!("/admin/clients/{}/secret/rotate", old.0);
    let reply = admin_post(&app, &rotate, &admin).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let new = (
        old.0.clone(),
        reply.body["client_secret"].as_str().unwrap().to_owned(),
    );
    assert_ne!(new.1, old.1);
    assert_eq!(
        token_status(&app, &old).await,
        401,
        "the old secret stopped"
    );
    assert_eq!(token_status(&app, &new).await, 200);

    let events = client_events(&app, &old.0).await;
    assert_eq!(events[0].kind, "client_secret_rotated");
    assert_eq!(
        events[0].actor.as_deref(),
        Some(format!("admin:{}", admin.0).as_str())
    );
    assert_eq!(events[0].detail, None);

    // A public client has no secret to rotate; an unknown client is 404.
    let spa = json!({"name": "spa", "kind": "public",
        "redirect_uris": ["https://app.example.com/callback"]});
    let reply = create(&app, &admin, spa).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(reply.body["client_secret"], Value::Null);
    let spa_id = reply.body["client_id"].as_str().unwrap();
    let refused = admin_post(
        &app,
        &format!("/admin/clients/{spa_id}/secret/rotate"),
        &admin,
    )
    .await;
    assert_refused(&refused, 400, "invalid_request", "public");
    let unknown = admin_post(&app, "/admin/clients/client_nope/secret/rotate", &admin).await;
    assert_refused(&unknown, 404, "not_found", "unknown");
}

async fn an_admin_cannot_hand_over_a_permission_it_lacks(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.create_client("console", CLIENTS).await;
    let before = authd::clients::list(app.store()).await.unwrap().len();
    for scopes in [
        "authd:introspect",
        "a authd:revocations",
        READ,
        "authd:admin:users:write",
    ] {
        let reply = create(&app, &admin, json!({"name": "x", "scopes": scopes})).await;
        assert_refused(&reply, 403, "insufficient_scope", scopes);
    }
    assert_eq!(
        authd::clients::list(app.store()).await.unwrap().len(),
        before
    );
    // Nor by a change to a client it may act on.
    let plain = made(&create(&app, &admin, json!({"name": "plain", "scopes": "a"})).await);
    let path = format!("/admin/clients/{}", plain.0);
    let reply = send(
        &app,
        "PATCH",
        &path,
        &admin,
        Some(json!({"scopes": "a authd:introspect"})),
    )
    .await;
    assert_refused(&reply, 403, "insufficient_scope", "patch");
    let stored = authd::clients::find(app.store(), &plain.0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.scopes, "a");

    // It may give what it holds, its own admin permission included.
    let holder = app
        .create_client("holder", &format!("{CLIENTS} authd:introspect"))
        .await;
    let reply = create(
        &app,
        &holder,
        json!({"name": "i", "scopes": "authd:introspect"}),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let reply = create(&app, &admin, json!({"name": "c", "scopes": CLIENTS})).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
}

async fn an_admin_cannot_act_on_a_client_holding_a_permission_it_lacks(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.create_client("console", CLIENTS).await;
    let strong = app
        .create_client("introspector", "a authd:introspect")
        .await;
    let path = format!("/admin/clients/{}", strong.0);
    let reply = send(
        &app,
        "PATCH",
        &path,
        &admin,
        Some(json!({"name": "mine now"})),
    )
    .await;
    assert_refused(&reply, 403, "insufficient_scope", "patch");
    // Not even to take the permission away.
    let reply = send(&app, "PATCH", &path, &admin, Some(json!({"scopes": "a"}))).await;
    assert_refused(&reply, 403, "insufficient_scope", "patch down");
    let rotate = format!("{path}/secret/rotate");
    let reply = admin_post(&app, &rotate, &admin).await;
    assert_refused(&reply, 403, "insufficient_scope", "rotate");
    assert_eq!(
        token_status(&app, &strong).await,
        200,
        "its secret still works"
    );
    let reply = send(&app, "DELETE", &path, &admin, None).await;
    assert_refused(&reply, 403, "insufficient_scope", "delete");
    assert!(exists(&app, &strong.0).await);
    let stored = authd::clients::find(app.store(), &strong.0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (stored.name.as_str(), stored.scopes.as_str()),
        ("introspector", "a authd:introspect")
    );
    assert!(
        client_events(&app, &strong.0).await.is_empty(),
        "nothing done"
    );
    // Reading it is fine.
    assert_eq!(admin_get(&app, &path, &admin).await.status, 200);

    // One holding the permission too may.
    let peer = app
        .create_client("peer", &format!("{CLIENTS} authd:introspect"))
        .await;
    assert_eq!(admin_post(&app, &rotate, &peer).await.status, 200);
    assert_eq!(send(&app, "DELETE", &path, &peer, None).await.status, 204);
}

async fn a_client_cannot_delete_itself_nor_rotate_its_own_secret(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.create_client("console", CLIENTS).await;
    let path = format!("/admin/clients/{}", admin.0);
    let reply = send(&app, "DELETE", &path, &admin, None).await;
    assert_refused(&reply, 400, "invalid_request", "delete itself");
    let reply = admin_post(&app, &format!("{path}/secret/rotate"), &admin).await;
    assert_refused(&reply, 400, "invalid_request", "rotate its own");
    assert_eq!(admin_get(&app, &path, &admin).await.status, 200, "still in");
    // Its own name it may change.
    let reply = send(&app, "PATCH", &path, &admin, Some(json!({"name": "desk"}))).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    // Another admin may do both.
    let other = app.create_client("other", CLIENTS).await;
    assert_eq!(
        admin_post(&app, &format!("{path}/secret/rotate"), &other)
            .await
            .status,
        200
    );
    assert_eq!(send(&app, "DELETE", &path, &other, None).await.status, 204);
}

async fn callers_without_the_permission_are_refused_everywhere(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.create_client("console", CLIENTS).await;
    let target = made(&create(&app, &admin, json!({"name": "t", "scopes": "t:read"})).await);
    let one = format!("/admin/clients/{}", target.0);
    let rotate = format!("{one}/secret/rotate");
    let calls: Vec<(&str, &str, Option<Value>)> = vec![
        ("GET", "/admin/clients", None),
        ("POST", "/admin/clients", Some(json!({"name": "n"}))),
        ("GET", &one, None),
        ("PATCH", &one, Some(json!({"name": "n"}))),
        ("DELETE", &one, None),
        ("POST", &rotate, None),
    ];
    let reader = app
        .create_client("support", &format!("{READ} authd:admin:users:write"))
        .await;
    let wrong = (admin.0.clone(), "wrong".to_owned());
    for (method, path, body) in &calls {
        let what = format!("{method} {path}");
        let reply = send(&app, method, path, &reader, body.clone()).await;
        assert_refused(&reply, 403, "insufficient_scope", &what);
        let reply = send(&app, method, path, &wrong, body.clone()).await;
        assert_refused(&reply, 401, "invalid_client", &what);
        let mut request = app.client.request(method.parse().unwrap(), app.url(path));
        if let Some(body) = body {
            request = request.json(body);
        }
        let reply = app.send(request).await;
        assert_refused(&reply, 401, "invalid_client", &what);
    }
    assert_eq!(token_status(&app, &target).await, 200, "untouched");
    let clients = authd::clients::list(app.store()).await.unwrap();
    assert_eq!(clients.len(), 3, "nothing created or deleted");
}

async fn bad_settings_are_refused_with_a_clear_400(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.create_client("console", CLIENTS).await;
    let bad = [
        json!({"name": ""}),
        json!({"name": "x", "scopes": "caf\u{e9}"}),
        json!({"name": "x", "scopes": "authd:everything"}),
        json!({"name": "x", "kind": "public", "scopes": "authd:introspect"}),
        json!({"name": "x", "kind": "confidential"}),
        json!({"name": "x", "kind": "public", "redirect_uris": ["http://evil.example/cb"]}),
        json!({"name": "x", "access_token_ttl_secs": 5}),
        json!({"name": "x", "kind": "robot"}),
        json!({"name": "x", "secret": "mine"}),
        json!({"scopes": "a"}),
        json!(["not", "an", "object"]),
    ];
    for body in bad {
        let reply = create(&app, &admin, body.clone()).await;
        assert_refused(&reply, 400, "invalid_request", &body.to_string());
    }
    let raw = app
        .send(
            app.client
                .post(app.url("/admin/clients"))
                .basic_auth(&admin.0, Some(&admin.1))
                .header("content-type", "application/json")
                .body("{not json"),
        )
        .await;
    assert_refused(&raw, 400, "invalid_request", "malformed");
    let target = made(&create(&app, &admin, json!({"name": "t"})).await);
    let path = format!("/admin/clients/{}", target.0);
    for body in [
        json!({"redirect_uris": ["https://a.example/cb"]}),
        json!({"kind": "public"}),
    ] {
        let reply = send(&app, "PATCH", &path, &admin, Some(body.clone())).await;
        assert_refused(&reply, 400, "invalid_request", &body.to_string());
    }
    assert_eq!(authd::clients::list(app.store()).await.unwrap().len(), 2);
}

async fn a_user_admin_holds_what_its_roles_grant(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.admin.roles = BTreeMap::from([
            ("clients".to_owned(), vec![CLIENTS.to_owned()]),
            ("support".to_owned(), vec![READ.to_owned()]),
        ]);
    })
    .await;
    let user = enrolled(&app).await;
    let id = app.user_id(&user.email).await;
    let changes = RoleChanges {
        add: vec!["clients".to_owned()],
        remove: vec![],
    };
    roles::change(app.services(), id, &changes, Actor::CLI)
        .await
        .unwrap()
        .unwrap();
    let token = stepped_up(&app, &user).await;
    let reply = post_bearer(
        &app,
        "/admin/clients",
        &token,
        &json!({"name": "by a user"}),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let made_id = reply.body["client_id"].as_str().unwrap().to_owned();
    let events = client_events(&app, &made_id).await;
    assert_eq!(events[0].kind, "client_created");
    assert_eq!(
        events[0].actor.as_deref(),
        Some(format!("admin:{id}").as_str())
    );
    // A permission no role of theirs grants.
    let reply = post_bearer(
        &app,
        "/admin/clients",
        &token,
        &json!({"name": "r", "scopes": READ}),
    )
    .await;
    assert_refused(&reply, 403, "insufficient_scope", "not granted");
    // With the role that grants it, it may.
    let changes = RoleChanges {
        add: vec!["support".to_owned()],
        remove: vec![],
    };
    roles::change(app.services(), id, &changes, Actor::CLI)
        .await
        .unwrap()
        .unwrap();
    let reply = post_bearer(
        &app,
        "/admin/clients",
        &token,
        &json!({"name": "r", "scopes": READ}),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let list = app.get_bearer("/admin/clients", &token).await;
    assert_eq!(list.status, 200, "{}", list.text);
    // A user without a role that grants the permission.
    let (_, plain) = app.user_with_tokens().await;
    let reply = app.get_bearer("/admin/clients", &plain.access).await;
    assert_refused(&reply, 403, "insufficient_scope", "no role");
}
