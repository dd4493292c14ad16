//! Erasing an account through the admin API (`DELETE /admin/users/{id}`), on
//! both stores: the write permission only; every session ends as a user
//! revocation the feed still lists after the erasure; the address,
//! factors, roles, app_metadata, links and mail of the user are gone; its
//! audit events keep a pseudonymous id and no address; `user_deleted` names
//! the admin; the address registers again; a second erasure is 404.

use authd::accounts::roles::{self, RoleChanges};
use authd::audit::Actor;
use authd::store::{AsDb, Db};
use serde_json::json;
use uuid::Uuid;

use super::{READ, WRITE, admin_get, admin_send};
use crate::helpers::{Backend, PASSWORD, TestApp, spawn_app};
use crate::on_both_stores;

on_both_stores!(an_erased_account_keeps_no_personal_data_and_stays_on_the_feed);

/// Rows of `table` whose `column` is `value`.
async fn rows(app: &TestApp, table: &str, column: &str, value: &str) -> i64 {
    let sql = format!("SELECT COUNT(*) FROM {table} WHERE CAST({column} AS TEXT) = $1");
    let mut conn = app.store().conn().await.unwrap();
    let sql = sqlx::AssertSqlSafe(sql);
    match conn.db() {
        Db::Postgres(c) => sqlx::query_scalar(sql).bind(value).fetch_one(c).await,
        Db::Sqlite(c) => sqlx::query_scalar(sql).bind(value).fetch_one(c).await,
    }
    .unwrap()
}

/// Rows of `table` of `user` (its `user_id`), on either store's encoding.
async fn rows_of(app: &TestApp, table: &str, user: Uuid) -> i64 {
    let sql = format!("SELECT COUNT(*) FROM {table} WHERE user_id = $1");
    let mut conn = app.store().conn().await.unwrap();
    let sql = sqlx::AssertSqlSafe(sql);
    match conn.db() {
        Db::Postgres(c) => sqlx::query_scalar(sql).bind(user).fetch_one(c).await,
        Db::Sqlite(c) => sqlx::query_scalar(sql).bind(user).fetch_one(c).await,
    }
    .unwrap()
}

async fn an_erased_account_keeps_no_personal_data_and_stays_on_the_feed(backend: Backend) {
    let app = spawn_app(backend).await;
    let (email, tokens) = app.user_with_tokens().await;
    let id = app.user_id(&email).await;
    let second = app.login_body(&email).await;
    // A second factor being enrolled.
    let now = app.now();
    let mut tx = app.store().begin().await.unwrap();
    let factor = authd::store::factors::TotpFactor {
        id: Uuid::new_v4(),
        user_id: id,
        sealed_key_id: 1,
        sealed_nonce: vec![0; 12],
        sealed_secret: vec![0; 32],
        created_at: now,
        confirmed_at: None,
        last_used_step: 0,
    };
    authd::store::factors::insert_pending_totp(&mut tx, &factor)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let changes = RoleChanges {
        add: vec!["billing".to_owned()],
        remove: vec![],
    };
    roles::change(app.services(), id, &changes, Actor::CLI)
        .await
        .unwrap()
        .unwrap();
    authd::accounts::app_metadata::set(app.services(), id, r#"{"plan":"pro"}"#, Actor::CLI)
        .await
        .unwrap()
        .unwrap();
    // A reset link and its message, live.
    let forgot = app
        .post_json("/auth/password/forgot", &json!({ "email": email }))
        .await;
    assert_eq!(forgot.status, 202);
    let link = app.wait_for_action(&email, "password_reset").await;
    assert!(rows_of(&app, "totp_factors", id).await > 0);
    assert!(rows_of(&app, "account_tokens", id).await > 0);
    assert!(rows_of(&app, "mail_outbox", id).await > 0);
    let events_before = app.audit_events(id).await.len();
    assert!(events_before > 0);

    let path = format!("/admin/users/{id}");
    let reader = app.create_client("support", READ).await;
    let refused = admin_send(&app, "DELETE", &path, &reader, None).await;
    assert_eq!(
        (refused.status, refused.error()),
        (403, "insufficient_scope")
    );
    assert!(app.access_works(&tokens.access).await, "nothing changed");

    let (writer_id, secret) = app.create_client("desk", WRITE).await;
    let writer = (writer_id.clone(), secret);
    let done = admin_send(&app, "DELETE", &path, &writer, None).await;
    assert_eq!(done.status, 204, "{}", done.text);

    // Every session ended; the refresh token is dead; the feed lists the sub.
    assert!(!app.access_works(&tokens.access).await);
    assert!(!app.access_works(&second.access).await);
    let refresh = app.refresh_body(&tokens.refresh).await;
    assert_eq!(refresh.status, 401, "{}", refresh.text);
    let feed_reader = app.create_client("verifier", "authd:revocations:sub").await;
    let feed = admin_get(&app, "/auth/revocations?version=2", &feed_reader).await;
    assert_eq!(feed.status, 200, "{}", feed.text);
    let listed = feed.body["users"].as_array().unwrap();
    assert!(
        listed.iter().any(|u| u["sub"] == id.to_string()),
        "{}",
        feed.text
    );

    // The personal data is gone.
    for table in [
        "totp_factors",
        "recovery_codes",
        "passkeys",
        "user_roles",
        "consents",
        "account_tokens",
        "mail_outbox",
        "audit_events",
    ] {
        assert_eq!(rows_of(&app, table, id).await, 0, "{table}");
    }
    assert_eq!(rows(&app, "users", "email", &email).await, 0);
    let mut conn = app.store().conn().await.unwrap();
    assert!(
        authd::store::users::app_metadata(&mut conn, id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        authd::store::users::find(&mut conn, id)
            .await
            .unwrap()
            .is_none()
    );
    drop(conn);
    let used = app
        .post_json(
            "/auth/password/reset",
            &json!({ "token": link.link_token(), "new_password": "a passphrase after erasure" }),
        )
        .await;
    assert_eq!(used.status, 400, "{}", used.text);
    let login = app.try_login(&email, PASSWORD).await;
    assert_eq!(login.status, 401, "{}", login.text);

    // The trail stays, under one pseudonym, with no address or user agent,
    // and the erasure names the admin.
    let deleted = rows(&app, "audit_events", "kind", "user_deleted").await;
    assert_eq!(deleted, 1);
    let actor = format!("admin:{writer_id}");
    assert_eq!(rows(&app, "audit_events", "actor", &actor).await, 1);
    let mut conn = app.store().conn().await.unwrap();
    const PSEUDONYM: &str = "SELECT user_id FROM audit_events WHERE kind = 'user_deleted'";
    let pseudonym: Uuid = match conn.db() {
        Db::Postgres(c) => sqlx::query_scalar(PSEUDONYM).fetch_one(c).await,
        Db::Sqlite(c) => sqlx::query_scalar(PSEUDONYM).fetch_one(c).await,
    }
    .unwrap();
    drop(conn);
    assert_ne!(pseudonym, id);
    let trail = app.audit_events(pseudonym).await;
    assert_eq!(trail.len(), events_before + 1);
    assert!(
        trail
            .iter()
            .all(|e| e.ip.is_none() && e.user_agent.is_none())
    );
    assert_eq!(
        rows(&app, "audit_events", "actor", &format!("user:{id}")).await,
        0
    );

    // Gone for the admin API; the address is free again.
    let again = admin_send(&app, "DELETE", &path, &writer, None).await;
    assert_eq!((again.status, again.error()), (404, "not_found"));
    let read = app.create_client("reader", READ).await;
    let shown = admin_get(&app, &path, &read).await;
    assert_eq!(shown.status, 404, "{}", shown.text);
    let listed = admin_get(&app, "/admin/users?count=exact", &read).await;
    assert!(!listed.text.contains(&id.to_string()), "{}", listed.text);
    let registered = app.register(&email).await;
    assert_eq!(registered.status, 201, "{}", registered.text);
    assert_ne!(app.user_id(&email).await, id);
}
