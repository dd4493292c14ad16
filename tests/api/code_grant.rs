//! The token side of the authorization code flow: `grant_type=
//! authorization_code` (client authentication, the code's binding, PKCE,
//! single use) and the refresh of the client families it makes. The codes are
//! issued through `authd::oauth::codes::issue` for a browser session written
//! straight into the store, as the authorize endpoint will.

use authd::oauth::codes::{self, NewCode};
use authd::sessions::SessionKind;
use secrecy::ExposeSecret;
use serde_json::Value;
use uuid::Uuid;

use crate::helpers::{Backend, Reply, TestApp, jwt_claims, spawn_app};
use crate::on_both_stores;

on_both_stores!(
    a_code_gives_a_client_family_and_a_second_presentation_ends_it,
    a_code_of_one_client_is_refused_at_another_and_left_unspent,
    the_redirect_uri_must_be_the_one_the_code_was_issued_for,
    a_wrong_pkce_verifier_is_refused,
    a_verifier_for_a_code_without_a_challenge_is_refused,
    a_code_with_a_challenge_needs_its_verifier,
    an_expired_code_is_refused,
    a_client_family_is_refreshed_only_by_its_client,
    a_refresh_narrows_the_scope_and_never_widens_it,
    the_first_party_refresh_endpoint_refuses_a_client_family,
    no_refresh_token_without_offline_access,
    expired_codes_are_swept_after_an_access_token_lifetime,
);

// RFC 7636 appendix B.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const REDIRECT: &str = "https://app.example/callback";
const FULL: &str = "openid offline_access orders:read orders:write";

struct Flow {
    app: TestApp,
    email: String,
    user: Uuid,
    browser: Uuid,
    a: (String, String),
    b: (String, String),
}

impl Flow {
    async fn new(backend: Backend) -> Self {
        let app = spawn_app(backend).await;
        let email = format!("user-{}@example.com", Uuid::new_v4().simple());
        app.register(&email).await;
        let user = app.user_id(&email).await;
        let browser = app
            .services()
            .policy
            .new_session(user, app.now(), None, None);
        let browser = authd::sessions::Session {
            kind: SessionKind::Browser,
            ..browser
        };
        let mut tx = app.store().begin().await.unwrap();
        authd::store::sessions::insert(&mut tx, &browser)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let a = confidential(&app, "app a", FULL).await;
        let b = confidential(&app, "app b", "openid offline_access orders:read").await;
        Self {
            app,
            email,
            user,
            browser: browser.id,
            a,
            b,
        }
    }

    /// A code for client A with `scope` and `challenge`.
    async fn code(&self, scope: &str, challenge: Option<&str>) -> String {
        let mut conn = self.app.store().conn().await.unwrap();
        let new = NewCode {
            client_id: &self.a.0,
            redirect_uri: REDIRECT,
            code_challenge: challenge,
            nonce: Some("n-0S6_WzA2Mj"),
            scope,
            user_id: self.user,
            browser_session_id: self.browser,
            auth_time: self.app.now(),
            methods: "password",
        };
        codes::issue(&mut conn, &new, self.app.now())
            .await
            .unwrap()
            .expose_secret()
            .to_owned()
    }

    async fn redeem(
        &self,
        code: &str,
        client: &(String, String),
        redirect_uri: &str,
        verifier: Option<&str>,
    ) -> Reply {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
        ];
        if let Some(verifier) = verifier {
            form.push(("code_verifier", verifier));
        }
        self.app
            .post_form("/oauth/token", &form, Some((&client.0, &client.1)))
            .await
    }

    /// Whether introspection calls an app's access token active (authd's
    /// own `/auth/*` endpoints refuse an app's tokens).
    async fn app_token_active(&self, token: &str) -> bool {
        let (id, secret) = self.app.create_client("gateway", "authd:introspect").await;
        let reply = self
            .app
            .post_form(
                "/oauth/introspect",
                &[("token", token)],
                Some((&id, &secret)),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply.body["active"].as_bool().unwrap()
    }

    /// A's code for `scope`, redeemed by A with PKCE; the answer must be 200.
    async fn tokens(&self, scope: &str) -> Value {
        let code = self.code(scope, Some(CHALLENGE)).await;
        let reply = self.redeem(&code, &self.a, REDIRECT, Some(VERIFIER)).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply.body
    }

    async fn refresh(&self, token: &str, client: &(String, String), scope: Option<&str>) -> Reply {
        let mut form = vec![("grant_type", "refresh_token"), ("refresh_token", token)];
        if let Some(scope) = scope {
            form.push(("scope", scope));
        }
        self.app
            .post_form("/oauth/token", &form, Some((&client.0, &client.1)))
            .await
    }
}

/// A confidential client (secret by HTTP Basic) redirecting to [`REDIRECT`].
async fn confidential(app: &TestApp, name: &str, scopes: &str) -> (String, String) {
    let spec = authd::clients::ClientSpec {
        kind: authd::clients::ClientKind::Confidential,
        redirect_uris: vec![REDIRECT.to_owned()],
        ..authd::clients::ClientSpec::machine(name, scopes)
    };
    let policy = authd::clients::Policy { development: true };
    let (client, secret) = authd::clients::register(app.store(), spec, policy, app.now())
        .await
        .unwrap();
    (client.id, secret.unwrap().expose_secret().to_owned())
}

fn text(body: &Value, name: &str) -> String {
    body[name]
        .as_str()
        .unwrap_or_else(|| panic!("{name} in {body}"))
        .to_owned()
}

async fn a_code_gives_a_client_family_and_a_second_presentation_ends_it(backend: Backend) {
    let flow = Flow::new(backend).await;
    let app = &flow.app;
    let code = flow.code(FULL, Some(CHALLENGE)).await;
    let first = flow.redeem(&code, &flow.a, REDIRECT, Some(VERIFIER)).await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(first.header("cache-control"), Some("no-store"));
    assert_eq!(first.body["token_type"], "Bearer");
    assert_eq!(first.body["scope"], FULL);
    assert!(first.body["expires_in"].as_i64().unwrap() > 0);
    let access = text(&first.body, "access_token");
    let claims = jwt_claims(&access);
    assert_eq!(claims["client_id"], flow.a.0.as_str());
    assert_eq!(claims["scope"], FULL);
    assert_eq!(claims["sub"], flow.user.to_string());
    assert!(claims["aud"].is_string());
    let id_token = jwt_claims(&text(&first.body, "id_token"));
    assert_eq!(id_token["aud"], flow.a.0.as_str());
    assert_eq!(id_token["nonce"], "n-0S6_WzA2Mj");
    // The ID token names the browser session; the access token its family.
    assert_eq!(id_token["sid"], flow.browser.to_string());
    assert_ne!(id_token["sid"], claims["sid"]);
    let refresh = text(&first.body, "refresh_token");
    assert!(flow.app_token_active(&access).await);

    // The user's session list (read with authd's own token: an app's token
    // is refused at /auth/*) shows the family with its client.
    let own = app.login_body(&flow.email).await;
    let list = app.get_bearer("/auth/sessions", &own.access).await;
    assert_eq!(list.status, 200, "{}", list.text);
    let sessions = list.body["sessions"].as_array().unwrap();
    assert!(
        sessions.iter().any(|s| s["client_id"] == flow.a.0.as_str()),
        "{sessions:?}"
    );

    // The code again: refused, and the family it made ends.
    let second = flow.redeem(&code, &flow.a, REDIRECT, Some(VERIFIER)).await;
    assert_eq!(second.status, 400, "{}", second.text);
    assert_eq!(second.error(), "invalid_grant");
    assert!(!flow.app_token_active(&access).await);
    assert_eq!(
        flow.refresh(&refresh, &flow.a, None).await.error(),
        "invalid_grant"
    );
    assert!(
        app.audit_kinds(flow.user)
            .await
            .contains(&"authorization_code_reused".to_owned())
    );
    // The user's other sessions are untouched.
    let tokens = app.login_body(&flow.email).await;
    assert!(app.access_works(&tokens.access).await);
}

async fn a_code_of_one_client_is_refused_at_another_and_left_unspent(backend: Backend) {
    let flow = Flow::new(backend).await;
    let code = flow.code(FULL, Some(CHALLENGE)).await;
    let at_b = flow.redeem(&code, &flow.b, REDIRECT, Some(VERIFIER)).await;
    assert_eq!(at_b.status, 400, "{}", at_b.text);
    assert_eq!(at_b.error(), "invalid_grant");
    let at_a = flow.redeem(&code, &flow.a, REDIRECT, Some(VERIFIER)).await;
    assert_eq!(at_a.status, 200, "{}", at_a.text);
    // A wrong secret for A is a failed client authentication.
    let wrong = (flow.a.0.clone(), flow.b.1.clone());
    let code = flow.code(FULL, Some(CHALLENGE)).await;
    let reply = flow.redeem(&code, &wrong, REDIRECT, Some(VERIFIER)).await;
    assert_eq!(reply.status, 401, "{}", reply.text);
    assert_eq!(reply.error(), "invalid_client");
}

async fn the_redirect_uri_must_be_the_one_the_code_was_issued_for(backend: Backend) {
    let flow = Flow::new(backend).await;
    let code = flow.code(FULL, Some(CHALLENGE)).await;
    for other in [
        "https://app.example/callback/",
        "https://app.example/callback?x=1",
        "https://APP.example/callback",
    ] {
        let reply = flow.redeem(&code, &flow.a, other, Some(VERIFIER)).await;
        assert_eq!(reply.status, 400, "{other}: {}", reply.text);
        assert_eq!(reply.error(), "invalid_grant", "{other}");
    }
    let reply = flow.redeem(&code, &flow.a, REDIRECT, Some(VERIFIER)).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
}

async fn a_wrong_pkce_verifier_is_refused(backend: Backend) {
    let flow = Flow::new(backend).await;
    let code = flow.code(FULL, Some(CHALLENGE)).await;
    let wrong = "eBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let reply = flow.redeem(&code, &flow.a, REDIRECT, Some(wrong)).await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    assert_eq!(reply.error(), "invalid_grant");
}

async fn a_verifier_for_a_code_without_a_challenge_is_refused(backend: Backend) {
    let flow = Flow::new(backend).await;
    let code = flow.code(FULL, None).await;
    let reply = flow.redeem(&code, &flow.a, REDIRECT, Some(VERIFIER)).await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    assert_eq!(reply.error(), "invalid_grant");
}

async fn a_code_with_a_challenge_needs_its_verifier(backend: Backend) {
    let flow = Flow::new(backend).await;
    let code = flow.code(FULL, Some(CHALLENGE)).await;
    let reply = flow.redeem(&code, &flow.a, REDIRECT, None).await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    assert_eq!(reply.error(), "invalid_grant");
}

async fn an_expired_code_is_refused(backend: Backend) {
    let flow = Flow::new(backend).await;
    let code = flow.code(FULL, Some(CHALLENGE)).await;
    flow.app.advance(61);
    let reply = flow.redeem(&code, &flow.a, REDIRECT, Some(VERIFIER)).await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    assert_eq!(reply.error(), "invalid_grant");
}

async fn a_client_family_is_refreshed_only_by_its_client(backend: Backend) {
    let flow = Flow::new(backend).await;
    let tokens = flow.tokens(FULL).await;
    let refresh = text(&tokens, "refresh_token");
    let at_b = flow.refresh(&refresh, &flow.b, None).await;
    assert_eq!(at_b.status, 400, "{}", at_b.text);
    assert_eq!(at_b.error(), "invalid_grant");
    // Without client authentication (the first party's way): refused too.
    let anonymous = flow
        .app
        .post_form(
            "/oauth/token",
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
            None,
        )
        .await;
    assert_eq!(anonymous.error(), "invalid_grant", "{}", anonymous.text);
    // Nothing was spent: A rotates it.
    let at_a = flow.refresh(&refresh, &flow.a, None).await;
    assert_eq!(at_a.status, 200, "{}", at_a.text);
    assert_eq!(at_a.header("cache-control"), Some("no-store"));
    assert_eq!(at_a.body["scope"], FULL);
    assert_ne!(text(&at_a.body, "refresh_token"), refresh);
    assert!(
        flow.app_token_active(&text(&at_a.body, "access_token"))
            .await
    );
}

async fn a_refresh_narrows_the_scope_and_never_widens_it(backend: Backend) {
    let flow = Flow::new(backend).await;
    let tokens = flow.tokens("offline_access orders:read").await;
    let refresh = text(&tokens, "refresh_token");
    let wider = flow
        .refresh(&refresh, &flow.a, Some("orders:read orders:write"))
        .await;
    assert_eq!(wider.status, 400, "{}", wider.text);
    assert_eq!(wider.error(), "invalid_scope");
    let narrower = flow.refresh(&refresh, &flow.a, Some("orders:read")).await;
    assert_eq!(narrower.status, 200, "{}", narrower.text);
    assert_eq!(narrower.body["scope"], "orders:read");
    let claims = jwt_claims(&text(&narrower.body, "access_token"));
    assert_eq!(claims["scope"], "orders:read");
    // The family keeps what was granted: the next refresh without scope has it all.
    let next = flow
        .refresh(&text(&narrower.body, "refresh_token"), &flow.a, None)
        .await;
    assert_eq!(next.status, 200, "{}", next.text);
    assert_eq!(next.body["scope"], "offline_access orders:read");
}

async fn the_first_party_refresh_endpoint_refuses_a_client_family(backend: Backend) {
    let flow = Flow::new(backend).await;
    let tokens = flow.tokens(FULL).await;
    let refresh = text(&tokens, "refresh_token");
    let reply = flow.app.refresh_body(&refresh).await;
    assert_eq!(reply.status, 401, "{}", reply.text);
    assert_eq!(reply.error(), "invalid_grant");
    // Untouched: its client still refreshes it.
    let at_a = flow.refresh(&refresh, &flow.a, None).await;
    assert_eq!(at_a.status, 200, "{}", at_a.text);
}

async fn no_refresh_token_without_offline_access(backend: Backend) {
    let flow = Flow::new(backend).await;
    let tokens = flow.tokens("openid orders:read").await;
    assert!(tokens.get("refresh_token").is_none(), "{tokens}");
    assert!(tokens.get("id_token").is_some(), "{tokens}");
    let tokens = flow.tokens("orders:read").await;
    assert!(tokens.get("refresh_token").is_none(), "{tokens}");
    assert!(tokens.get("id_token").is_none(), "{tokens}");
    assert!(flow.app_token_active(&text(&tokens, "access_token")).await);
}

async fn expired_codes_are_swept_after_an_access_token_lifetime(backend: Backend) {
    let flow = Flow::new(backend).await;
    flow.code(FULL, Some(CHALLENGE)).await;
    let purge = || authd::cleanup::purge_once(flow.app.services());
    flow.app.advance(61);
    assert_eq!(
        purge().await.unwrap().authorization_codes,
        0,
        "kept a while"
    );
    let keep = flow.app.services().access.max_acceptance().num_seconds();
    flow.app.advance(keep + 1);
    assert_eq!(purge().await.unwrap().authorization_codes, 1);
}
