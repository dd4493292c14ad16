//! What a reset submit refuses and how it answers: a weak new password
//! spends nothing, two submits of one token reset once, malformed input is a
//! 400 (never a 500), and with `accounts.reset_signs_in` the answer is a login.

use serde_json::json;

use super::{NEW_PASSWORD, ask, assert_refused, by_code, by_link, code_of, new_email, reset};
use crate::helpers::{Backend, PASSWORD, spawn_app, spawn_app_with};
use crate::on_both_stores;

on_both_stores!(
    a_weak_new_password_spends_nothing,
    of_two_concurrent_submits_of_one_token_exactly_one_resets,
    with_reset_signs_in_the_answer_is_a_login,
    bad_input_is_a_400_never_a_500,
);

async fn a_weak_new_password_spends_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let email = new_email();
    app.register(&email).await;
    let mail = ask(&app, &email).await;
    let weak = by_link(&app, &mail.link_token(), "password123").await;
    assert_refused(&weak, "weak_password");
    let weak = by_code(&app, &email, &code_of(&app, &mail), "password123").await;
    assert_refused(&weak, "weak_password");
    assert_eq!(app.try_login(&email, PASSWORD).await.status, 200);
    assert_eq!(
        by_link(&app, &mail.link_token(), NEW_PASSWORD).await.status,
        204
    );
}

async fn of_two_concurrent_submits_of_one_token_exactly_one_resets(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.email.per_recipient_limit = 100).await;
    let email = new_email();
    app.register(&email).await;
    for round in 0..3 {
        let mail = ask(&app, &email).await;
        let token = mail.link_token();
        let (first, second) = (
            format!("first passphrase of round {round}"),
            format!("second passphrase of round {round}"),
        );
        let (a, b) = tokio::join!(
            by_link(&app, &token, &first),
            by_link(&app, &token, &second)
        );
        let mut statuses = [a.status, b.status];
        statuses.sort();
        assert_eq!(statuses, [204, 400], "{} / {}", a.text, b.text);
        let (winner, loser) = if a.status == 204 {
            (first, b)
        } else {
            (second, a)
        };
        assert_eq!(loser.error(), "invalid_account_token");
        assert_eq!(app.try_login(&email, &winner).await.status, 200);
    }
}

async fn with_reset_signs_in_the_answer_is_a_login(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.accounts.reset_signs_in = true).await;
    let email = new_email();
    app.register(&email).await;
    let user = app.user_id(&email).await;
    let old = app.login_body(&email).await;
    let mail = ask(&app, &email).await;
    let token = mail.link_token();

    // Cookie delivery from a foreign origin is refused before anything is spent.
    let foreign = app
        .send(
            app.client
                .post(app.url("/auth/password/reset"))
                .header("origin", "https://evil.example.com")
                .json(&json!({ "token": token, "new_password": NEW_PASSWORD })),
        )
        .await;
    assert_eq!((foreign.status, foreign.error()), (403, "invalid_origin"));

    let reply = reset(
        &app,
        json!({ "token": token, "new_password": NEW_PASSWORD, "token_delivery": "body" }),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert_eq!(reply.body["token_type"], "Bearer");
    assert!(reply.refresh_cookie().is_none());
    let (access, refresh) = (reply.access_token(), reply.refresh_token());
    assert!(app.access_works(&access).await);
    assert_eq!(app.refresh_body(&refresh).await.status, 200);
    assert!(!app.access_works(&old.access).await);
    assert_eq!(app.refresh_body(&old.refresh).await.status, 401);
    let kinds = app.audit_kinds(user).await;
    for kind in ["login_succeeded", "password_reset"] {
        assert!(kinds.iter().any(|k| k == kind), "{kind}: {kinds:?}");
    }

    // By code, with the refresh token in the cookie.
    let mail = ask(&app, &email).await;
    let reply = by_code(
        &app,
        &email,
        &code_of(&app, &mail),
        "a third long passphrase",
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(reply.refresh_cookie().is_some());
    assert!(reply.body.get("refresh_token").is_none());
    assert!(!app.access_works(&access).await, "the reset ended it");
}

async fn bad_input_is_a_400_never_a_500(backend: Backend) {
    let app = spawn_app(backend).await;
    let email = new_email();
    app.register(&email).await;
    let mail = ask(&app, &email).await;
    let token = mail.link_token();
    let code = code_of(&app, &mail);
    let long = "x".repeat(300);
    let invalid_request = [
        json!({}),
        json!({ "new_password": NEW_PASSWORD }),
        json!({ "token": token }),
        json!({ "token": token, "email": email, "code": code, "new_password": NEW_PASSWORD }),
        json!({ "token": token, "code": code, "new_password": NEW_PASSWORD }),
        json!({ "token": token, "email": email, "new_password": NEW_PASSWORD }),
        json!({ "email": email, "new_password": NEW_PASSWORD }),
        json!({ "code": code, "new_password": NEW_PASSWORD }),
        json!({ "email": "not an address", "code": code, "new_password": NEW_PASSWORD }),
        json!({ "email": email, "code": "", "new_password": NEW_PASSWORD }),
        json!({ "token": "", "new_password": NEW_PASSWORD }),
        json!({ "token": long, "new_password": NEW_PASSWORD }),
        json!({ "token": 42, "new_password": NEW_PASSWORD }),
        json!({ "token": token, "new_password": "short" }),
        json!({ "token": token, "new_password": NEW_PASSWORD, "extra": true }),
        json!({ "token": token, "new_password": NEW_PASSWORD, "token_delivery": "pigeon" }),
    ];
    for body in invalid_request {
        let reply = reset(&app, body.clone()).await;
        assert_eq!(
            (reply.status, reply.error()),
            (400, "invalid_request"),
            "{body}: {}",
            reply.text
        );
    }
    for malformed in [
        "short",
        "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
        "%00",
        "ü",
    ] {
        assert_refused(
            &by_link(&app, malformed, NEW_PASSWORD).await,
            "invalid_account_token",
        );
    }
    let not_json = app
        .send(
            app.client
                .post(app.url("/auth/password/reset"))
                .header("content-type", "application/json")
                .body("{not json"),
        )
        .await;
    assert_eq!(not_json.status, 400);
    for body in [json!({}), json!({ "email": "nope" }), json!({ "email": 7 })] {
        let reply = app.post_json("/auth/password/forgot", &body).await;
        assert_eq!(
            (reply.status, reply.error()),
            (400, "invalid_request"),
            "{body}: {}",
            reply.text
        );
    }
    // None of it spent the token.
    assert_eq!(by_link(&app, &token, NEW_PASSWORD).await.status, 204);
}

/// The document says the body is one of the two shapes, each closed, with the
/// configured bounds of the new password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_describes_both_shapes_of_a_reset() {
    let app = spawn_app_with(Backend::Sqlite, |s| s.password.min_length = 12).await;
    let doc = app.get("/openapi.json").await.body;
    let schemas = &doc["components"]["schemas"];
    let shapes = schemas["PasswordReset"]["oneOf"].as_array().expect("oneOf");
    assert_eq!(shapes.len(), 2, "{shapes:?}");
    for (shape, required) in [
        ("PasswordResetByLink", vec!["token", "new_password"]),
        ("PasswordResetByCode", vec!["email", "code", "new_password"]),
    ] {
        let schema = &schemas[shape];
        assert_eq!(schema["required"], json!(required), "{shape}");
        assert_eq!(schema["additionalProperties"], false, "{shape}");
        let password = &schema["properties"]["new_password"];
        assert_eq!(password["minLength"], 12, "{shape}");
        assert_eq!(password["maxLength"], 1024, "{shape}");
    }
    let forgot = &doc["paths"]["/auth/password/forgot"]["post"]["responses"];
    assert!(
        forgot["202"].is_object() && forgot["429"].is_object(),
        "{forgot}"
    );
}
