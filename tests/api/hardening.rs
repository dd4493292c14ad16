//! Smaller hardening (issue 10, items 3, 13 and 14): metric labels a client
//! cannot multiply, `Allow` on every 405, client authentication before the
//! introspection form, HSTS for an https issuer, no `.env` from a parent
//! directory, and access tokens with claims authd does not know.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use jsonwebtoken::{Algorithm, EncodingKey};
use reqwest::Method;
use secrecy::ExposeSecret;
use serde_json::json;

use crate::access_tokens::{header_of, payload, sign};
use crate::helpers::{Backend, TestApp, shared_rs256_key, spawn_app, spawn_app_with};
use crate::on_both_stores;

on_both_stores!(
    introspection_without_client_authentication_is_invalid_client_whatever_the_form_lacks,
    an_access_token_with_a_claim_authd_does_not_know_is_accepted,
);

/// The number of series of `authd_http_requests_total` in `/metrics`.
async fn request_series(app: &TestApp) -> usize {
    let metrics = app.metrics().await;
    assert_eq!(metrics.status, 200);
    metrics
        .text
        .lines()
        .filter(|l| l.starts_with("authd_http_requests_total{"))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn made_up_methods_and_paths_do_not_add_metric_series() {
    let app = spawn_app(Backend::Sqlite).await;
    // Twice: the first scrape is counted after it answers, the second sees it.
    request_series(&app).await;
    let before = request_series(&app).await;

    let made_up = |i: usize| Method::from_bytes(format!("MADEUP{i}").as_bytes()).unwrap();
    for i in 0..50 {
        let reply = app
            .send(app.client.request(made_up(i), app.url("/auth/login")))
            .await;
        assert_eq!(reply.status, 405, "{}", reply.text);
    }
    let after_methods = request_series(&app).await;
    assert!(
        after_methods <= before + 1,
        "50 made-up methods on one route added {} series",
        after_methods - before
    );

    for i in 0..20 {
        let path = format!("/made-up-{i}");
        let reply = app
            .send(app.client.request(made_up(100 + i), app.url(&path)))
            .await;
        assert_eq!(reply.status, 404, "{}", reply.text);
    }
    let after_paths = request_series(&app).await;
    assert!(
        after_paths <= after_methods + 1,
        "20 made-up methods on made-up paths added {} series",
        after_paths - after_methods
    );
    let metrics = app.metrics().await.text;
    assert!(
        metrics.contains(
            r#"authd_http_requests_total{method="other",route="/auth/login",status="405"} 50"#
        ),
        "{metrics}"
    );
    assert!(!metrics.contains("MADEUP"), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_a_method_it_does_not_serve_with_405_and_allow() {
    let app = spawn_app(Backend::Sqlite).await;
    let mut served: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (method, path) in authd::http::ROUTES {
        served.entry(path).or_default().insert(method);
    }
    assert!(!served.is_empty());
    let probes = [
        "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "BREW",
    ];
    for (path, methods) in &served {
        let concrete = path
            .replace("{id}", &uuid::Uuid::new_v4().to_string())
            .replace("{client_id}", "client_unknown");
        assert!(!concrete.contains('{'), "a template left in {path}");
        for probe in probes.iter().filter(|m| !methods.contains(*m)) {
            let method = Method::from_bytes(probe.as_bytes()).unwrap();
            let reply = app
                .send(app.client.request(method, app.url(&concrete)))
                .await;
            assert_eq!(reply.status, 405, "{probe} {path}: {}", reply.text);
            if *probe != "HEAD" {
                assert_eq!(reply.error(), "method_not_allowed", "{probe} {path}");
            }
            let allow: BTreeSet<&str> = reply
                .header("allow")
                .unwrap_or_else(|| panic!("{probe} {path}: no Allow header"))
                .split(',')
                .map(str::trim)
                .collect();
            assert_eq!(&allow, methods, "{probe} {path}");
        }
    }
}

async fn introspection_without_client_authentication_is_invalid_client_whatever_the_form_lacks(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let (id, secret) = app
        .create_client("gateway", "gateway authd:introspect")
        .await;
    let wrong = Some((id.as_str(), "wrong"));
    type Form<'a> = &'a [(&'a str, &'a str)];
    let cases: [(Form, Option<(&str, &str)>); 5] = [
        (&[], None),
        (&[("token_type_hint", "access_token")], None),
        (&[("token", "")], None),
        (&[], wrong),
        (&[("client_id", &id), ("client_secret", "wrong")], None),
    ];
    for (form, client) in cases {
        let reply = app.post_form("/oauth/introspect", form, client).await;
        assert_eq!(
            (reply.status, reply.error()),
            (401, "invalid_client"),
            "{form:?} {client:?}: {}",
            reply.text
        );
        assert_eq!(
            reply.header("www-authenticate"),
            Some(r#"Basic realm="authd""#)
        );
    }
    // An authenticated client that sends no token is told so.
    let reply = app
        .post_form("/oauth/introspect", &[], Some((&id, &secret)))
        .await;
    assert_eq!(
        (reply.status, reply.error()),
        (400, "invalid_request"),
        "{}",
        reply.text
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_issuer_gets_strict_transport_security_and_an_http_one_does_not() {
    let https = spawn_app_with(Backend::Sqlite, |s| {
        s.server.issuer = "https://authd.test".into();
        // An https issuer needs an SMTP host (nothing is sent here).
        s.email.smtp.host = "smtp.authd.test".into();
    })
    .await;
    for path in ["/healthz", "/.well-known/jwks.json", "/no-such-path"] {
        let reply = https.get(path).await;
        assert_eq!(
            reply.header("strict-transport-security"),
            Some("max-age=31536000"),
            "{path}"
        );
        // The other security headers are still there.
        assert_eq!(reply.header("x-content-type-options"), Some("nosniff"));
    }
    let http = spawn_app(Backend::Sqlite).await;
    for path in ["/healthz", "/no-such-path"] {
        let reply = http.get(path).await;
        assert_eq!(reply.header("strict-transport-security"), None, "{path}");
        assert_eq!(reply.header("x-content-type-options"), Some("nosniff"));
    }
}

/// Runs `authd migrate` in `dir`, with no database URL of its own: the default
/// SQLite file in its data directory, unless an environment file says otherwise.
fn migrate_in(dir: &std::path::Path) {
    let output = Command::new(env!("CARGO_BIN_EXE_authd"))
        .arg("migrate")
        .current_dir(dir)
        .env_remove("AUTHD_ENV_FILE")
        .env_remove("AUTHD_CONFIG")
        .env_remove("AUTHD__DATABASE__URL")
        .env_remove("AUTHD__DATABASE__URL_FILE")
        .env("AUTHD__DATA_DIR", dir.join("data"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn a_dotenv_file_in_a_parent_directory_is_not_read() {
    let parent = tempfile::tempdir().unwrap();
    let child = parent.path().join("service");
    std::fs::create_dir(&child).unwrap();
    let planted = parent.path().join("planted.db");
    std::fs::write(
        parent.path().join(".env"),
        format!("AUTHD__DATABASE__URL=sqlite://{}\n", planted.display()),
    )
    .unwrap();
    migrate_in(&child);
    assert!(!planted.exists(), "the parent directory's .env was read");
    assert!(child.join("data/authd.db").exists());

    // Control: a `.env` of the current directory is read.
    let own = child.join("own.db");
    std::fs::write(
        child.join(".env"),
        format!("AUTHD__DATABASE__URL=sqlite://{}\n", own.display()),
    )
    .unwrap();
    migrate_in(&child);
    assert!(own.exists(), "the current directory's .env was not read");
    assert!(!planted.exists());
}

async fn an_access_token_with_a_claim_authd_does_not_know_is_accepted(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, tokens) = app.user_with_tokens().await;
    let header = header_of(&tokens.access);
    let claims = payload(&tokens.access);
    let pem = shared_rs256_key().private_key.unwrap();
    let key = EncodingKey::from_rsa_pem(pem.expose_secret().as_bytes()).unwrap();
    let rs = |claims: &serde_json::Value| sign(&header, claims, Algorithm::RS256, &key);

    // A newer authd during a rolling upgrade might add claims like these.
    let mut extended = claims.clone();
    extended["auth_time"] = json!(claims["iat"]);
    extended["future_claim"] = json!({"nested": [1, 2, 3]});
    let token = rs(&extended);
    let me = app.get_bearer("/auth/me", &token).await;
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.body["id"], claims["sub"]);

    // Every required claim is still required.
    for required in ["iss", "sub", "aud", "exp", "iat", "jti", "client_id"] {
        let mut missing = extended.clone();
        missing.as_object_mut().unwrap().remove(required);
        assert!(
            !app.access_works(&rs(&missing)).await,
            "a token without {required} was accepted"
        );
    }
}
