//! A request refused for want of a hashing place leaves nothing behind (issue
//! 16, item 7). The test holds every place of the hasher (one slot, no queue:
//! `Hasher::admit`), so each request that would check or hash a password finds
//! none: it answers 503 `temporarily_unavailable` with `Retry-After` at once,
//! having counted no attempt, tried no code, run no Argon2id and recorded no
//! audit event. Once the place is given back, the same request goes through.
//!
//! Under a login flood this is what keeps the refused logins off the
//! database; the figures are authd-bench's `login-flood` scenario, not a test.

use serde_json::json;
use sqlx::Connection as _;

use crate::helpers::{Backend, PASSWORD, Reply, TestApp, spawn_app_with};
use crate::on_both_stores;

on_both_stores!(
    a_login_refused_for_want_of_a_hashing_place_writes_nothing,
    password_and_email_changes_refused_for_want_of_a_hashing_place_write_nothing,
    a_reset_by_code_refused_for_want_of_a_hashing_place_spends_no_try_and_writes_nothing,
);

const NEW_PASSWORD: &str = "a brand new and long passphrase";

/// One hashing slot and no queue: one admission takes the only place.
async fn one_place(backend: Backend) -> TestApp {
    spawn_app_with(backend, |s| {
        s.password.max_concurrent_hashes = 1;
        s.password.max_queued_hashes = 0;
    })
    .await
}

/// What a refused request could have written.
#[derive(Debug, PartialEq, Eq)]
struct Written {
    /// `login_throttle`: (key, failures), every row.
    throttle: Vec<(String, i64)>,
    /// Rows of `audit_events`.
    audit_events: i64,
    /// Tries of every emailed code.
    code_attempts: i64,
}

async fn written(app: &TestApp) -> Written {
    const THROTTLE: &str = "SELECT key, failures FROM login_throttle ORDER BY key";
    const AUDIT: &str = "SELECT COUNT(*) FROM audit_events";
    const CODES: &str =
        "SELECT CAST(COALESCE(SUM(code_attempts), 0) AS BIGINT) FROM account_tokens";
    let url = app.database_url();
    if url.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
        Written {
            throttle: sqlx::query_as(THROTTLE).fetch_all(&mut conn).await.unwrap(),
            audit_events: sqlx::query_scalar(AUDIT)
                .fetch_one(&mut conn)
                .await
                .unwrap(),
            code_attempts: sqlx::query_scalar(CODES)
                .fetch_one(&mut conn)
                .await
                .unwrap(),
        }
    } else {
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
        Written {
            throttle: sqlx::query_as(THROTTLE).fetch_all(&mut conn).await.unwrap(),
            audit_events: sqlx::query_scalar(AUDIT)
                .fetch_one(&mut conn)
                .await
                .unwrap(),
            code_attempts: sqlx::query_scalar(CODES)
                .fetch_one(&mut conn)
                .await
                .unwrap(),
        }
    }
}

fn assert_unavailable(what: &str, reply: &Reply) {
    assert_eq!(reply.status, 503, "{what}: {}", reply.text);
    assert_eq!(reply.error(), "temporarily_unavailable", "{what}");
    assert_eq!(reply.header("retry-after"), Some("1"), "{what}");
}

async fn a_login_refused_for_want_of_a_hashing_place_writes_nothing(backend: Backend) {
    let app = one_place(backend).await;
    let (email, _) = app.user_with_tokens().await;
    let before = written(&app).await;
    let runs = app.services().hasher.runs();
    let held = app
        .services()
        .hasher
        .admit()
        .expect("the only place is free");
    let unknown = format!("nobody-{}@example.com", uuid::Uuid::new_v4().simple());
    for (what, email, password) in [
        ("the right password", email.as_str(), PASSWORD),
        (
            "a wrong password",
            email.as_str(),
            "not the password at all 1234",
        ),
        ("an unknown address", unknown.as_str(), PASSWORD),
    ] {
        assert_unavailable(what, &app.try_login(email, password).await);
    }
    assert_eq!(
        written(&app).await,
        before,
        "refused logins counted or recorded something"
    );
    assert_eq!(app.services().hasher.runs(), runs, "Argon2id runs");
    drop(held);
    assert_eq!(app.try_login(&email, PASSWORD).await.status, 200);
}

async fn password_and_email_changes_refused_for_want_of_a_hashing_place_write_nothing(
    backend: Backend,
) {
    let app = one_place(backend).await;
    let (_, tokens) = app.user_with_tokens().await;
    let change_password = |current: &'static str| {
        app.send(
            app.client
                .post(app.url("/auth/password"))
                .bearer_auth(&tokens.access)
                .json(&json!({ "current_password": current, "new_password": NEW_PASSWORD })),
        )
    };
    let new_email = format!("moved-{}@example.com", uuid::Uuid::new_v4().simple());
    let change_email = |current: &'static str| {
        app.send(
            app.client
                .post(app.url("/auth/email/change"))
                .bearer_auth(&tokens.access)
                .json(&json!({ "new_email": new_email, "current_password": current })),
        )
    };
    let before = written(&app).await;
    let runs = app.services().hasher.runs();
    let held = app
        .services()
        .hasher
        .admit()
        .expect("the only place is free");
    let wrong = "not the password at all 1234";
    assert_unavailable("password change", &change_password(PASSWORD).await);
    assert_unavailable("password change, wrong", &change_password(wrong).await);
    assert_unavailable("email change", &change_email(PASSWORD).await);
    assert_unavailable("email change, wrong", &change_email(wrong).await);
    assert_eq!(
        written(&app).await,
        before,
        "refused changes counted or recorded something"
    );
    assert_eq!(app.services().hasher.runs(), runs, "Argon2id runs");
    drop(held);
    let changed = change_password(PASSWORD).await;
    assert_eq!(changed.status, 204, "{}", changed.text);
}

async fn a_reset_by_code_refused_for_want_of_a_hashing_place_spends_no_try_and_writes_nothing(
    backend: Backend,
) {
    let app = one_place(backend).await;
    let email = format!("reset-{}@example.com", uuid::Uuid::new_v4().simple());
    app.register(&email).await;
    let asked = app
        .post_json("/auth/password/forgot", &json!({ "email": email }))
        .await;
    assert_eq!(asked.status, 202, "{}", asked.text);
    let mail = app.wait_for_action(&email, "password_reset").await;
    let code = mail.code(app.services().settings.accounts.reset_code_digits as usize);
    app.settled().await;
    let reset = |code: String| {
        let body = json!({ "email": email, "code": code, "new_password": NEW_PASSWORD });
        let app = &app;
        async move { app.post_json("/auth/password/reset", &body).await }
    };
    let before = written(&app).await;
    let runs = app.services().hasher.runs();
    let held = app
        .services()
        .hasher
        .admit()
        .expect("the only place is free");
    assert_unavailable("reset by code", &reset(code.clone()).await);
    assert_eq!(
        written(&app).await,
        before,
        "a refused reset tried its code, counted or recorded something"
    );
    assert_eq!(app.services().hasher.runs(), runs, "Argon2id runs");
    drop(held);
    let done = reset(code).await;
    assert_eq!(done.status, 204, "{}", done.text);
    assert_eq!(app.try_login(&email, NEW_PASSWORD).await.status, 200);
}
