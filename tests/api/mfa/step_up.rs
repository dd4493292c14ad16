//! Step-up at the authorization endpoint: `acr_values=2` demands a second
//! factor. A browser session signed in with the password alone leads an
//! enrolled user to the login page again (password, then the second step)
//! before any code; a user without a factor, and any `prompt=none`, gets
//! `unmet_authentication_requirements` and no code. `max_age` asks for the
//! second step again with the password. Without `acr_values`, nothing
//! changes.

use serde_json::{Value, json};
use totp_rs::TOTP;

use super::{post_bearer, totp_of};
use crate::authorize::support::{
    Browser, REDIRECT, client, client_error, leads_to, param, query, to_client,
};
use crate::helpers::{Backend, OidcClient, PASSWORD, TestApp, jwt_claims, spawn_app};
use crate::oidc_rp::browser::form;

crate::on_both_stores!(
    acr_2_with_a_password_only_session_asks_an_enrolled_user_for_the_second_step,
    acr_2_for_a_user_without_a_factor_is_unmet_and_never_a_code,
    acr_2_with_prompt_none_and_a_password_only_session_is_unmet,
    without_acr_values_a_password_only_session_still_gets_a_code_at_acr_1,
    max_age_asks_for_the_second_step_again,
);

/// Enrols and confirms TOTP for the user of `access`; the clock then moves
/// on a step.
async fn enrol(app: &TestApp, access: &str) -> TOTP {
    let started = post_bearer(app, "/auth/mfa/totp", access, &json!({})).await;
    assert_eq!(started.status, 200, "{}", started.text);
    let totp = totp_of(started.body["secret"].as_str().unwrap());
    let code = totp.generate(u64::try_from(app.now().timestamp()).unwrap());
    let confirmed = post_bearer(
        app,
        "/auth/mfa/totp/confirm",
        access,
        &json!({ "code": code }),
    )
    .await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.text);
    app.advance(30);
    totp
}

fn code_now(app: &TestApp, totp: &TOTP) -> String {
    totp.generate(u64::try_from(app.now().timestamp()).unwrap())
}

/// A browser signed in at authd as `email` with the password alone (the
/// first authorization's consent given).
async fn password_session<'a>(app: &'a TestApp, client: &OidcClient, email: &str) -> Browser<'a> {
    let mut browser = Browser::new(app);
    let back = browser.sign_in(&query(client, &[]), email).await;
    assert!(param(&back, "code").is_some(), "{back}");
    assert!(browser.session.is_some());
    browser
}

/// The tokens of `code`.
async fn exchange(app: &TestApp, client: &OidcClient, code: &str) -> Value {
    let secret = client.secret.clone().unwrap();
    let tokens = app
        .post_form(
            "/oauth/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
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
    tokens.body
}

async fn acr_2_with_a_password_only_session_asks_an_enrolled_user_for_the_second_step(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let client = client(&app).await;
    let (email, tokens) = app.user_with_tokens().await;
    let mut browser = password_session(&app, &client, &email).await;
    let totp = enrol(&app, &tokens.access).await;
    let asked = browser
        .authorize(&query(&client, &[("acr_values", "2")]))
        .await;
    // Not a code at acr 1: the login page again.
    assert_eq!(leads_to(&asked), "/login", "{}", asked.text);
    let login = browser.follow(&asked).await;
    let step = browser.log_in(&login, &email, PASSWORD).await;
    assert_eq!(step.status, 200, "{}", step.text);
    let mut fields = form(&step.text, "/login/mfa")
        .expect("the second step's form")
        .hidden;
    fields.push(("code".into(), code_now(&app, &totp)));
    // The consent was given before: straight back with a code.
    let back = to_client(&browser.post("/login/mfa", &fields).await);
    let code = param(&back, "code").expect("a code");
    let tokens = exchange(&app, &client, &code).await;
    let id_token = jwt_claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id_token["acr"], "2");
    assert_eq!(id_token["amr"], json!(["pwd", "otp", "mfa"]));
    // The new browser session has the second factor: a silent step-up works.
    let silent = browser
        .authorize(&query(&client, &[("acr_values", "2"), ("prompt", "none")]))
        .await;
    let back = to_client(&silent);
    let code = param(&back, "code").expect("a code");
    let tokens = exchange(&app, &client, &code).await;
    assert_eq!(jwt_claims(tokens["id_token"].as_str().unwrap())["acr"], "2");
}

async fn acr_2_for_a_user_without_a_factor_is_unmet_and_never_a_code(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = client(&app).await;
    let (email, _) = app.user_with_tokens().await;
    // Signed in already.
    let mut browser = password_session(&app, &client, &email).await;
    let refused = browser
        .authorize(&query(&client, &[("acr_values", "2")]))
        .await;
    assert_eq!(client_error(&refused), "unmet_authentication_requirements");
    // Not signed in: the password is right, and still no code.
    let mut fresh = Browser::new(&app);
    let asked = fresh
        .authorize(&query(&client, &[("acr_values", "2")]))
        .await;
    let login = fresh.follow(&asked).await;
    let after = fresh.log_in(&login, &email, PASSWORD).await;
    assert_eq!(client_error(&after), "unmet_authentication_requirements");
    // A value authd does not know is not a demand; "1 2" accepts 1.
    for acr in ["urn:example:gold", "1 2"] {
        let back = to_client(
            &browser
                .authorize(&query(&client, &[("acr_values", acr)]))
                .await,
        );
        assert!(param(&back, "code").is_some(), "{acr}: {back}");
    }
}

async fn acr_2_with_prompt_none_and_a_password_only_session_is_unmet(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = client(&app).await;
    let (email, tokens) = app.user_with_tokens().await;
    let mut browser = password_session(&app, &client, &email).await;
    enrol(&app, &tokens.access).await;
    let refused = browser
        .authorize(&query(&client, &[("acr_values", "2"), ("prompt", "none")]))
        .await;
    assert_eq!(client_error(&refused), "unmet_authentication_requirements");
}

async fn without_acr_values_a_password_only_session_still_gets_a_code_at_acr_1(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = client(&app).await;
    let (email, tokens) = app.user_with_tokens().await;
    let mut browser = password_session(&app, &client, &email).await;
    enrol(&app, &tokens.access).await;
    for extra in [&[][..], &[("acr_values", "1")][..]] {
        let back = to_client(&browser.authorize(&query(&client, extra)).await);
        let code = param(&back, "code").expect("a code");
        let tokens = exchange(&app, &client, &code).await;
        assert_eq!(jwt_claims(tokens["id_token"].as_str().unwrap())["acr"], "1");
    }
}

async fn max_age_asks_for_the_second_step_again(backend: Backend) {
    let app = spawn_app(backend).await;
    let client = client(&app).await;
    let (email, tokens) = app.user_with_tokens().await;
    let totp = enrol(&app, &tokens.access).await;
    // A sign-in with both factors.
    let mut browser = Browser::new(&app);
    let asked = browser.authorize(&query(&client, &[])).await;
    let login = browser.follow(&asked).await;
    let step = browser.log_in(&login, &email, PASSWORD).await;
    let mut fields = form(&step.text, "/login/mfa").unwrap().hidden;
    fields.push(("code".into(), code_now(&app, &totp)));
    let signed_in = browser.post("/login/mfa", &fields).await;
    let consent = browser.follow(&signed_in).await;
    let back = to_client(&browser.consent(&consent, "allow").await);
    assert!(param(&back, "code").is_some());
    app.advance(60);
    // Older than max_age: the password, then the second step again.
    let asked = browser
        .authorize(&query(&client, &[("max_age", "30")]))
        .await;
    assert_eq!(leads_to(&asked), "/login");
    let login = browser.follow(&asked).await;
    let step = browser.log_in(&login, &email, PASSWORD).await;
    assert_eq!(step.status, 200, "{}", step.text);
    assert!(step.header("location").is_none(), "no code before the code");
    let mut fields = form(&step.text, "/login/mfa")
        .expect("the second step's form")
        .hidden;
    fields.push(("code".into(), code_now(&app, &totp)));
    let back = to_client(&browser.post("/login/mfa", &fields).await);
    let code = param(&back, "code").expect("a code");
    let tokens = exchange(&app, &client, &code).await;
    let id_token = jwt_claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id_token["acr"], "2");
    assert_eq!(id_token["auth_time"], json!(app.now().timestamp()));
}
