//! Roles and app_metadata in tokens (`accounts::roles`,
//! `accounts::app_metadata`, `accounts::claims`), on both stores: a change
//! reaches access tokens, ID tokens and introspection at the next issue (a
//! refresh), never a token already issued; the claim names follow
//! `[tokens]`; app_metadata is bounded, an object, and in tokens only when
//! `tokens.app_metadata_claim` is set; a bad role name changes nothing. The
//! operator's commands drive the same services through the binary.

use std::process::Command;

use authd::accounts::{app_metadata, roles};
use authd::audit::Actor;
use authd::domain::InputError;
use authd::error::ServiceError;
use serde_json::{Value, json};

use crate::authorize::support::{Browser, REDIRECT, client, param, query, to_client};
use crate::helpers::{Backend, PASSWORD, TestApp, jwt_claims, spawn_app, spawn_app_with};
use crate::on_both_stores;

on_both_stores!(
    roles_reach_tokens_and_introspection_at_the_next_refresh_not_before,
    an_apps_access_and_id_tokens_carry_them_under_the_configured_names,
    app_metadata_is_bounded_and_in_tokens_only_when_configured,
    the_operators_commands_drive_the_same_services,
);

async fn set_roles(app: &TestApp, email: &str, add: &[&str], remove: &[&str]) -> Vec<String> {
    let user = app.user_id(email).await;
    let changes = roles::RoleChanges {
        add: add.iter().map(|r| (*r).to_owned()).collect(),
        remove: remove.iter().map(|r| (*r).to_owned()).collect(),
    };
    roles::change(app.services(), user, &changes, Actor::CLI)
        .await
        .unwrap()
        .expect("the account exists")
}

async fn introspect(app: &TestApp, token: &str, client: &(String, String)) -> Value {
    let reply = app
        .post_form(
            "/oauth/introspect",
            &[("token", token)],
            Some((&client.0, &client.1)),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["active"], true, "{}", reply.text);
    reply.body
}

async fn roles_reach_tokens_and_introspection_at_the_next_refresh_not_before(backend: Backend) {
    let app = spawn_app(backend).await;
    let gateway = app.create_client("gateway", "authd:introspect").await;
    let (email, tokens) = app.user_with_tokens().await;
    // No role: no claim at all.
    assert!(jwt_claims(&tokens.access).get("roles").is_none());

    let now = set_roles(&app, &email, &["support", "billing:read"], &[]).await;
    assert_eq!(now, ["billing:read", "support"]);
    // Not before the next issue: the token already issued is unchanged,
    // and so is what introspection says of it.
    assert!(
        introspect(&app, &tokens.access, &gateway)
            .await
            .get("roles")
            .is_none()
    );
    // The refresh token's introspection says what the next token carries.
    let refresh = introspect(&app, &tokens.refresh, &gateway).await;
    assert_eq!(refresh["roles"], json!(["billing:read", "support"]));

    let refreshed = app.refresh_body(&tokens.refresh).await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.text);
    let access = refreshed.access_token();
    assert_eq!(
        jwt_claims(&access)["roles"],
        json!(["billing:read", "support"])
    );
    assert_eq!(
        introspect(&app, &access, &gateway).await["roles"],
        json!(["billing:read", "support"])
    );
    // The token still verifies wherever authd-verify checks it.
    assert!(app.access_works(&access).await);

    // Taking every role away takes the claim away, at the next refresh.
    let now = set_roles(&app, &email, &[], &["support", "billing:read", "never-had"]).await;
    assert!(now.is_empty());
    assert!(
        jwt_claims(&access).get("roles").is_some(),
        "issued as it was"
    );
    let again = app.refresh_body(&refreshed.refresh_token()).await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert!(jwt_claims(&again.access_token()).get("roles").is_none());

    // Audited with the actor, the change in the detail.
    let user = app.user_id(&email).await;
    let changes: Vec<_> = app
        .audit_events(user)
        .await
        .into_iter()
        .filter(|e| e.kind == "roles_changed")
        .collect();
    assert_eq!(changes.len(), 2);
    assert!(
        changes
            .iter()
            .all(|e| e.actor.as_deref() == Some("operator:cli"))
    );
    let details: Vec<_> = changes.iter().filter_map(|e| e.detail.clone()).collect();
    assert!(
        details.contains(&"+support +billing:read".to_owned()),
        "{details:?}"
    );
    assert!(
        details.contains(&"-support -billing:read".to_owned()),
        "{details:?}"
    );
}

/// Signs `email` in to `client` through the hosted pages; the token answer.
async fn code_flow_tokens(
    app: &TestApp,
    client: &crate::helpers::OidcClient,
    email: &str,
) -> Value {
    let mut browser = Browser::new(app);
    let q = query(client, &[("scope", "openid email offline_access")]);
    let start = browser.authorize(&q).await;
    let page = browser.follow(&start).await;
    let signed_in = browser.log_in(&page, email, PASSWORD).await;
    let consent = browser.follow(&signed_in).await;
    let back = to_client(&browser.consent(&consent, "allow").await);
    let code = param(&back, "code").unwrap();
    let secret = client.secret.clone().unwrap();
    let tokens = app
        .post_form(
            "/oauth/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                (
                    "code_verifier",
                    "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
                ),
            ],
            Some((&client.id, &secret)),
        )
        .await;
    assert_eq!(tokens.status, 200, "{}", tokens.text);
    tokens.body
}

async fn an_apps_access_and_id_tokens_carry_them_under_the_configured_names(backend: Backend) {
    const ROLES: &str = "https://example.com/roles";
    const META: &str = "https://example.com/app_metadata";
    let app = spawn_app_with(backend, |s| {
        s.tokens.roles_claim = ROLES.into();
        s.tokens.app_metadata_claim = Some(META.into());
    })
    .await;
    let client = client(&app).await;
    let (email, _) = app.user_with_tokens().await;
    set_roles(&app, &email, &["admin"], &[]).await;
    let user = app.user_id(&email).await;
    app_metadata::set(
        app.services(),
        user,
        r#"{"plan": "pro", "seats": 5}"#,
        Actor::CLI,
    )
    .await
    .unwrap()
    .unwrap();

    let tokens = code_flow_tokens(&app, &client, &email).await;
    let access = jwt_claims(tokens["access_token"].as_str().unwrap());
    let id = jwt_claims(tokens["id_token"].as_str().unwrap());
    for claims in [&access, &id] {
        assert_eq!(claims[ROLES], json!(["admin"]), "{claims}");
        assert_eq!(
            claims[META],
            json!({ "plan": "pro", "seats": 5 }),
            "{claims}"
        );
        assert!(
            claims.get("roles").is_none(),
            "only the configured name: {claims}"
        );
    }
    // A refresh of the family reads them again.
    set_roles(&app, &email, &["auditor"], &["admin"]).await;
    let refreshed = app
        .post_form(
            "/oauth/token",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ],
            Some((&client.id, client.secret.as_deref().unwrap())),
        )
        .await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.text);
    let access = jwt_claims(refreshed.body["access_token"].as_str().unwrap());
    assert_eq!(access[ROLES], json!(["auditor"]));
}

async fn app_metadata_is_bounded_and_in_tokens_only_when_configured(backend: Backend) {
    let app = spawn_app(backend).await;
    let (email, _) = app.user_with_tokens().await;
    let user = app.user_id(&email).await;
    let svc = app.services();
    let set = |raw: String| async move { app_metadata::set(svc, user, &raw, Actor::CLI).await };

    // Too large, or not an object: refused, nothing stored.
    let big = format!(r#"{{"k":"{}"}}"#, "x".repeat(app_metadata::MAX_BYTES));
    for bad in [
        big,
        "[1, 2]".to_owned(),
        "\"text\"".to_owned(),
        "{".to_owned(),
    ] {
        let refused = set(bad.clone()).await;
        assert!(
            matches!(
                refused,
                Err(ServiceError::Input(InputError::AppMetadata(_)))
            ),
            "{bad:.40}: {refused:?}"
        );
    }
    let mut conn = app.store().conn().await.unwrap();
    assert!(app_metadata::get(&mut conn, user).await.unwrap().is_none());
    drop(conn);

    // Set, but `tokens.app_metadata_claim` is unset: in no token.
    set(r#"{"plan": "pro"}"#.to_owned()).await.unwrap().unwrap();
    let tokens = app.login_body(&email).await;
    let claims = jwt_claims(&tokens.access);
    assert!(
        !claims.to_string().contains("pro"),
        "app_metadata only when configured: {claims}"
    );
    assert!(
        app.audit_kinds(user)
            .await
            .contains(&"app_metadata_changed".to_owned())
    );

    // No user endpoint takes it, nor roles: only the admin API's operations
    // and schemas name them.
    let document = app.get("/openapi.json").await;
    assert_eq!(document.status, 200);
    for (path, item) in document.body["paths"].as_object().unwrap() {
        let text = item.to_string();
        if !path.starts_with("/admin/") {
            assert!(!text.contains("app_metadata"), "{path}");
            assert!(!text.contains("#/components/schemas/Admin"), "{path}");
        }
    }
    for (name, schema) in document.body["components"]["schemas"].as_object().unwrap() {
        let text = schema.to_string();
        if text.contains("app_metadata") || text.contains("\"roles\"") {
            assert!(name.starts_with("Admin"), "{name}");
        }
    }

    // A bad role name among good ones: refused, nothing written.
    let changes = roles::RoleChanges {
        add: vec!["ok".into(), "Not A Role".into()],
        remove: Vec::new(),
    };
    let refused = roles::change(svc, user, &changes, Actor::CLI).await;
    assert!(
        matches!(refused, Err(ServiceError::Input(InputError::RoleName))),
        "{refused:?}"
    );
    let mut conn = app.store().conn().await.unwrap();
    assert!(roles::list(&mut conn, user).await.unwrap().is_empty());
}

/// Runs the binary on the app's database and data directory.
fn authd(app: &TestApp, args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_authd"))
        .args(args)
        .env("AUTHD__DATA_DIR", &app.services().settings.data_dir)
        .env("AUTHD__DATABASE__URL", app.database_url())
        .env_remove("AUTHD_CONFIG")
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

async fn the_operators_commands_drive_the_same_services(backend: Backend) {
    let app = spawn_app(backend).await;
    let (email, tokens) = app.user_with_tokens().await;

    let (ok, _, err) = authd(&app, &["users", "disable", "nobody@example.com"]);
    assert!(!ok && err.contains("no account"), "{err}");
    let (ok, out, err) = authd(&app, &["users", "disable", &email]);
    assert!(ok, "{err}");
    assert!(out.contains("1 sessions ended"), "{out}");
    assert!(!app.access_works(&tokens.access).await);
    let refused = app.try_login(&email, PASSWORD).await;
    assert_eq!(refused.error(), "account_disabled", "{}", refused.text);
    let (ok, out, _) = authd(&app, &["users", "disable", &email]);
    assert!(ok && out.contains("already disabled"), "{out}");
    let (ok, out, err) = authd(&app, &["users", "enable", &email]);
    assert!(ok && out.contains("enabled"), "{out}{err}");
    app.login_body(&email).await;

    let (ok, out, err) = authd(
        &app,
        &[
            "users", "roles", &email, "--add", "admin", "--add", "support",
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(out, "admin\nsupport\n");
    let (ok, out, _) = authd(&app, &["users", "roles", &email, "--remove", "admin"]);
    assert!(ok);
    assert_eq!(out, "support\n");
    let (ok, _, err) = authd(&app, &["users", "roles", &email, "--add", "BAD ROLE"]);
    assert!(!ok && err.contains("a role must be"), "{err}");

    let (ok, out, err) = authd(
        &app,
        &[
            "users",
            "app-metadata",
            &email,
            "--set",
            r#"{"plan":"pro"}"#,
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(out.trim(), r#"{"plan":"pro"}"#);
    let (ok, _, err) = authd(&app, &["users", "app-metadata", &email, "--set", "[]"]);
    assert!(!ok && err.contains("JSON object"), "{err}");
    let (ok, out, _) = authd(&app, &["users", "app-metadata", &email]);
    assert!(ok);
    assert_eq!(out.trim(), r#"{"plan":"pro"}"#);

    let user = app.user_id(&email).await;
    let kinds = app.audit_kinds(user).await;
    for kind in [
        "user_disabled",
        "user_enabled",
        "roles_changed",
        "app_metadata_changed",
    ] {
        assert!(kinds.contains(&kind.to_owned()), "{kind}: {kinds:?}");
    }
}
