//! No sign-in path completes with the first proof alone once a second
//! factor is confirmed: a password login (both deliveries, in `mfa.rs`), a
//! code sign-in, a reset that signs in, and the hosted login page (which
//! starts no browser session, so no code reaches the token endpoint). The
//! API paths end as `mfa_required` and finish at `/auth/mfa/verify`.

use std::time::{Duration, Instant};

use serde_json::json;

use super::{challenge_of, enrolled, verify};
use crate::authorize::support::{Browser, client, query};
use crate::helpers::{Backend, PASSWORD, jwt_claims, spawn_app, spawn_app_with};

crate::on_both_stores!(
    a_code_sign_in_asks_for_the_second_factor,
    a_reset_that_signs_in_asks_for_the_second_factor,
    the_hosted_login_page_starts_no_browser_session_on_the_password_alone,
);

async fn a_code_sign_in_asks_for_the_second_factor(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.accounts.otp_enabled = true).await;
    let user = enrolled(&app).await;
    let started = app
        .post_json("/auth/otp/start", &json!({ "email": user.email }))
        .await;
    assert_eq!(started.status, 202, "{}", started.text);
    let digits = app.services().settings.accounts.otp_digits as usize;
    let deadline = Instant::now() + Duration::from_secs(20);
    let code = loop {
        if let Some(m) = app
            .mail_to(&user.email)
            .into_iter()
            .find(|m| m.subject.ends_with(" code"))
        {
            break m.code(digits);
        }
        assert!(Instant::now() < deadline, "no login code");
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    let reply = app
        .post_json(
            "/auth/otp/verify",
            &json!({ "email": user.email, "code": code, "token_delivery": "body" }),
        )
        .await;
    let challenge = challenge_of(&reply);
    let done = verify(&app, &challenge, &user.code(&app)).await;
    assert_eq!(done.status, 200, "{}", done.text);
    assert_eq!(
        jwt_claims(&done.access_token())["amr"],
        json!(["otp", "mfa"])
    );
}

async fn a_reset_that_signs_in_asks_for_the_second_factor(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.accounts.reset_signs_in = true).await;
    let user = enrolled(&app).await;
    let asked = app
        .post_json("/auth/password/forgot", &json!({ "email": user.email }))
        .await;
    assert_eq!(asked.status, 202, "{}", asked.text);
    let token = app
        .wait_for_action(&user.email, "password_reset")
        .await
        .link_token();
    let new_password = "a brand new and long passphrase";
    let reply = app
        .post_json(
            "/auth/password/reset",
            &json!({ "token": token, "new_password": new_password, "token_delivery": "body" }),
        )
        .await;
    let challenge = challenge_of(&reply);
    // The reset itself is done: the old password no longer signs in.
    let old = app.try_login(&user.email, PASSWORD).await;
    assert_eq!(old.error(), "invalid_credentials");
    let done = verify(&app, &challenge, &user.code(&app)).await;
    assert_eq!(done.status, 200, "{}", done.text);
    assert_eq!(
        jwt_claims(&done.access_token())["amr"],
        json!(["otp", "mfa"])
    );
}

async fn the_hosted_login_page_starts_no_browser_session_on_the_password_alone(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = client(&app).await;
    let user = enrolled(&app).await;
    let mut browser = Browser::new(&app);
    let start = browser.authorize(&query(&client, &[])).await;
    let page = browser.follow(&start).await;
    let reply = browser.log_in(&page, &user.email, PASSWORD).await;
    assert_eq!(reply.status, 401, "{}", reply.text);
    assert!(reply.header("location").is_none(), "no redirect, no code");
    assert!(reply.text.contains("mfa_required"), "{}", reply.text);
    assert!(browser.session.is_none(), "no browser session cookie");
    // No session was kept either: a silent authorization finds none, so no
    // code is ever issued for the token endpoint.
    let silent = browser
        .authorize(&query(&client, &[("prompt", "none")]))
        .await;
    assert_eq!(
        crate::authorize::support::client_error(&silent),
        "login_required"
    );
}
