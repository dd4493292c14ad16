//! The admin API (`/admin/...`), on both stores: who may call it (a
//! registered client holding the endpoint's `authd:admin:*` permission, by
//! HTTP Basic; a user by a role, in `admin/users_as_admins.rs`), the per-client limit,
//! one user, its live sessions and audit events by pages, and ending a user's sessions with
//! its audit event and feed entry. The user list's pages and filters are in `admin/list.rs`;
//! disabling in `admin/status.rs`; creating in `admin/create.rs`; the address and
//! app_metadata in `admin/update.rs`; roles and the rule against escalation in
//! `admin/roles_http.rs`; erasure in `admin/delete.rs`; lockout, reset and factors in
//! `admin/credentials.rs`; the management of clients in `admin/clients.rs`.

mod clients;
mod clients_cli;
mod create;
mod credentials;
mod delete;
mod list;
mod roles_http;
mod status;
mod update;
mod users_as_admins;

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use crate::helpers::{Backend, Reply, TestApp, spawn_app, spawn_app_with};
use crate::on_both_stores;

on_both_stores!(
    a_caller_without_credentials_or_the_permission_is_refused,
    a_users_token_is_refused_even_a_live_one,
    the_read_permission_cannot_write_nor_the_write_permission_read,
    one_user_shows_its_factors_and_live_sessions,
    ending_a_users_sessions_ends_them_at_once_feeds_them_and_audits_the_admin,
    admin_requests_are_limited_per_client,
    a_users_live_sessions_are_listed_by_pages,
    a_users_audit_events_are_listed_by_pages,
);

pub const READ: &str = "authd:admin:users:read";
pub const WRITE: &str = "authd:admin:users:write";

/// A request to the admin API as the client `(id, secret)`.
pub async fn admin_get(app: &TestApp, path: &str, client: &(String, String)) -> Reply {
    app.send(
        app.client
            .get(app.url(path))
            .basic_auth(&client.0, Some(&client.1)),
    )
    .await
}

pub async fn admin_post(app: &TestApp, path: &str, client: &(String, String)) -> Reply {
    app.send(
        app.client
            .post(app.url(path))
            .basic_auth(&client.0, Some(&client.1)),
    )
    .await
}

/// A request to the admin API as the client `(id, secret)`, with a JSON
/// body if any.
pub async fn admin_send(
    app: &TestApp,
    method: &str,
    path: &str,
    client: &(String, String),
    body: Option<&Value>,
) -> Reply {
    let method: reqwest::Method = method.parse().expect("a method");
    let mut request = app
        .client
        .request(method, app.url(path))
        .basic_auth(&client.0, Some(&client.1));
    if let Some(body) = body {
        request = request.json(body);
    }
    app.send(request).await
}

/// A user stored directly (no password hashing, no throttle), created at `at`.
pub async fn seed_user(app: &TestApp, email: &str, at: DateTime<Utc>) -> Uuid {
    let id = Uuid::new_v4();
    let mut tx = app.store().begin().await.unwrap();
    authd::store::users::insert(
        &mut tx,
        authd::store::users::NewUser {
            id,
            email,
            password_hash: "not-a-hash",
            now: at,
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    id
}

fn assert_refused(reply: &Reply, status: u16, error: &str, what: &str) {
    assert_eq!(
        (reply.status, reply.error()),
        (status, error),
        "{what}: {}",
        reply.text
    );
    assert!(reply.body.get("users").is_none(), "{what}: {}", reply.text);
    assert!(reply.body.get("email").is_none(), "{what}: {}", reply.text);
}

async fn a_caller_without_credentials_or_the_permission_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = seed_user(&app, "target@example.com", app.now()).await;
    let paths = ["/admin/users".to_owned(), format!("/admin/users/{user}")];
    for path in &paths {
        let reply = app.get(path).await;
        assert_refused(&reply, 401, "invalid_client", &format!("{path} anonymous"));
        assert!(
            reply
                .header("www-authenticate")
                .is_some_and(|h| h.starts_with("Basic")),
            "{:?}",
            reply.header("www-authenticate")
        );
        let (id, _) = app.create_client("wrong secret", READ).await;
        let wrong = (id, "not-the-secret".to_owned());
        let reply = admin_get(&app, path, &wrong).await;
        assert_refused(
            &reply,
            401,
            "invalid_client",
            &format!("{path} wrong secret"),
        );
        for scopes in [
            "",
            "orders:read",
            "authd:introspect authd:revocations authd:revocations:sub",
            "authd:admin:clients",
            WRITE,
        ] {
            let client = app.create_client("no read", scopes).await;
            let reply = admin_get(&app, path, &client).await;
            assert_refused(
                &reply,
                403,
                "insufficient_scope",
                &format!("{path} {scopes:?}"),
            );
        }
        let reader = app.create_client("reader", READ).await;
        let reply = admin_get(&app, path, &reader).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.text);
    }
    let revoke = format!("/admin/users/{user}/sessions/revoke");
    let reply = app.send(app.client.post(app.url(&revoke))).await;
    assert_refused(&reply, 401, "invalid_client", "revoke anonymous");
}

async fn a_users_token_is_refused_even_a_live_one(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, tokens) = app.user_with_tokens().await;
    let me = app.get_bearer("/auth/me", &tokens.access).await;
    assert_eq!(me.status, 200, "{}", me.text);
    let id = me.body["id"].as_str().unwrap().to_owned();
    for path in ["/admin/users".to_owned(), format!("/admin/users/{id}")] {
        let reply = app.get_bearer(&path, &tokens.access).await;
        assert_refused(&reply, 403, "insufficient_scope", &path);
        let reply = app.get_bearer(&path, "not.a.token").await;
        assert_refused(&reply, 401, "invalid_token", &path);
    }
    // A machine client's own token is no way in either: it is not a user's,
    // and permissions are never in tokens.
    let (cid, secret) = app
        .create_client("with a token", &format!("orders:read {READ}"))
        .await;
    let reply = app
        .post_form(
            "/oauth/token",
            &[("grant_type", "client_credentials")],
            Some((&cid, &secret)),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let token = reply.body["access_token"].as_str().unwrap().to_owned();
    let reply = app.get_bearer("/admin/users", &token).await;
    assert_refused(&reply, 401, "invalid_token", "client credentials token");
    let reply = app
        .send(
            app.client
                .post(app.url(&format!("/admin/users/{id}/sessions/revoke")))
                .bearer_auth(&tokens.access),
        )
        .await;
    assert_refused(
        &reply,
        403,
        "insufficient_scope",
        "revoke with a user's token",
    );
    assert!(app.access_works(&tokens.access).await);
}

async fn the_read_permission_cannot_write_nor_the_write_permission_read(backend: Backend) {
    let app = spawn_app(backend).await;
    let (email, tokens) = app.user_with_tokens().await;
    let user = app.user_id(&email).await;
    let reader = app.create_client("reader", READ).await;
    let writer = app.create_client("writer", WRITE).await;
    let revoke = format!("/admin/users/{user}/sessions/revoke");
    let reply = admin_post(&app, &revoke, &reader).await;
    assert_refused(&reply, 403, "insufficient_scope", "reader revokes");
    assert!(
        reply.text.contains(WRITE),
        "the refusal names the permission: {}",
        reply.text
    );
    assert!(app.access_works(&tokens.access).await, "nothing ended");
    assert!(
        !app.audit_kinds(user)
            .await
            .contains(&"sessions_revoked_by_admin".to_owned())
    );
    let reply = admin_get(&app, &format!("/admin/users/{user}"), &writer).await;
    assert_refused(&reply, 403, "insufficient_scope", "writer reads");
    let reply = admin_post(&app, &revoke, &writer).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
}

async fn one_user_shows_its_factors_and_live_sessions(backend: Backend) {
    let app = spawn_app(backend).await;
    let (email, _tokens) = app.user_with_tokens().await;
    app.login_body(&email).await;
    let user = app.user_id(&email).await;
    let reader = app.create_client("reader", READ).await;
    let reply = admin_get(&app, &format!("/admin/users/{user}"), &reader).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let body: &Value = &reply.body;
    assert_eq!(body["id"], user.to_string());
    assert_eq!(body["email"], email);
    assert_eq!(body["email_verified"], false);
    assert_eq!(body["has_second_factor"], false);
    assert_eq!(body["factors"]["totp"], false);
    assert_eq!(body["factors"]["passkeys"], 0);
    assert_eq!(body["live_sessions"], 2);
    assert!(body.get("password_hash").is_none(), "{}", reply.text);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    for missing in [Uuid::new_v4().to_string(), "not-a-uuid".to_owned()] {
        let reply = admin_get(&app, &format!("/admin/users/{missing}"), &reader).await;
        assert_eq!(
            (reply.status, reply.error()),
            (404, "not_found"),
            "{}",
            reply.text
        );
    }
}

async fn ending_a_users_sessions_ends_them_at_once_feeds_them_and_audits_the_admin(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let (email, first) = app.user_with_tokens().await;
    let second = app.login_body(&email).await;
    let user = app.user_id(&email).await;
    let (writer_id, writer_secret) = app.create_client("support desk", WRITE).await;
    let writer = (writer_id.clone(), writer_secret);
    let reply = admin_post(
        &app,
        &format!("/admin/users/{user}/sessions/revoke"),
        &writer,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["ended"], 2);
    // authd's own Bearer routes refuse them at once; refresh tokens are dead.
    assert!(!app.access_works(&first.access).await);
    assert!(!app.access_works(&second.access).await);
    let refresh = app.refresh_body(&second.refresh).await;
    assert_eq!(refresh.status, 401, "{}", refresh.text);
    // One user entry on the revocation feed covers them.
    let feed_reader = app.create_client("verifier", "authd:revocations:sub").await;
    let feed = admin_get(&app, "/auth/revocations?version=2", &feed_reader).await;
    assert_eq!(feed.status, 200, "{}", feed.text);
    let users = feed.body["users"].as_array().unwrap();
    assert!(
        users.iter().any(|u| u["sub"] == user.to_string()),
        "{}",
        feed.text
    );
    // The audit event names the admin and the target.
    let events = app.audit_events(user).await;
    let event = events
        .iter()
        .find(|e| e.kind == "sessions_revoked_by_admin")
        .expect("the admin's act is audited");
    assert_eq!(
        event.actor.as_deref(),
        Some(format!("admin:{writer_id}").as_str())
    );
    assert_eq!(event.detail.as_deref(), Some("2"));
    // Again: nothing left to end, still audited; an unknown user is 404.
    let reply = admin_post(
        &app,
        &format!("/admin/users/{user}/sessions/revoke"),
        &writer,
    )
    .await;
    assert_eq!((reply.status, &reply.body["ended"]), (200, &Value::from(0)));
    let reply = admin_post(
        &app,
        &format!("/admin/users/{}/sessions/revoke", Uuid::new_v4()),
        &writer,
    )
    .await;
    assert_eq!(
        (reply.status, reply.error()),
        (404, "not_found"),
        "{}",
        reply.text
    );
}

async fn admin_requests_are_limited_per_client(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.limits.admin_per_client = 3;
        s.limits.admin_window_secs = 60;
    })
    .await;
    let first = app.create_client("first", READ).await;
    let second = app.create_client("second", READ).await;
    for _ in 0..3 {
        let reply = admin_get(&app, "/admin/users", &first).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
    }
    let reply = admin_get(&app, "/admin/users", &first).await;
    assert_eq!(
        (reply.status, reply.error()),
        (429, "too_many_requests"),
        "{}",
        reply.text
    );
    assert!(reply.body.get("users").is_none());
    let retry: i64 = reply.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    // Per client: another client is not affected, whatever the address.
    let reply = admin_get(&app, "/admin/users", &second).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    // Wrong credentials are not counted against the client they name.
    let wrong = (second.0.clone(), "nope".to_owned());
    for _ in 0..5 {
        let reply = admin_get(&app, "/admin/users", &wrong).await;
        assert_eq!(reply.status, 401, "{}", reply.text);
    }
    let reply = admin_get(&app, "/admin/users", &second).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    // The window ends.
    app.advance(61);
    let reply = admin_get(&app, "/admin/users", &first).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
}

async fn a_users_live_sessions_are_listed_by_pages(backend: Backend) {
    let app = spawn_app(backend).await;
    let (email, first) = app.user_with_tokens().await;
    app.login_body(&email).await;
    app.login_body(&email).await;
    let user = app.user_id(&email).await;
    let reader = app.create_client("reader", READ).await;
    let path = format!("/admin/users/{user}/sessions");
    let page = admin_get(&app, &format!("{path}?limit=2"), &reader).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert_eq!(page.body["has_more"], true);
    let cursor = page.body["next_cursor"].as_str().unwrap().to_owned();
    let rest = admin_get(&app, &format!("{path}?limit=2&cursor={cursor}"), &reader).await;
    assert_eq!(rest.status, 200, "{}", rest.text);
    assert_eq!(
        (&rest.body["has_more"], &rest.body["next_cursor"]),
        (&Value::Bool(false), &Value::Null)
    );
    let ids: std::collections::HashSet<String> = [&page, &rest]
        .iter()
        .flat_map(|r| r.body["sessions"].as_array().unwrap().clone())
        .map(|s| {
            assert_eq!(s["kind"], "refresh");
            s["id"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 3, "every session once");
    let sid = crate::helpers::jwt_claims(&first.access)["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(ids.contains(&sid));
    for query in ["limit=101", "limit=0", "cursor=nope"] {
        let reply = admin_get(&app, &format!("{path}?{query}"), &reader).await;
        assert_eq!(
            (reply.status, reply.error()),
            (400, "invalid_request"),
            "{query}: {}",
            reply.text
        );
    }
    let reply = admin_get(
        &app,
        &format!("/admin/users/{}/sessions", Uuid::new_v4()),
        &reader,
    )
    .await;
    assert_eq!(
        (reply.status, reply.error()),
        (404, "not_found"),
        "{}",
        reply.text
    );
    let writer = app.create_client("writer", WRITE).await;
    let reply = admin_get(&app, &path, &writer).await;
    assert_refused(&reply, 403, "insufficient_scope", "writer lists sessions");
    assert!(reply.body.get("sessions").is_none());
}

async fn a_users_audit_events_are_listed_by_pages(backend: Backend) {
    let app = spawn_app(backend).await;
    let (email, _) = app.user_with_tokens().await;
    app.login_body(&email).await;
    let _ = app.try_login(&email, "wrong password").await;
    let user = app.user_id(&email).await;
    let expected = app.audit_kinds(user).await;
    assert!(expected.len() >= 4, "{expected:?}");
    let reader = app.create_client("reader", READ).await;
    let path = format!("/admin/users/{user}/audit");
    let mut kinds = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = match &cursor {
            Some(c) => format!("{path}?limit=1&cursor={c}"),
            None => format!("{path}?limit=1"),
        };
        let page = admin_get(&app, &query, &reader).await;
        assert_eq!(page.status, 200, "{}", page.text);
        let events = page.body["events"].as_array().unwrap();
        assert_eq!(events.len(), 1, "{}", page.text);
        kinds.push(events[0]["kind"].as_str().unwrap().to_owned());
        match page.body["next_cursor"].as_str() {
            Some(next) => {
                assert_eq!(page.body["has_more"], true);
                cursor = Some(next.to_owned());
            }
            None => {
                assert_eq!(page.body["has_more"], false);
                break;
            }
        }
    }
    assert_eq!(kinds, expected, "every event once, newest first");
    for query in ["limit=201", "limit=0", "cursor=1.x"] {
        let reply = admin_get(&app, &format!("{path}?{query}"), &reader).await;
        assert_eq!(
            (reply.status, reply.error()),
            (400, "invalid_request"),
            "{query}: {}",
            reply.text
        );
    }
    let writer = app.create_client("writer", WRITE).await;
    let reply = admin_get(&app, &path, &writer).await;
    assert_refused(&reply, 403, "insufficient_scope", "writer reads the audit");
    assert!(reply.body.get("events").is_none());
}
