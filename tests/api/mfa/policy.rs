//! The policy `mfa.required`: a second factor for everyone, enrolled at the
//! next sign-in. Every sign-in path of a user without a factor ends as
//! `mfa_enrollment_required` and no session (a password login, a code
//! sign-in, a reset that signs in, the hosted page with either); enrolling
//! with the challenge finishes the sign-in with `otp` and `mfa`; the
//! challenge is single use, expires, is bound to its user and kind of
//! session, and is never an `mfa_required` challenge (nor the reverse).
//! Sessions signed in without a factor before the policy was turned on are
//! refused a refresh and an authorization, and not ended. The policy off
//! leaves today's behaviour.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{challenge_of, totp_of, verify};
use crate::authorize::support::{
    Browser, REDIRECT, client, client_error, error_page, param, query, to_client,
};
use crate::helpers::{Backend, PASSWORD, Reply, TestApp, jwt_claims, spawn_app, spawn_app_with};
use crate::oidc_rp::browser::form;

crate::on_both_stores!(
    with_the_policy_a_login_enrols_totp_and_finishes_with_otp_and_mfa,
    the_enrolment_challenge_is_single_use_expires_and_belongs_to_its_user,
    an_enrolment_challenge_is_not_an_mfa_challenge_nor_the_reverse,
    with_the_policy_a_code_sign_in_and_a_reset_start_no_session,
    with_the_policy_the_hosted_page_enrols_before_any_session_or_code,
    sessions_signed_in_without_a_factor_before_the_policy_are_refused_not_ended,
    the_policy_off_leaves_a_password_alone_signing_in,
);

fn required(s: &mut authd::config::Settings) {
    s.mfa.required = true;
}

async fn policy_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, required).await
}

async fn new_user(app: &TestApp) -> String {
    let email = format!("policy-{}@example.com", uuid::Uuid::new_v4().simple());
    app.register(&email).await;
    email
}

/// The challenge of a `mfa_enrollment_required` answer, checked: 401, no
/// tokens, no cookie, TOTP on offer.
fn enrolment_challenge_of(reply: &Reply) -> String {
    assert_eq!(reply.status, 401, "{}", reply.text);
    assert_eq!(reply.error(), "mfa_enrollment_required", "{}", reply.text);
    assert!(reply.body.get("access_token").is_none(), "{}", reply.text);
    assert!(reply.body.get("refresh_token").is_none(), "{}", reply.text);
    assert!(reply.set_cookies().is_empty(), "no cookie");
    assert_eq!(reply.body["factors"], json!(["totp"]));
    assert_eq!(reply.body["expires_in"], 300);
    reply.body["mfa_challenge"].as_str().unwrap().to_owned()
}

async fn login_body(app: &TestApp, email: &str) -> Reply {
    app.post_json(
        "/auth/login",
        &json!({ "email": email, "password": PASSWORD, "token_delivery": "body" }),
    )
    .await
}

async fn enrol_start(app: &TestApp, challenge: &str) -> Reply {
    app.post_json("/auth/mfa/enroll/totp", &json!({ "challenge": challenge }))
        .await
}

async fn enrol_confirm(app: &TestApp, challenge: &str, code: &str) -> Reply {
    app.post_json(
        "/auth/mfa/enroll/totp/confirm",
        &json!({ "challenge": challenge, "code": code, "token_delivery": "body" }),
    )
    .await
}

/// The code the app's clock shows now for `secret`.
fn code_now(app: &TestApp, secret: &str) -> String {
    totp_of(secret).generate(u64::try_from(app.now().timestamp()).unwrap())
}

fn other_than(code: &str) -> String {
    let n: u32 = code.parse().unwrap();
    format!("{:06}", (n + 1) % 1_000_000)
}

/// A login under the policy, its enrolment begun: (challenge, secret).
async fn begun(app: &TestApp, email: &str) -> (String, String) {
    let challenge = enrolment_challenge_of(&login_body(app, email).await);
    let started = enrol_start(app, &challenge).await;
    assert_eq!(started.status, 200, "{}", started.text);
    let secret = started.body["secret"].as_str().unwrap().to_owned();
    (challenge, secret)
}

async fn with_the_policy_a_login_enrols_totp_and_finishes_with_otp_and_mfa(backend: Backend) {
    let app = policy_app(backend).await;
    let email = new_user(&app).await;
    // Cookie delivery asked: still no cookie, the challenge in the body.
    let cookie_login = app.try_login(&email, PASSWORD).await;
    let challenge = enrolment_challenge_of(&cookie_login);
    let started = enrol_start(&app, &challenge).await;
    assert_eq!(started.status, 200, "{}", started.text);
    let secret = started.body["secret"].as_str().unwrap();
    let uri = started.body["otpauth_uri"].as_str().unwrap();
    assert!(uri.contains(&format!("secret={secret}")), "{uri}");
    // Beginning does not sign in, nor confirm anything: still no factor.
    let again = login_body(&app, &email).await;
    enrolment_challenge_of(&again);
    // A wrong code: refused, the challenge stays.
    let code = code_now(&app, secret);
    let wrong = app
        .post_json(
            "/auth/mfa/enroll/totp/confirm",
            &json!({ "challenge": challenge, "code": other_than(&code) }),
        )
        .await;
    assert_eq!(wrong.status, 400, "{}", wrong.text);
    assert_eq!(wrong.error(), "invalid_mfa_code");
    assert!(wrong.set_cookies().is_empty());
    // The right code: signed in, in the cookie asked for, with the codes.
    let done = app
        .post_json(
            "/auth/mfa/enroll/totp/confirm",
            &json!({ "challenge": challenge, "code": code }),
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.text);
    assert!(!done.set_cookies().is_empty(), "the refresh cookie");
    assert!(done.body.get("refresh_token").is_none(), "{}", done.text);
    let codes = done.body["recovery_codes"]
        .as_array()
        .expect("recovery codes");
    assert_eq!(codes.len(), 10);
    let claims = jwt_claims(&done.access_token());
    assert_eq!(claims["amr"], json!(["pwd", "otp", "mfa"]));
    assert_eq!(claims["acr"], "2");
    let status = app.get_bearer("/auth/mfa", &done.access_token()).await;
    assert_eq!(status.body["totp"], true, "{}", status.text);
    let user = app.user_id(&email).await;
    let kinds = app.audit_kinds(user).await;
    assert!(kinds.iter().any(|k| k == "factor_added"), "{kinds:?}");
    assert!(kinds.iter().any(|k| k == "login_succeeded"), "{kinds:?}");
    // From now on the factor is asked for, as for anyone who has one.
    app.advance(30);
    let next = login_body(&app, &email).await;
    let c = challenge_of(&next);
    let signed_in = verify(&app, &c, &code_now(&app, secret)).await;
    assert_eq!(signed_in.status, 200, "{}", signed_in.text);
    assert!(signed_in.body.get("recovery_codes").is_none());
}

async fn the_enrolment_challenge_is_single_use_expires_and_belongs_to_its_user(backend: Backend) {
    let app = policy_app(backend).await;
    // Used once: the same challenge neither begins nor confirms again.
    let email = new_user(&app).await;
    let (challenge, secret) = begun(&app, &email).await;
    let done = enrol_confirm(&app, &challenge, &code_now(&app, &secret)).await;
    assert_eq!(done.status, 200, "{}", done.text);
    app.advance(30);
    let twice = enrol_confirm(&app, &challenge, &code_now(&app, &secret)).await;
    assert_eq!(twice.status, 401, "{}", twice.text);
    assert_eq!(twice.error(), "invalid_mfa_challenge");
    let restart = enrol_start(&app, &challenge).await;
    assert_eq!(restart.error(), "invalid_mfa_challenge", "{}", restart.text);
    // Expired: five minutes, then neither.
    let email = new_user(&app).await;
    let (challenge, secret) = begun(&app, &email).await;
    app.advance(301);
    let late = enrol_confirm(&app, &challenge, &code_now(&app, &secret)).await;
    assert_eq!(late.status, 401, "{}", late.text);
    assert_eq!(late.error(), "invalid_mfa_challenge");
    let late = enrol_start(&app, &challenge).await;
    assert_eq!(late.error(), "invalid_mfa_challenge", "{}", late.text);
    // Unknown.
    let unknown = enrol_start(&app, &"A".repeat(43)).await;
    assert_eq!(unknown.error(), "invalid_mfa_challenge", "{}", unknown.text);
    // Another user's: Ada's challenge with the code of Bob's secret enrols
    // nobody and signs nobody in.
    let ada = new_user(&app).await;
    let bob = new_user(&app).await;
    let (ada_challenge, _) = begun(&app, &ada).await;
    let (bob_challenge, bob_secret) = begun(&app, &bob).await;
    let crossed = enrol_confirm(&app, &ada_challenge, &code_now(&app, &bob_secret)).await;
    assert_eq!(crossed.status, 400, "{}", crossed.text);
    assert_eq!(crossed.error(), "invalid_mfa_code");
    assert!(crossed.body.get("access_token").is_none());
    enrolment_challenge_of(&login_body(&app, &ada).await);
    // Bob's own challenge still works with his code.
    let own = enrol_confirm(&app, &bob_challenge, &code_now(&app, &bob_secret)).await;
    assert_eq!(own.status, 200, "{}", own.text);
    // Raced: two confirmations of one challenge, one session.
    let dan = new_user(&app).await;
    let (challenge, secret) = begun(&app, &dan).await;
    let code = code_now(&app, &secret);
    let (a, b) = tokio::join!(
        enrol_confirm(&app, &challenge, &code),
        enrol_confirm(&app, &challenge, &code)
    );
    let mut statuses = [a.status, b.status];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 401], "{} / {}", a.text, b.text);
    // Made before the password changed (a reset): dead.
    let erin = new_user(&app).await;
    let (challenge, secret) = begun(&app, &erin).await;
    let asked = app
        .post_json("/auth/password/forgot", &json!({ "email": erin }))
        .await;
    assert_eq!(asked.status, 202, "{}", asked.text);
    let token = app
        .wait_for_action(&erin, "password_reset")
        .await
        .link_token();
    let reset = app
        .post_json(
            "/auth/password/reset",
            &json!({ "token": token, "new_password": "a brand new and long passphrase" }),
        )
        .await;
    assert_eq!(reset.status, 204, "{}", reset.text);
    let stale = enrol_confirm(&app, &challenge, &code_now(&app, &secret)).await;
    assert_eq!(stale.status, 401, "{}", stale.text);
    assert_eq!(stale.error(), "invalid_mfa_challenge");
    let stale = enrol_start(&app, &challenge).await;
    assert_eq!(stale.error(), "invalid_mfa_challenge", "{}", stale.text);
    // Confirming before beginning: nothing to confirm.
    let carol = new_user(&app).await;
    let c = enrolment_challenge_of(&login_body(&app, &carol).await);
    let early = enrol_confirm(&app, &c, "123456").await;
    assert_eq!(early.status, 404, "{}", early.text);
}

async fn an_enrolment_challenge_is_not_an_mfa_challenge_nor_the_reverse(backend: Backend) {
    let app = policy_app(backend).await;
    let email = new_user(&app).await;
    let (challenge, secret) = begun(&app, &email).await;
    // An enrolment challenge at /auth/mfa/verify, with the right code of the
    // secret just begun (not yet a factor): refused as a challenge.
    let as_mfa = verify(&app, &challenge, &code_now(&app, &secret)).await;
    assert_eq!(as_mfa.status, 401, "{}", as_mfa.text);
    assert_eq!(as_mfa.error(), "invalid_mfa_challenge");
    // It still enrols (nothing was spent).
    let done = enrol_confirm(&app, &challenge, &code_now(&app, &secret)).await;
    assert_eq!(done.status, 200, "{}", done.text);
    app.advance(30);
    // The reverse: the sign-in challenge of a user with a factor neither
    // begins an enrolment nor confirms one.
    let mfa_challenge = challenge_of(&login_body(&app, &email).await);
    let start = enrol_start(&app, &mfa_challenge).await;
    assert_eq!(start.status, 401, "{}", start.text);
    assert_eq!(start.error(), "invalid_mfa_challenge");
    let confirm = enrol_confirm(&app, &mfa_challenge, &code_now(&app, &secret)).await;
    assert_eq!(confirm.status, 401, "{}", confirm.text);
    assert_eq!(confirm.error(), "invalid_mfa_challenge");
    // And it still finishes its own sign-in.
    let signed_in = verify(&app, &mfa_challenge, &code_now(&app, &secret)).await;
    assert_eq!(signed_in.status, 200, "{}", signed_in.text);
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

async fn with_the_policy_a_code_sign_in_and_a_reset_start_no_session(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        required(s);
        s.accounts.otp_enabled = true;
        s.accounts.reset_signs_in = true;
    })
    .await;
    // A code sign-in.
    let email = new_user(&app).await;
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
    let challenge = enrolment_challenge_of(&reply);
    let started = enrol_start(&app, &challenge).await;
    let secret = started.body["secret"].as_str().unwrap().to_owned();
    let done = enrol_confirm(&app, &challenge, &code_now(&app, &secret)).await;
    assert_eq!(done.status, 200, "{}", done.text);
    assert_eq!(
        jwt_claims(&done.access_token())["amr"],
        json!(["otp", "mfa"])
    );
    // A reset that signs in.
    let email = new_user(&app).await;
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
            &json!({ "token": token, "new_password": "a brand new and long passphrase", "token_delivery": "body" }),
        )
        .await;
    let challenge = enrolment_challenge_of(&reply);
    let started = enrol_start(&app, &challenge).await;
    assert_eq!(started.status, 200, "{}", started.text);
}

fn hidden(form: &crate::oidc_rp::browser::Form, name: &str) -> String {
    form.hidden
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .unwrap()
}

/// The secret shown on an enrolment page.
fn shown_secret(html: &str) -> String {
    let start = html.find("id=\"totp-secret\">").expect("the secret") + 17;
    html[start..].split('<').next().unwrap().to_owned()
}

async fn with_the_policy_the_hosted_page_enrols_before_any_session_or_code(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        required(s);
        s.accounts.otp_enabled = true;
    })
    .await;
    let client = client(&app).await;
    let email = new_user(&app).await;
    let mut browser = Browser::new(&app);
    let start = browser.authorize(&query(&client, &[])).await;
    let page = browser.follow(&start).await;
    let step = browser.log_in(&page, &email, PASSWORD).await;
    // The enrolment step: no redirect, no code, no browser session.
    assert_eq!(step.status, 200, "{}", step.text);
    assert!(step.header("location").is_none(), "no redirect, no code");
    assert!(browser.session.is_none(), "no browser session cookie");
    let enrol = form(&step.text, "/login/mfa/enrol").expect("the enrolment form");
    let secret = shown_secret(&step.text);
    assert!(step.text.contains("otpauth:"), "{}", step.text);
    let silent = browser
        .authorize(&query(&client, &[("prompt", "none")]))
        .await;
    assert_eq!(client_error(&silent), "login_required");
    // The page's challenge is not the API's, nor the second step's.
    let challenge = hidden(&enrol, "challenge");
    let api = enrol_start(&app, &challenge).await;
    assert_eq!(api.error(), "invalid_mfa_challenge", "{}", api.text);
    let mut fields = enrol.hidden.clone();
    fields.push(("code".into(), code_now(&app, &secret)));
    let as_second_step = browser.post("/login/mfa", &fields).await;
    assert!(browser.session.is_none(), "{}", as_second_step.text);
    // Without its CSRF token, refused.
    let mut fields: Vec<(String, String)> = enrol
        .hidden
        .iter()
        .filter(|(k, _)| k != "csrf")
        .cloned()
        .collect();
    fields.push(("code".into(), code_now(&app, &secret)));
    let reply = browser.post("/login/mfa/enrol", &fields).await;
    assert_eq!(reply.status, 403, "{}", reply.text);
    assert!(browser.session.is_none());
    // A wrong code shows the same secret again.
    let mut fields = enrol.hidden.clone();
    fields.push(("code".into(), other_than(&code_now(&app, &secret))));
    let again = browser.post("/login/mfa/enrol", &fields).await;
    assert_eq!(again.status, 401, "{}", again.text);
    assert!(browser.session.is_none());
    assert_eq!(shown_secret(&again.text), secret);
    // The right code: the browser session, the recovery codes once, and the
    // way on to consent, a code, and tokens whose methods say the factor.
    let mut fields = form(&again.text, "/login/mfa/enrol").unwrap().hidden;
    fields.push(("code".into(), code_now(&app, &secret)));
    let codes = browser.post("/login/mfa/enrol", &fields).await;
    assert_eq!(codes.status, 200, "{}", codes.text);
    assert!(browser.session.is_some(), "{}", codes.text);
    assert_eq!(
        codes.text.matches("<li><code>").count(),
        10,
        "{}",
        codes.text
    );
    let next = codes
        .text
        .split("id=\"continue\" href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the way on")
        .replace("&#x2f;", "/")
        .replace("&amp;", "&");
    assert!(next.starts_with("/consent?request="), "{next}");
    let consent = browser.get(&next).await;
    let back = to_client(&browser.consent(&consent, "allow").await);
    let code = param(&back, "code").unwrap();
    let secret_of_client = client.secret.clone().unwrap();
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
            Some((&client.id, &secret_of_client)),
        )
        .await;
    assert_eq!(tokens.status, 200, "{}", tokens.text);
    let access = jwt_claims(tokens.body["access_token"].as_str().unwrap());
    assert_eq!(access["amr"], json!(["pwd", "otp", "mfa"]));
    assert_eq!(access["acr"], "2");

    // The page's emailed code is a first proof only too.
    let email = new_user(&app).await;
    let mut browser = Browser::new(&app);
    let start = browser.authorize(&query(&client, &[])).await;
    let login = browser.follow(&start).await;
    let mut fields = form(&login.text, "/login/code").unwrap().hidden;
    fields.push(("email".into(), email.clone()));
    let code_page = browser.post("/login/code", &fields).await;
    assert_eq!(code_page.status, 200, "{}", code_page.text);
    let mut fields = form(&code_page.text, "/login/code/verify").unwrap().hidden;
    fields.push(("code".into(), emailed_code(&app, &email).await));
    let step = browser.post("/login/code/verify", &fields).await;
    assert_eq!(step.status, 200, "{}", step.text);
    assert!(browser.session.is_none(), "no browser session cookie");
    assert!(
        form(&step.text, "/login/mfa/enrol").is_some(),
        "{}",
        step.text
    );
}

async fn sessions_signed_in_without_a_factor_before_the_policy_are_refused_not_ended(
    backend: Backend,
) {
    // Before the policy: a first-party family and a browser session, each
    // signed in by the password alone.
    let before = spawn_app(backend).await;
    let client = client(&before).await;
    let email = new_user(&before).await;
    let tokens = before.login_body(&email).await;
    let mut browser = Browser::new(&before);
    let back = browser.sign_in(&query(&client, &[]), &email).await;
    assert!(param(&back, "code").is_some());
    let cookie = browser.session.clone().unwrap();
    // And another user's request, signed in for, waiting at its consent page.
    let other = new_user(&before).await;
    let mut pending = Browser::new(&before);
    let start = pending.authorize(&query(&client, &[])).await;
    let login = pending.follow(&start).await;
    let to_consent = pending.log_in(&login, &other, PASSWORD).await;
    let consent_path = to_consent.header("location").unwrap().to_owned();
    assert!(consent_path.starts_with("/consent?"), "{consent_path}");
    let pending_cookie = pending.session.clone().unwrap();

    // The policy on (a deployment of the same store with it set).
    let after = before.spawn_sibling(required).await;
    let refused = after.refresh_body(&tokens.refresh).await;
    assert_eq!(refused.status, 401, "{}", refused.text);
    assert_eq!(refused.error(), "invalid_grant");
    let at_token_endpoint = after
        .post_form(
            "/oauth/token",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &tokens.refresh),
            ],
            None,
        )
        .await;
    assert_eq!(at_token_endpoint.status, 400, "{}", at_token_endpoint.text);
    assert_eq!(at_token_endpoint.error(), "invalid_grant");
    // The browser session is not usable for an authorization: the login
    // page (which will ask for a factor to be enrolled), or login_required.
    let mut browser = Browser::new(&after);
    browser.session = Some(cookie);
    let start = browser.authorize(&query(&client, &[])).await;
    assert_eq!(start.status, 303, "{}", start.text);
    let location = start.header("location").unwrap();
    assert!(location.starts_with("/login?request="), "{location}");
    let silent = browser
        .authorize(&query(&client, &[("prompt", "none")]))
        .await;
    assert_eq!(client_error(&silent), "login_required");
    // Nor at the consent page of a request it signed in for.
    let mut pending = Browser::new(&after);
    pending.session = Some(pending_cookie);
    let consent = pending.get(&consent_path).await;
    error_page(&consent);
    assert!(
        form(&consent.text, "/consent").is_none(),
        "{}",
        consent.text
    );

    // Not ended: without the policy, the same family refreshes.
    let refreshed = before.refresh_body(&tokens.refresh).await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.text);

    // A session signed in with a factor refreshes under the policy.
    let email = new_user(&after).await;
    let (challenge, secret) = begun(&after, &email).await;
    let done = enrol_confirm(&after, &challenge, &code_now(&after, &secret)).await;
    assert_eq!(done.status, 200, "{}", done.text);
    let refreshed = after.refresh_body(&done.refresh_token()).await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.text);
}

async fn the_policy_off_leaves_a_password_alone_signing_in(backend: Backend) {
    let app = spawn_app(backend).await;
    let email = new_user(&app).await;
    let reply = login_body(&app, &email).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(jwt_claims(&reply.access_token())["amr"], json!(["pwd"]));
    let refreshed = app.refresh_body(&reply.refresh_token()).await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.text);
    let body: &Value = &refreshed.body;
    assert!(body.get("recovery_codes").is_none(), "{body}");
}
