//! A server whose keys are HS256 only signs access tokens and never ID
//! tokens, so a public or confidential client that may be granted `openid`
//! could sign nobody in there: it is refused at start-up, by `authd clients
//! create` and `update`, and, registered another way, at the token endpoint
//! with `unauthorized_client` (never a server error), the code left unspent.

use std::process::Command;

use authd::clients::manage::{self, Authority};
use authd::clients::{self, ClientChanges, ClientKind, ClientSpec, Policy};
use authd::oauth::codes::{self, NewCode};
use authd::sessions::SessionKind;
use secrecy::ExposeSecret;

use crate::helpers::{Backend, TestApp, hs256_key, spawn_app_with, test_settings};
use crate::on_both_stores;

on_both_stores!(
    an_openid_client_stops_an_hs256_only_server_from_starting,
    an_openid_client_registered_anyway_is_refused_at_the_token_endpoint,
    registering_or_changing_an_openid_client_is_refused_without_an_id_token_key,
);

const REDIRECT: &str = "https://spa.example.com/callback";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const SECRET: &str = "an HS256 secret of at least thirty-two bytes";
const ADVICE: &str = "add an RS256, ES256 or EdDSA key";

fn spa(scopes: &str) -> ClientSpec {
    ClientSpec {
        kind: ClientKind::Public,
        redirect_uris: vec![REDIRECT.to_owned()],
        ..ClientSpec::machine("SPA", scopes)
    }
}

async fn hs256_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |s| s.jwt.keys = vec![hs256_key("h1", SECRET)]).await
}

/// Starts another server on `app`'s database with HS256 keys only.
async fn start_hs256(app: &TestApp) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = test_settings(dir.path());
    settings.database.url = app.database_url().to_owned().into();
    settings.jwt.keys = vec![hs256_key("h1", SECRET)];
    let clock = std::sync::Arc::new(authd::clock::ManualClock::new(chrono::Utc::now()));
    authd::app::Application::build(settings, clock)
        .await
        .map(drop)
        .map_err(|e| e.to_string())
}

async fn an_openid_client_stops_an_hs256_only_server_from_starting(backend: Backend) {
    let app = hs256_app(backend).await;
    let store = app.store();
    // Clients that need no ID token do not stop it.
    clients::create(store, "machine", "openid", app.now())
        .await
        .unwrap();
    clients::register(
        store,
        spa("email offline_access"),
        Policy::default(),
        app.now(),
    )
    .await
    .unwrap();
    assert_eq!(start_hs256(&app).await, Ok(()));

    let (client, _) = clients::register(store, spa("openid email"), Policy::default(), app.now())
        .await
        .unwrap();
    let error = start_hs256(&app).await.unwrap_err();
    assert!(error.contains(&client.id), "{error}");
    assert!(error.contains(ADVICE), "{error}");
}

async fn an_openid_client_registered_anyway_is_refused_at_the_token_endpoint(backend: Backend) {
    let app = hs256_app(backend).await;
    let email = format!("user-{}@example.com", uuid::Uuid::new_v4().simple());
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
    let (client, _) = clients::register(
        app.store(),
        spa("openid offline_access"),
        Policy::default(),
        app.now(),
    )
    .await
    .unwrap();
    let code = |scope: &'static str| {
        let (client, browser) = (client.id.clone(), browser.id);
        let app = &app;
        async move {
            let mut conn = app.store().conn().await.unwrap();
            let new = NewCode {
                client_id: &client,
                redirect_uri: REDIRECT,
                code_challenge: Some(CHALLENGE),
                nonce: None,
                scope,
                user_id: user,
                browser_session_id: browser,
                auth_time: app.now(),
                methods: "password",
            };
            codes::issue(&mut conn, &new, app.now())
                .await
                .unwrap()
                .expose_secret()
                .to_owned()
        }
    };
    let redeem = |code: String| {
        let id = client.id.clone();
        let app = &app;
        async move {
            let form = [
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
                ("client_id", id.as_str()),
            ];
            app.post_form("/oauth/token", &form, None).await
        }
    };

    let openid = code("openid offline_access").await;
    for _ in 0..2 {
        let reply = redeem(openid.clone()).await;
        assert_eq!(
            (reply.status, reply.error()),
            (400, "unauthorized_client"),
            "{}",
            reply.text
        );
        assert!(
            reply.body["error_description"]
                .as_str()
                .unwrap()
                .contains("RS256"),
            "{}",
            reply.text
        );
    }
    // Refused twice the same way: the code was not spent (a second
    // presentation of a spent one is invalid_grant), and no family started.
    let mut conn = app.store().conn().await.unwrap();
    let live = authd::store::sessions::list_live(&mut conn, user, app.now())
        .await
        .unwrap();
    assert_eq!(live.len(), 1, "only the browser session: {live:?}");
    drop(conn);

    // Without openid the same client signs in, with an HS256 access token.
    let reply = redeem(code("offline_access").await).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(reply.body.get("id_token").is_none(), "{}", reply.text);
}

async fn registering_or_changing_an_openid_client_is_refused_without_an_id_token_key(
    backend: Backend,
) {
    let app = hs256_app(backend).await;
    let keys = app.services().access.keys();
    let (store, now) = (app.store(), app.now());
    // What `authd clients create|update` and the admin API call.
    let op = Authority::operator();
    let error = manage::create(store, spa("openid"), Policy::default(), keys, &op, now)
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains(ADVICE), "{error}");
    assert!(
        clients::list(store).await.unwrap().is_empty(),
        "nothing stored"
    );

    let (client, _) = manage::create(store, spa("email"), Policy::default(), keys, &op, now)
        .await
        .unwrap();
    let changes = ClientChanges {
        scopes: Some("openid email".into()),
        ..ClientChanges::default()
    };
    let error = manage::update(
        store,
        &client.id,
        changes,
        Policy::default(),
        keys,
        &op,
        now,
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(error.contains(ADVICE), "{error}");
    let stored = clients::find(store, &client.id).await.unwrap().unwrap();
    assert_eq!(stored.scopes, "email", "the change was not stored");
}

/// `authd clients create` and `update` on the command line, with HS256 keys
/// only from the environment (SQLite, as the other binary tests).
#[test]
fn the_cli_refuses_an_openid_client_on_an_hs256_only_server() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("authd.db").display());
    let keys = serde_json::json!([{ "kid": "h1", "alg": "HS256", "secret": SECRET }]);
    let authd = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_authd"))
            .args(args)
            .env("AUTHD__DATA_DIR", dir.path().join("data"))
            .env("AUTHD__DATABASE__URL", &db)
            .env("AUTHD__JWT__KEYS", keys.to_string())
            .env_remove("AUTHD_CONFIG")
            .output()
            .unwrap();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let create = |scope: &str| {
        authd(&[
            "clients",
            "create",
            "--kind",
            "public",
            "--name",
            "SPA",
            "--scope",
            scope,
            "--redirect-uri",
            REDIRECT,
        ])
    };
    let (ok, out, err) = create("openid email");
    assert!(!ok, "{out}");
    assert!(err.contains(ADVICE), "{err}");
    assert!(err.contains("openid"), "{err}");

    let (ok, out, err) = create("email");
    assert!(ok, "{err}");
    let id = out
        .lines()
        .find_map(|l| l.strip_prefix("client_id"))
        .map(|rest| rest.trim_start_matches([' ', '=']).trim().to_owned())
        .unwrap();
    let (ok, out, err) = authd(&["clients", "update", &id, "--scope", "openid"]);
    assert!(!ok, "{out}");
    assert!(err.contains(ADVICE), "{err}");
    let (ok, out, err) = authd(&["clients", "list"]);
    assert!(ok, "{err}");
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(!out.contains("openid"), "{out}");
}
