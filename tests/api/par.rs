//! Pushed authorization requests (RFC 9126): only an authenticated client
//! pushes, only its own request_uri starts an authorization, once, for a
//! short while; a pushed request is checked like any other.

use crate::helpers::{AppKind, OidcClient, Reply, TestApp, spawn_app, urlencode};

crate::on_both_stores!(
    a_pushed_request_starts_one_authorization_and_only_for_its_client,
    a_push_is_refused_without_the_clients_authentication,
    a_pushed_request_is_checked_like_any_other,
    a_request_uri_expires,
);

const REDIRECT: &str = "https://app.example.com:8443/cb";
const OTHER: &str = "https://app.example.com:8443/other";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn params(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut params = vec![
        ("response_type", "code"),
        ("redirect_uri", REDIRECT),
        ("scope", "openid email"),
        ("state", "st-1"),
        ("nonce", "n-1"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ];
    for (k, v) in extra {
        params.retain(|(name, _)| name != k);
        if !v.is_empty() {
            params.push((k, v));
        }
    }
    params
}

async fn push(app: &TestApp, client: &OidcClient, extra: &[(&'static str, &'static str)]) -> Reply {
    let secret = client.secret.as_deref().unwrap_or_default();
    app.post_form("/oauth/par", &params(extra), Some((&client.id, secret)))
        .await
}

async fn authorize(app: &TestApp, client: &OidcClient, request_uri: &str) -> Reply {
    app.get(&format!(
        "/oauth/authorize?client_id={}&request_uri={}",
        urlencode(&client.id),
        urlencode(request_uri)
    ))
    .await
}

fn location(reply: &Reply) -> String {
    reply.header("location").unwrap_or_default().to_owned()
}

async fn a_pushed_request_starts_one_authorization_and_only_for_its_client(
    backend: crate::helpers::Backend,
) {
    let app = spawn_app(backend).await;
    let client = app
        .create_oidc_client(AppKind::Confidential, REDIRECT)
        .await;
    let other = app
        .create_oidc_client(AppKind::Confidential, REDIRECT)
        .await;
    let pushed = push(&app, &client, &[]).await;
    assert_eq!(pushed.status, 201, "{}", pushed.text);
    assert_eq!(pushed.header("cache-control"), Some("no-store"));
    let request_uri = pushed.body["request_uri"].as_str().unwrap().to_owned();
    assert!(request_uri.starts_with("urn:ietf:params:oauth:request_uri:"));
    assert!(pushed.body["expires_in"].as_i64().unwrap() <= 600);

    // Another client cannot use it: no authorization starts.
    let stolen = authorize(&app, &other, &request_uri).await;
    assert!(!location(&stolen).contains("/login?request="), "{stolen:?}");

    // Its client, with client_id and request_uri alone: the login page.
    let first = authorize(&app, &client, &request_uri).await;
    assert_eq!(first.status, 303, "{}", first.text);
    assert!(
        location(&first).starts_with("/login?request=")
            || location(&first).contains("/login?request=")
    );

    // Once only: the second use goes back as invalid_request_uri.
    let again = authorize(&app, &client, &request_uri).await;
    assert_eq!(again.status, 303, "{}", again.text);
    assert!(
        location(&again).starts_with(REDIRECT),
        "{}",
        location(&again)
    );
    assert!(location(&again).contains("error=invalid_request_uri"));
    assert!(location(&again).contains("iss="));
}

async fn a_push_is_refused_without_the_clients_authentication(backend: crate::helpers::Backend) {
    let app = spawn_app(backend).await;
    let client = app
        .create_oidc_client(AppKind::Confidential, REDIRECT)
        .await;
    let wrong = app
        .post_form(
            "/oauth/par",
            &params(&[]),
            Some((&client.id, "not the secret")),
        )
        .await;
    assert_eq!(wrong.status, 401, "{}", wrong.text);
    assert_eq!(wrong.error(), "invalid_client");
    let mut anonymous = params(&[]);
    anonymous.push(("client_id", "nobody"));
    let none = app.post_form("/oauth/par", &anonymous, None).await;
    assert_eq!(none.status, 401, "{}", none.text);
    let (machine, secret) = app.create_client("machine", "orders:read").await;
    let machine = app
        .post_form("/oauth/par", &params(&[]), Some((&machine, &secret)))
        .await;
    assert_eq!(machine.status, 400, "{}", machine.text);
    assert_eq!(machine.error(), "unauthorized_client");
}

async fn a_pushed_request_is_checked_like_any_other(backend: crate::helpers::Backend) {
    let app = spawn_app(backend).await;
    let client = app
        .create_oidc_client(AppKind::Confidential, REDIRECT)
        .await;
    for (extra, error) in [
        (vec![("redirect_uri", OTHER)], "invalid_request"),
        (vec![("redirect_uri", "")], "invalid_request"),
        (vec![("code_challenge_method", "plain")], "invalid_request"),
        (
            vec![("code_challenge", ""), ("code_challenge_method", "")],
            "invalid_request",
        ),
        (vec![("response_type", "token")], "invalid_request"),
        (vec![("scope", "openid authd:introspect")], "invalid_scope"),
        (
            vec![("request_uri", "urn:ietf:params:oauth:request_uri:x")],
            "invalid_request",
        ),
    ] {
        let reply = push(&app, &client, &extra).await;
        assert_eq!(reply.status, 400, "{extra:?}: {}", reply.text);
        assert_eq!(reply.error(), error, "{extra:?}");
    }
}

async fn a_request_uri_expires(backend: crate::helpers::Backend) {
    let app = spawn_app(backend).await;
    let client = app
        .create_oidc_client(AppKind::Confidential, REDIRECT)
        .await;
    let pushed = push(&app, &client, &[]).await;
    let request_uri = pushed.body["request_uri"].as_str().unwrap().to_owned();
    app.advance(pushed.body["expires_in"].as_i64().unwrap() + 1);
    let late = authorize(&app, &client, &request_uri).await;
    assert!(
        location(&late).contains("error=invalid_request_uri"),
        "{late:?}"
    );
}
