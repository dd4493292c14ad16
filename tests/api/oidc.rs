//! OpenID Connect pieces that stand without the authorize endpoint: the
//! userinfo endpoint, a user's access token obtained by an app (verified by
//! authd-verify, refused on authd's own account endpoints) and ID tokens
//! signed by the server's key. Until the code flow issues them, the tokens
//! an app would get are minted with the test server's own services.

use authd::oidc::id_token::{self, IdTokenRequest};
use authd::tokens::ClientUserGrant;
use authd_verify::Verifier;
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{Backend, TestApp, jwt_claims, spawn_app};
use crate::on_both_stores;

on_both_stores!(
    userinfo_answers_an_openid_token_with_the_claims_of_its_scopes_and_the_id_tokens_sub,
    userinfo_refuses_what_is_not_a_live_users_openid_token,
    an_apps_user_token_verifies_with_authd_verify_and_is_refused_by_authds_account_endpoints,
);

/// A signed-in user: their address, id, session and sign-in time, and
/// authd's own access token.
struct SignedIn {
    email: String,
    user: Uuid,
    session: Uuid,
    auth_time: i64,
    access: String,
    refresh: String,
}

async fn sign_in(app: &TestApp) -> SignedIn {
    let (email, tokens) = app.user_with_tokens().await;
    let claims = jwt_claims(&tokens.access);
    SignedIn {
        user: claims["sub"].as_str().unwrap().parse().unwrap(),
        session: claims["sid"].as_str().unwrap().parse().unwrap(),
        auth_time: claims["auth_time"].as_i64().unwrap(),
        email,
        access: tokens.access,
        refresh: tokens.refresh,
    }
}

/// The access token an app would get for `who` with `scope`.
fn app_token(app: &TestApp, who: &SignedIn, scope: &str) -> String {
    let amr = vec!["pwd".to_owned()];
    let grant = ClientUserGrant {
        user: who.user,
        session: who.session,
        started: chrono::DateTime::from_timestamp(who.auth_time, 0).unwrap(),
        amr: &amr,
        client_id: "app-1",
        scope,
        ttl: None,
        extra: &serde_json::Map::new(),
    };
    app.services()
        .access
        .issue_for_client(&grant, app.now())
        .unwrap()
        .token
}

async fn userinfo_post(app: &TestApp, token: &str) -> crate::helpers::Reply {
    app.send(
        app.client
            .post(app.url("/oauth/userinfo"))
            .bearer_auth(token),
    )
    .await
}

async fn userinfo_answers_an_openid_token_with_the_claims_of_its_scopes_and_the_id_tokens_sub(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let who = sign_in(&app).await;
    let token = app_token(&app, &who, "openid email");

    for reply in [
        app.get_bearer("/oauth/userinfo", &token).await,
        userinfo_post(&app, &token).await,
    ] {
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert_eq!(reply.header("cache-control"), Some("no-store"));
        assert_eq!(
            reply.body,
            json!({
                "sub": who.user.to_string(),
                "email": who.email,
                "email_verified": false,
            })
        );
    }
    let bare = app
        .get_bearer("/oauth/userinfo", &app_token(&app, &who, "openid"))
        .await;
    assert_eq!(bare.status, 200, "{}", bare.text);
    assert_eq!(bare.body, json!({ "sub": who.user.to_string() }));

    // The ID token the app would get with it names the same subject, and is
    // signed by the published RS256 key.
    let user = {
        let mut conn = app.store().conn().await.unwrap();
        authd::store::users::find_by_live_session(&mut conn, who.session, who.user, app.now())
            .await
            .unwrap()
            .unwrap()
    };
    let amr = vec!["pwd".to_owned()];
    let id_token = id_token::issue(
        app.services(),
        &IdTokenRequest {
            user: &user,
            client_id: "app-1",
            alg: Algorithm::RS256,
            session: who.session,
            auth_time: chrono::DateTime::from_timestamp(who.auth_time, 0).unwrap(),
            nonce: Some("n-1"),
            amr: &amr,
            acr: None,
            scope: "openid",
            access_token: Some(&token),
            extra: serde_json::Map::new(),
        },
    )
    .unwrap();
    let jwks: jsonwebtoken::jwk::JwkSet =
        serde_json::from_value(app.get("/.well-known/jwks.json").await.body).unwrap();
    let header = jsonwebtoken::decode_header(&id_token).unwrap();
    let jwk = jwks.find(header.kid.as_deref().unwrap()).unwrap();
    let mut validation = jsonwebtoken::Validation::new(Algorithm::RS256);
    validation.set_audience(&["app-1"]);
    validation.set_issuer(&["http://authd.test"]);
    let claims = jsonwebtoken::decode::<Value>(
        &id_token,
        &jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap(),
        &validation,
    )
    .unwrap()
    .claims;
    assert_eq!(claims["sub"], bare.body["sub"]);
    assert_eq!(claims["sid"], who.session.to_string());
    assert_eq!(claims["nonce"], "n-1");
}

async fn userinfo_refuses_what_is_not_a_live_users_openid_token(backend: Backend) {
    let app = spawn_app(backend).await;
    let who = sign_in(&app).await;

    let missing = app.get("/oauth/userinfo").await;
    assert_eq!((missing.status, missing.error()), (401, "invalid_token"));
    assert_eq!(
        missing.header("www-authenticate"),
        Some(r#"Bearer realm="authd""#)
    );

    let garbage = app.get_bearer("/oauth/userinfo", "not-a-token").await;
    assert_eq!((garbage.status, garbage.error()), (401, "invalid_token"));
    assert_eq!(
        garbage.header("www-authenticate"),
        Some(r#"Bearer realm="authd", error="invalid_token""#)
    );

    // authd's own token and an app's without `openid`: valid, not enough.
    for token in [who.access.clone(), app_token(&app, &who, "email")] {
        let reply = app.get_bearer("/oauth/userinfo", &token).await;
        assert_eq!(
            (reply.status, reply.error()),
            (403, "insufficient_scope"),
            "{}",
            reply.text
        );
        assert_eq!(
            reply.header("www-authenticate"),
            Some(r#"Bearer realm="authd", error="insufficient_scope", scope="openid""#)
        );
    }

    // A machine client's token names no user.
    let (client, secret) = app.create_client("billing", "openid").await;
    let machine = app
        .post_form(
            "/oauth/token",
            &[("grant_type", "client_credentials")],
            Some((&client, &secret)),
        )
        .await
        .access_token();
    let reply = app.get_bearer("/oauth/userinfo", &machine).await;
    assert_eq!(
        (reply.status, reply.error()),
        (401, "invalid_token"),
        "{}",
        reply.text
    );

    // A token of a session that ended is refused at once, before it expires.
    let token = app_token(&app, &who, "openid email");
    assert_eq!(app.get_bearer("/oauth/userinfo", &token).await.status, 200);
    let logout = app
        .post_json("/auth/logout", &json!({ "refresh_token": who.refresh }))
        .await;
    assert_eq!(logout.status, 204, "{}", logout.text);
    for reply in [
        app.get_bearer("/oauth/userinfo", &token).await,
        userinfo_post(&app, &token).await,
    ] {
        assert_eq!(
            (reply.status, reply.error()),
            (401, "invalid_token"),
            "{}",
            reply.text
        );
    }
}

async fn an_apps_user_token_verifies_with_authd_verify_and_is_refused_by_authds_account_endpoints(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let who = sign_in(&app).await;
    let token = app_token(&app, &who, "openid email");
    let claims = jwt_claims(&token);
    assert_eq!(claims["aud"], "authd", "the configured audience");
    assert_eq!(claims["client_id"], "app-1");
    assert_eq!(claims["scope"], "openid email");
    assert_eq!(claims["amr"], json!(["pwd"]));

    let verifier = Verifier::builder("http://authd.test")
        .allow_insecure_http()
        .jwks_url(app.url("/.well-known/jwks.json"))
        .build()
        .await
        .unwrap();
    let verified = verifier.verify(&token).await.unwrap();
    assert!(verified.is_user());
    assert_eq!(verified.sub, who.user.to_string());
    assert_eq!(verified.sid, Some(who.session.to_string()));
    assert_eq!(verified.client_id, "app-1");
    assert!(verified.has_scope("email"));
    let own = verifier.verify(&who.access).await.unwrap();
    assert_eq!(
        (own.client_id.as_str(), own.scope.as_deref()),
        ("authd", None)
    );

    // An app's token is not a key to the user's account at authd.
    let me = app.get_bearer("/auth/me", &token).await;
    assert_eq!(
        (me.status, me.error()),
        (401, "invalid_token"),
        "{}",
        me.text
    );
    let sessions = app.get_bearer("/auth/sessions", &token).await;
    assert_eq!(sessions.status, 401, "{}", sessions.text);
    assert_eq!(app.get_bearer("/auth/me", &who.access).await.status, 200);
}
