//! Register, login, logout, me, and the session list, in both delivery modes.

mod bearer_routes;

use std::collections::BTreeSet;

use authd::http::ROUTES;
use serde_json::json;

use crate::helpers::{Backend, PASSWORD, TestApp, jwt_claims, spawn_app, spawn_app_with};
use crate::on_both_stores;
use bearer_routes::bearer_calls;

on_both_stores!(
    registering_returns_the_user_and_a_taken_email_is_a_conflict,
    a_wrong_password_and_an_unknown_email_get_the_same_answer,
    a_login_with_an_unknown_email_runs_argon2id_once_like_a_wrong_password,
    a_native_client_logs_in_refreshes_and_logs_out_with_tokens_in_the_body,
    a_browser_logs_in_refreshes_and_logs_out_with_the_refresh_cookie_only,
    logout_everywhere_revokes_every_session_and_logout_others_keeps_the_current_one,
    the_session_list_shows_live_sessions_and_deleting_one_ends_it,
    a_user_cannot_revoke_someone_elses_session,
    login_rehashes_a_password_stored_with_old_parameters,
    access_tokens_of_a_revoked_session_are_refused_by_authd,
    access_tokens_outliving_their_session_are_refused_by_every_bearer_route,
    logout_without_a_token_or_with_a_dead_one_still_clears_the_cookie,
);

async fn registering_returns_the_user_and_a_taken_email_is_a_conflict(backend: Backend) {
    let app = spawn_app(backend).await;
    let reply = app.register("  Alice@Example.com ").await;
    assert_eq!(reply.body["email"], "alice@example.com");
    assert!(uuid::Uuid::parse_str(reply.body["id"].as_str().unwrap()).is_ok());
    assert!(reply.body["created_at"].is_string());
    assert!(reply.body.get("password_hash").is_none(), "{}", reply.text);
    assert!(!reply.text.contains(PASSWORD));

    let again = app
        .post_json(
            "/auth/register",
            &json!({ "email": "ALICE@example.com", "password": "another good password" }),
        )
        .await;
    assert_eq!(again.status, 409, "{}", again.text);
    assert_eq!(again.error(), "email_taken");
}

async fn a_wrong_password_and_an_unknown_email_get_the_same_answer(backend: Backend) {
    let app = spawn_app(backend).await;
    app.register("bob@example.com").await;
    let wrong = app.try_login("bob@example.com", "not the password").await;
    let unknown = app
        .try_login("nobody@example.com", "not the password")
        .await;
    assert_eq!(wrong.status, 401);
    assert_eq!(unknown.status, 401);
    assert_eq!(wrong.text, unknown.text);
    assert_eq!(wrong.error(), "invalid_credentials");
    assert_eq!(
        wrong.header("www-authenticate"),
        unknown.header("www-authenticate")
    );
    assert!(wrong.refresh_cookie().is_none() && unknown.refresh_cookie().is_none());
}

async fn a_login_with_an_unknown_email_runs_argon2id_once_like_a_wrong_password(backend: Backend) {
    // Same answer is not enough: an unknown email that skipped the hash would
    // answer sooner, and the timing would tell which emails are registered.
    let app = spawn_app(backend).await;
    app.register("carol@example.com").await;
    let runs_of = |email: &'static str| {
        let app = &app;
        async move {
            let before = app.services().hasher.runs();
            let reply = app.try_login(email, "not the password").await;
            assert_eq!(reply.status, 401, "{email}: {}", reply.text);
            app.services().hasher.runs() - before
        }
    };
    assert_eq!(runs_of("carol@example.com").await, 1, "a wrong password");
    assert_eq!(runs_of("nobody@example.com").await, 1, "an unknown email");
}

async fn a_native_client_logs_in_refreshes_and_logs_out_with_tokens_in_the_body(backend: Backend) {
    let app = spawn_app(backend).await;
    app.register("native@example.com").await;
    let login = app
        .post_json(
            "/auth/login",
            &json!({ "email": "native@example.com", "password": PASSWORD, "token_delivery": "body" }),
        )
        .await;
    assert_eq!(login.status, 200, "{}", login.text);
    assert_eq!(login.body["token_type"], "Bearer");
    assert_eq!(login.body["expires_in"], 900);
    assert_eq!(login.header("cache-control"), Some("no-store"));
    assert!(
        login.set_cookies().is_empty(),
        "body delivery sets no cookie"
    );
    let refresh = login.refresh_token();
    assert_eq!(refresh.len(), 76);

    let me = app.get_bearer("/auth/me", &login.access_token()).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body["email"], "native@example.com");

    app.advance(60);
    let rotated = app.refresh_body(&refresh).await;
    assert_eq!(rotated.status, 200, "{}", rotated.text);
    assert!(rotated.set_cookies().is_empty());
    let next = rotated.refresh_token();
    assert_ne!(next, refresh);
    assert_ne!(rotated.access_token(), login.access_token());

    let logout = app
        .post_json("/auth/logout", &json!({ "refresh_token": next }))
        .await;
    assert_eq!(logout.status, 204, "{}", logout.text);
    let after = app.refresh_body(&next).await;
    assert_eq!(after.status, 401);
    assert_eq!(after.error(), "invalid_grant");
    assert!(!app.access_works(&rotated.access_token()).await);
}

async fn a_browser_logs_in_refreshes_and_logs_out_with_the_refresh_cookie_only(backend: Backend) {
    let app = spawn_app(backend).await;
    app.register("browser@example.com").await;
    let login = app.login_cookie("browser@example.com").await;
    assert!(
        login.body.get("refresh_token").is_none(),
        "the refresh token never appears in a body: {}",
        login.text
    );
    let cookie = login.refresh_cookie().expect("refresh cookie set");
    assert!(!login.text.contains(&cookie));

    app.advance(30);
    let refreshed = app.refresh_cookie(&cookie).await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.text);
    assert!(refreshed.body.get("refresh_token").is_none());
    let next = refreshed.refresh_cookie().expect("rotated cookie");
    assert_ne!(next, cookie);
    assert!(app.access_works(&refreshed.access_token()).await);

    let logout = app
        .send(
            app.client
                .post(app.url("/auth/logout"))
                .header("cookie", format!("__Host-authd_refresh={next}")),
        )
        .await;
    assert_eq!(logout.status, 204);
    assert_eq!(
        logout.refresh_cookie().as_deref(),
        Some(""),
        "logout clears the cookie"
    );
    assert!(logout.set_cookies()[0].contains("Max-Age=0"));
    assert_eq!(app.refresh_cookie(&next).await.status, 401);
    assert!(!app.access_works(&refreshed.access_token()).await);
}

async fn logout_everywhere_revokes_every_session_and_logout_others_keeps_the_current_one(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let (email, phone) = app.user_with_tokens().await;
    let laptop = app.login_body(&email).await;
    let tablet = app.login_body(&email).await;

    let others = app
        .send(
            app.client
                .post(app.url("/auth/logout?scope=others"))
                .bearer_auth(&phone.access),
        )
        .await;
    assert_eq!(others.status, 204, "{}", others.text);
    assert!(app.access_works(&phone.access).await);
    assert!(!app.access_works(&laptop.access).await);
    assert!(!app.access_works(&tablet.access).await);
    assert_eq!(app.refresh_body(&laptop.refresh).await.status, 401);
    assert_eq!(app.refresh_body(&phone.refresh).await.status, 200);

    let desktop = app.login_body(&email).await;
    let global = app
        .send(
            app.client
                .post(app.url("/auth/logout?scope=global"))
                .bearer_auth(&desktop.access),
        )
        .await;
    assert_eq!(global.status, 204);
    assert!(!app.access_works(&desktop.access).await);
    assert_eq!(app.refresh_body(&desktop.refresh).await.status, 401);
    let me = app.get_bearer("/auth/sessions", &desktop.access).await;
    assert_eq!(me.status, 401);

    // Global and others require a Bearer token.
    let anonymous = app
        .send(app.client.post(app.url("/auth/logout?scope=global")))
        .await;
    assert_eq!(anonymous.status, 401);
    let bad_scope = app
        .send(app.client.post(app.url("/auth/logout?scope=everything")))
        .await;
    assert_eq!(bad_scope.status, 400);
    assert_eq!(bad_scope.error(), "invalid_request");
}

async fn the_session_list_shows_live_sessions_and_deleting_one_ends_it(backend: Backend) {
    let app = spawn_app(backend).await;
    let (email, first) = app.user_with_tokens().await;
    let second = app
        .send(
            app.client
                .post(app.url("/auth/login"))
                .header("user-agent", "test-phone/1.0")
                .json(&json!({ "email": email, "password": PASSWORD, "token_delivery": "body" })),
        )
        .await;
    assert_eq!(second.status, 200);
    let list = app.get_bearer("/auth/sessions", &first.access).await;
    assert_eq!(list.status, 200, "{}", list.text);
    let sessions = list.body["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    let current: Vec<_> = sessions.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    let other = sessions.iter().find(|s| s["current"] == false).unwrap();
    assert_eq!(other["user_agent"], "test-phone/1.0");
    assert_eq!(other["ip"], "127.0.0.1");
    for field in ["id", "created_at", "last_refreshed_at", "expires_at"] {
        assert!(other[field].is_string(), "{field}");
    }

    let id = other["id"].as_str().unwrap();
    let deleted = app
        .send(
            app.client
                .delete(app.url(&format!("/auth/sessions/{id}")))
                .bearer_auth(&first.access),
        )
        .await;
    assert_eq!(deleted.status, 204, "{}", deleted.text);
    assert!(!app.access_works(&second.access_token()).await);
    assert_eq!(app.refresh_body(&second.refresh_token()).await.status, 401);
    let list = app.get_bearer("/auth/sessions", &first.access).await;
    assert_eq!(list.body["sessions"].as_array().unwrap().len(), 1);

    let again = app
        .send(
            app.client
                .delete(app.url(&format!("/auth/sessions/{id}")))
                .bearer_auth(&first.access),
        )
        .await;
    assert_eq!(again.status, 404);
    let garbage = app
        .send(
            app.client
                .delete(app.url("/auth/sessions/not-a-uuid"))
                .bearer_auth(&first.access),
        )
        .await;
    assert_eq!(garbage.status, 404);
    assert_eq!(garbage.error(), "not_found");
}

async fn a_user_cannot_revoke_someone_elses_session(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, alice) = app.user_with_tokens().await;
    let (_, mallory) = app.user_with_tokens().await;
    let alice_sessions = app.get_bearer("/auth/sessions", &alice.access).await;
    let alice_sid = alice_sessions.body["sessions"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let attempt = app
        .send(
            app.client
                .delete(app.url(&format!("/auth/sessions/{alice_sid}")))
                .bearer_auth(&mallory.access),
        )
        .await;
    assert_eq!(attempt.status, 404);
    assert!(app.access_works(&alice.access).await);
    assert_eq!(app.refresh_body(&alice.refresh).await.status, 200);
}

async fn login_rehashes_a_password_stored_with_old_parameters(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.password.argon2_m_cost = 2048;
        s.password.argon2_t_cost = 2;
    })
    .await;
    // A hash made under older, weaker parameters, as a previous configuration left it.
    let old_hash = {
        use argon2::PasswordHasher;
        let params = argon2::Params::new(1024, 1, 1, None).unwrap();
        argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
            .hash_password(PASSWORD.as_bytes())
            .unwrap()
            .to_string()
    };
    let mut tx = app.store().begin().await.unwrap();
    let user = authd::store::users::insert(
        &mut tx,
        authd::store::users::NewUser {
            id: uuid::Uuid::new_v4(),
            email: "rehash@example.com",
            password_hash: &old_hash,
            now: app.now(),
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    app.login_body("rehash@example.com").await;
    let after = authd::store::users::find_credentials_by_email(
        &mut app.store().conn().await.unwrap(),
        "rehash@example.com",
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(after.id, user.id);
    assert_ne!(after.password_hash, old_hash);
    assert!(
        after.password_hash.contains("m=2048,t=2,p=1"),
        "{}",
        after.password_hash
    );
    // The new hash verifies the same password, and a wrong one still fails.
    app.login_body("rehash@example.com").await;
    let wrong = app.try_login("rehash@example.com", "wrong password!").await;
    assert_eq!(wrong.status, 401);
}

async fn access_tokens_of_a_revoked_session_are_refused_by_authd(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, tokens) = app.user_with_tokens().await;
    assert!(app.access_works(&tokens.access).await);
    let logout = app
        .post_json("/auth/logout", &json!({ "refresh_token": tokens.refresh }))
        .await;
    assert_eq!(logout.status, 204);
    let me = app.get_bearer("/auth/me", &tokens.access).await;
    assert_eq!(me.status, 401);
    assert_eq!(me.error(), "invalid_token");
    assert_eq!(
        me.header("www-authenticate"),
        Some(r#"Bearer realm="authd", error="invalid_token""#)
    );
}

/// The routes whose operation in the served OpenAPI document accepts the
/// `bearer` scheme, alone or among others, that take authd's own user
/// tokens. `/oauth/userinfo` takes only an app's `openid` token (authd's own
/// is `insufficient_scope` whatever its session): its refusal of a token
/// whose session ended is in `oidc.rs` (`userinfo_refuses_what_is_not_a_live_users_openid_token`).
async fn bearer_routes(app: &TestApp) -> BTreeSet<(String, String)> {
    let doc = app.get("/openapi.json").await.body;
    ROUTES
        .iter()
        .filter(|(_, path)| *path != "/oauth/userinfo")
        .filter(|(method, path)| {
            let security = &doc["paths"][path][method.to_lowercase()]["security"];
            let security = security
                .as_array()
                .unwrap_or_else(|| panic!("{method} {path} declares no security"));
            security.iter().any(|r| r.get("bearer").is_some())
        })
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect()
}

async fn access_tokens_outliving_their_session_are_refused_by_every_bearer_route(backend: Backend) {
    // A session whose absolute limit (600 s) comes before its first access
    // token's expiry (900 s): the token is unexpired but its session is over.
    let app = spawn_app_with(backend, |s| {
        s.refresh.absolute_ttl_secs = 600;
        s.refresh.idle_ttl_secs = 600;
        s.webauthn.rp_id = Some("localhost".into());
        s.webauthn.origins = vec!["http://localhost".into()];
        // A new user (and its verification mail) for each call's control.
        s.limits.register_per_ip = 1_000;
        s.email.per_ip_limit = 1_000;
    })
    .await;
    // Every Bearer route the server serves, from its route table and its
    // OpenAPI security: a new one fails here until it has a call below.
    let routes = bearer_routes(&app).await;
    let calls = bearer_calls();
    let called: BTreeSet<(String, String)> = calls
        .iter()
        .map(|c| (c.method.to_owned(), c.path.to_owned()))
        .collect();
    assert_eq!(
        called, routes,
        "bearer_calls() must call every Bearer route"
    );
    assert!(routes.len() >= 6, "{routes:?}");

    let (_, dead) = app.user_with_tokens().await;
    assert!(app.access_works(&dead.access).await);
    app.advance(600);
    let expiry = jwt_claims(&dead.access)["exp"].as_i64().expect("exp");
    assert!(
        app.now().timestamp() < expiry,
        "the token itself is unexpired"
    );
    for call in &calls {
        let what = format!("{} {}{}", call.method, call.path, call.query);
        let reply = call.send(&app, &dead.access).await;
        assert_eq!(
            (reply.status, reply.error()),
            (401, "invalid_token"),
            "{what}: {}",
            reply.text
        );
        assert!(
            reply
                .header("www-authenticate")
                .is_some_and(|h| h.starts_with("Bearer") && h.contains("invalid_token")),
            "{what}: {:?}",
            reply.header("www-authenticate")
        );
        // The control: the same call with a live session's token succeeds,
        // so the 401 above is the dead session's, not the call's.
        let (_, live) = app.user_with_tokens().await;
        let reply = call.send(&app, &live.access).await;
        // A live token's user has no grant to this client: 404 comes only
        // after the token is accepted.
        // Nor a factor: the second factors' changes answer 404 after it.
        // Nor a passkey (`{id}` is the session's id), nor a registration
        // begun: 401 invalid_ceremony comes after the token too.
        let unknown_grant = (call.path == "/auth/grants/{client_id}"
            || call.path.starts_with("/auth/mfa/totp")
            || call.path == "/auth/mfa/recovery-codes"
            || call.path == "/auth/passkeys/{id}")
            && reply.status == 404
            || call.path == "/auth/passkeys/register/finish" && reply.error() == "invalid_ceremony"
            // Nor an admin role: the admin API's 403 comes after the token.
            || call.path.starts_with("/admin/") && reply.status == 403;
        assert!(
            (200..300).contains(&reply.status) || unknown_grant,
            "{what} with a live token: {} {}",
            reply.status,
            reply.text
        );
    }
}

async fn logout_without_a_token_or_with_a_dead_one_still_clears_the_cookie(backend: Backend) {
    let app = spawn_app(backend).await;
    let nothing = app.send(app.client.post(app.url("/auth/logout"))).await;
    assert_eq!(nothing.status, 204);
    let garbage = app
        .send(
            app.client
                .post(app.url("/auth/logout"))
                .header("cookie", "__Host-authd_refresh=garbage"),
        )
        .await;
    assert_eq!(garbage.status, 204);
    assert_eq!(garbage.refresh_cookie().as_deref(), Some(""));
}
