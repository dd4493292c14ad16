//! Resetting with the emailed code, for apps that cannot open links: it
//! works with the address it was sent to, a bounded number of tries, for
//! that account only, and an unknown address answers as a wrong code does.

use super::{NEW_PASSWORD, ask, assert_refused, by_code, by_link, code_of, new_email, visible};
use crate::helpers::{Backend, PASSWORD, spawn_app, spawn_app_with};
use crate::on_both_stores;

on_both_stores!(
    the_code_resets_with_the_address,
    after_the_allowed_wrong_codes_the_right_code_is_refused,
    an_unknown_address_answers_like_a_wrong_code,
    a_code_is_not_valid_for_another_account,
    code_tries_are_throttled_per_address_alike_for_known_and_unknown_addresses,
    a_login_lockout_does_not_refuse_a_reset_by_code,
    a_weak_password_sent_with_the_code_uses_none_of_its_tries,
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
    // With the default limits, the code's own limit is met first: the right
    // code is refused as dead (400), not as a lockout (429).
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

async fn code_tries_are_throttled_per_address_alike_for_known_and_unknown_addresses(
    backend: Backend,
) {
    // No live code, so the code's own limit never ends the guessing: the
    // address's reset-code tries of the day do.
    let app = spawn_app_with(backend, |s| s.limits.code_tries_per_day = 5).await;
    let limit = app.services().settings.limits.code_tries_per_day;
    let (known, unknown) = (new_email(), new_email());
    app.register(&known).await;
    let mut answers = Vec::new();
    for email in [&known, &unknown] {
        let mut seen = Vec::new();
        for _ in 0..=limit {
            let reply = by_code(&app, email, "00000000", NEW_PASSWORD).await;
            seen.push((reply.status, reply.error().to_owned()));
        }
        answers.push(seen);
    }
    assert_eq!(
        answers[0], answers[1],
        "known and unknown are throttled alike"
    );
    assert_eq!(
        answers[0].iter().filter(|(s, _)| *s == 400).count(),
        usize::try_from(limit).unwrap(),
        "{:?}",
        answers[0]
    );
    assert_eq!(answers[0].last().map(|(s, _)| *s), Some(429));
    let mail = ask(&app, &known).await;
    let right = code_of(&app, &mail);
    let known_reply = by_code(&app, &known, &right, NEW_PASSWORD).await;
    let unknown_reply = by_code(&app, &unknown, &right, NEW_PASSWORD).await;
    assert_eq!(
        (known_reply.status, known_reply.error()),
        (429, "too_many_requests"),
        "the right code is not even tried past the limit"
    );
    assert!(known_reply.header("retry-after").is_some());
    assert_eq!(
        (unknown_reply.status, unknown_reply.error()),
        (known_reply.status, known_reply.error()),
        "an address without an account is throttled the same way"
    );
    assert_eq!(app.try_login(&known, PASSWORD).await.status, 200);
    // The link of the same mail is not a guess: it still works.
    assert_eq!(
        by_link(&app, &mail.link_token(), NEW_PASSWORD).await.status,
        204
    );
}

async fn a_login_lockout_does_not_refuse_a_reset_by_code(backend: Backend) {
    let app = spawn_app(backend).await;
    let limit = app.services().settings.limits.login_account_failures;
    let email = new_email();
    app.register(&email).await;
    for _ in 0..limit {
        app.try_login(&email, "not the password at all").await;
    }
    assert_eq!(
        app.try_login(&email, PASSWORD).await.status,
        429,
        "the account is locked out"
    );
    let mail = ask(&app, &email).await;
    let reply = by_code(&app, &email, &code_of(&app, &mail), NEW_PASSWORD).await;
    assert_eq!(reply.status, 204, "{}", reply.text);
    assert_eq!(
        app.try_login(&email, NEW_PASSWORD).await.status,
        200,
        "the reset ended the lockout"
    );
}

async fn a_weak_password_sent_with_the_code_uses_none_of_its_tries(backend: Backend) {
    let app = spawn_app(backend).await;
    let attempts = app.services().settings.accounts.code_attempts;
    let email = new_email();
    app.register(&email).await;
    let mail = ask(&app, &email).await;
    let code = code_of(&app, &mail);
    for _ in 0..=attempts {
        assert_refused(
            &by_code(&app, &email, &code, "password123").await,
            "weak_password",
        );
    }
    assert_eq!(by_code(&app, &email, &code, NEW_PASSWORD).await.status, 204);
}
