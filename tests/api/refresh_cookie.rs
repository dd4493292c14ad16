//! The refresh cookie: its attributes (`__Host-` by default, or unprefixed at
//! `/auth`), clearing it, the Origin check, cookies planted by a sibling
//! subdomain, and refusing a token presented twice or outside the cookie when
//! it must not be.

use serde_json::json;

use crate::helpers::{Backend, Reply, jwt_claims, spawn_app, spawn_app_with};
use crate::on_both_stores;

on_both_stores!(
    the_refresh_cookie_has_exactly_the_required_attributes,
    a_failed_cookie_refresh_and_a_logout_clear_the_cookie_under_its_name_and_path,
    with_cookie_path_auth_the_cookie_is_unprefixed_and_lives_under_auth,
    a_cookie_planted_by_a_sibling_subdomain_is_ignored,
    a_cookie_request_from_a_foreign_origin_is_refused,
    presenting_the_token_in_both_cookie_and_body_is_refused,
    two_refresh_cookies_in_one_request_are_refused,
    with_body_delivery_disabled_tokens_travel_only_in_the_cookie,
);

/// The one `Set-Cookie` of `reply`: its `name=value` pair, and its attributes
/// sorted.
fn only_set_cookie(reply: &Reply) -> (String, Vec<String>) {
    let cookies = reply.set_cookies();
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    let mut parts: Vec<String> = cookies[0].split("; ").map(str::to_owned).collect();
    let pair = parts.remove(0);
    parts.sort_unstable();
    (pair, parts)
}

/// The attributes every refresh cookie has, with `Max-Age` and `Path`.
fn attributes(max_age: &str, path: &str) -> Vec<String> {
    let mut expected = vec![
        "HttpOnly".to_owned(),
        format!("Max-Age={max_age}"),
        format!("Path={path}"),
        "SameSite=Strict".to_owned(),
        "Secure".to_owned(),
    ];
    expected.sort_unstable();
    expected
}

async fn the_refresh_cookie_has_exactly_the_required_attributes(backend: Backend) {
    let app = spawn_app(backend).await;
    let (email, _) = app.user_with_tokens().await;
    let login = app.login_cookie(&email).await;
    // `__Host-`: browsers keep it only host-only (no Domain), Secure, at
    // Path=/, so no sibling subdomain can set or shadow it (ASVS 5 3.3.1).
    let (pair, parts) = only_set_cookie(&login);
    assert!(
        pair.starts_with("__Host-authd_refresh=")
            && pair.len() == "__Host-authd_refresh=".len() + 76,
        "{pair}"
    );
    assert_eq!(parts, attributes("604800", "/"), "no Domain, nothing else");

    // After rotation the Max-Age is the remaining lifetime of the new token.
    app.advance(86_400);
    let refreshed = app.refresh_cookie(&login.refresh_cookie().unwrap()).await;
    let cookie = &refreshed.set_cookies()[0];
    assert!(cookie.contains("Max-Age=604800"), "{cookie}");
    // Near the absolute limit the cookie lives only as long as the session.
    let mut cookie = refreshed.refresh_cookie().unwrap();
    for _ in 0..4 {
        app.advance(6 * 86_400);
        let reply = app.refresh_cookie(&cookie).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        cookie = reply.refresh_cookie().unwrap();
    }
    app.advance(4 * 86_400); // day 29 of 30
    let late = app.refresh_cookie(&cookie).await;
    assert_eq!(late.status, 200);
    assert!(
        late.set_cookies()[0].contains("Max-Age=86400"),
        "{:?}",
        late.set_cookies()
    );
}

async fn a_failed_cookie_refresh_and_a_logout_clear_the_cookie_under_its_name_and_path(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let reply = app.refresh_cookie("not-a-token").await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.error(), "invalid_grant");
    // Only a Set-Cookie of the same name and path, itself meeting the
    // `__Host-` rules, replaces the cookie the browser holds.
    let cleared = ("__Host-authd_refresh=".to_owned(), attributes("0", "/"));
    assert_eq!(only_set_cookie(&reply), cleared);

    let (email, _) = app.user_with_tokens().await;
    let cookie = app.login_cookie(&email).await.refresh_cookie().unwrap();
    let logout = app
        .send(
            app.client
                .post(app.url("/auth/logout"))
                .header("cookie", format!("__Host-authd_refresh={cookie}")),
        )
        .await;
    assert_eq!(logout.status, 204, "{}", logout.text);
    assert_eq!(only_set_cookie(&logout), cleared);
    assert_eq!(app.refresh_cookie(&cookie).await.status, 401, "logged out");

    // No cookie at all: 401, nothing to clear.
    let none = app.send(app.client.post(app.url("/auth/refresh"))).await;
    assert_eq!(none.status, 401);
    assert_eq!(none.error(), "invalid_grant");
}

async fn a_cookie_request_from_a_foreign_origin_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let (email, _) = app.user_with_tokens().await;
    let login = app.login_cookie(&email).await;
    let cookie = login.refresh_cookie().unwrap();
    let with_origin = |path: &str, origin: &str| {
        app.client
            .post(app.url(path))
            .header("cookie", format!("__Host-authd_refresh={cookie}"))
            .header("origin", origin)
    };
    for origin in [
        "https://evil.example",
        "null",
        "https://app.example.com.evil.example",
        "http://app.example.com",
    ] {
        let refused = app.send(with_origin("/auth/refresh", origin)).await;
        assert_eq!(refused.status, 403, "{origin}");
        assert_eq!(refused.error(), "invalid_origin");
        let logout = app.send(with_origin("/auth/logout", origin)).await;
        assert_eq!(logout.status, 403, "{origin}");
    }
    let cookie_login = app
        .send(
            app.client
                .post(app.url("/auth/login"))
                .header("origin", "https://evil.example")
                .json(&json!({ "email": email, "password": crate::helpers::PASSWORD })),
        )
        .await;
    assert_eq!(
        cookie_login.status, 403,
        "a foreign page cannot plant a session cookie"
    );

    // The configured origin and the issuer's own origin are allowed.
    let allowed = app
        .send(with_origin("/auth/refresh", "https://app.example.com"))
        .await;
    assert_eq!(allowed.status, 200, "{}", allowed.text);
    assert_eq!(
        allowed.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert_eq!(
        allowed.header("access-control-allow-credentials"),
        Some("true")
    );
    let cookie = allowed.refresh_cookie().unwrap();
    let own = app
        .send(
            app.client
                .post(app.url("/auth/refresh"))
                .header("cookie", format!("__Host-authd_refresh={cookie}"))
                .header("origin", "http://authd.test"),
        )
        .await;
    assert_eq!(own.status, 200);

    // CORS never answers a foreign origin with credentials.
    let preflight = app
        .send(
            app.client
                .request(reqwest::Method::OPTIONS, app.url("/auth/refresh"))
                .header("origin", "https://evil.example")
                .header("access-control-request-method", "POST"),
        )
        .await;
    assert_ne!(
        preflight.header("access-control-allow-origin"),
        Some("https://evil.example")
    );
    assert_ne!(preflight.header("access-control-allow-origin"), Some("*"));
}

async fn presenting_the_token_in_both_cookie_and_body_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, tokens) = app.user_with_tokens().await;
    let reply = app
        .send(
            app.client
                .post(app.url("/auth/refresh"))
                .header("cookie", format!("__Host-authd_refresh={}", tokens.refresh))
                .json(&json!({ "refresh_token": tokens.refresh })),
        )
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.error(), "invalid_request");
}

async fn with_cookie_path_auth_the_cookie_is_unprefixed_and_lives_under_auth(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.refresh.cookie_path = "/auth".into()).await;
    let (email, _) = app.user_with_tokens().await;
    let login = app.login_cookie(&email).await;
    let (pair, parts) = only_set_cookie(&login);
    let cookie = pair
        .strip_prefix("authd_refresh=")
        .unwrap_or_else(|| panic!("{pair}"))
        .to_owned();
    assert_eq!(cookie.len(), 76, "{pair}");
    assert_eq!(
        parts,
        attributes("604800", "/auth"),
        "no Domain, nothing else"
    );

    let with_cookie =
        |path: &str, cookies: String| app.client.post(app.url(path)).header("cookie", cookies);
    // The `__Host-` name is not this deployment's cookie.
    let prefixed = app
        .send(with_cookie(
            "/auth/refresh",
            format!("__Host-authd_refresh={cookie}"),
        ))
        .await;
    assert_eq!(prefixed.status, 401, "{}", prefixed.text);
    let refreshed = app
        .send(with_cookie(
            "/auth/refresh",
            format!("authd_refresh={cookie}"),
        ))
        .await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.text);
    let (pair, parts) = only_set_cookie(&refreshed);
    assert!(pair.starts_with("authd_refresh="), "{pair}");
    assert_eq!(parts, attributes("604800", "/auth"));
    let next = pair["authd_refresh=".len()..].to_owned();

    // Without the prefix a sibling subdomain can plant a cookie of this name;
    // the request cannot say which one authd set, so two are refused.
    let planted = app
        .send(with_cookie(
            "/auth/refresh",
            format!("authd_refresh=planted; authd_refresh={next}"),
        ))
        .await;
    assert_eq!(planted.status, 400, "{}", planted.text);
    assert_eq!(planted.error(), "invalid_request");

    let logout = app
        .send(with_cookie("/auth/logout", format!("authd_refresh={next}")))
        .await;
    assert_eq!(logout.status, 204, "{}", logout.text);
    assert_eq!(
        only_set_cookie(&logout),
        ("authd_refresh=".to_owned(), attributes("0", "/auth"))
    );
    let failed = app
        .send(with_cookie(
            "/auth/refresh",
            format!("authd_refresh={next}"),
        ))
        .await;
    assert_eq!(failed.status, 401);
    assert_eq!(
        only_set_cookie(&failed),
        ("authd_refresh=".to_owned(), attributes("0", "/auth"))
    );
}

async fn a_cookie_planted_by_a_sibling_subdomain_is_ignored(backend: Backend) {
    let app = spawn_app(backend).await;
    // The attacker's own, valid session: what a sibling subdomain would plant
    // with `Domain=` the parent domain. Browsers refuse a `__Host-` cookie with
    // a `Domain`, so it arrives under another name.
    let (_, attacker) = app.user_with_tokens().await;
    let (victim, _) = app.user_with_tokens().await;
    let victim_id = app.user_id(&victim).await.to_string();
    let cookie = app.login_cookie(&victim).await.refresh_cookie().unwrap();

    // A signed-out victim carrying only the planted cookie is not signed in
    // to the attacker's account.
    for planted in [
        "authd_refresh",
        "__host-authd_refresh",
        "__Secure-authd_refresh",
    ] {
        let reply = app
            .send(
                app.client
                    .post(app.url("/auth/refresh"))
                    .header("cookie", format!("{planted}={}", attacker.refresh)),
            )
            .await;
        assert_eq!(reply.status, 401, "{planted}: {}", reply.text);
        assert_eq!(reply.error(), "invalid_grant");
    }

    // A signed-in victim's refreshes keep working, whichever cookie comes first.
    let mut cookie = cookie;
    for header in [
        "authd_refresh={planted}; __Host-authd_refresh={cookie}",
        "__Host-authd_refresh={cookie}; authd_refresh={planted}",
    ] {
        let header = header
            .replace("{planted}", &attacker.refresh)
            .replace("{cookie}", &cookie);
        let reply = app
            .send(
                app.client
                    .post(app.url("/auth/refresh"))
                    .header("cookie", header),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert_eq!(jwt_claims(&reply.access_token())["sub"], victim_id.as_str());
        cookie = reply.refresh_cookie().unwrap();
    }
    // The attacker's session was never touched (a rotation would have spent
    // the planted token).
    assert_eq!(app.refresh_body(&attacker.refresh).await.status, 200);
}

async fn two_refresh_cookies_in_one_request_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let (email, _) = app.user_with_tokens().await;
    let cookie = app.login_cookie(&email).await.refresh_cookie().unwrap();
    // No browser sends two `__Host-` cookies of one name (no other host can
    // set one); a client that does is refused rather than guessed at.
    let reply = app
        .send(app.client.post(app.url("/auth/refresh")).header(
            "cookie",
            format!("__Host-authd_refresh=other; __Host-authd_refresh={cookie}"),
        ))
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.error(), "invalid_request");
    assert_eq!(
        app.refresh_cookie(&cookie).await.status,
        200,
        "the real session is untouched"
    );
}

async fn with_body_delivery_disabled_tokens_travel_only_in_the_cookie(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.refresh.allow_body_delivery = false).await;
    let email = "cookie-only@example.com";
    app.register(email).await;
    let body_login = app
        .post_json(
            "/auth/login",
            &json!({ "email": email, "password": crate::helpers::PASSWORD, "token_delivery": "body" }),
        )
        .await;
    assert_eq!(body_login.status, 400, "{}", body_login.text);
    assert_eq!(body_login.error(), "invalid_request");
    let cookie = app.login_cookie(email).await.refresh_cookie().unwrap();
    let in_body = app.refresh_body(&cookie).await;
    assert_eq!(in_body.status, 400, "{}", in_body.text);
    assert_eq!(
        app.refresh_cookie(&cookie).await.status,
        200,
        "the cookie was not spent"
    );
}
