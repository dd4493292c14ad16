//! The OAuth 2.0 token endpoint (the refresh and client-credentials grants,
//! its errors and limits) and the discovery metadata that lists the endpoints.

use serde_json::json;

use crate::helpers::{Backend, TestApp, jwt_claims, spawn_app, spawn_app_with};
use crate::on_both_stores;

on_both_stores!(
    the_token_endpoint_rotates_refresh_tokens_under_the_rules_of_auth_refresh,
    token_endpoint_errors_follow_rfc_6749_section_5_2,
    client_credentials_give_a_scoped_token_without_a_refresh_token_or_session,
    discovery_lists_the_oauth_endpoints_grants_and_client_auth_methods,
    discovery_offers_no_response_type_and_lists_exactly_the_claims_of_access_tokens,
    the_refresh_grant_obeys_body_delivery_being_off_and_the_refresh_rate_limit,
);

async fn the_token_endpoint_rotates_refresh_tokens_under_the_rules_of_auth_refresh(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let (_, tokens) = app.user_with_tokens().await;
    let first = refresh_grant(&app, &tokens.refresh).await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(first.header("cache-control"), Some("no-store"));
    assert_eq!(first.body["token_type"], "Bearer");
    assert!(
        first.refresh_cookie().is_none(),
        "OAuth clients get no cookie"
    );
    let rotated = first.refresh_token();
    assert_ne!(rotated, tokens.refresh);
    assert!(app.access_works(&first.access_token()).await);

    // A retry of the same token inside the grace window: the same new token.
    let retry = refresh_grant(&app, &tokens.refresh).await;
    assert_eq!(retry.status, 200, "{}", retry.text);
    assert_eq!(retry.refresh_token(), rotated);

    // After the window, the spent token is reuse: 400 invalid_grant, and every
    // session of the user ends.
    app.advance(11);
    let reuse = refresh_grant(&app, &tokens.refresh).await;
    assert_eq!(reuse.status, 400, "{}", reuse.text);
    assert_eq!(reuse.error(), "invalid_grant");
    assert!(!app.access_works(&first.access_token()).await);
    assert_eq!(refresh_grant(&app, &rotated).await.error(), "invalid_grant");
}

async fn refresh_grant(app: &TestApp, token: &str) -> crate::helpers::Reply {
    app.post_form(
        "/oauth/token",
        &[("grant_type", "refresh_token"), ("refresh_token", token)],
        None,
    )
    .await
}

async fn token_endpoint_errors_follow_rfc_6749_section_5_2(backend: Backend) {
    let app = spawn_app(backend).await;
    let (client, secret) = app.create_client("orders", "orders:read").await;
    let (reader, reader_secret) = app
        .create_client("feed reader", "authd:revocations authd:introspect")
        .await;
    let (_, tokens) = app.user_with_tokens().await;
    let refresh = tokens.refresh.as_str();
    let forged = "x".repeat(76);
    type Case<'a> = (
        &'a str,
        Vec<(&'a str, &'a str)>,
        Option<(&'a str, &'a str)>,
        u16,
        &'a str,
    );
    let cases: Vec<Case> = vec![
        ("no grant_type", vec![], None, 400, "invalid_request"),
        (
            "an unknown grant",
            vec![("grant_type", "password")],
            None,
            400,
            "unsupported_grant_type",
        ),
        (
            "no refresh_token",
            vec![("grant_type", "refresh_token")],
            None,
            400,
            "invalid_request",
        ),
        (
            "a forged refresh token",
            vec![("grant_type", "refresh_token"), ("refresh_token", &forged)],
            None,
            400,
            "invalid_grant",
        ),
        (
            "a scope on the refresh grant",
            vec![
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh),
                ("scope", "admin"),
            ],
            None,
            400,
            "invalid_scope",
        ),
        (
            "a registered client using a user's refresh token",
            vec![("grant_type", "refresh_token"), ("refresh_token", refresh)],
            Some((&client, &secret)),
            400,
            "unauthorized_client",
        ),
        (
            "a public client id that is not authd's",
            vec![
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh),
                ("client_id", "someone-else"),
            ],
            None,
            401,
            "invalid_client",
        ),
        (
            "client credentials without client authentication",
            vec![("grant_type", "client_credentials")],
            None,
            401,
            "invalid_client",
        ),
        (
            "client credentials with a wrong secret",
            vec![("grant_type", "client_credentials")],
            Some((&client, "wrong-secret")),
            401,
            "invalid_client",
        ),
        (
            "a registered client with a wrong secret on the refresh grant",
            vec![("grant_type", "refresh_token"), ("refresh_token", refresh)],
            Some((&client, "wrong-secret")),
            401,
            "invalid_client",
        ),
        (
            "client credentials for a client with only authd's permissions",
            vec![("grant_type", "client_credentials")],
            Some((&reader, &reader_secret)),
            400,
            "unauthorized_client",
        ),
        (
            "client credentials for an unknown client",
            vec![("grant_type", "client_credentials")],
            Some(("client_00000000000000000000000000000000", &secret)),
            401,
            "invalid_client",
        ),
        (
            "a scope the client does not hold",
            vec![
                ("grant_type", "client_credentials"),
                ("scope", "orders:write"),
            ],
            Some((&client, &secret)),
            400,
            "invalid_scope",
        ),
        (
            "Basic and client_secret at once",
            vec![
                ("grant_type", "client_credentials"),
                ("client_secret", secret.as_str()),
            ],
            Some((&client, &secret)),
            400,
            "invalid_request",
        ),
    ];
    for (what, form, auth, status, code) in cases {
        let reply = app.post_form("/oauth/token", &form, auth).await;
        assert_eq!(reply.status, status, "{what}: {}", reply.text);
        assert_eq!(reply.error(), code, "{what}: {}", reply.text);
        assert!(
            reply.body["error_description"].is_string(),
            "{what}: {}",
            reply.text
        );
        assert_eq!(reply.header("cache-control"), Some("no-store"), "{what}");
        if status == 401 {
            assert_eq!(
                reply.header("www-authenticate"),
                Some(r#"Basic realm="authd""#),
                "{what}"
            );
        }
    }
    // None of the refused requests spent the refresh token.
    assert_eq!(app.refresh_body(refresh).await.status, 200);

    // Malformed bodies: JSON, a repeated parameter, a huge body.
    let json = app
        .post_json(
            "/oauth/token",
            &json!({ "grant_type": "client_credentials" }),
        )
        .await;
    assert_eq!((json.status, json.error()), (400, "invalid_request"));
    let twice = app
        .send(
            app.client
                .post(app.url("/oauth/token"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body("grant_type=client_credentials&grant_type=refresh_token"),
        )
        .await;
    assert_eq!((twice.status, twice.error()), (400, "invalid_request"));
    // A parameter authd does not read is ignored, given twice or not (RFC
    // 6749 section 3.1); the refusal above is for the ones it reads.
    let (client, secret) = app.create_client("repeats", "orders:read").await;
    let unknown = app
        .send(
            app.client
                .post(app.url("/oauth/token"))
                .basic_auth(&client, Some(&secret))
                .header("content-type", "application/x-www-form-urlencoded")
                .body("grant_type=client_credentials&extra=1&extra=2"),
        )
        .await;
    assert_eq!(unknown.status, 200, "{}", unknown.text);
    let scope_twice = app
        .send(
            app.client
                .post(app.url("/oauth/token"))
                .basic_auth(&client, Some(&secret))
                .header("content-type", "application/x-www-form-urlencoded")
                .body("grant_type=client_credentials&scope=orders:read&scope=orders:read"),
        )
        .await;
    assert_eq!(
        (scope_twice.status, scope_twice.error()),
        (400, "invalid_request")
    );
    let huge = app
        .post_form(
            "/oauth/token",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &"a".repeat(20_000)),
            ],
            None,
        )
        .await;
    assert_eq!(huge.status, 413);
    let get = app.get("/oauth/token").await;
    assert_eq!(get.status, 405);
}

async fn client_credentials_give_a_scoped_token_without_a_refresh_token_or_session(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let (client, secret) = app
        .create_client("billing", "orders:read orders:write")
        .await;
    let reply = app
        .post_form(
            "/oauth/token",
            &[("grant_type", "client_credentials")],
            Some((&client, &secret)),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert_eq!(reply.body["token_type"], "Bearer");
    assert_eq!(reply.body["expires_in"], 900);
    assert_eq!(reply.body["scope"], "orders:read orders:write");
    assert!(reply.body.get("refresh_token").is_none(), "{}", reply.text);
    let token = reply.access_token();
    let claims = jwt_claims(&token);
    assert_eq!(claims["sub"], client.as_str());
    assert_eq!(claims["client_id"], client.as_str());
    assert_eq!(claims["scope"], "orders:read orders:write");
    assert_eq!(claims["aud"], "authd");
    assert!(claims.get("sid").is_none(), "{claims}");
    let verified = app.services().access.verify(&token, app.now()).unwrap();
    assert_eq!(verified.user_session(), None);

    // Form authentication and a narrower scope.
    let narrow = app
        .post_form(
            "/oauth/token",
            &[
                ("grant_type", "client_credentials"),
                ("scope", "orders:read"),
                ("client_id", &client),
                ("client_secret", &secret),
            ],
            None,
        )
        .await;
    assert_eq!(narrow.status, 200, "{}", narrow.text);
    assert_eq!(jwt_claims(&narrow.access_token())["scope"], "orders:read");

    // A machine token is not a user's: authd's user endpoints refuse it.
    let me = app.get_bearer("/auth/me", &token).await;
    assert_eq!(me.status, 401);
    assert_eq!(me.error(), "invalid_token");

    // A deleted client gets nothing more.
    assert!(authd::clients::delete(app.store(), &client).await.unwrap());
    let gone = app
        .post_form(
            "/oauth/token",
            &[("grant_type", "client_credentials")],
            Some((&client, &secret)),
        )
        .await;
    assert_eq!((gone.status, gone.error()), (401, "invalid_client"));
}

async fn discovery_lists_the_oauth_endpoints_grants_and_client_auth_methods(backend: Backend) {
    let app = spawn_app(backend).await;
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    ] {
        let d = app.get(path).await.body;
        assert_eq!(d["token_endpoint"], "http://authd.test/oauth/token");
        assert_eq!(d["revocation_endpoint"], "http://authd.test/oauth/revoke");
        assert_eq!(
            d["introspection_endpoint"],
            "http://authd.test/oauth/introspect"
        );
        assert_eq!(
            d["revocation_feed_endpoint"],
            "http://authd.test/auth/revocations"
        );
        assert_eq!(
            d["grant_types_supported"],
            json!(["authorization_code", "refresh_token", "client_credentials"])
        );
        for field in [
            "token_endpoint_auth_methods_supported",
            "revocation_endpoint_auth_methods_supported",
            "introspection_endpoint_auth_methods_supported",
        ] {
            let methods = d[field].as_array().unwrap();
            assert!(methods.contains(&json!("client_secret_basic")), "{field}");
            assert!(methods.contains(&json!("client_secret_post")), "{field}");
        }
        assert!(
            !d["introspection_endpoint_auth_methods_supported"]
                .as_array()
                .unwrap()
                .contains(&json!("none"))
        );
    }
}

async fn discovery_offers_no_response_type_and_lists_exactly_the_claims_of_access_tokens(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let (_, user) = app.user_with_tokens().await;
    let (client, secret) = app.create_client("billing", "orders:read").await;
    let machine = app
        .post_form(
            "/oauth/token",
            &[("grant_type", "client_credentials")],
            Some((&client, &secret)),
        )
        .await
        .access_token();
    let mut carried = std::collections::BTreeSet::new();
    for token in [&user.access, &machine] {
        carried.extend(jwt_claims(token).as_object().unwrap().keys().cloned());
    }
    // And what userinfo answers with the `email` scope (tests/api/oidc.rs).
    carried.extend(["email".to_owned(), "email_verified".to_owned()]);
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    ] {
        let d = app.get(path).await.body;
        // The code flow only (`token` would be the implicit grant), PKCE
        // S256 only, `iss` on every authorization response.
        assert_eq!(
            d["authorization_endpoint"],
            json!("http://authd.test/oauth/authorize"),
            "{path}"
        );
        assert_eq!(d["response_types_supported"], json!(["code"]), "{path}");
        assert_eq!(d["response_modes_supported"], json!(["query"]), "{path}");
        assert_eq!(
            d["code_challenge_methods_supported"],
            json!(["S256"]),
            "{path}"
        );
        assert_eq!(
            d["authorization_response_iss_parameter_supported"],
            json!(true),
            "{path}"
        );
        assert_eq!(
            d["prompt_values_supported"],
            json!(["none", "login", "consent"]),
            "{path}"
        );
        assert_eq!(d["acr_values_supported"], json!(["1", "2"]), "{path}");
        let listed: std::collections::BTreeSet<String> = d["claims_supported"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            listed, carried,
            "{path}: claims_supported against what a user's and a client's access tokens carry"
        );
    }
}

async fn the_refresh_grant_obeys_body_delivery_being_off_and_the_refresh_rate_limit(
    backend: Backend,
) {
    // With body delivery off, a refresh token copied out of a browser's cookie
    // must not work outside it through the OAuth endpoint either.
    let app = spawn_app_with(backend, |s| s.refresh.allow_body_delivery = false).await;
    let email = "cookie-only@example.com";
    app.register(email).await;
    let cookie = app.login_cookie(email).await.refresh_cookie().unwrap();
    let reply = refresh_grant(&app, &cookie).await;
    assert_eq!(
        (reply.status, reply.error()),
        (400, "unsupported_grant_type"),
        "{}",
        reply.text
    );
    assert_eq!(
        app.refresh_cookie(&cookie).await.status,
        200,
        "nothing spent"
    );

    let app = spawn_app_with(backend, |s| s.limits.refresh_per_ip = 2).await;
    let (_, tokens) = app.user_with_tokens().await;
    let first = refresh_grant(&app, &tokens.refresh).await;
    assert_eq!(first.status, 200);
    let second = refresh_grant(&app, &first.refresh_token()).await;
    assert_eq!(second.status, 200);
    let limited = refresh_grant(&app, &second.refresh_token()).await;
    assert_eq!(
        (limited.status, limited.error()),
        (429, "too_many_requests")
    );
    assert!(limited.header("retry-after").is_some());
    app.advance(61);
    assert_eq!(
        refresh_grant(&app, &second.refresh_token()).await.status,
        200,
        "the limited request spent nothing"
    );
}
