//! Clients of three kinds (public, confidential, machine): what is stored
//! comes back unchanged on both stores, a stored redirect URI matches only
//! itself (a native app's loopback redirect any port), each kind
//! authenticates only its own way, and only machine clients use the client
//! credentials grant.

use authd::clients::{
    self, AuthMethod, AuthRefusal, ClientChanges, ClientKind, ClientSpec, Policy, Presented,
};
use secrecy::ExposeSecret;

use crate::helpers::{Backend, spawn_app};
use crate::on_both_stores;

on_both_stores!(
    every_setting_of_a_client_is_stored_and_changed_as_registered,
    a_stored_redirect_uri_matches_only_itself,
    each_kind_authenticates_only_its_own_way,
    only_machine_clients_get_client_credentials_tokens,
    web_origins_of_every_client_are_allowed_and_no_other,
    a_clients_web_origin_calls_the_token_endpoint_without_credentials,
);

fn web_spec() -> ClientSpec {
    ClientSpec {
        kind: ClientKind::Confidential,
        auth_method: Some(AuthMethod::ClientSecretPost),
        redirect_uris: vec![
            "https://app.example.com/callback?tenant=a%2Fb".into(),
            "https://app.example.com/callback".into(),
        ],
        post_logout_redirect_uris: vec!["https://app.example.com/bye".into()],
        web_origins: vec!["https://App.example.com/".into()],
        first_party: true,
        id_token_alg: Some("RS256".into()),
        access_token_ttl_secs: Some(300),
        refresh_idle_secs: Some(3600),
        refresh_absolute_secs: Some(86_400),
        require_par: true,
        allow_no_pkce: true,
        ..ClientSpec::machine("Web shop", "openid email offline_access")
    }
}

fn native_spec() -> ClientSpec {
    ClientSpec {
        kind: ClientKind::Public,
        redirect_uris: vec![
            "http://127.0.0.1/oauth/callback".into(),
            "com.example.app:/oauth".into(),
        ],
        ..ClientSpec::machine("Phone app", "openid")
    }
}

async fn every_setting_of_a_client_is_stored_and_changed_as_registered(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.store();
    let (web, secret) = clients::register(store, web_spec(), Policy::default(), app.now())
        .await
        .unwrap();
    assert!(secret.is_some(), "a confidential client has a secret");
    let stored = clients::find(store, &web.id).await.unwrap().unwrap();
    // Timestamps may lose precision in a store; everything else is exact.
    assert_eq!(
        authd::store::clients::Client {
            created_at: web.created_at,
            ..stored.clone()
        },
        web
    );
    assert_eq!(stored.kind, ClientKind::Confidential);
    assert_eq!(stored.auth_method, AuthMethod::ClientSecretPost);
    assert_eq!(stored.web_origins, ["https://app.example.com"]);
    assert!(!stored.require_pkce && stored.require_par && stored.first_party);

    let (native, secret) = clients::register(store, native_spec(), Policy::default(), app.now())
        .await
        .unwrap();
    assert!(secret.is_none(), "a public client has no secret");
    let stored = clients::find(store, &native.id).await.unwrap().unwrap();
    assert!(stored.secret_hash.is_empty() && stored.require_pkce);
    assert_eq!(stored.auth_method, AuthMethod::None);

    // A change touches only what it names, and is checked as a whole.
    let changes = ClientChanges {
        post_logout_redirect_uris: Some(vec![]),
        access_token_ttl_secs: Some(None),
        allow_no_pkce: Some(false),
        ..ClientChanges::default()
    };
    let changed = clients::update(store, &web.id, changes, Policy::default())
        .await
        .unwrap()
        .unwrap();
    let reread = clients::find(store, &web.id).await.unwrap().unwrap();
    assert_eq!(reread.redirect_uris, web.redirect_uris);
    assert!(reread.post_logout_redirect_uris.is_empty());
    assert_eq!(reread.access_token_ttl_secs, None);
    assert!(reread.require_pkce);
    assert_eq!(reread.secret_hash, changed.secret_hash);
    let refused = ClientChanges {
        redirect_uris: Some(vec!["https://app.example.com/*".into()]),
        ..ClientChanges::default()
    };
    let error = clients::update(store, &web.id, refused, Policy::default())
        .await
        .unwrap_err();
    assert!(error.to_string().contains("wildcard"), "{error}");
    assert_eq!(
        clients::find(store, &web.id).await.unwrap().unwrap(),
        reread,
        "a refused change writes nothing"
    );

    let listed = clients::list(store).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert!(clients::delete(store, &native.id).await.unwrap());
    assert!(clients::find(store, &native.id).await.unwrap().is_none());
}

async fn a_stored_redirect_uri_matches_only_itself(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.store();
    let (web, _) = clients::register(store, web_spec(), Policy::default(), app.now())
        .await
        .unwrap();
    let web = clients::find(store, &web.id).await.unwrap().unwrap();
    let registered = "https://app.example.com/callback?tenant=a%2Fb";
    assert!(clients::redirect_uri_matches(&web, registered));
    for presented in [
        "https://app.example.com/callback?tenant=a%2Fbx",
        "https://app.example.com/callback?tenant=a%2Fb&x=1",
        "https://app.example.com/callback?tenant=a%2fb",
        "https://app.example.com/callback?tenant=a/b",
        "https://app.example.com/callback?tenant=a%2Fb#x",
        "https://app.example.com:443/callback?tenant=a%2Fb",
        "https://app.example.com:8443/callback",
        "https://APP.example.com/callback",
        "https://app.example.com/Callback",
        "https://app.example.com/callback/",
        "https://app.example.com/callback.evil",
        "https://evil@app.example.com/callback",
        "https://app.example.com.evil.example/callback",
        "http://app.example.com/callback",
    ] {
        assert!(
            !clients::redirect_uri_matches(&web, presented),
            "{presented}"
        );
    }
    assert!(clients::post_logout_redirect_uri_matches(
        &web,
        "https://app.example.com/bye"
    ));
    for presented in [
        "https://app.example.com/bye?x",
        "https://app.example.com/bye#",
        "https://app.example.com/callback",
    ] {
        assert!(
            !clients::post_logout_redirect_uri_matches(&web, presented),
            "{presented}"
        );
    }

    let (native, _) = clients::register(store, native_spec(), Policy::default(), app.now())
        .await
        .unwrap();
    let native = clients::find(store, &native.id).await.unwrap().unwrap();
    assert!(clients::redirect_uri_matches(
        &native,
        "http://127.0.0.1:49152/oauth/callback"
    ));
    for presented in [
        "http://localhost:49152/oauth/callback",
        "http://[::1]:49152/oauth/callback",
        "http://127.0.0.1:49152/oauth/callback?x",
        "http://127.0.0.1:49152/oauth/callback#x",
        "http://u@127.0.0.1:49152/oauth/callback",
        "com.example.app:/oauth/",
        "COM.example.app:/oauth",
    ] {
        assert!(
            !clients::redirect_uri_matches(&native, presented),
            "{presented}"
        );
    }

    // Registration refuses what could not be matched this strictly, clearly.
    for (uri, says) in [
        ("https://app.example.com/cb#top", "fragment"),
        ("https://*.example.com/cb", "wildcard"),
        ("https://user@app.example.com/cb", "userinfo"),
        ("/cb", "absolute"),
        ("http://app.example.com/cb", "https"),
    ] {
        let spec = ClientSpec {
            redirect_uris: vec![uri.into()],
            ..web_spec()
        };
        let error = clients::register(store, spec, Policy::default(), app.now())
            .await
            .unwrap_err();
        assert!(error.to_string().contains(says), "{uri}: {error}");
    }
    let spec = ClientSpec {
        redirect_uris: vec!["http://localhost:8080/cb".into()],
        ..native_spec()
    };
    let error = clients::register(store, spec, Policy::default(), app.now())
        .await
        .unwrap_err();
    assert!(error.to_string().contains("127.0.0.1"), "{error}");
}

async fn each_kind_authenticates_only_its_own_way(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.store();
    let (web, secret) = clients::register(store, web_spec(), Policy::default(), app.now())
        .await
        .unwrap();
    let secret = secret.unwrap().expose_secret().to_owned();
    let (native, _) = clients::register(store, native_spec(), Policy::default(), app.now())
        .await
        .unwrap();
    let (machine, machine_secret) = app.create_client("svc", "a").await;

    assert_eq!(
        auth(store, &web.id, Presented::Post(&secret)).await,
        Ok(web.id.clone())
    );
    assert_eq!(
        auth(store, &web.id, Presented::Basic(&secret)).await,
        Err(AuthRefusal::WrongMethod)
    );
    assert_eq!(
        auth(store, &web.id, Presented::Nothing).await,
        Err(AuthRefusal::SecretMissing)
    );
    assert_eq!(
        auth(store, &web.id, Presented::Post("nope")).await,
        Err(AuthRefusal::WrongSecret)
    );
    assert_eq!(
        auth(store, &native.id, Presented::Nothing).await,
        Ok(native.id.clone())
    );
    assert_eq!(
        auth(store, &native.id, Presented::Post("")).await,
        Err(AuthRefusal::PublicWithSecret)
    );
    assert_eq!(
        auth(store, &machine, Presented::Basic(&machine_secret)).await,
        Ok(machine.clone())
    );
    assert_eq!(
        auth(store, &machine, Presented::Post(&machine_secret)).await,
        Ok(machine.clone())
    );
    assert_eq!(
        auth(store, "client_nope", Presented::Nothing).await,
        Err(AuthRefusal::Unknown)
    );
    // The secret-only check never finds a public client, whatever is sent.
    assert!(
        clients::authenticate(store, &native.id, "")
            .await
            .unwrap()
            .is_none()
    );
}

async fn auth(
    store: &authd::store::Store,
    id: &str,
    presented: Presented<'_>,
) -> Result<String, AuthRefusal> {
    clients::authenticate_client(store, id, presented)
        .await
        .unwrap()
        .map(|c| c.id)
}

async fn only_machine_clients_get_client_credentials_tokens(backend: Backend) {
    let app = spawn_app(backend).await;
    let (machine, machine_secret) = app.create_client("svc", "orders:read").await;
    let spec = ClientSpec {
        auth_method: Some(AuthMethod::ClientSecretBasic),
        ..web_spec()
    };
    let (web, secret) = clients::register(app.store(), spec, Policy::default(), app.now())
        .await
        .unwrap();
    let secret = secret.unwrap().expose_secret().to_owned();
    let form = [("grant_type", "client_credentials")];
    let ok = app
        .post_form("/oauth/token", &form, Some((&machine, &machine_secret)))
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    let refused = app
        .post_form("/oauth/token", &form, Some((&web.id, &secret)))
        .await;
    assert_eq!(
        (refused.status, refused.error()),
        (400, "unauthorized_client"),
        "{}",
        refused.text
    );
}

async fn web_origins_of_every_client_are_allowed_and_no_other(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.store();
    assert!(
        !clients::origin_allowed(store, "https://app.example.com")
            .await
            .unwrap()
    );
    clients::register(store, web_spec(), Policy::default(), app.now())
        .await
        .unwrap();
    assert!(
        clients::origin_allowed(store, "https://app.example.com")
            .await
            .unwrap()
    );
    for other in [
        "https://App.example.com",
        "https://app.example.com/",
        "https://app.example.com:443",
        "http://app.example.com",
        "https://evil.example",
        "null",
    ] {
        assert!(
            !clients::origin_allowed(store, other).await.unwrap(),
            "{other}"
        );
    }
}

/// A registered web origin gets CORS on the token, userinfo and revocation
/// endpoints, never with credentials; another origin gets none, and the
/// client's origin gets none on authd's own `/auth/*` endpoints.
async fn a_clients_web_origin_calls_the_token_endpoint_without_credentials(backend: Backend) {
    let app = spawn_app(backend).await;
    // Not among the test server's own allowed origins.
    let spa = ClientSpec {
        kind: ClientKind::Public,
        redirect_uris: vec!["https://spa.example.net/callback".into()],
        web_origins: vec!["https://spa.example.net".into()],
        ..ClientSpec::machine("SPA", "openid")
    };
    clients::register(app.store(), spa, Policy::default(), app.now())
        .await
        .unwrap();
    let preflight = |origin: &'static str, path: &'static str| {
        let request = app
            .client
            .request(reqwest::Method::OPTIONS, app.url(path))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .header("Access-Control-Request-Headers", "content-type");
        app.send(request)
    };
    let allow_origin = |reply: &crate::helpers::Reply| {
        reply
            .headers
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap().to_owned())
    };
    for path in ["/oauth/token", "/oauth/userinfo", "/oauth/revoke"] {
        let ok = preflight("https://spa.example.net", path).await;
        assert_eq!(ok.status, 204, "{path}: {} {:?}", ok.text, ok.headers);
        assert_eq!(
            allow_origin(&ok).as_deref(),
            Some("https://spa.example.net")
        );
        assert!(ok.headers.get("access-control-allow-credentials").is_none());
        let other = preflight("https://evil.example", path).await;
        assert_eq!(allow_origin(&other), None, "{path}");
    }
    // The client's origin is not authd's own: no CORS on /auth/*.
    let own = preflight("https://spa.example.net", "/auth/refresh").await;
    assert_eq!(allow_origin(&own), None);

    // The request itself: answered (here a refusal) with the origin named.
    let request = app
        .client
        .post(app.url("/oauth/token"))
        .header("Origin", "https://spa.example.net")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("grant_type=authorization_code&code=x");
    let reply = app.send(request).await;
    assert_eq!(reply.status, 401, "{}", reply.text);
    assert_eq!(
        allow_origin(&reply).as_deref(),
        Some("https://spa.example.net")
    );
    assert!(
        reply
            .headers
            .get("access-control-allow-credentials")
            .is_none()
    );
    let request = app
        .client
        .post(app.url("/oauth/token"))
        .header("Origin", "https://evil.example")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("grant_type=authorization_code&code=x");
    let reply = app.send(request).await;
    assert_eq!(allow_origin(&reply), None);
}

/// `authd clients ...` with every kind's flags: a public client gets no
/// secret, a confidential one gets its secret once and a warning for a PKCE
/// exemption, and registration errors say what is wrong.
#[tokio::test]
async fn the_cli_registers_each_kind_with_its_settings() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("authd.db").display());
    let authd = |args: &[&str]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_authd"))
            .args(args)
            .env("AUTHD__DATA_DIR", dir.path().join("data"))
            .env("AUTHD__DATABASE__URL", &db)
            .env_remove("AUTHD_CONFIG")
            .output()
            .unwrap();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let field = |out: &str, name: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.trim_start().strip_prefix('='))
            .map(|v| v.trim().to_owned())
    };

    let (ok, out, err) = authd(&[
        "clients",
        "create",
        "--kind",
        "public",
        "--name",
        "Phone app",
        "--scope",
        "openid",
        "--scope",
        "offline_access",
        "--redirect-uri",
        "http://127.0.0.1/callback",
        "--redirect-uri",
        "com.example.app:/oauth",
        "--web-origin",
        "https://spa.example.com",
        "--first-party",
        // A key of the algorithm must sign it (`clients::check_id_token_key`):
        // the generated development key is RS256.
        "--id-token-alg",
        "RS256",
        "--access-token-ttl",
        "300",
        "--require-par",
    ]);
    assert!(ok, "{err}");
    let public = field(&out, "client_id").unwrap();
    assert_eq!(field(&out, "client_secret"), None, "{out}");
    assert_eq!(field(&out, "scopes").unwrap(), "openid offline_access");
    assert_eq!(field(&out, "token_endpoint_auth_method").unwrap(), "none");

    let (ok, _, err) = authd(&[
        "clients",
        "create",
        "--kind",
        "public",
        "--name",
        "x",
        "--redirect-uri",
        "https://spa.example.com/cb",
        "--allow-no-pkce",
    ]);
    assert!(!ok && err.contains("PKCE"), "{err}");
    let (ok, _, err) = authd(&[
        "clients",
        "create",
        "--kind",
        "confidential",
        "--name",
        "x",
        "--redirect-uri",
        "https://app.example.com/cb#done",
    ]);
    assert!(!ok && err.contains("fragment"), "{err}");
    let (ok, _, err) = authd(&[
        "clients",
        "create",
        "--kind",
        "machine",
        "--name",
        "x",
        "--redirect-uri",
        "https://app.example.com/cb",
    ]);
    assert!(!ok && err.contains("machine"), "{err}");

    let (ok, out, err) = authd(&[
        "clients",
        "create",
        "--kind",
        "confidential",
        "--name",
        "Web shop",
        "--token-auth-method",
        "client_secret_post",
        "--redirect-uri",
        "https://shop.example.com/callback",
        "--post-logout-redirect-uri",
        "https://shop.example.com/",
        "--allow-no-pkce",
    ]);
    assert!(ok, "{err}");
    assert!(err.contains("exempt from PKCE"), "{err}");
    let web = field(&out, "client_id").unwrap();
    let secret = field(&out, "client_secret").unwrap();
    assert_eq!(field(&out, "require_pkce").unwrap(), "false");

    let (ok, out, err) = authd(&[
        "clients",
        "update",
        &web,
        "--redirect-uri",
        "https://shop.example.com/oidc",
        "--clear-post-logout-redirect-uris",
        "--allow-no-pkce",
        "false",
        "--access-token-ttl",
        "default",
    ]);
    assert!(ok, "{err}");
    assert_eq!(
        field(&out, "redirect_uri").unwrap(),
        "https://shop.example.com/oidc"
    );
    assert_eq!(field(&out, "post_logout_redirect_uri"), None, "{out}");
    assert_eq!(field(&out, "require_pkce").unwrap(), "true");
    assert!(!err.contains("exempt"), "{err}");
    let (ok, _, err) = authd(&["clients", "update", &web, "--access-token-ttl", "soon"]);
    assert!(!ok && err.contains("access-token-ttl"), "{err}");

    let (ok, listed, _) = authd(&["clients", "list"]);
    assert!(ok);
    assert!(!listed.contains(&secret));
    let kinds: Vec<&str> = listed
        .lines()
        .filter_map(|l| l.split('\t').nth(4))
        .collect();
    assert_eq!(kinds, ["public", "confidential"], "{listed}");
    assert!(listed.contains(&public));
}
