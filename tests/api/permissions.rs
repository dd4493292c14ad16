//! What a registered client may do: the `authd:*` permissions in its scopes
//! open introspection and the revocation feed (with or without user ids),
//! each refusal is 403 `insufficient_scope`, permissions are never put into
//! access tokens, and clients registered before permissions keep today's.

use std::borrow::Cow;

use serde_json::json;

use crate::helpers::{Backend, TestApp, jwt_claims, spawn_app, test_database};
use crate::on_both_stores;

on_both_stores!(
    introspection_needs_authd_introspect,
    the_revocation_feed_needs_authd_revocations_and_user_ids_need_authd_revocations_sub,
    permissions_are_never_granted_in_client_credentials_tokens,
    clients_registered_before_permissions_keep_the_rights_they_had,
);

fn assert_insufficient_scope(reply: &crate::helpers::Reply, what: &str) {
    assert_eq!(
        (reply.status, reply.error()),
        (403, "insufficient_scope"),
        "{what}: {}",
        reply.text
    );
    assert!(reply.body.get("active").is_none(), "{what}: {}", reply.text);
    assert!(
        reply.body.get("revocations").is_none(),
        "{what}: {}",
        reply.text
    );
}

async fn feed(app: &TestApp, query: &str, client: &(String, String)) -> crate::helpers::Reply {
    app.send(
        app.client
            .get(app.url(&format!("/auth/revocations{query}")))
            .basic_auth(&client.0, Some(&client.1)),
    )
    .await
}

async fn introspection_needs_authd_introspect(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, tokens) = app.user_with_tokens().await;
    for scopes in ["", "orders:read", "authd:revocations authd:revocations:sub"] {
        let (id, secret) = app.create_client("no introspection", scopes).await;
        let client = Some((id.as_str(), secret.as_str()));
        for form in [vec![("token", tokens.access.as_str())], vec![]] {
            let reply = app.post_form("/oauth/introspect", &form, client).await;
            assert_insufficient_scope(&reply, &format!("{scopes:?} {form:?}"));
        }
    }
    let (id, secret) = app.create_client("gateway", "authd:introspect").await;
    let reply = app
        .post_form(
            "/oauth/introspect",
            &[("token", &tokens.access)],
            Some((&id, &secret)),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["active"], true);
}

async fn the_revocation_feed_needs_authd_revocations_and_user_ids_need_authd_revocations_sub(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let (email, tokens) = app.user_with_tokens().await;
    let user = app.user_id(&email).await.to_string();
    let single = app.login_body(&email).await;
    let reply = app
        .post_json("/auth/logout", &json!({ "refresh_token": single.refresh }))
        .await;
    assert_eq!(reply.status, 204);
    let reply = app
        .send(
            app.client
                .post(app.url("/auth/logout?scope=global"))
                .bearer_auth(&tokens.access),
        )
        .await;
    assert_eq!(reply.status, 204);

    for scopes in ["", "orders:read", "authd:introspect"] {
        let client = app.create_client("no feed", scopes).await;
        for query in ["", "?version=2", "?since=nonsense"] {
            assert_insufficient_scope(
                &feed(&app, query, &client).await,
                &format!("{scopes:?} {query}"),
            );
        }
    }

    // `authd:revocations`: every entry, keyed by sid or by the hash of the
    // user id, and no user id.
    let plain = app.create_client("verifier", "authd:revocations").await;
    for query in ["", "?version=2"] {
        let reply = feed(&app, query, &plain).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert!(!reply.text.contains(&user), "{query}: {}", reply.text);
        assert!(!reply.body["revocations"].as_array().unwrap().is_empty());
    }
    let v2 = feed(&app, "?version=2", &plain).await;
    assert_eq!(v2.body["users"].as_array().unwrap().len(), 1, "{}", v2.text);
    assert!(v2.body["users"][0]["sub_sha256"].is_string());

    // `authd:revocations:sub` alone opens the feed too, with the user ids.
    let with_sub = app.create_client("cache", "authd:revocations:sub").await;
    let v1 = feed(&app, "", &with_sub).await;
    assert_eq!(v1.status, 200, "{}", v1.text);
    let entries = v1.body["revocations"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert!(
        entries.iter().all(|e| e["sub"] == user.as_str()),
        "{}",
        v1.text
    );
    let v2 = feed(&app, "?version=2", &with_sub).await;
    assert_eq!(v2.body["users"][0]["sub"], user.as_str());
    assert_eq!(v2.body["revocations"][0]["sub"], user.as_str());
}

async fn permissions_are_never_granted_in_client_credentials_tokens(backend: Backend) {
    let app = spawn_app(backend).await;
    let (id, secret) = app
        .create_client(
            "billing",
            "orders:read authd:introspect authd:revocations authd:revocations:sub",
        )
        .await;
    let client = Some((id.as_str(), secret.as_str()));
    let app = &app;
    let grant = |scope: Option<&'static str>| async move {
        let mut form = vec![("grant_type", "client_credentials")];
        if let Some(scope) = scope {
            form.push(("scope", scope));
        }
        app.post_form("/oauth/token", &form, client).await
    };
    let all = grant(None).await;
    assert_eq!(all.status, 200, "{}", all.text);
    assert_eq!(all.body["scope"], "orders:read");
    assert_eq!(jwt_claims(&all.access_token())["scope"], "orders:read");
    for asked in [
        "authd:introspect",
        "authd:revocations",
        "orders:read authd:revocations:sub",
    ] {
        let reply = grant(Some(asked)).await;
        assert_eq!(
            (reply.status, reply.error()),
            (400, "invalid_scope"),
            "{asked}: {}",
            reply.text
        );
    }
    // A client holding only permissions gets no token at all.
    let (feed_id, feed_secret) = app
        .create_client("feed", "authd:revocations authd:introspect")
        .await;
    let reply = app
        .post_form(
            "/oauth/token",
            &[("grant_type", "client_credentials")],
            Some((&feed_id, &feed_secret)),
        )
        .await;
    assert_eq!((reply.status, reply.error()), (400, "unauthorized_client"));
    // A misspelt permission is refused when the client is registered.
    let error = authd::clients::create(app.store(), "typo", "authd:introspection", app.now())
        .await
        .unwrap_err();
    assert!(error.to_string().contains("authd:introspection"), "{error}");
}

async fn clients_registered_before_permissions_keep_the_rights_they_had(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let database = test_database(backend, dir.path()).await;
    // The schema as it was before permissions: every migration but that one.
    const PERMISSIONS: i64 = 20261201000003;
    let folder = match backend {
        Backend::Sqlite => "migrations/sqlite",
        Backend::Postgres => "migrations/postgres",
    };
    let mut before = sqlx::migrate::Migrator::new(std::path::Path::new(folder))
        .await
        .unwrap();
    assert!(before.iter().any(|m| m.version == PERMISSIONS));
    before.migrations = Cow::Owned(
        before
            .iter()
            .filter(|m| m.version < PERMISSIONS)
            .cloned()
            .collect(),
    );
    let now = chrono::Utc::now();
    let legacy = [
        authd::clients::generate("feed reader", "", now).unwrap(),
        authd::clients::generate("billing", "orders:read", now).unwrap(),
    ];
    const INSERT: &str = "INSERT INTO oauth_clients (id, name, secret_hash, scopes, created_at) \
         VALUES ($1, $2, $3, $4, $5)";
    match backend {
        Backend::Sqlite => {
            let options = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(dir.path().join("authd.db"))
                .create_if_missing(true);
            let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
            before.run(&pool).await.unwrap();
            for (c, _) in &legacy {
                sqlx::query(INSERT)
                    .bind(&c.id)
                    .bind(&c.name)
                    .bind(&c.secret_hash)
                    .bind(&c.scopes)
                    .bind(c.created_at)
                    .execute(&pool)
                    .await
                    .unwrap();
            }
            pool.close().await;
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(&database.url).await.unwrap();
            before.run(&pool).await.unwrap();
            for (c, _) in &legacy {
                sqlx::query(INSERT)
                    .bind(&c.id)
                    .bind(&c.name)
                    .bind(&c.secret_hash)
                    .bind(&c.scopes)
                    .bind(c.created_at)
                    .execute(&pool)
                    .await
                    .unwrap();
            }
            pool.close().await;
        }
    }

    // Connecting applies the rest, the permissions migration among them.
    let settings = authd::config::DatabaseSettings {
        url: database.url.clone().into(),
        max_connections: 1,
        acquire_timeout_ms: 2000,
        cleanup_interval_secs: 3600,
        audit_retention_days: 90,
    };
    let store = authd::store::Store::connect(&settings).await.unwrap();
    use authd::clients::Permission;
    use secrecy::ExposeSecret;
    for (c, secret) in &legacy {
        let migrated = authd::clients::authenticate(&store, &c.id, secret.expose_secret())
            .await
            .unwrap()
            .expect("the client and its secret survive");
        // It became a machine client, by Basic or form as before.
        assert_eq!(migrated.kind, authd::clients::ClientKind::Machine);
        assert!(migrated.may_use_client_credentials());
        assert!(migrated.redirect_uris.is_empty() && migrated.require_pkce);
        assert!(
            authd::clients::authenticate_client(
                &store,
                &c.id,
                authd::clients::Presented::Post(secret.expose_secret()),
            )
            .await
            .unwrap()
            .is_ok()
        );
        for permission in [
            Permission::Introspect,
            Permission::Revocations,
            Permission::RevocationsSub,
        ] {
            assert!(migrated.may(permission), "{}: {permission}", c.name);
        }
        // Its own scopes stay what they were, and still all it is granted.
        assert_eq!(
            authd::clients::granted_scope(&migrated, None).unwrap(),
            (!c.scopes.is_empty()).then(|| c.scopes.clone()),
        );
    }
    // Clients registered from now on have only what they are given.
    let (fresh, _) = authd::clients::create(&store, "new", "orders:read", now)
        .await
        .unwrap();
    assert!(!fresh.may(Permission::Introspect) && !fresh.may(Permission::Revocations));
}
