//! No sign-in path completes with the first proof alone once a second
//! factor is confirmed: a password login (both deliveries, in `mfa.rs`), a
//! code sign-in, a reset that signs in, and the hosted login page (which
//! starts no browser session, so no code reaches the token endpoint, until
//! its second step takes the code). The API paths end as `mfa_required` and
//! finish at `/auth/mfa/verify`.

use std::time::{Duration, Instant};

use serde_json::json;

use super::{challenge_of, enrolled, verify};
use crate::authorize::support::{Browser, REDIRECT, client, client_error, param, query, to_client};
use crate::helpers::{Backend, PASSWORD, jwt_claims, spawn_app, spawn_app_with};
use crate::oidc_rp::browser::form;

crate::on_both_stores!(
    a_code_sign_in_asks_for_the_second_factor,
    a_reset_that_signs_in_asks_for_the_second_factor,
    the_hosted_login_page_asks_for_the_code_before_any_browser_session_or_authorization_code,
    the_hosted_pages_emailed_code_asks_for_the_second_factor_too,
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

async fn the_hosted_login_page_asks_for_the_code_before_any_browser_session_or_authorization_code(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let client = client(&app).await;
    let user = enrolled(&app).await;
    let mut browser = Browser::new(&app);
    let start = browser.authorize(&query(&client, &[])).await;
    let page = browser.follow(&start).await;
    let step = browser.log_in(&page, &user.email, PASSWORD).await;
    // The second step's form, and nothing else: no redirect, no code, no
    // browser session.
    assert_eq!(step.status, 200, "{}", step.text);
    assert!(step.header("location").is_none(), "no redirect, no code");
    assert!(browser.session.is_none(), "no browser session cookie");
    let second = form(&step.text, "/login/mfa").expect("the second step's form");
    // No session was kept either: a silent authorization finds none, so no
    // code is ever issued for the token endpoint.
    let silent = browser
        .authorize(&query(&client, &[("prompt", "none")]))
        .await;
    assert_eq!(client_error(&silent), "login_required");
    // The page's challenge is not the API's.
    let challenge = second
        .hidden
        .iter()
        .find(|(k, _)| k == "challenge")
        .map(|(_, v)| v.clone())
        .unwrap();
    let api = verify(&app, &challenge, &user.code(&app)).await;
    assert_eq!(api.error(), "invalid_mfa_challenge", "{}", api.text);
    // Without its CSRF token, refused.
    let mut fields: Vec<(String, String)> = second
        .hidden
        .iter()
        .filter(|(k, _)| k != "csrf")
        .cloned()
        .collect();
    fields.push(("code".into(), user.code(&app)));
    let reply = browser.post("/login/mfa", &fields).await;
    assert_eq!(reply.status, 403, "{}", reply.text);
    assert!(browser.session.is_none());
    // A wrong code shows the form again.
    let mut fields = second.hidden.clone();
    fields.push(("code".into(), "000000".into()));
    let again = browser.post("/login/mfa", &fields).await;
    assert_eq!(again.status, 401, "{}", again.text);
    assert!(browser.session.is_none());
    // The right code: the browser session, consent, a code, and tokens whose
    // methods say the second factor.
    let mut fields = form(&again.text, "/login/mfa").unwrap().hidden;
    fields.push(("code".into(), user.code(&app)));
    let signed_in = browser.post("/login/mfa", &fields).await;
    assert!(browser.session.is_some(), "{}", signed_in.text);
    let consent = browser.follow(&signed_in).await;
    let back = to_client(&browser.consent(&consent, "allow").await);
    let code = param(&back, "code").unwrap();
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
    assert_eq!(tokens.status, 200, "{}", tokens.text);
    let access = jwt_claims(tokens.body["access_token"].as_str().unwrap());
    assert_eq!(access["amr"], json!(["pwd", "otp", "mfa"]));
    assert_eq!(access["acr"], "2");
    let id_token = jwt_claims(tokens.body["id_token"].as_str().unwrap());
    assert_eq!(id_token["acr"], "2");
}

async fn the_hosted_pages_emailed_code_asks_for_the_second_factor_too(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.accounts.otp_enabled = true).await;
    let client = client(&app).await;
    let user = enrolled(&app).await;
    let mut browser = Browser::new(&app);
    let start = browser.authorize(&query(&client, &[])).await;
    let login = browser.follow(&start).await;
    let mut fields = form(&login.text, "/login/code")
        .expect("the login page offers the emailed code")
        .hidden;
    fields.push(("email".into(), user.email.clone()));
    let code_page = browser.post("/login/code", &fields).await;
    assert_eq!(code_page.status, 200, "{}", code_page.text);
    let digits = app.services().settings.accounts.otp_digits as usize;
    let deadline = Instant::now() + Duration::from_secs(20);
    let emailed = loop {
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
    let mut fields = form(&code_page.text, "/login/code/verify")
        .expect("the code form")
        .hidden;
    fields.push(("code".into(), emailed));
    let step = browser.post("/login/code/verify", &fields).await;
    // The right emailed code is a first proof only: the second step's form,
    // no redirect, no browser session.
    assert_eq!(step.status, 200, "{}", step.text);
    assert!(step.header("location").is_none(), "no redirect, no code");
    assert!(browser.session.is_none(), "no browser session cookie");
    let mut fields = form(&step.text, "/login/mfa")
        .expect("the second step's form")
        .hidden;
    fields.push(("code".into(), user.code(&app)));
    let signed_in = browser.post("/login/mfa", &fields).await;
    assert!(browser.session.is_some(), "{}", signed_in.text);
    let consent = browser.follow(&signed_in).await;
    let back = to_client(&browser.consent(&consent, "allow").await);
    assert!(param(&back, "code").is_some(), "{back}");
}
