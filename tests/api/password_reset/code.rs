//! Resetting with the emailed code, for apps that cannot open links: it
//! works with the address it was sent to, a bounded number of tries, for
//! that account only, and an unknown address answers as a wrong code does.

use super::{NEW_PASSWORD, ask, assert_refused, by_code, by_link, code_of, new_email, visible};
use crate::helpers::{Backend, PASSWORD, spawn_app};
use crate::on_both_stores;

on_both_stores!(
    the_code_resets_with_the_address,
    after_the_allowed_wrong_codes_the_right_code_is_refused,
    an_unknown_address_answers_like_a_wrong_code,
    a_code_is_not_valid_for_another_account,
);

async fn the_code_resets_with_the_address(backend: Backend) {
    let app = spawn_app(backend).await;
    let email = new_email();
    app.register(&email).await;
    let user = app.user_id(&email).await;
    let tokens = app.login_body(&email).await;
    let mail = ask(&app, &email).await;
    let code = code_of(&app, &mail);
    assert_eq!(code.len(), 8);
    // The address as typed, any case.
    let reply = by_code(&app, &email.to_uppercase(), &code, NEW_PASSWORD).await;
    assert_eq!(reply.status, 204, "{}", reply.text);
    assert_eq!(app.try_login(&email, NEW_PASSWORD).await.status, 200);
    assert_eq!(app.try_login(&email, PASSWORD).await.status, 401);
    assert_eq!(app.refresh_body(&tokens.refresh).await.status, 401);
    let event = app
        .audit_events(user)
        .await
        .into_iter()
        .find(|e| e.kind == "password_reset")
        .unwrap();
    assert_eq!(event.detail.as_deref(), Some("by code"));
    assert_refused(
        &by_code(&app, &email, &code, "yet another long passphrase").await,
        "invalid_account_token",
    );
    assert_refused(
        &by_link(&app, &mail.link_token(), "yet another long passphrase").await,
        "invalid_account_token",
    );
}

/// A code of the same length as `right` that is not it.
fn wrong_code(right: &str) -> String {
    right
        .bytes()
        .map(|b| char::from(b'0' + (b - b'0' + 1) % 10))
        .collect()
}

async fn after_the_allowed_wrong_codes_the_right_code_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let attempts = app.services().settings.accounts.code_attempts;
    let email = new_email();
    app.register(&email).await;
    let user = app.user_id(&email).await;
    let mail = ask(&app, &email).await;
    let right = code_of(&app, &mail);
    for _ in 0..attempts {
        assert_refused(
            &by_code(&app, &email, &wrong_code(&right), NEW_PASSWORD).await,
            "invalid_account_token",
        );
    }
    let failed = app
        .audit_kinds(user)
        .await
        .iter()
        .filter(|k| *k == "code_failed")
        .count();
    assert_eq!(failed, attempts as usize, "every wrong code is audited");
    assert_refused(
        &by_code(&app, &email, &right, NEW_PASSWORD).await,
        "invalid_account_token",
    );
    assert_eq!(app.try_login(&email, PASSWORD).await.status, 200);
}

async fn an_unknown_address_answers_like_a_wrong_code(backend: Backend) {
    let app = spawn_app(backend).await;
    let email = new_email();
    app.register(&email).await;
    let mail = ask(&app, &email).await;
    let wrong = wrong_code(&code_of(&app, &mail));
    let known = by_code(&app, &email, &wrong, NEW_PASSWORD).await;
    let unknown = by_code(&app, &new_email(), &wrong, NEW_PASSWORD).await;
    assert_refused(&known, "invalid_account_token");
    assert_eq!(visible(&known), visible(&unknown));
    // And like a link that is not one.
    let link = by_link(&app, &"A".repeat(43), NEW_PASSWORD).await;
    assert_eq!(visible(&known), visible(&link));
}

async fn a_code_is_not_valid_for_another_account(backend: Backend) {
    let app = spawn_app(backend).await;
    let (alice, bob) = (new_email(), new_email());
    app.register(&alice).await;
    app.register(&bob).await;
    // Bob's code first: Alice's is then the newest code of all.
    let bobs = ask(&app, &bob).await;
    let alices = ask(&app, &alice).await;
    let code = code_of(&app, &alices);
    if code != code_of(&app, &bobs) {
        assert_refused(
            &by_code(&app, &bob, &code, NEW_PASSWORD).await,
            "invalid_account_token",
        );
    }
    assert_eq!(app.try_login(&bob, PASSWORD).await.status, 200);
    assert_eq!(by_code(&app, &alice, &code, NEW_PASSWORD).await.status, 204);
}
