//! Bad input gets a 4xx with a stable code, never a 500.

use serde_json::json;

use crate::helpers::{Backend, spawn_app};
use crate::on_both_stores;

on_both_stores!(
    malformed_bodies_get_clear_4xx_codes,
    invalid_emails_and_passwords_are_refused_at_registration,
    unknown_paths_and_methods_get_json_errors,
    health_and_readiness_answer,
    a_full_hashing_queue_answers_503_at_once,
    deeply_nested_json_and_huge_headers_get_4xx,
    a_null_body_is_no_body,
);

async fn malformed_bodies_get_clear_4xx_codes(backend: Backend) {
    let app = spawn_app(backend).await;
    for path in ["/auth/register", "/auth/login"] {
        let cases: Vec<(&str, reqwest::RequestBuilder, u16, &str)> = vec![
            ("no body", app.client.post(app.url(path)), 400, "invalid_request"),
            (
                "broken JSON",
                app.client.post(app.url(path)).header("content-type", "application/json").body("{\"email\":"),
                400,
                "invalid_request",
            ),
            (
                "wrong content type",
                app.client.post(app.url(path)).header("content-type", "text/plain").body("{}"),
                415,
                "unsupported_media_type",
            ),
            ("missing password", app.client.post(app.url(path)).json(&json!({ "email": "a@example.com" })), 400, "invalid_request"),
            ("wrong types", app.client.post(app.url(path)).json(&json!({ "email": 5, "password": [] })), 400, "invalid_request"),
            ("a JSON array", app.client.post(app.url(path)).json(&json!([1, 2])), 400, "invalid_request"),
            (
                "unknown delivery",
                app.client.post(app.url(path)).json(&json!({ "email": "a@example.com", "password": "x", "token_delivery": "pigeon" })),
                400,
                "invalid_request",
            ),
            (
                "oversized",
                app.client
                    .post(app.url(path))
                    .json(&json!({ "email": "a@example.com", "password": "x".repeat(100_000) })),
                413,
                "payload_too_large",
            ),
            (
                "password over 1024 bytes",
                app.client.post(app.url(path)).json(&json!({ "email": "a@example.com", "password": "x".repeat(1025) })),
                400,
                "invalid_request",
            ),
            (
                "invalid UTF-8",
                app.client.post(app.url(path)).header("content-type", "application/json").body(vec![b'{', 0xff, 0xfe, b'}']),
                400,
                "invalid_request",
            ),
        ];
        for (name, request, status, code) in cases {
            let reply = app.send(request).await;
            assert_eq!(reply.status, status, "{path} {name}: {}", reply.text);
            assert_eq!(reply.error(), code, "{path} {name}");
            assert!(reply.body["error_description"].is_string(), "{path} {name}");
        }
    }
    let refresh = app
        .send(
            app.client
                .post(app.url("/auth/refresh"))
                .json(&json!({ "refresh_token": 12 })),
        )
        .await;
    assert_eq!(refresh.status, 400);
    let refresh = app
        .send(
            app.client
                .post(app.url("/auth/refresh"))
                .json(&json!({ "refresh_token": "x", "extra": 1 })),
        )
        .await;
    assert_eq!(refresh.status, 400);
}

async fn invalid_emails_and_passwords_are_refused_at_registration(backend: Backend) {
    let app = spawn_app(backend).await;
    for (email, password, what) in [
        ("not-an-email", "long enough password", "email"),
        ("a@b", "long enough password", "email"),
        ("", "long enough password", "email"),
        ("ok@example.com", "short", "password"),
        ("ok@example.com", "", "password"),
    ] {
        let reply = app
            .post_json(
                "/auth/register",
                &json!({ "email": email, "password": password }),
            )
            .await;
        assert_eq!(reply.status, 400, "{email:?} {password:?}");
        assert_eq!(reply.error(), "invalid_request");
        assert!(
            reply.body["error_description"]
                .as_str()
                .unwrap()
                .contains(what),
            "{}",
            reply.text
        );
        assert!(
            !reply.text.contains(password) || password.is_empty(),
            "the password is not echoed"
        );
    }
    // Random text, so that only the length can be the reason for an answer.
    let random = |n: usize| -> String {
        std::iter::repeat_with(|| uuid::Uuid::new_v4().simple().to_string())
            .flat_map(|u| u.chars().collect::<Vec<_>>())
            .take(n)
            .collect()
    };
    let long = random(1025);
    let reply = app
        .post_json(
            "/auth/register",
            &json!({ "email": "ok@example.com", "password": long }),
        )
        .await;
    assert_eq!(reply.status, 400);
    let max = random(1024);
    let reply = app
        .post_json(
            "/auth/register",
            &json!({ "email": "ok@example.com", "password": max }),
        )
        .await;
    assert_eq!(
        reply.status, 201,
        "1024 characters is the maximum, inclusive"
    );
    // Characters count, not bytes, as the document's maxLength does: 1024
    // four-byte characters fit, 1025 do not.
    for (n, status) in [(1025, 400), (1024, 201)] {
        let password: String = std::iter::repeat_with(|| random(1))
            .map(|c| char::from_u32(0x1F300 + u32::from_str_radix(&c, 16).unwrap()).unwrap())
            .take(n)
            .collect();
        let reply = app
            .post_json(
                "/auth/register",
                &json!({ "email": format!("wide{n}@example.com"), "password": password }),
            )
            .await;
        assert_eq!(
            reply.status, status,
            "{n} four-byte characters: {}",
            reply.text
        );
    }
}

/// A JSON `null` body is no body, as the document's `oneOf [null, ...]`
/// says: the answer is the one for a missing token, not a malformed body.
async fn a_null_body_is_no_body(backend: Backend) {
    let app = spawn_app(backend).await;
    for path in ["/auth/refresh", "/auth/logout"] {
        let reply = app
            .send(
                app.client
                    .post(app.url(path))
                    .header("content-type", "application/json")
                    .body("null"),
            )
            .await;
        let none = app.send(app.client.post(app.url(path))).await;
        assert_eq!(
            (reply.status, reply.error()),
            (none.status, none.error()),
            "{path}: {}",
            reply.text
        );
        assert_ne!(reply.status, 400, "{path}: {}", reply.text);
    }
}

async fn unknown_paths_and_methods_get_json_errors(backend: Backend) {
    let app = spawn_app(backend).await;
    let missing = app.get("/nope").await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.error(), "not_found");
    let wrong_method = app.get("/auth/login").await;
    assert_eq!(wrong_method.status, 405);
    assert_eq!(wrong_method.error(), "method_not_allowed");
    let wrong_method = app.send(app.client.put(app.url("/auth/sessions/x"))).await;
    assert_eq!(wrong_method.status, 405);
}

async fn health_and_readiness_answer(backend: Backend) {
    let app = spawn_app(backend).await;
    let health = app.get("/healthz").await;
    assert_eq!(health.status, 200);
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status, 200, "{}", ready.text);
}

async fn a_full_hashing_queue_answers_503_at_once(backend: Backend) {
    // One slot, no queue, and a hash slow enough that concurrent logins collide.
    let app = crate::helpers::spawn_app_with(backend, |s| {
        s.password.max_concurrent_hashes = 1;
        s.password.max_queued_hashes = 0;
        s.password.argon2_m_cost = 65_536;
        s.password.argon2_t_cost = 3;
        s.server.workers = 2;
    })
    .await;
    let emails: Vec<String> = (0..8).map(|i| format!("u{i}@example.com")).collect();
    let attempts = emails.iter().map(|e| app.try_login(e, "wrong guess 1234"));
    let replies = futures_util::future::join_all(attempts).await;
    let busy: Vec<_> = replies.iter().filter(|r| r.status == 503).collect();
    assert!(
        !busy.is_empty(),
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    for reply in &busy {
        assert_eq!(reply.error(), "temporarily_unavailable");
        assert_eq!(reply.header("retry-after"), Some("1"));
    }
    assert!(replies.iter().all(|r| r.status == 503 || r.status == 401));
    // JWKS and health do not wait behind hashing.
    let jwks = app.get("/.well-known/jwks.json").await;
    assert_eq!(jwks.status, 200);
}

async fn deeply_nested_json_and_huge_headers_get_4xx(backend: Backend) {
    let app = spawn_app(backend).await;
    let nested = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let reply = app
        .send(
            app.client
                .post(app.url("/auth/login"))
                .header("content-type", "application/json")
                .body(nested),
        )
        .await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    // actix refuses header blocks over 128 KiB with 431.
    let huge = "a".repeat(200 * 1024);
    // A client of its own: the server closes this connection, which must not be reused.
    let own = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let response = own
        .get(app.url("/healthz"))
        .header("x-huge", huge)
        .send()
        .await;
    if let Ok(r) = response {
        assert_eq!(r.status().as_u16(), 431);
    } // or the server closes the connection, which is as good
    // The server is still fine.
    assert_eq!(app.get("/healthz").await.status, 200);
}

/// A client that starts a request and never finishes its headers is answered
/// 408 and dropped after the 5 s request timeout, instead of holding the
/// connection for ever (slowloris). Store-independent: run once, on SQLite.
#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_dropped() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app(Backend::Sqlite).await;
    let address = app.address.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream
        .write_all(b"POST /auth/login HTTP/1.1\r\nHost: authd.test\r\n")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(15),
        stream.read_to_end(&mut answer),
    )
    .await;
    assert!(read.is_ok(), "the connection was still open after 15 s");
    let waited = started.elapsed();
    assert!(
        waited >= std::time::Duration::from_secs(4),
        "dropped after {waited:?}"
    );
    let text = String::from_utf8_lossy(&answer);
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 408"),
        "{text}"
    );
}
