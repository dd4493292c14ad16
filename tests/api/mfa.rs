//! Second factors (TOTP and recovery codes), on both stores: enrolment, the
//! sign-in challenge and `POST /auth/mfa/verify`, and every refusal a second
//! factor must make: the same code twice (also raced), a code two steps
//! old, another user's code, wrong codes counted before the comparison, the
//! secret never in clear in the database, recovery codes single use (raced)
//! and ended by regeneration, a challenge used twice, expired or made before
//! a password change. That no sign-in path completes with the first proof
//! alone is in `mfa/paths.rs`.

mod notices;
mod operator;
mod paths;
mod policy;
mod rotation;
mod sensitive;
mod step_up;

use authd::config::Settings;
use serde_json::{Value, json};
use totp_rs::{Algorithm, TOTP};

use crate::helpers::{Backend, PASSWORD, Reply, TestApp, jwt_claims, spawn_app, spawn_app_with};
use crate::on_both_stores;

on_both_stores!(
    a_user_enrols_totp_and_signs_in_with_password_and_code,
    the_same_code_is_accepted_once_even_when_raced,
    a_code_two_steps_old_is_refused_and_one_step_old_accepted,
    another_users_code_is_refused,
    wrong_codes_are_counted_before_the_comparison_and_a_right_password_does_not_clear_them,
    the_secret_is_never_in_the_database_in_clear,
    a_recovery_code_works_once_even_when_raced,
    regeneration_ends_the_old_recovery_codes_and_needs_the_password,
    a_challenge_works_once_expires_and_dies_with_a_password_change,
    removing_the_factor_needs_the_password_and_then_the_password_alone_signs_in,
    enrolment_refuses_a_wrong_code_and_a_second_factor_of_the_same_kind,
);

/// A user with a confirmed TOTP factor.
pub(crate) struct Enrolled {
    pub email: String,
    pub access: String,
    pub totp: TOTP,
    pub secret_base32: String,
    pub recovery_codes: Vec<String>,
}

impl Enrolled {
    /// The code of the app's clock now.
    pub fn code(&self, app: &TestApp) -> String {
        self.code_at(app, 0)
    }

    /// The code `offset` seconds from the app's clock.
    pub fn code_at(&self, app: &TestApp, offset: i64) -> String {
        let at = app.now().timestamp() + offset;
        self.totp.generate(u64::try_from(at).unwrap())
    }
}

pub(crate) fn totp_of(secret_base32: &str) -> TOTP {
    let bytes = totp_rs::Secret::Encoded(secret_base32.to_owned())
        .to_bytes()
        .unwrap();
    assert_eq!(bytes.len(), 20, "a 160-bit secret");
    TOTP::new(Algorithm::SHA1, 6, 0, 30, bytes).unwrap()
}

pub(crate) async fn post_bearer(app: &TestApp, path: &str, token: &str, body: &Value) -> Reply {
    app.send(app.client.post(app.url(path)).bearer_auth(token).json(body))
        .await
}

/// Registers a user, signs in, enrols and confirms TOTP; the clock then
/// moves on a step, so the confirming code's step is behind.
pub(crate) async fn enrolled(app: &TestApp) -> Enrolled {
    let (email, tokens) = app.user_with_tokens().await;
    let started = post_bearer(app, "/auth/mfa/totp", &tokens.access, &json!({})).await;
    assert_eq!(started.status, 200, "{}", started.text);
    let secret = started.body["secret"].as_str().unwrap().to_owned();
    let uri = started.body["otpauth_uri"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/"), "{uri}");
    assert!(uri.contains(&format!("secret={secret}")), "{uri}");
    let totp = totp_of(&secret);
    let code = totp.generate(u64::try_from(app.now().timestamp()).unwrap());
    let confirmed = post_bearer(
        app,
        "/auth/mfa/totp/confirm",
        &tokens.access,
        &json!({ "code": code }),
    )
    .await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.text);
    let recovery_codes: Vec<String> = confirmed.body["recovery_codes"]
        .as_array()
        .expect("recovery codes with the first factor")
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(recovery_codes.len(), 10);
    app.advance(30);
    Enrolled {
        email,
        access: tokens.access,
        totp,
        secret_base32: secret,
        recovery_codes,
    }
}

/// The access token of a session of `user` signed in with the TOTP code
/// just now, as a sensitive change needs (step-up); the clock then moves on
/// a step, so the next code is a new one.
pub(crate) async fn stepped_up(app: &TestApp, user: &Enrolled) -> String {
    let c = challenge(app, &user.email).await;
    let reply = verify(app, &c, &user.code(app)).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    app.advance(30);
    reply.access_token()
}

/// A login with the password in body delivery: its challenge (asserting
/// the `mfa_required` answer).
pub(crate) async fn challenge(app: &TestApp, email: &str) -> String {
    let reply = app
        .post_json(
            "/auth/login",
            &json!({ "email": email, "password": PASSWORD, "token_delivery": "body" }),
        )
        .await;
    challenge_of(&reply)
}

/// The challenge of an `mfa_required` answer, checked: 401, no tokens, no cookie.
pub(crate) fn challenge_of(reply: &Reply) -> String {
    assert_eq!(reply.status, 401, "{}", reply.text);
    assert_eq!(reply.error(), "mfa_required", "{}", reply.text);
    assert!(reply.body.get("access_token").is_none(), "{}", reply.text);
    assert!(reply.body.get("refresh_token").is_none(), "{}", reply.text);
    assert!(reply.set_cookies().is_empty(), "no cookie");
    assert_eq!(reply.body["factors"], json!(["totp", "recovery_code"]));
    assert_eq!(reply.body["expires_in"], 300);
    reply.body["mfa_challenge"].as_str().unwrap().to_owned()
}

pub(crate) async fn verify(app: &TestApp, challenge: &str, code: &str) -> Reply {
    app.post_json(
        "/auth/mfa/verify",
        &json!({ "challenge": challenge, "code": code, "token_delivery": "body" }),
    )
    .await
}

pub(crate) async fn verify_recovery(app: &TestApp, challenge: &str, code: &str) -> Reply {
    app.post_json(
        "/auth/mfa/verify",
        &json!({ "challenge": challenge, "recovery_code": code, "token_delivery": "body" }),
    )
    .await
}

fn other_than(code: &str) -> String {
    let n: u32 = code.parse().unwrap();
    format!("{:06}", (n + 1) % 1_000_000)
}

async fn a_user_enrols_totp_and_signs_in_with_password_and_code(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = enrolled(&app).await;
    let status = app.get_bearer("/auth/mfa", &user.access).await;
    assert_eq!(status.status, 200, "{}", status.text);
    assert_eq!(
        status.body,
        json!({ "totp": true, "totp_pending": false, "recovery_codes_left": 10, "passkeys": 0 })
    );
    let challenge = challenge(&app, &user.email).await;
    let reply = verify(&app, &challenge, &user.code(&app)).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let claims = jwt_claims(&reply.access_token());
    assert_eq!(claims["amr"], json!(["pwd", "otp", "mfa"]));
    assert_eq!(claims["acr"], "2");
    assert!(app.access_works(&reply.access_token()).await);
    // Introspection says so too, of the access and the refresh token.
    let (id, secret) = app.create_client("gateway", "authd:introspect").await;
    for token in [reply.access_token(), reply.refresh_token()] {
        let seen = app
            .post_form(
                "/oauth/introspect",
                &[("token", &token)],
                Some((&id, &secret)),
            )
            .await;
        assert_eq!(seen.body["active"], true, "{}", seen.text);
        assert_eq!(
            seen.body["amr"],
            json!(["pwd", "otp", "mfa"]),
            "{}",
            seen.text
        );
        assert_eq!(seen.body["acr"], "2", "{}", seen.text);
    }
    // The session keeps its methods across a refresh.
    let refreshed = app.refresh_body(&reply.refresh_token()).await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.text);
    let claims = jwt_claims(&refreshed.access_token());
    assert_eq!(claims["amr"], json!(["pwd", "otp", "mfa"]));
    // Cookie delivery: the refresh token travels in the cookie, as at login.
    app.advance(30);
    let login = app.try_login(&user.email, PASSWORD).await;
    let challenge = challenge_of(&login);
    let reply = app
        .send(
            app.client
                .post(app.url("/auth/mfa/verify"))
                .header("origin", "https://app.example.com")
                .json(&json!({ "challenge": challenge, "code": user.code(&app) })),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(reply.refresh_cookie().is_some());
    assert!(reply.body.get("refresh_token").is_none());
    let id = app.user_id(&user.email).await;
    let kinds = app.audit_kinds(id).await;
    assert!(kinds.contains(&"factor_added".to_owned()), "{kinds:?}");
}

async fn the_same_code_is_accepted_once_even_when_raced(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = enrolled(&app).await;
    let code = user.code(&app);
    // Two sign-ins waiting, the same code sent to both at once.
    let (a, b) = (
        challenge(&app, &user.email).await,
        challenge(&app, &user.email).await,
    );
    let (ra, rb) = tokio::join!(verify(&app, &a, &code), verify(&app, &b, &code));
    let mut statuses = [ra.status, rb.status];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 401], "{} / {}", ra.text, rb.text);
    let loser = if ra.status == 401 { &ra } else { &rb };
    assert_eq!(loser.error(), "invalid_mfa_code");
    // And once more, later, with a new challenge: still refused.
    let c = challenge(&app, &user.email).await;
    let reply = verify(&app, &c, &code).await;
    assert_eq!(reply.status, 401, "{}", reply.text);
    assert_eq!(reply.error(), "invalid_mfa_code");
    // The next step's code works.
    app.advance(30);
    let reply = verify(&app, &c, &user.code(&app)).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
}

async fn a_code_two_steps_old_is_refused_and_one_step_old_accepted(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = enrolled(&app).await;
    app.advance(90);
    let c = challenge(&app, &user.email).await;
    let two_back = user.code_at(&app, -60);
    let reply = verify(&app, &c, &two_back).await;
    assert_eq!(reply.status, 401, "{}", reply.text);
    assert_eq!(reply.error(), "invalid_mfa_code");
    let one_back = user.code_at(&app, -30);
    let reply = verify(&app, &c, &one_back).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
}

async fn another_users_code_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = enrolled(&app).await;
    let bob = enrolled(&app).await;
    let c = challenge(&app, &alice.email).await;
    let reply = verify(&app, &c, &bob.code(&app)).await;
    assert_eq!(reply.status, 401, "{}", reply.text);
    assert_eq!(reply.error(), "invalid_mfa_code");
    let reply = verify_recovery(&app, &c, &bob.recovery_codes[0]).await;
    assert_eq!(reply.status, 401, "{}", reply.text);
    // Bob's codes still work for Bob; Alice's own code for Alice.
    let reply = verify(&app, &c, &alice.code(&app)).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
}

fn lockout_after(n: u32) -> impl FnOnce(&mut Settings) {
    move |s| {
        s.limits.login_account_failures = n;
        s.limits.login_account_wide_failures = n * 10;
        s.limits.login_ip_failures = n * 10;
    }
}

async fn wrong_codes_are_counted_before_the_comparison_and_a_right_password_does_not_clear_them(
    backend: Backend,
) {
    let app = spawn_app_with(backend, lockout_after(5)).await;
    let user = enrolled(&app).await;
    // The password login counts one attempt until its second factor.
    let c = challenge(&app, &user.email).await;
    for _ in 0..2 {
        let reply = verify(&app, &c, &other_than(&user.code(&app))).await;
        assert_eq!(reply.status, 401, "{}", reply.text);
    }
    // A right password again does not wipe the wrong codes out.
    let c = challenge(&app, &user.email).await;
    let reply = verify(&app, &c, &other_than(&user.code(&app))).await;
    assert_eq!(reply.status, 401, "{}", reply.text);
    // Five attempts: the account is locked out, and the RIGHT code is now
    // refused before it is compared.
    let reply = verify(&app, &c, &user.code(&app)).await;
    assert_eq!(reply.status, 429, "{}", reply.text);
    assert!(reply.header("retry-after").is_some());
    let id = app.user_id(&user.email).await;
    let failed = app
        .audit_events(id)
        .await
        .into_iter()
        .filter(|e| e.detail.as_deref() == Some("wrong second-factor code"))
        .count();
    assert_eq!(failed, 3);
}

async fn the_secret_is_never_in_the_database_in_clear(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = enrolled(&app).await;
    let raw = totp_rs::Secret::Encoded(user.secret_base32.clone())
        .to_bytes()
        .unwrap();
    let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    let rows = crate::mail_at_rest::dump_tables(&app, backend).await;
    assert!(
        rows.iter().any(|r| r.starts_with("totp_factors: ")),
        "{rows:#?}"
    );
    for row in &rows {
        let lower = row.to_lowercase();
        assert!(!lower.contains(&hex), "the raw secret in {row}");
        assert!(
            !row.contains(&user.secret_base32),
            "the base32 secret in {row}"
        );
        for code in &user.recovery_codes {
            assert!(!lower.contains(code), "a recovery code in {row}");
            assert!(
                !lower.contains(&code.replace('-', "")),
                "a recovery code in {row}"
            );
        }
    }
}

async fn a_recovery_code_works_once_even_when_raced(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = enrolled(&app).await;
    let code = user.recovery_codes[3].to_uppercase();
    let (a, b) = (
        challenge(&app, &user.email).await,
        challenge(&app, &user.email).await,
    );
    let (ra, rb) = tokio::join!(
        verify_recovery(&app, &a, &code),
        verify_recovery(&app, &b, &code)
    );
    let mut statuses = [ra.status, rb.status];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 401], "{} / {}", ra.text, rb.text);
    let won = if ra.status == 200 { &ra } else { &rb };
    assert_eq!(
        jwt_claims(&won.access_token())["amr"],
        json!(["pwd", "otp", "mfa"])
    );
    let c = challenge(&app, &user.email).await;
    let reply = verify_recovery(&app, &c, &code).await;
    assert_eq!(reply.status, 401, "{}", reply.text);
    let status = app.get_bearer("/auth/mfa", &user.access).await;
    assert_eq!(status.body["recovery_codes_left"], 9);
    let id = app.user_id(&user.email).await;
    assert!(
        app.audit_kinds(id)
            .await
            .contains(&"recovery_code_used".to_owned())
    );
}

async fn regeneration_ends_the_old_recovery_codes_and_needs_the_password(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = enrolled(&app).await;
    let access = stepped_up(&app, &user).await;
    let wrong = post_bearer(
        &app,
        "/auth/mfa/recovery-codes",
        &access,
        &json!({ "password": "not the password at all" }),
    )
    .await;
    assert_eq!(wrong.status, 401, "{}", wrong.text);
    assert_eq!(wrong.error(), "invalid_credentials");
    let reply = post_bearer(
        &app,
        "/auth/mfa/recovery-codes",
        &access,
        &json!({ "password": PASSWORD }),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let new: Vec<String> = reply.body["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(new.len(), 10);
    let c = challenge(&app, &user.email).await;
    let reply = verify_recovery(&app, &c, &user.recovery_codes[0]).await;
    assert_eq!(reply.status, 401, "an old code: {}", reply.text);
    let reply = verify_recovery(&app, &c, &new[0]).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
}

async fn a_challenge_works_once_expires_and_dies_with_a_password_change(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = enrolled(&app).await;
    // Used twice.
    let c = challenge(&app, &user.email).await;
    let reply = verify(&app, &c, &user.code(&app)).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    app.advance(30);
    let reply = verify(&app, &c, &user.code(&app)).await;
    assert_eq!(reply.status, 401, "{}", reply.text);
    assert_eq!(reply.error(), "invalid_mfa_challenge");
    // Expired.
    let c = challenge(&app, &user.email).await;
    app.advance(301);
    let reply = verify(&app, &c, &user.code(&app)).await;
    assert_eq!(reply.status, 401, "{}", reply.text);
    assert_eq!(reply.error(), "invalid_mfa_challenge");
    // Unknown.
    let reply = verify(&app, "A".repeat(43).as_str(), &user.code(&app)).await;
    assert_eq!(reply.error(), "invalid_mfa_challenge");
    // Made before the password changed.
    let access = stepped_up(&app, &user).await;
    let c = challenge(&app, &user.email).await;
    let changed = post_bearer(
        &app,
        "/auth/password",
        &access,
        &json!({ "current_password": PASSWORD, "new_password": "another long passphrase here" }),
    )
    .await;
    assert_eq!(changed.status, 204, "{}", changed.text);
    app.advance(30);
    let reply = verify(&app, &c, &user.code(&app)).await;
    assert_eq!(reply.status, 401, "{}", reply.text);
    assert_eq!(reply.error(), "invalid_mfa_challenge");
}

async fn removing_the_factor_needs_the_password_and_then_the_password_alone_signs_in(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let user = enrolled(&app).await;
    let access = stepped_up(&app, &user).await;
    let remove = |password: &'static str| {
        app.send(
            app.client
                .delete(app.url("/auth/mfa/totp"))
                .bearer_auth(&access)
                .json(&json!({ "password": password })),
        )
    };
    let wrong = remove("not the password at all").await;
    assert_eq!(wrong.status, 401, "{}", wrong.text);
    challenge(&app, &user.email).await;
    let done = remove(PASSWORD).await;
    assert_eq!(done.status, 204, "{}", done.text);
    let again = remove(PASSWORD).await;
    assert_eq!(again.status, 404, "{}", again.text);
    let login = app.login_body(&user.email).await;
    assert_eq!(jwt_claims(&login.access)["amr"], json!(["pwd"]));
    assert_eq!(jwt_claims(&login.access)["acr"], "1");
    let status = app.get_bearer("/auth/mfa", &access).await;
    assert_eq!(status.body["recovery_codes_left"], 0);
    let id = app.user_id(&user.email).await;
    assert!(
        app.audit_kinds(id)
            .await
            .contains(&"factor_removed".to_owned())
    );
}

async fn enrolment_refuses_a_wrong_code_and_a_second_factor_of_the_same_kind(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, tokens) = app.user_with_tokens().await;
    let none = post_bearer(
        &app,
        "/auth/mfa/totp/confirm",
        &tokens.access,
        &json!({ "code": "123456" }),
    )
    .await;
    assert_eq!(none.status, 404, "{}", none.text);
    let started = post_bearer(&app, "/auth/mfa/totp", &tokens.access, &json!({})).await;
    let totp = totp_of(started.body["secret"].as_str().unwrap());
    let right = totp.generate(u64::try_from(app.now().timestamp()).unwrap());
    let wrong = post_bearer(
        &app,
        "/auth/mfa/totp/confirm",
        &tokens.access,
        &json!({ "code": other_than(&right) }),
    )
    .await;
    assert_eq!(wrong.status, 400, "{}", wrong.text);
    assert_eq!(wrong.error(), "invalid_mfa_code");
    // Unconfirmed, the factor is not asked for at sign-in.
    app.login_body(&email_of(&app, &tokens.access).await).await;
    let ok = post_bearer(
        &app,
        "/auth/mfa/totp/confirm",
        &tokens.access,
        &json!({ "code": right }),
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    // A second factor is a sensitive change: the session that enrolled the
    // first, signed in with the password alone, is asked to step up first;
    // one signed in with the factor is told one TOTP factor is the limit.
    let again = post_bearer(&app, "/auth/mfa/totp", &tokens.access, &json!({})).await;
    assert_eq!(again.status, 401, "{}", again.text);
    assert_eq!(again.error(), "insufficient_user_authentication");
    app.advance(30);
    let email = email_of(&app, &tokens.access).await;
    let c = challenge(&app, &email).await;
    let now = totp.generate(u64::try_from(app.now().timestamp()).unwrap());
    let fresh = verify(&app, &c, &now).await;
    assert_eq!(fresh.status, 200, "{}", fresh.text);
    let again = post_bearer(&app, "/auth/mfa/totp", &fresh.access_token(), &json!({})).await;
    assert_eq!(again.status, 409, "{}", again.text);
    assert_eq!(again.error(), "factor_exists");
}

async fn email_of(app: &TestApp, access: &str) -> String {
    let me = app.get_bearer("/auth/me", access).await;
    me.body["email"].as_str().unwrap().to_owned()
}
