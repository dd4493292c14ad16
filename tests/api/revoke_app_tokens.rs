//! RFC 7009 revocation of the tokens an app obtained by the authorization code
//! flow: a client family's refresh token (or an access token of its session)
//! is revoked by the client it was issued to, authenticated by its kind's
//! method, and by nobody else; introspection names that client. The codes are
//! issued through `authd::oauth::codes::issue` for a browser session written
//! into the store, as in `code_grant.rs`; everything else goes over HTTP.

use authd::oauth::codes::{self, NewCode};
use authd::sessions::SessionKind;
use secrecy::ExposeSecret;
use serde_json::Value;
use uuid::Uuid;

use crate::helpers::{Backend, Reply, TestApp, jwt_claims, spawn_app};
use crate::on_both_stores;

on_both_stores!(
    a_public_client_revokes_its_refresh_token_and_the_family_ends,
    a_confidential_client_revokes_with_its_secret_by_its_method_only,
    another_clients_revocation_is_refused_and_the_token_keeps_working,
    a_rotated_away_app_refresh_token_revoked_is_reuse,
    first_party_logout_ends_no_client_family,
);

// RFC 7636 appendix B.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const REDIRECT: &str = "https://spa.example.com/callback";
const SPA_ORIGIN: &str = "https://spa.example.com";
const SCOPE: &str = "openid offline_access";

/// How a request names its client.
#[derive(Clone, Copy, Debug)]
enum As<'a> {
    /// No client credentials at all (authd's own first-party client).
    Nobody,
    /// `client_id` in the form, no secret (a public client).
    Public(&'a str),
    /// The secret by HTTP Basic.
    Basic(&'a str, &'a str),
    /// `client_id` and `client_secret` in the form.
    Post(&'a str, &'a str),
}

struct Apps {
    app: TestApp,
    email: String,
    user: Uuid,
    browser: Uuid,
    /// A public SPA with a web origin.
    spa: String,
    /// Confidential clients (secret by HTTP Basic): id and secret.
    a: (String, String),
    b: (String, String),
}

impl Apps {
    async fn new(backend: Backend) -> Self {
        let app = spawn_app(backend).await;
        let email = format!("user-{}@example.com", Uuid::new_v4().simple());
        app.register(&email).await;
        let user = app.user_id(&email).await;
        let browser = authd::sessions::Session {
            kind: SessionKind::Browser,
            ..app
                .services()
                .policy
                .new_session(user, app.now(), None, None)
        };
        let mut tx = app.store().begin().await.unwrap();
        authd::store::sessions::insert(&mut tx, &browser)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let spa = register(&app, "SPA", authd::clients::ClientKind::Public).await;
        let a = register(&app, "app a", authd::clients::ClientKind::Confidential).await;
        let b = register(&app, "app b", authd::clients::ClientKind::Confidential).await;
        Self {
            app,
            email,
            user,
            browser: browser.id,
            spa: spa.0,
            a: (a.0, a.1.unwrap()),
            b: (b.0, b.1.unwrap()),
        }
    }

    /// The tokens of a new family of `client`, redeemed at the token
    /// endpoint as `how`.
    async fn tokens(&self, client: &str, how: As<'_>) -> (String, String) {
        let mut conn = self.app.store().conn().await.unwrap();
        let new = NewCode {
            client_id: client,
            redirect_uri: REDIRECT,
            code_challenge: Some(CHALLENGE),
            nonce: None,
            scope: SCOPE,
            user_id: self.user,
            browser_session_id: self.browser,
            auth_time: self.app.now(),
            methods: "password",
        };
        let code = codes::issue(&mut conn, &new, self.app.now())
            .await
            .unwrap()
            .expose_secret()
            .to_owned();
        drop(conn);
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ];
        let reply = self.post("/oauth/token", &form, how).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        (
            text(&reply.body, "access_token"),
            text(&reply.body, "refresh_token"),
        )
    }

    async fn post(&self, path: &str, form: &[(&str, &str)], how: As<'_>) -> Reply {
        let mut form = form.to_vec();
        let basic = match how {
            As::Nobody => None,
            As::Public(id) => {
                form.push(("client_id", id));
                None
            }
            As::Basic(id, secret) => Some((id, secret)),
            As::Post(id, secret) => {
                form.push(("client_id", id));
                form.push(("client_secret", secret));
                None
            }
        };
        self.app.post_form(path, &form, basic).await
    }

    async fn revoke(&self, token: &str, how: As<'_>) -> Reply {
        self.post("/oauth/revoke", &[("token", token)], how).await
    }

    async fn refresh(&self, token: &str, how: As<'_>) -> Reply {
        let form = [("grant_type", "refresh_token"), ("refresh_token", token)];
        self.post("/oauth/token", &form, how).await
    }

    /// What introspection answers of `token`.
    async fn introspect(&self, token: &str) -> Value {
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
        reply.body
    }

    async fn active(&self, token: &str) -> bool {
        self.introspect(token).await["active"].as_bool().unwrap()
    }

    /// The session ids the revocation feed lists.
    async fn feed(&self) -> Vec<String> {
        let (id, secret) = self.app.create_client("feed", "authd:revocations").await;
        let reply = self
            .app
            .send(
                self.app
                    .client
                    .get(self.app.url("/auth/revocations"))
                    .basic_auth(&id, Some(&secret)),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply.body["revocations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["sid"].as_str().unwrap().to_owned())
            .collect()
    }
}

/// A client of `kind` redirecting to [`REDIRECT`]; the SPA's origin may call
/// the token and revocation endpoints.
async fn register(
    app: &TestApp,
    name: &str,
    kind: authd::clients::ClientKind,
) -> (String, Option<String>) {
    let spec = authd::clients::ClientSpec {
        kind,
        redirect_uris: vec![REDIRECT.to_owned()],
        web_origins: match kind {
            authd::clients::ClientKind::Public => vec![SPA_ORIGIN.to_owned()],
            _ => vec![],
        },
        ..authd::clients::ClientSpec::machine(name, SCOPE)
    };
    let policy = authd::clients::Policy { development: true };
    let (client, secret) = authd::clients::register(app.store(), spec, policy, app.now())
        .await
        .unwrap();
    (client.id, secret.map(|s| s.expose_secret().to_owned()))
}

fn text(body: &Value, name: &str) -> String {
    body[name]
        .as_str()
        .unwrap_or_else(|| panic!("{name} in {body}"))
        .to_owned()
}

fn sid(access: &str) -> String {
    jwt_claims(access)["sid"].as_str().unwrap().to_owned()
}

fn refused(reply: &Reply, status: u16, error: &str, case: &str) {
    assert_eq!(
        (reply.status, reply.error()),
        (status, error),
        "{case}: {}",
        reply.text
    );
}

async fn a_public_client_revokes_its_refresh_token_and_the_family_ends(backend: Backend) {
    let apps = Apps::new(backend).await;
    let spa = As::Public(&apps.spa);
    let (access, refresh) = apps.tokens(&apps.spa, spa).await;

    // Introspection names the app the token was issued to, and its scopes.
    let answer = apps.introspect(&refresh).await;
    assert_eq!(answer["active"], true, "{answer}");
    assert_eq!(answer["client_id"], apps.spa.as_str(), "{answer}");
    assert_eq!(answer["scope"], SCOPE, "{answer}");
    assert_eq!(answer["sid"], sid(&access).as_str());
    let answer = apps.introspect(&access).await;
    assert_eq!(answer["client_id"], apps.spa.as_str(), "{answer}");
    assert_eq!(answer["scope"], SCOPE, "{answer}");

    // Refused without the SPA naming itself, as authd's own client, or with
    // a secret the SPA does not have; nothing ends.
    let first_party = apps.app.services().settings.jwt.client_id.clone();
    for (how, status, error) in [
        (As::Nobody, 401, "invalid_client"),
        (As::Public(&first_party), 400, "unauthorized_client"),
        (As::Basic(&apps.spa, "a secret"), 401, "invalid_client"),
    ] {
        for token in [&refresh, &access] {
            let reply = apps.revoke(token, how).await;
            refused(&reply, status, error, &format!("{how:?}"));
        }
    }
    assert!(
        apps.active(&refresh).await,
        "a refused revocation ends nothing"
    );
    assert!(apps.active(&access).await);

    // The SPA itself, from its web origin: 200 with CORS for that origin.
    let reply = apps
        .app
        .send(
            apps.app
                .client
                .post(apps.app.url("/oauth/revoke"))
                .header("origin", SPA_ORIGIN)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!(
                    "token={}&client_id={}",
                    crate::helpers::urlencode(&refresh),
                    apps.spa
                )),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        reply.header("access-control-allow-origin"),
        Some(SPA_ORIGIN)
    );
    assert_eq!(reply.header("access-control-allow-credentials"), None);

    // The family is gone: its refresh token refused, its access token
    // inactive, the session in the revocation feed.
    let again = apps.refresh(&refresh, spa).await;
    refused(&again, 400, "invalid_grant", "refresh after revocation");
    assert!(!apps.active(&access).await);
    assert!(apps.feed().await.contains(&sid(&access)));

    // An access token of a live family ends its family too.
    let (access, refresh) = apps.tokens(&apps.spa, spa).await;
    let reply = apps.revoke(&access, spa).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    refused(
        &apps.refresh(&refresh, spa).await,
        400,
        "invalid_grant",
        "refresh after the access token's revocation",
    );
}

async fn a_confidential_client_revokes_with_its_secret_by_its_method_only(backend: Backend) {
    let apps = Apps::new(backend).await;
    let (id, secret) = (apps.a.0.as_str(), apps.a.1.as_str());
    let (access, refresh) = apps.tokens(id, As::Basic(id, secret)).await;

    for (how, case) in [
        (As::Basic(id, "wrong"), "a wrong secret"),
        (As::Basic(id, &apps.b.1), "another client's secret"),
        (As::Post(id, secret), "the right secret by another method"),
        (As::Public(id), "no secret"),
    ] {
        refused(
            &apps.revoke(&refresh, how).await,
            401,
            "invalid_client",
            case,
        );
        refused(
            &apps.revoke(&access, how).await,
            401,
            "invalid_client",
            case,
        );
    }
    assert!(
        apps.active(&refresh).await,
        "a refused revocation ends nothing"
    );

    let reply = apps.revoke(&refresh, As::Basic(id, secret)).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    refused(
        &apps.refresh(&refresh, As::Basic(id, secret)).await,
        400,
        "invalid_grant",
        "refresh after revocation",
    );
    assert!(!apps.active(&access).await);
    let events = apps.app.audit_kinds(apps.user).await;
    assert_eq!(events[0], "logout", "{events:?}");

    // Its access token, revoked by it, ends its family.
    let (access, refresh) = apps.tokens(id, As::Basic(id, secret)).await;
    let reply = apps.revoke(&access, As::Basic(id, secret)).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(!apps.active(&refresh).await);
}

async fn another_clients_revocation_is_refused_and_the_token_keeps_working(backend: Backend) {
    let apps = Apps::new(backend).await;
    let a = As::Basic(&apps.a.0, &apps.a.1);
    let (access, refresh) = apps.tokens(&apps.a.0, a).await;
    let (machine, machine_secret) = apps.app.create_client("ops", "ops").await;
    let others = [
        (
            As::Basic(&apps.b.0, &apps.b.1),
            "another confidential client",
        ),
        (As::Public(&apps.spa), "a public client"),
        (As::Basic(&machine, &machine_secret), "a machine client"),
    ];
    for (how, case) in others {
        for token in [&refresh, &access] {
            let reply = apps.revoke(token, how).await;
            refused(&reply, 400, "unauthorized_client", case);
        }
    }
    // Nothing ended: A still refreshes its family, and its access token works.
    assert!(apps.active(&access).await);
    let rotated = apps.refresh(&refresh, a).await;
    assert_eq!(rotated.status, 200, "{}", rotated.text);

    // And A may not revoke the SPA's tokens, nor a first-party session's.
    let (spa_access, spa_refresh) = apps.tokens(&apps.spa, As::Public(&apps.spa)).await;
    let own = apps.app.login_body(&apps.email).await;
    for token in [&spa_access, &spa_refresh, &own.access, &own.refresh] {
        refused(
            &apps.revoke(token, a).await,
            400,
            "unauthorized_client",
            "A revoking others' tokens",
        );
    }
    assert!(apps.active(&spa_refresh).await);
    assert!(apps.app.access_works(&own.access).await);
}

async fn a_rotated_away_app_refresh_token_revoked_is_reuse(backend: Backend) {
    let apps = Apps::new(backend).await;
    let a = As::Basic(&apps.a.0, &apps.a.1);
    let (_, first) = apps.tokens(&apps.a.0, a).await;
    let own = apps.app.login_body(&apps.email).await;
    let rotated = apps.refresh(&first, a).await;
    assert_eq!(rotated.status, 200, "{}", rotated.text);
    // Past the grace window, the rotated-away token is reuse, as at logout:
    // every session of the user ends.
    apps.app.advance(11);
    let reply = apps.revoke(&first, a).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(!apps.app.access_works(&own.access).await);
    assert!(!apps.active(&text(&rotated.body, "refresh_token")).await);
    assert_eq!(
        apps.app.audit_kinds(apps.user).await[0],
        "refresh_reuse_detected"
    );
}

async fn first_party_logout_ends_no_client_family(backend: Backend) {
    let apps = Apps::new(backend).await;
    let a = As::Basic(&apps.a.0, &apps.a.1);
    let (access, refresh) = apps.tokens(&apps.a.0, a).await;
    let reply = apps
        .app
        .post_json(
            "/auth/logout",
            &serde_json::json!({ "refresh_token": refresh }),
        )
        .await;
    assert_eq!(reply.status, 204, "{}", reply.text);
    assert!(apps.active(&access).await, "the app's family lives on");
    assert_eq!(apps.refresh(&refresh, a).await.status, 200);
}
