//! The refresh cookie: its attributes, clearing it, the Origin check, and
//! refusing a token presented twice or outside the cookie when it must not be.

use serde_json::json;

use crate::helpers::{Backend, spawn_app, spawn_app_with};
use crate::on_both_stores;

on_both_stores!(
    the_refresh_cookie_has_exactly_the_required_attributes,
    a_failed_cookie_refresh_clears_the_cookie,
    a_cookie_request_from_a_foreign_origin_is_refused,
    presenting_the_token_in_both_cookie_and_body_is_refused,
    two_refresh_cookies_in_one_request_are_refused,
    with_body_delivery_disabled_tokens_travel_only_in_the_cookie,
);

async fn the_refresh_cookie_has_exactly_the_required_attributes(backend: Backend) {
    let app = spawn_app(backend).await;
    let (email, _) = app.user_with_tokens().await;
    let login = app.login_cookie(&email).await;
    let cookies = login.set_cookies();
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    let mut parts: Vec<&str> = cookies[0].split("; ").collect();
    let pair = parts.remove(0);
    assert!(
        pair.starts_with("authd_refresh=") && pair.len() == "authd_refresh=".len() + 76,
        "{pair}"
    );
    parts.sort_unstable();
    assert_eq!(
        parts,
        vec![
            "HttpOnly",
            "Max-Age=604800",
            "Path=/auth",
            "SameSite=Strict",
            "Secure"
        ]
    );
    assert!(
        !cookies[0].to_ascii_lowercase().contains("domain="),
        "host-only"
    );

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

async fn a_failed_cookie_refresh_clears_the_cookie(backend: Backend) {
    let app = spawn_app(backend).await;
    let reply = app.refresh_cookie("not-a-token").await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.error(), "invalid_grant");
    let cookies = reply.set_cookies();
    assert_eq!(cookies.len(), 1);
    let mut parts: Vec<&str> = cookies[0].split("; ").collect();
    assert_eq!(parts.remove(0), "authd_refresh=");
    parts.sort_unstable();
    assert_eq!(
        parts,
        vec![
            "HttpOnly",
            "Max-Age=0",
            "Path=/auth",
            "SameSite=Strict",
            "Secure"
        ]
    );

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
            .header("cookie", format!("authd_refresh={cookie}"))
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
                .header("cookie", format!("authd_refresh={cookie}"))
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
                .header("cookie", format!("authd_refresh={}", tokens.refresh))
                .json(&json!({ "refresh_token": tokens.refresh })),
        )
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.error(), "invalid_request");
}

async fn two_refresh_cookies_in_one_request_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let (email, _) = app.user_with_tokens().await;
    let cookie = app.login_cookie(&email).await.refresh_cookie().unwrap();
    // A cookie planted by a sibling subdomain arrives first; refusing beats guessing.
    let reply = app
        .send(app.client.post(app.url("/auth/refresh")).header(
            "cookie",
            format!("authd_refresh=planted; authd_refresh={cookie}"),
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
