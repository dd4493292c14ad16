//! Account pre-hijacking (`accounts::proof`), on both stores: whoever set a
//! password before an address was proven keeps neither it nor a session once
//! the mailbox's owner proves the address, by each of the three first proofs
//! (a verification link, a login code, an email-change confirmation), unless
//! the password comes with the proof; and a password set by a reset (which
//! proves the address) survives.

use serde_json::json;

use crate::helpers::{Backend, PASSWORD, Reply, TestApp, spawn_app, spawn_app_with};
use crate::on_both_stores;

on_both_stores!(
    a_verification_link_ends_the_registrants_sessions_and_password,
    a_verification_link_given_the_password_keeps_it_and_still_ends_the_older_sessions,
    a_wrong_password_with_a_verification_link_is_refused_and_spends_nothing,
    a_code_sign_in_ends_the_registrants_sessions_and_password,
    an_email_change_confirmation_ends_the_requesters_sessions_and_password,
    an_email_change_confirmation_given_the_password_keeps_it,
    a_password_set_by_a_reset_survives_a_later_proof,
);

/// The owner's password, set by a reset.
const OWNERS: &str = "the mailbox owner's own passphrase";

fn fresh(tag: &str) -> String {
    format!("{tag}-{}@example.com", uuid::Uuid::new_v4().simple())
}

async fn verify(app: &TestApp, token: &str, password: Option<&str>) -> Reply {
    let body = match password {
        Some(p) => json!({ "token": token, "password": p }),
        None => json!({ "token": token }),
    };
    app.post_json("/auth/email/verify", &body).await
}

async fn confirm(app: &TestApp, token: &str, password: Option<&str>) -> Reply {
    let body = match password {
        Some(p) => json!({ "token": token, "password": p }),
        None => json!({ "token": token }),
    };
    app.post_json("/auth/email/change/confirm", &body).await
}

/// The attacker: registers `email` (not theirs) and keeps a session.
async fn registrant(app: &TestApp, email: &str) -> String {
    app.register(email).await;
    app.login_body(email).await.refresh
}

/// What the attacker holds afterwards: neither the session nor the password.
async fn assert_attacker_locked_out(app: &TestApp, refresh: &str, email: &str) {
    let reply = app.refresh_body(refresh).await;
    assert_eq!(reply.status, 401, "the attacker's session: {}", reply.text);
    let reply = app.try_login(email, PASSWORD).await;
    assert_eq!(reply.status, 401, "the attacker's password: {}", reply.text);
}

/// The owner of `email` takes the account back by a reset and signs in.
async fn owner_resets_and_signs_in(app: &TestApp, email: &str) {
    let forgot = app
        .post_json("/auth/password/forgot", &json!({ "email": email }))
        .await;
    assert_eq!(forgot.status, 202, "{}", forgot.text);
    let token = app
        .wait_for_action(email, "password_reset")
        .await
        .link_token();
    let reply = app
        .post_json(
            "/auth/password/reset",
            &json!({ "token": token, "new_password": OWNERS }),
        )
        .await;
    assert_eq!(reply.status, 204, "{}", reply.text);
    let reply = app.try_login(email, OWNERS).await;
    assert_eq!(reply.status, 200, "the owner signs in: {}", reply.text);
}

async fn a_verification_link_ends_the_registrants_sessions_and_password(backend: Backend) {
    let app = spawn_app(backend).await;
    let email = fresh("victim");
    let refresh = registrant(&app, &email).await;
    let token = app
        .wait_for_action(&email, "verify_email")
        .await
        .link_token();

    let reply = verify(&app, &token, None).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["email_verified"], true);
    assert_attacker_locked_out(&app, &refresh, &email).await;
    let kinds = app.audit_kinds(app.user_id(&email).await).await;
    assert!(kinds.contains(&"password_reset".to_owned()), "{kinds:?}");
    owner_resets_and_signs_in(&app, &email).await;
}

async fn a_verification_link_given_the_password_keeps_it_and_still_ends_the_older_sessions(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let email = fresh("owner");
    let refresh = registrant(&app, &email).await;
    let token = app
        .wait_for_action(&email, "verify_email")
        .await
        .link_token();

    let reply = verify(&app, &token, Some(PASSWORD)).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["email_verified"], true);
    assert_eq!(
        app.refresh_body(&refresh).await.status,
        401,
        "a session begun before the proof ends"
    );
    let reply = app.try_login(&email, PASSWORD).await;
    assert_eq!(reply.status, 200, "the password stays: {}", reply.text);
}

async fn a_wrong_password_with_a_verification_link_is_refused_and_spends_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let email = fresh("owner");
    let refresh = registrant(&app, &email).await;
    let token = app
        .wait_for_action(&email, "verify_email")
        .await
        .link_token();

    let reply = verify(&app, &token, Some("not the password at all")).await;
    assert_eq!(reply.status, 401, "{}", reply.text);
    assert_eq!(reply.error(), "invalid_credentials");
    let kinds = app.audit_kinds(app.user_id(&email).await).await;
    assert_eq!(kinds[0], "login_failed", "counted as a failed login");
    assert_eq!(
        app.refresh_body(&refresh).await.status,
        200,
        "nothing changed"
    );
    let reply = verify(&app, &token, Some(PASSWORD)).await;
    assert_eq!(reply.status, 200, "the link is still live: {}", reply.text);
}

async fn a_code_sign_in_ends_the_registrants_sessions_and_password(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.accounts.otp_enabled = true).await;
    let email = fresh("victim");
    let refresh = registrant(&app, &email).await;
    let code = login_code(&app, &email).await;
    let owner = app
        .post_json(
            "/auth/otp/verify",
            &json!({ "email": email, "code": code, "token_delivery": "body" }),
        )
        .await;
    assert_eq!(owner.status, 200, "{}", owner.text);

    assert_attacker_locked_out(&app, &refresh, &email).await;
    let reply = app.refresh_body(&owner.refresh_token()).await;
    assert_eq!(reply.status, 200, "the owner's session: {}", reply.text);
}

/// The attacker moves their own account to the victim's address and waits for
/// the victim to follow the confirmation link.
async fn an_email_change_confirmation_ends_the_requesters_sessions_and_password(backend: Backend) {
    let app = spawn_app(backend).await;
    let (own, victims) = (fresh("attacker"), fresh("victim"));
    app.register(&own).await;
    let tokens = app.login_body(&own).await;
    let token = changed(&app, &tokens.access, &victims).await;

    let reply = confirm(&app, &token, None).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["email"], victims.as_str());
    assert_attacker_locked_out(&app, &tokens.refresh, &victims).await;
    owner_resets_and_signs_in(&app, &victims).await;
}

async fn an_email_change_confirmation_given_the_password_keeps_it(backend: Backend) {
    let app = spawn_app(backend).await;
    let (old, new) = (fresh("old"), fresh("new"));
    app.register(&old).await;
    let tokens = app.login_body(&old).await;
    let token = changed(&app, &tokens.access, &new).await;

    let reply = confirm(&app, &token, Some(PASSWORD)).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        app.refresh_body(&tokens.refresh).await.status,
        401,
        "the sessions begun before the confirmation end"
    );
    let reply = app.try_login(&new, PASSWORD).await;
    assert_eq!(reply.status, 200, "the password stays: {}", reply.text);
}

/// A reset proves the address: the password it sets is the owner's, and a
/// later proof (here a code sign-in) leaves it.
async fn a_password_set_by_a_reset_survives_a_later_proof(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.accounts.otp_enabled = true).await;
    let email = fresh("owner");
    let refresh = registrant(&app, &email).await;
    owner_resets_and_signs_in(&app, &email).await;
    assert_eq!(app.refresh_body(&refresh).await.status, 401);

    let code = login_code(&app, &email).await;
    let reply = app
        .post_json(
            "/auth/otp/verify",
            &json!({ "email": email, "code": code, "token_delivery": "body" }),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let reply = app.try_login(&email, OWNERS).await;
    assert_eq!(reply.status, 200, "the reset's password: {}", reply.text);
}

/// Asks for `access`'s account to move to `new_email`; the link's token.
async fn changed(app: &TestApp, access: &str, new_email: &str) -> String {
    let reply = app
        .send(
            app.client
                .post(app.url("/auth/email/change"))
                .bearer_auth(access)
                .json(&json!({ "new_email": new_email, "current_password": PASSWORD })),
        )
        .await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    app.wait_for_action(new_email, "email_change_confirm")
        .await
        .link_token()
}

/// Asks for a login code for `email` and returns it once delivered.
async fn login_code(app: &TestApp, email: &str) -> String {
    let start = app
        .post_json("/auth/otp/start", &json!({ "email": email }))
        .await;
    assert_eq!(start.status, 202, "{}", start.text);
    let digits = app.services().settings.accounts.otp_digits as usize;
    for _ in 0..800 {
        if let Some(mail) = app
            .mail_to(email)
            .into_iter()
            .find(|m| m.subject.ends_with(" code"))
        {
            return mail.code(digits);
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("no code reached {email}");
}
