//! Enumeration-safe registration (`accounts.enumeration_safe_registration`),
//! on both stores: `POST /auth/register` answers the same for a new address
//! and for one that has an account, and nothing the caller can do next tells
//! them apart; the new account gets its verification link, the existing
//! one's owner a message pointing to the forgot-password page, and no second
//! account is made.

use serde_json::json;

use crate::helpers::{Backend, PASSWORD, Reply, TestApp, spawn_app, spawn_app_with};
use crate::on_both_stores;
use authd::config::{Settings, Verification};

on_both_stores!(
    new_and_existing_addresses_get_the_same_answer,
    the_owner_is_told_and_no_second_account_is_made,
    a_new_unverified_account_answers_its_password_as_an_existing_one_does,
    send_limits_answer_new_and_existing_addresses_alike,
    the_default_mode_still_answers_201_and_409,
);

const OTHER_PASSWORD: &str = "a different horse battery staple";

fn safe(s: &mut Settings) {
    s.accounts.enumeration_safe_registration = true;
    s.accounts.email_verification = Verification::Required;
}

fn new_email() -> String {
    format!("s-{}@example.com", uuid::Uuid::new_v4().simple())
}

async fn register(app: &TestApp, email: &str, password: &str) -> Reply {
    app.post_json(
        "/auth/register",
        &json!({ "email": email, "password": password }),
    )
    .await
}

/// Everything a caller sees of an answer but the date.
fn seen(reply: &Reply) -> (u16, String, Vec<(String, String)>) {
    let mut headers: Vec<(String, String)> = reply
        .headers
        .iter()
        .filter(|(name, _)| name.as_str() != "date")
        .map(|(name, value)| (name.to_string(), value.to_str().unwrap().to_owned()))
        .collect();
    headers.sort();
    (reply.status, reply.text.clone(), headers)
}

/// A verified account with the test password.
async fn verified_account(app: &TestApp) -> String {
    let email = new_email();
    assert_eq!(register(app, &email, PASSWORD).await.status, 202);
    let token = app
        .wait_for_action(&email, "verify_email")
        .await
        .link_token();
    let reply = app
        .post_json(
            "/auth/email/verify",
            &json!({ "token": token, "password": PASSWORD }),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    email
}

async fn new_and_existing_addresses_get_the_same_answer(backend: Backend) {
    let app = spawn_app_with(backend, safe).await;
    let existing = verified_account(&app).await;
    let new = register(&app, &new_email(), PASSWORD).await;
    let taken = register(&app, &existing, PASSWORD).await;
    let taken_other_password = register(&app, &existing, OTHER_PASSWORD).await;
    assert_eq!(new.status, 202, "{}", new.text);
    assert_eq!(new.body, json!({ "status": "accepted" }));
    assert_eq!(
        new.header("content-type"),
        Some("application/json"),
        "{:?}",
        new.headers
    );
    assert_eq!(seen(&taken), seen(&new));
    assert_eq!(seen(&taken_other_password), seen(&new));
}

async fn the_owner_is_told_and_no_second_account_is_made(backend: Backend) {
    let app = spawn_app_with(backend, safe).await;
    let email = verified_account(&app).await;
    let user = app.user_id(&email).await;
    assert_eq!(register(&app, &email, OTHER_PASSWORD).await.status, 202);

    let told = app.wait_for_action(&email, "forgot_password").await;
    assert!(
        told.text
            .contains("http://localhost:8080/demo/?action=forgot_password"),
        "the message links to the forgot-password page:\n{}",
        told.text
    );
    assert!(
        !told.text.contains("token="),
        "and carries no token:\n{}",
        told.text
    );
    assert!(
        app.audit_kinds(user)
            .await
            .contains(&"registration_attempted".to_owned())
    );
    // The same account, with its own password; nothing else was created.
    assert_eq!(app.user_id(&email).await, user);
    assert_eq!(app.try_login(&email, PASSWORD).await.status, 200);
    let other = app.try_login(&email, OTHER_PASSWORD).await;
    assert_eq!(other.status, 401, "{}", other.text);
    let mail = app.mail_to(&email);
    assert_eq!(
        mail.iter()
            .filter(|m| m.action().as_deref() == Some("verify_email"))
            .count(),
        1,
        "no verification link for the attempt"
    );
}

async fn a_new_unverified_account_answers_its_password_as_an_existing_one_does(backend: Backend) {
    let app = spawn_app_with(backend, safe).await;
    let existing = verified_account(&app).await;
    let new = new_email();
    assert_eq!(register(&app, &new, OTHER_PASSWORD).await.status, 202);
    assert_eq!(register(&app, &existing, OTHER_PASSWORD).await.status, 202);
    // Whoever registered tries the password they chose: the new account must
    // answer as the existing one (whose password it is not) does, attempt
    // after attempt, lockout included.
    for attempt in 0..7 {
        let a = app.try_login(&new, OTHER_PASSWORD).await;
        let b = app.try_login(&existing, OTHER_PASSWORD).await;
        assert_eq!(seen(&a), seen(&b), "attempt {attempt}");
        assert!([401, 429].contains(&a.status), "{}", a.text);
    }
    // The owner of the new address, with the link, gets in.
    app.advance(3600);
    let token = app.wait_for_action(&new, "verify_email").await.link_token();
    let reply = app
        .post_json(
            "/auth/email/verify",
            &json!({ "token": token, "password": OTHER_PASSWORD }),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(app.try_login(&new, OTHER_PASSWORD).await.status, 200);
}

async fn send_limits_answer_new_and_existing_addresses_alike(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        safe(s);
        s.email.per_ip_limit = 3;
    })
    .await;
    let existing = new_email();
    assert_eq!(register(&app, &existing, PASSWORD).await.status, 202);
    assert_eq!(register(&app, &existing, PASSWORD).await.status, 202);
    assert_eq!(register(&app, &new_email(), PASSWORD).await.status, 202);
    let new = register(&app, &new_email(), PASSWORD).await;
    let taken = register(&app, &existing, PASSWORD).await;
    assert_eq!(new.status, 429, "{}", new.text);
    assert_eq!(new.error(), "too_many_requests");
    assert!(new.header("retry-after").is_some());
    assert_eq!(seen(&taken), seen(&new));

    // Per recipient: a budget per kind of message, spent only by messages
    // sent; past it nothing more goes to the owner, and the answer is the
    // same as for a new address.
    let app = spawn_app_with(backend, |s| {
        safe(s);
        s.email.per_recipient_limit = 1;
        s.email.per_recipient_total_limit = 1;
    })
    .await;
    let existing = new_email();
    assert_eq!(register(&app, &existing, PASSWORD).await.status, 202);
    for _ in 0..2 {
        let taken = register(&app, &existing, PASSWORD).await;
        let new = register(&app, &new_email(), PASSWORD).await;
        assert_eq!(taken.status, 202, "{}", taken.text);
        assert_eq!(seen(&taken), seen(&new));
    }
    app.settled().await;
    let attempts = app
        .mail_to(&existing)
        .iter()
        .filter(|m| m.action().is_none_or(|a| a != "verify_email"))
        .count();
    assert_eq!(attempts, 1, "one registration_attempt, the second dropped");
}

async fn the_default_mode_still_answers_201_and_409(backend: Backend) {
    let app = spawn_app(backend).await;
    let email = new_email();
    let created = register(&app, &email, PASSWORD).await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.header("location"), Some("/auth/me"));
    assert_eq!(created.body["email_verified"], false);
    let taken = register(&app, &email, PASSWORD).await;
    assert_eq!(taken.status, 409, "{}", taken.text);
    assert_eq!(taken.error(), "email_taken");
    assert!(
        app.mail_to(&email)
            .iter()
            .all(|m| m.action().as_deref() == Some("verify_email")),
        "no registration_attempt mail outside the safe mode"
    );
}
