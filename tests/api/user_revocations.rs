//! Cheap mass revocation: a revocation of every session of a user (global
//! logout, refresh-token reuse) is one user entry in version 2 of the
//! revocation feed, however many sessions it ends; version 1 still lists
//! each session, for verifiers that do not know user entries; and
//! `authd-verify` refuses exactly the tokens of the sessions that ended.

use std::collections::HashSet;
use std::time::Duration;

use authd_verify::{Verifier, VerifyError};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, jwt_claims, spawn_app, spawn_app_with};
use crate::on_both_stores;

on_both_stores!(
    a_global_logout_of_thousands_of_sessions_is_one_user_entry_in_feed_version_2,
    feed_version_1_still_lists_every_session_a_user_revocation_ends,
    a_local_verifier_refuses_every_ended_session_by_one_user_entry_and_no_later_one,
    reuse_detection_is_a_user_entry_too,
);

async fn feed(app: &TestApp, query: &str, client: &(String, String)) -> Value {
    let reply = app
        .send(
            app.client
                .get(app.url(&format!("/auth/revocations{query}")))
                .basic_auth(&client.0, Some(&client.1)),
        )
        .await;
    assert_eq!(reply.status, 200, "{query}: {}", reply.text);
    reply.body
}

/// Every entry of a feed version from its start, following `more`.
async fn read_all(
    app: &TestApp,
    version: &str,
    client: &(String, String),
) -> (Vec<Value>, Vec<Value>) {
    let (mut sessions, mut users) = (Vec::new(), Vec::new());
    let mut query = format!("?version={version}");
    for _ in 0..20 {
        let page = feed(app, &query, client).await;
        sessions.extend(page["revocations"].as_array().unwrap().iter().cloned());
        if let Some(list) = page.get("users") {
            users.extend(list.as_array().unwrap().iter().cloned());
        }
        if page["more"] == false {
            return (sessions, users);
        }
        let cursor = page["cursor"].as_str().unwrap();
        query = format!(
            "?version={version}&since={}",
            crate::helpers::urlencode(cursor)
        );
    }
    panic!("the feed keeps saying more");
}

/// `n` more sessions of `user`, inserted directly (the cap applies to logins).
async fn insert_sessions(app: &TestApp, user: uuid::Uuid, n: usize) {
    let mut tx = app.store().begin().await.unwrap();
    for _ in 0..n {
        let session = app
            .services()
            .policy
            .new_session(user, app.now(), None, None);
        authd::store::sessions::insert(&mut tx, &session)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
}

async fn logout_everywhere(app: &TestApp, access: &str) {
    let reply = app
        .send(
            app.client
                .post(app.url("/auth/logout?scope=global"))
                .bearer_auth(access),
        )
        .await;
    assert_eq!(reply.status, 204, "{}", reply.text);
}

fn sha256_hex(text: &str) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

async fn a_global_logout_of_thousands_of_sessions_is_one_user_entry_in_feed_version_2(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let client = app.create_client("orders", "authd:revocations").await;
    let (email, tokens) = app.user_with_tokens().await;
    let user = app.user_id(&email).await;
    insert_sessions(&app, user, 2_999).await;
    // Another user's single logout stays a session entry.
    let (_, other) = app.user_with_tokens().await;
    let reply = app
        .post_json("/auth/logout", &json!({ "refresh_token": other.refresh }))
        .await;
    assert_eq!(reply.status, 204);

    logout_everywhere(&app, &tokens.access).await;
    let revoked_at = app.now().timestamp();
    let (sessions, users) = read_all(&app, "2", &client).await;
    let sids: Vec<&str> = sessions
        .iter()
        .map(|e| e["sid"].as_str().unwrap())
        .collect();
    assert_eq!(sids, [jwt_claims(&other.access)["sid"].as_str().unwrap()]);
    assert_eq!(users.len(), 1, "{users:?}");
    let entry = &users[0];
    let auth_time = jwt_claims(&tokens.access)["auth_time"].as_i64().unwrap();
    assert_eq!(entry["sub_sha256"], sha256_hex(&user.to_string()));
    assert_eq!(entry["started_before"], auth_time + 1);
    assert_eq!(entry["revoked_at"], revoked_at);
    assert_eq!(entry["until"], revoked_at + 900 + 60);
    // Without `authd:revocations:sub`, no user id anywhere in the feed.
    assert!(entry.get("sub").is_none(), "{entry}");
    assert!(sessions[0].get("sub").is_none(), "{}", sessions[0]);
    // Every session of the user did end.
    assert!(
        authd::sessions::list_live(app.services(), user)
            .await
            .unwrap()
            .is_empty()
    );

    // The entry lives as long as a session entry would, then is forgotten.
    app.advance(900 + 60 - 1);
    assert_eq!(read_all(&app, "2", &client).await.1.len(), 1);
    app.advance(2);
    assert_eq!(read_all(&app, "2", &client).await.1.len(), 0);
    // It is purged after as long again; the sessions on their own schedule.
    let purge = || authd::cleanup::purge_once(app.services());
    assert_eq!(purge().await.unwrap().user_revocations, 0);
    app.advance(900 + 60);
    assert_eq!(purge().await.unwrap().user_revocations, 1);
}

async fn feed_version_1_still_lists_every_session_a_user_revocation_ends(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = app.create_client("legacy", "authd:revocations:sub").await;
    let (email, tokens) = app.user_with_tokens().await;
    let user = app.user_id(&email).await;
    insert_sessions(&app, user, 1_499).await;
    logout_everywhere(&app, &tokens.access).await;
    // No `version`, as verifiers before user entries ask: every session, and
    // no `users` field they would not read.
    let (sessions, users) = read_all(&app, "1", &client).await;
    assert!(users.is_empty());
    let first = feed(&app, "", &client).await;
    assert!(first.get("users").is_none(), "{first}");
    let sids: HashSet<&str> = sessions
        .iter()
        .map(|e| e["sid"].as_str().unwrap())
        .collect();
    assert_eq!(sids.len(), 1_500);
    assert!(sids.contains(jwt_claims(&tokens.access)["sid"].as_str().unwrap()));
    // With `authd:revocations:sub`, entries carry the user id.
    assert!(sessions.iter().all(|e| e["sub"] == user.to_string()));
    let (_, users) = read_all(&app, "2", &client).await;
    assert_eq!(users[0]["sub"], user.to_string());
    // Unknown versions are refused.
    for query in ["?version=3", "?version=0", "?version=two"] {
        let reply = app
            .send(
                app.client
                    .get(app.url(&format!("/auth/revocations{query}")))
                    .basic_auth(&client.0, Some(&client.1)),
            )
            .await;
        assert_eq!(
            (reply.status, reply.error()),
            (400, "invalid_request"),
            "{query}"
        );
    }
}

async fn verifier(app: &TestApp, client: &(String, String)) -> Verifier {
    // The test server's issuer, `http://authd.test`, is not loopback; the
    // URLs fetched are.
    Verifier::builder("http://authd.test")
        .allow_insecure_http()
        .jwks_url(app.url("/.well-known/jwks.json"))
        .revocation(client.0.clone(), client.1.clone())
        .revocation_feed_url(app.url("/auth/revocations"))
        .revocation_poll_interval(Duration::from_millis(100))
        .build()
        .await
        .expect("the verifier starts against authd")
}

/// Waits for two complete feed polls that started after now: the second saw
/// everything committed before it.
async fn two_polls(verifier: &Verifier) {
    let since = std::time::SystemTime::now();
    let mut seen = verifier.last_revocation_poll();
    let mut polls = 0;
    for _ in 0..1_500 {
        let last = verifier.last_revocation_poll();
        if last != seen && last.is_some_and(|p| p > since) {
            polls += 1;
            seen = last;
            if polls == 2 {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no two feed polls");
}

async fn a_local_verifier_refuses_every_ended_session_by_one_user_entry_and_no_later_one(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let client = app.create_client("orders", "authd:revocations").await;
    let verifier = verifier(&app, &client).await;
    let (email, first) = app.user_with_tokens().await;
    let user = app.user_id(&email).await;
    app.advance(5);
    let second = app.login_body(&email).await;
    insert_sessions(&app, user, 500).await;
    let (_, bystander) = app.user_with_tokens().await;
    for token in [&first.access, &second.access, &bystander.access] {
        assert!(verifier.verify(token).await.is_ok());
    }

    logout_everywhere(&app, &second.access).await;
    // A token of an ended session signed after the revocation (a refresh
    // that raced it): its `iat` is later, its session's start is not. (The
    // clock stands still: the logins below are in the revocation's second.)
    let old = authd::store::sessions::find(
        &mut app.store().conn().await.unwrap(),
        jwt_claims(&first.access)["sid"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap(),
    )
    .await
    .unwrap()
    .unwrap();
    let late = app
        .services()
        .access
        .issue(
            user,
            old.id,
            old.created_at,
            old.auth_methods.amr(),
            serde_json::Map::new(),
            app.now() + chrono::Duration::seconds(3),
        )
        .unwrap()
        .token;
    two_polls(&verifier).await;
    for token in [&first.access, &second.access, &late] {
        assert_eq!(verifier.verify(token).await, Err(VerifyError::Revoked));
    }
    // One entry, not 502; other users untouched.
    assert_eq!(
        (verifier.revoked_users(), verifier.revoked_sessions()),
        (1, 0)
    );
    assert!(verifier.verify(&bystander.access).await.is_ok());

    // Logging in again at once, in the very second of the revocation (the
    // clock stands still): the new session is not covered.
    let again = app.login_body(&email).await;
    two_polls(&verifier).await;
    assert!(verifier.verify(&again.access).await.is_ok());
    assert!(app.access_works(&again.access).await);

    // And a second global logout in that same second covers it, though it
    // started "after" the clock of the revocation.
    logout_everywhere(&app, &again.access).await;
    two_polls(&verifier).await;
    assert_eq!(
        verifier.verify(&again.access).await,
        Err(VerifyError::Revoked)
    );
    assert_eq!(verifier.revoked_users(), 1, "one entry per user");
    let after = app.login_body(&email).await;
    two_polls(&verifier).await;
    assert!(verifier.verify(&after.access).await.is_ok());
}

async fn reuse_detection_is_a_user_entry_too(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.refresh.reuse_interval_secs = 0).await;
    let client = app.create_client("orders", "authd:revocations").await;
    let (email, tokens) = app.user_with_tokens().await;
    let other = app.login_body(&email).await;
    assert_eq!(app.refresh_body(&tokens.refresh).await.status, 200);
    assert_eq!(app.refresh_body(&tokens.refresh).await.status, 401);
    assert!(!app.access_works(&other.access).await);
    let (sessions, users) = read_all(&app, "2", &client).await;
    assert!(sessions.is_empty(), "{sessions:?}");
    assert_eq!(users.len(), 1);
    let user = app.user_id(&email).await;
    assert_eq!(users[0]["sub_sha256"], sha256_hex(&user.to_string()));
    let (sessions, _) = read_all(&app, "1", &client).await;
    assert_eq!(sessions.len(), 2);
}
