//! Changing the email address (`POST /auth/email/change`, then
//! `/auth/email/change/confirm` with the link sent to the new address), on
//! both stores: the password is checked, the address moves only on
//! confirmation, the link works once, expires, dies with a password change,
//! and the links sent to the old address die with the change.

use std::time::Duration;

use authd::accounts::tokens::{self, Issue, Purpose};
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use crate::helpers::inbox::Delivered;
use crate::helpers::{Backend, PASSWORD, Reply, TestApp, spawn_app, spawn_app_with};
use crate::on_both_stores;

on_both_stores!(
    a_wrong_current_password_is_refused_counted_audited_and_sends_nothing,
    the_confirmation_goes_to_the_new_address_and_a_notice_to_the_old_one,
    the_address_changes_only_when_the_link_is_confirmed,
    the_current_address_and_a_taken_one_are_refused_at_the_request,
    an_address_taken_between_request_and_confirm_is_a_409_and_the_account_keeps_its_own,
    the_link_works_once_and_a_newer_request_replaces_it,
    two_confirmations_at_once_change_the_address_once,
    the_link_expires_after_email_change_ttl_secs,
    a_get_spends_nothing,
    a_password_change_kills_the_pending_link,
    links_and_codes_sent_to_the_old_address_die_with_the_change,
    past_the_new_addresss_budget_nothing_is_sent_and_the_answer_is_the_same,
    in_the_enumeration_safe_mode_a_taken_address_is_answered_like_a_free_one,
    probing_taken_addresses_is_limited_per_client,
);

const ACTION: &str = "email_change_confirm";

fn fresh(tag: &str) -> String {
    format!("{tag}-{}@example.com", uuid::Uuid::new_v4().simple())
}

/// A registered user, logged in with body delivery: (address, access token).
async fn signed_in(app: &TestApp) -> (String, String) {
    let (email, tokens) = app.user_with_tokens().await;
    (email, tokens.access)
}

async fn request_change(app: &TestApp, access: &str, new_email: &str, password: &str) -> Reply {
    app.send(
        app.client
            .post(app.url("/auth/email/change"))
            .bearer_auth(access)
            .json(&json!({ "new_email": new_email, "current_password": password })),
    )
    .await
}

async fn confirm(app: &TestApp, token: &str) -> Reply {
    // With the password, which the account keeps (`accounts::proof`).
    app.post_json(
        "/auth/email/change/confirm",
        &json!({ "token": token, "password": PASSWORD }),
    )
    .await
}

/// Asks for the change and returns the token of the link sent to `new_email`.
async fn requested(app: &TestApp, access: &str, new_email: &str) -> String {
    let reply = request_change(app, access, new_email, PASSWORD).await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    assert_eq!(reply.body, json!({ "status": "accepted" }));
    confirmations(app, new_email, 1).await[0].link_token()
}

/// Waits for `n` confirmation links to reach `to`, and returns them all.
async fn confirmations(app: &TestApp, to: &str, n: usize) -> Vec<Delivered> {
    for _ in 0..800 {
        let got: Vec<_> = app
            .mail_to(to)
            .into_iter()
            .filter(|m| m.action().as_deref() == Some(ACTION))
            .collect();
        if got.len() >= n {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{n} confirmation(s) did not reach {to}");
}

/// Messages of `kind` this app has queued.
fn queued(app: &TestApp, kind: &str) -> u64 {
    app.services()
        .metrics
        .mail
        .queued
        .with_label_values(&[kind])
        .get()
}

fn notices(app: &TestApp, to: &str) -> Vec<Delivered> {
    app.mail_to(to)
        .into_iter()
        .filter(|m| m.subject.contains("is changing"))
        .collect()
}

async fn me(app: &TestApp, access: &str) -> Value {
    let reply = app.get_bearer("/auth/me", access).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.body
}

async fn a_wrong_current_password_is_refused_counted_audited_and_sends_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let (email, access) = signed_in(&app).await;
    let new_email = fresh("new");
    let reply = request_change(&app, &access, &new_email, "not the password at all").await;
    assert_eq!(reply.status, 401, "{}", reply.text);
    assert_eq!(reply.error(), "invalid_credentials");
    let user = app.user_id(&email).await;
    let events = app.audit_events(user).await;
    assert_eq!(events[0].kind, "login_failed");
    assert_eq!(
        events[0].detail.as_deref(),
        Some("wrong current password at email change")
    );

    assert_eq!(queued(&app, "email_change_confirm"), 0, "nothing queued");
    assert_eq!(queued(&app, "email_change_notice"), 0);

    // A right request afterwards: its one confirmation is all that arrives.
    requested(&app, &access, &new_email).await;
    assert_eq!(queued(&app, "email_change_confirm"), 1);
    assert_eq!(queued(&app, "email_change_notice"), 1);
    assert_eq!(confirmations(&app, &new_email, 1).await.len(), 1);

    // Wrong passwords count on the login throttle: the account locks out.
    for _ in 0..5 {
        let reply = request_change(&app, &access, &fresh("other"), "still not it").await;
        assert_eq!(reply.status, 401, "{}", reply.text);
    }
    let reply = request_change(&app, &access, &fresh("other"), PASSWORD).await;
    assert_eq!(reply.status, 429, "{}", reply.text);
    assert_eq!(app.try_login(&email, PASSWORD).await.status, 429);
}

async fn the_confirmation_goes_to_the_new_address_and_a_notice_to_the_old_one(backend: Backend) {
    let app = spawn_app(backend).await;
    let (email, access) = signed_in(&app).await;
    let new_email = fresh("new");
    requested(&app, &access, &new_email).await;
    let confirm_mail = &confirmations(&app, &new_email, 1).await[0];
    assert!(confirm_mail.to.contains(&new_email));
    assert!(
        confirm_mail
            .link()
            .starts_with("http://localhost:8080/demo/?action=email_change_confirm&token="),
        "{}",
        confirm_mail.link()
    );
    assert!(confirm_mail.text.contains(&new_email));
    let notice = loop {
        if let Some(n) = notices(&app, &email).pop() {
            break n;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    assert!(notice.text.contains(&new_email), "{}", notice.text);
    assert!(
        !notice.text.contains("token="),
        "the old address gets no link that could confirm: {}",
        notice.text
    );
    let user = app.user_id(&email).await;
    assert_eq!(app.audit_kinds(user).await[0], "email_change_requested");
}

async fn the_address_changes_only_when_the_link_is_confirmed(backend: Backend) {
    let app = spawn_app(backend).await;
    let (email, access) = signed_in(&app).await;
    let user = app.user_id(&email).await;
    // Given in another case: the account is found by the lower-cased address.
    let new_email = fresh("new");
    let reply = request_change(&app, &access, &new_email.to_uppercase(), PASSWORD).await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    let token = confirmations(&app, &new_email, 1).await[0].link_token();

    assert_eq!(me(&app, &access).await["email"], email.as_str());
    assert_eq!(app.try_login(&email, PASSWORD).await.status, 200);
    assert_eq!(app.try_login(&new_email, PASSWORD).await.status, 401);

    let reply = confirm(&app, &token).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert_eq!(reply.body["id"], user.to_string());
    assert_eq!(reply.body["email"], new_email.as_str());
    assert_eq!(reply.body["email_verified"], true);

    // The confirmation ended every session (`accounts::proof`), the
    // requester's too; the password, given with it, stays.
    let ended = app.get_bearer("/auth/me", &access).await;
    assert_eq!(ended.status, 401, "{}", ended.text);
    let access = app.login_body(&new_email).await.access;
    let me = me(&app, &access).await;
    assert_eq!(me["email"], new_email.as_str());
    assert_eq!(me["email_verified"], true);
    assert_eq!(app.try_login(&email, PASSWORD).await.status, 401);
    assert_eq!(app.try_login(&new_email, PASSWORD).await.status, 200);
    let events = app.audit_events(user).await;
    let changed = events.iter().find(|e| e.kind == "email_changed").unwrap();
    let detail = changed.detail.clone().unwrap_or_default();
    assert!(
        !detail.contains('@'),
        "no address in the audit detail: {detail}"
    );
}

async fn the_current_address_and_a_taken_one_are_refused_at_the_request(backend: Backend) {
    let app = spawn_app(backend).await;
    let (email, access) = signed_in(&app).await;
    let same = request_change(&app, &access, &email.to_uppercase(), PASSWORD).await;
    assert_eq!(same.status, 400, "{}", same.text);
    assert_eq!(same.error(), "invalid_request");
    let taken = fresh("taken");
    app.register(&taken).await;
    let reply = request_change(&app, &access, &taken, PASSWORD).await;
    assert_eq!(reply.status, 409, "{}", reply.text);
    assert_eq!(reply.error(), "email_taken");
    let invalid = request_change(&app, &access, "not an address", PASSWORD).await;
    assert_eq!(invalid.status, 400, "{}", invalid.text);
    let anonymous = app
        .post_json(
            "/auth/email/change",
            &json!({ "new_email": fresh("x"), "current_password": PASSWORD }),
        )
        .await;
    assert_eq!(anonymous.status, 401, "{}", anonymous.text);
    assert_eq!(anonymous.error(), "invalid_token");
    assert_eq!(queued(&app, ACTION), 0, "nothing queued for a refusal");
    assert_eq!(queued(&app, "email_change_notice"), 0);
}

async fn an_address_taken_between_request_and_confirm_is_a_409_and_the_account_keeps_its_own(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let (email, access) = signed_in(&app).await;
    let new_email = fresh("new");
    let token = requested(&app, &access, &new_email).await;
    app.register(&new_email).await;

    let reply = confirm(&app, &token).await;
    assert_eq!(reply.status, 409, "{}", reply.text);
    assert_eq!(reply.error(), "email_taken");
    assert_eq!(me(&app, &access).await["email"], email.as_str());
    assert_eq!(app.try_login(&email, PASSWORD).await.status, 200);
    let user = app.user_id(&email).await;
    assert!(
        !app.audit_kinds(user)
            .await
            .contains(&"email_changed".to_owned())
    );
}

async fn the_link_works_once_and_a_newer_request_replaces_it(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, access) = signed_in(&app).await;
    let first = fresh("first");
    let old_token = requested(&app, &access, &first).await;
    let second = fresh("second");
    let token = requested(&app, &access, &second).await;
    let replaced = confirm(&app, &old_token).await;
    assert_eq!(replaced.status, 400, "{}", replaced.text);
    assert_eq!(replaced.error(), "invalid_account_token");

    assert_eq!(confirm(&app, &token).await.status, 200);
    let again = confirm(&app, &token).await;
    assert_eq!(again.status, 400, "{}", again.text);
    assert_eq!(again.error(), "invalid_account_token");
    let access = app.login_body(&second).await.access;
    assert_eq!(me(&app, &access).await["email"], second.as_str());
    for junk in ["", "short", &"A".repeat(43), &"x".repeat(256)] {
        let reply = confirm(&app, junk).await;
        assert_eq!(reply.status, 400, "{junk:?}: {}", reply.text);
    }
}

async fn two_confirmations_at_once_change_the_address_once(backend: Backend) {
    let app = spawn_app(backend).await;
    for _ in 0..3 {
        let (email, access) = signed_in(&app).await;
        let user = app.user_id(&email).await;
        let token = requested(&app, &access, &fresh("new")).await;
        let (a, b) = tokio::join!(confirm(&app, &token), confirm(&app, &token));
        let mut statuses = [a.status, b.status];
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 400], "{} / {}", a.text, b.text);
        let changes = app.audit_kinds(user).await;
        assert_eq!(changes.iter().filter(|k| *k == "email_changed").count(), 1);
    }
}

async fn the_link_expires_after_email_change_ttl_secs(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, access) = signed_in(&app).await;
    let ttl = i64::try_from(app.services().settings.accounts.email_change_ttl_secs).unwrap();
    let late = fresh("late");
    let token = requested(&app, &access, &late).await;
    app.advance(ttl);
    let reply = confirm(&app, &token).await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    assert_eq!(reply.error(), "invalid_account_token");

    let (_, access) = signed_in(&app).await;
    let in_time = fresh("in-time");
    let token = requested(&app, &access, &in_time).await;
    app.advance(ttl - 1);
    assert_eq!(confirm(&app, &token).await.status, 200);
}

async fn a_get_spends_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, access) = signed_in(&app).await;
    let new_email = fresh("new");
    let token = requested(&app, &access, &new_email).await;
    // What a mail scanner could do with the link's token.
    for path in [
        format!("/auth/email/change/confirm?token={token}"),
        format!("/auth/email/change?token={token}"),
    ] {
        let reply = app.get(&path).await;
        assert_eq!(reply.status, 405, "{path}: {}", reply.text);
    }
    assert_eq!(confirm(&app, &token).await.status, 200);
}

async fn a_password_change_kills_the_pending_link(backend: Backend) {
    let app = spawn_app(backend).await;
    let (email, access) = signed_in(&app).await;
    let new_email = fresh("new");
    let token = requested(&app, &access, &new_email).await;
    let changed = app
        .send(
            app.client
                .post(app.url("/auth/password"))
                .bearer_auth(&access)
                .json(&json!({
                    "current_password": PASSWORD,
                    "new_password": "another passphrase, long enough",
                })),
        )
        .await;
    assert_eq!(changed.status, 204, "{}", changed.text);
    let reply = confirm(&app, &token).await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    assert_eq!(reply.error(), "invalid_account_token");
    assert_eq!(me(&app, &access).await["email"], email.as_str());
}

async fn links_and_codes_sent_to_the_old_address_die_with_the_change(backend: Backend) {
    let app = spawn_app(backend).await;
    let (email, access) = signed_in(&app).await;
    let user = app.user_id(&email).await;
    let svc = app.services();
    // A reset link and a login code sent to the old address before the change.
    let mut tx = svc.store.begin().await.unwrap();
    let issue = |purpose: Purpose, code_digits: Option<u32>| Issue {
        purpose,
        user,
        email: &email,
        credential_version: 0,
        valid_for: Duration::from_secs(3600),
        link: code_digits.is_none(),
        code_digits,
    };
    let reset = tokens::issue(svc, &mut tx, &issue(Purpose::PasswordReset, None))
        .await
        .unwrap();
    let verify = tokens::issue(svc, &mut tx, &issue(Purpose::VerifyEmail, None))
        .await
        .unwrap();
    let otp = tokens::issue(svc, &mut tx, &issue(Purpose::OtpLogin, Some(6)))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let reset = reset.link.unwrap().expose_secret().to_owned();
    let verify = verify.link.unwrap().expose_secret().to_owned();
    let otp = otp.code.unwrap().expose_secret().to_owned();
    let live = |purpose, token: String| async move {
        let mut conn = svc.store.conn().await.unwrap();
        tokens::find_link(svc, &mut conn, purpose, &token)
            .await
            .unwrap()
            .is_some()
    };
    assert!(live(Purpose::PasswordReset, reset.clone()).await);
    assert!(live(Purpose::VerifyEmail, verify.clone()).await);

    let token = requested(&app, &access, &fresh("new")).await;
    assert!(
        live(Purpose::PasswordReset, reset.clone()).await,
        "a request changes nothing yet"
    );
    assert_eq!(confirm(&app, &token).await.status, 200);
    assert!(!live(Purpose::PasswordReset, reset).await);
    assert!(!live(Purpose::VerifyEmail, verify).await);
    let code = tokens::check_code(svc, user, Purpose::OtpLogin, &otp)
        .await
        .unwrap();
    assert!(
        code.is_none(),
        "the login code sent to the old address died"
    );
}

async fn past_the_new_addresss_budget_nothing_is_sent_and_the_answer_is_the_same(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.email.per_recipient_limit = 1;
        s.email.per_recipient_total_limit = 1;
    })
    .await;
    let (_, access) = signed_in(&app).await;
    let new_email = fresh("new");
    let token = requested(&app, &access, &new_email).await;
    let reply = request_change(&app, &access, &new_email, PASSWORD).await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    assert_eq!(reply.body, json!({ "status": "accepted" }));
    assert_eq!(
        queued(&app, ACTION),
        1,
        "the second confirmation was dropped"
    );
    // No token was issued for it: the first link still works.
    let confirmed = app
        .post_json("/auth/email/change/confirm", &json!({ "token": token }))
        .await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.text);
    // The password was right: no failure counted against the account.
    let user = app.user_id(&new_email).await;
    assert!(
        !app.audit_kinds(user)
            .await
            .iter()
            .any(|k| k == "login_failed")
    );
}

async fn in_the_enumeration_safe_mode_a_taken_address_is_answered_like_a_free_one(
    backend: Backend,
) {
    let app = spawn_app_with(backend, |s| {
        s.accounts.email_verification = authd::config::Verification::Required;
        s.accounts.enumeration_safe_registration = true;
    })
    .await;
    let register = |email: String| {
        let app = &app;
        async move {
            let reply = app
                .post_json(
                    "/auth/register",
                    &json!({ "email": email, "password": PASSWORD }),
                )
                .await;
            assert_eq!(reply.status, 202, "{}", reply.text);
        }
    };
    let email = fresh("safe");
    register(email.clone()).await;
    let link = app.wait_for_action(&email, "verify_email").await;
    let verified = app
        .post_json(
            "/auth/email/verify",
            &json!({ "token": link.link_token(), "password": PASSWORD }),
        )
        .await;
    assert_eq!(verified.status, 200, "{}", verified.text);
    let access = app.login_body(&email).await.access;
    let taken = fresh("taken");
    register(taken.clone()).await;
    let free = fresh("free");

    let to_taken = request_change(&app, &access, &taken, PASSWORD).await;
    // The same work as for a free address, its confirmation included; the
    // confirmation is refused and changes nothing.
    let token = app.wait_for_action(&taken, ACTION).await.link_token();
    let reply = confirm(&app, &token).await;
    assert_eq!(reply.status, 409, "{}", reply.text);
    assert_eq!(reply.error(), "email_taken");
    let to_free = request_change(&app, &access, &free, PASSWORD).await;
    assert_eq!(to_free.status, 202, "{}", to_free.text);
    assert_eq!(
        (to_taken.status, &to_taken.body),
        (to_free.status, &to_free.body),
        "a taken address is not told apart"
    );
    app.wait_for_action(&free, ACTION).await;
    assert_eq!(app.try_login(&email, PASSWORD).await.status, 200);
}

async fn probing_taken_addresses_is_limited_per_client(backend: Backend) {
    // The client's registration and the taken address's: two requests that
    // may send mail; then two probes, and the third is refused.
    let app = spawn_app_with(backend, |s| s.email.per_ip_limit = 4).await;
    let (_, access) = signed_in(&app).await;
    let taken = fresh("taken");
    app.register(&taken).await;
    for _ in 0..2 {
        let reply = request_change(&app, &access, &taken, PASSWORD).await;
        assert_eq!(reply.status, 409, "{}", reply.text);
    }
    let third = request_change(&app, &access, &taken, PASSWORD).await;
    assert_eq!(
        third.status, 429,
        "probing is limited like sending: {}",
        third.text
    );
    assert!(third.header("retry-after").is_some());
}
