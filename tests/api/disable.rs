//! Disabling an account (`accounts::disable`, `authd users disable`), on
//! both stores: every session ends at once as one user revocation (access
//! and refresh tokens refused, the revocation feed's user entry), and every
//! sign-in path refuses the account with 403 `account_disabled`, but only
//! after a right proof: a wrong password stays `invalid_credentials`, so the
//! refusal tells nothing to whoever does not know it. An authorization code
//! issued before the disabling is refused at the token endpoint. Enabling
//! lets the user sign in again.

use std::time::{Duration, Instant};

use authd::accounts::disable::{Disabled, disable, enable};
use authd::audit::Actor;
use serde_json::json;

use crate::authorize::support::{Browser, REDIRECT, client, param, query, to_client};
use crate::helpers::{Backend, PASSWORD, TestApp, jwt_claims, spawn_app, spawn_app_with};
use crate::mfa::{challenge, enrolled, verify};
use crate::on_both_stores;
use crate::passkeys::{finish_passwordless, origin, passwordless_options, user_with_passkey};

on_both_stores!(
    disabling_ends_every_session_at_once_and_enabling_lets_the_user_back,
    every_sign_in_path_refuses_a_disabled_account,
    a_code_issued_before_the_disabling_gets_no_tokens,
    a_passkey_alone_does_not_sign_a_disabled_account_in,
);

async fn disable_now(app: &TestApp, email: &str) -> u64 {
    let user = app.user_id(email).await;
    match disable(app.services(), user, Actor::CLI).await.unwrap() {
        Some(Disabled::Now { sessions }) => sessions,
        other => panic!("not disabled now: {other:?}"),
    }
}

fn assert_disabled(reply: &crate::helpers::Reply) {
    assert_eq!(reply.status, 403, "{}", reply.text);
    assert_eq!(reply.error(), "account_disabled", "{}", reply.text);
    assert!(reply.body.get("access_token").is_none(), "{}", reply.text);
    assert!(reply.set_cookies().is_empty(), "no cookie");
}

async fn disabling_ends_every_session_at_once_and_enabling_lets_the_user_back(backend: Backend) {
    let app = spawn_app(backend).await;
    let feed = app
        .create_client("orders", "authd:revocations authd:revocations:sub")
        .await;
    let (email, first) = app.user_with_tokens().await;
    let second = app.login_body(&email).await;
    let (_, bystander) = app.user_with_tokens().await;
    let user = app.user_id(&email).await;

    assert_eq!(disable_now(&app, &email).await, 2);
    // Every session ended at once: access tokens and refresh tokens refused.
    assert!(!app.access_works(&first.access).await);
    assert!(!app.access_works(&second.access).await);
    let refreshed = app.refresh_body(&second.refresh).await;
    assert_eq!(refreshed.status, 401, "{}", refreshed.text);
    assert!(app.access_works(&bystander.access).await, "only that user");
    // The revocation feed lists one user entry for it.
    let reply = app
        .send(
            app.client
                .get(app.url("/auth/revocations?version=2"))
                .basic_auth(&feed.0, Some(&feed.1)),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let users = reply.body["users"].as_array().unwrap();
    assert_eq!(users.len(), 1, "{}", reply.text);
    assert_eq!(users[0]["sub"], user.to_string());
    let auth_time = jwt_claims(&second.access)["auth_time"].as_i64().unwrap();
    assert!(users[0]["started_before"].as_i64().unwrap() > auth_time);
    // Audited with its actor.
    let event = app
        .audit_events(user)
        .await
        .into_iter()
        .find(|e| e.kind == "user_disabled")
        .expect("the disabling is audited");
    assert_eq!(event.actor.as_deref(), Some("operator:cli"));
    // Again: nothing changes.
    let again = disable(app.services(), user, Actor::CLI).await.unwrap();
    assert!(matches!(again, Some(Disabled::Already(_))), "{again:?}");

    // The right password learns it is disabled; a wrong one learns nothing.
    assert_disabled(&app.try_login(&email, PASSWORD).await);
    let wrong = app.try_login(&email, "not the password at all").await;
    assert_eq!(wrong.status, 401, "{}", wrong.text);
    assert_eq!(wrong.error(), "invalid_credentials");
    let unknown = app
        .try_login("nobody-here@example.com", "not the password at all")
        .await;
    assert_eq!(wrong.text, unknown.text, "the same answer as no account");

    assert_eq!(
        enable(app.services(), user, Actor::CLI).await.unwrap(),
        Some(true)
    );
    let back = app.login_body(&email).await;
    assert!(app.access_works(&back.access).await);
    assert!(
        app.audit_kinds(user)
            .await
            .contains(&"user_enabled".to_owned())
    );
    assert_eq!(
        enable(app.services(), user, Actor::CLI).await.unwrap(),
        Some(false)
    );
}

async fn emailed_code(app: &TestApp, email: &str) -> String {
    let digits = app.services().settings.accounts.otp_digits as usize;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(m) = app
            .mail_to(email)
            .into_iter()
            .find(|m| m.subject.ends_with(" code"))
        {
            return m.code(digits);
        }
        assert!(Instant::now() < deadline, "no login code");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn every_sign_in_path_refuses_a_disabled_account(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.accounts.otp_enabled = true;
        s.accounts.reset_signs_in = true;
    })
    .await;

    // A second factor: a challenge from before the disabling is refused.
    let factor = enrolled(&app).await;
    let pending = challenge(&app, &factor.email).await;
    disable_now(&app, &factor.email).await;
    assert_disabled(&verify(&app, &pending, &factor.code(&app)).await);
    // And the password of an account with a factor gets no challenge.
    assert_disabled(&app.try_login(&factor.email, PASSWORD).await);

    // An emailed code.
    let (email, _) = app.user_with_tokens().await;
    disable_now(&app, &email).await;
    let started = app
        .post_json("/auth/otp/start", &json!({ "email": email }))
        .await;
    assert_eq!(started.status, 202, "{}", started.text);
    let code = emailed_code(&app, &email).await;
    let reply = app
        .post_json(
            "/auth/otp/verify",
            &json!({ "email": email, "code": code, "token_delivery": "body" }),
        )
        .await;
    assert_disabled(&reply);

    // A reset that signs in: refused, and the password stays as it was.
    let (email, _) = app.user_with_tokens().await;
    disable_now(&app, &email).await;
    let asked = app
        .post_json("/auth/password/forgot", &json!({ "email": email }))
        .await;
    assert_eq!(asked.status, 202, "{}", asked.text);
    let token = app
        .wait_for_action(&email, "password_reset")
        .await
        .link_token();
    let reply = app
        .post_json(
            "/auth/password/reset",
            &json!({ "token": token, "new_password": "a brand new and long passphrase",
                     "token_delivery": "body" }),
        )
        .await;
    assert_disabled(&reply);
    assert_disabled(&app.try_login(&email, PASSWORD).await);

    // The hosted login page: the error page, no browser session.
    let (email, _) = app.user_with_tokens().await;
    disable_now(&app, &email).await;
    let client = client(&app).await;
    let mut browser = Browser::new(&app);
    let start = browser.authorize(&query(&client, &[])).await;
    let page = browser.follow(&start).await;
    let reply = browser.log_in(&page, &email, PASSWORD).await;
    assert_eq!(reply.status, 403, "{}", reply.text);
    assert!(reply.text.contains("disabled"), "{}", reply.text);
    assert!(browser.session.is_none(), "no browser session");
    let wrong = browser
        .log_in(&page, &email, "not the password at all")
        .await;
    assert!(!wrong.text.contains("disabled"), "{}", wrong.text);

    // Every refusal is audited as a failed login.
    let user = app.user_id(&email).await;
    let refused = app
        .audit_events(user)
        .await
        .into_iter()
        .filter(|e| e.kind == "login_failed")
        .filter(|e| e.detail.as_deref() == Some("account_disabled"))
        .count();
    assert_eq!(refused, 1);
}

async fn a_code_issued_before_the_disabling_gets_no_tokens(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = client(&app).await;
    let (email, _) = app.user_with_tokens().await;
    let mut browser = Browser::new(&app);
    let start = browser.authorize(&query(&client, &[])).await;
    let page = browser.follow(&start).await;
    let signed_in = browser.log_in(&page, &email, PASSWORD).await;
    let consent = browser.follow(&signed_in).await;
    let back = to_client(&browser.consent(&consent, "allow").await);
    let code = param(&back, "code").unwrap();

    disable_now(&app, &email).await;
    let secret = client.secret.clone().unwrap();
    let tokens = app
        .post_form(
            "/oauth/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                (
                    "code_verifier",
                    "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
                ),
            ],
            Some((&client.id, &secret)),
        )
        .await;
    assert_eq!(tokens.status, 400, "{}", tokens.text);
    assert_eq!(tokens.error(), "invalid_grant");
    // The browser session ended with the rest: a silent authorization finds none.
    let silent = browser
        .authorize(&query(&client, &[("prompt", "none")]))
        .await;
    assert_eq!(
        crate::authorize::support::client_error(&silent),
        "login_required"
    );
}

async fn a_passkey_alone_does_not_sign_a_disabled_account_in(backend: Backend) {
    let app = crate::passkeys::spawn(backend).await;
    let (email, _, mut device) = user_with_passkey(&app).await;
    disable_now(&app, &email).await;
    let (ceremony, options) = passwordless_options(&app).await;
    let credential = device.assert(&options, &origin(), false);
    assert_disabled(&finish_passwordless(&app, &ceremony, &credential).await);
}
