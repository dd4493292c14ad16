//! Email verification (`accounts::verify`), on both stores, read back from the
//! mail the app delivered: registration sends the link (not in `off` mode),
//! following it verifies, once, before it expires, only for the address it
//! was sent to; opening it spends nothing; a new link leaves the old one
//! working for a grace only, and
//! asking for one answers alike for every address; `required` holds login
//! back (after the password was found right) until the link is followed.

use serde_json::{Value, json};

use crate::helpers::inbox::Delivered;
use crate::helpers::{Backend, PASSWORD, Reply, TestApp, spawn_app, spawn_app_with};
use crate::on_both_stores;
use authd::config::Verification;

on_both_stores!(
    registration_sends_a_link_and_following_it_verifies_the_address,
    in_off_mode_registration_sends_nothing_and_resend_is_not_enabled,
    a_link_works_once,
    a_link_expires_after_verify_ttl_secs,
    opening_the_link_spends_nothing,
    a_new_link_leaves_the_old_one_for_the_grace_only,
    resend_answers_alike_and_sends_nothing_to_unknown_or_verified_addresses,
    required_mode_refuses_login_until_verified_only_with_the_right_password,
    a_link_to_an_address_the_account_no_longer_has_does_not_verify,
    a_password_change_ends_the_links_sent_before_it,
    malformed_tokens_are_refused_as_invalid_account_tokens,
    introspection_of_a_users_access_token_says_whether_the_address_is_verified,
);

fn new_email() -> String {
    format!("v-{}@example.com", uuid::Uuid::new_v4().simple())
}

async fn verify(app: &TestApp, token: &str) -> Reply {
    // With the password, which the account keeps (`accounts::proof`).
    app.post_json(
        "/auth/email/verify",
        &json!({ "token": token, "password": PASSWORD }),
    )
    .await
}

async fn resend(app: &TestApp, email: &str) -> Reply {
    app.post_json("/auth/email/verify/resend", &json!({ "email": email }))
        .await
}

async fn verify_mail(app: &TestApp, email: &str) -> Delivered {
    app.wait_for_action(email, "verify_email").await
}

/// `email_verified` as `/auth/me` shows it.
async fn me_verified(app: &TestApp, email: &str) -> Value {
    let tokens = app.login_body(email).await;
    app.get_bearer("/auth/me", &tokens.access).await.body["email_verified"].clone()
}

async fn registration_sends_a_link_and_following_it_verifies_the_address(backend: Backend) {
    let app = spawn_app(backend).await;
    let email = new_email();
    let registered = app.register(&email).await;
    assert_eq!(
        registered.body["email_verified"], false,
        "{}",
        registered.text
    );
    let mail = verify_mail(&app, &email).await;
    assert!(
        mail.link()
            .starts_with("http://localhost:8080/demo/?action=verify_email&token="),
        "the link opens the app's page: {}",
        mail.link()
    );
    assert_eq!(me_verified(&app, &email).await, false);

    let reply = verify(&app, &mail.link_token()).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["email"], email.as_str());
    assert_eq!(reply.body["email_verified"], true);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert_eq!(me_verified(&app, &email).await, true);
    let kinds = app.audit_kinds(app.user_id(&email).await).await;
    assert!(
        kinds.contains(&"email_verification_sent".to_owned())
            && kinds.contains(&"email_verified".to_owned()),
        "{kinds:?}"
    );
}

async fn in_off_mode_registration_sends_nothing_and_resend_is_not_enabled(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.accounts.email_verification = Verification::Off;
    })
    .await;
    let email = new_email();
    app.register(&email).await;
    app.settled().await;
    assert!(app.mail_to(&email).is_empty(), "no message in off mode");
    assert!(
        !app.audit_kinds(app.user_id(&email).await)
            .await
            .contains(&"email_verification_sent".to_owned())
    );
    let reply = resend(&app, &email).await;
    assert_eq!(reply.status, 404, "{}", reply.text);
    assert_eq!(reply.error(), "not_enabled");
    app.settled().await;
    assert!(app.mail_to(&email).is_empty());
}

async fn a_link_works_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let email = new_email();
    app.register(&email).await;
    let token = verify_mail(&app, &email).await.link_token();
    assert_eq!(verify(&app, &token).await.status, 200);
    let again = verify(&app, &token).await;
    assert_eq!(again.status, 400, "{}", again.text);
    assert_eq!(again.error(), "invalid_account_token");
}

async fn a_link_expires_after_verify_ttl_secs(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.accounts.verify_ttl_secs = 3600).await;
    let (early, late) = (new_email(), new_email());
    app.register(&early).await;
    app.register(&late).await;
    let early_token = verify_mail(&app, &early).await.link_token();
    let late_token = verify_mail(&app, &late).await.link_token();
    app.advance(3599);
    assert_eq!(
        verify(&app, &early_token).await.status,
        200,
        "live one second before its end"
    );
    app.advance(1);
    let reply = verify(&app, &late_token).await;
    assert_eq!(reply.status, 400, "dead at verify_ttl_secs: {}", reply.text);
    assert_eq!(reply.error(), "invalid_account_token");
    assert_eq!(me_verified(&app, &late).await, false);
}

/// A mail scanner fetches the link: the page it opens (the demo's, served
/// here) answers 200 and spends nothing, and the API takes the token by POST
/// only.
async fn opening_the_link_spends_nothing(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.demo.enabled = true).await;
    let email = new_email();
    app.register(&email).await;
    let mail = verify_mail(&app, &email).await;
    let token = mail.link_token();
    let query = mail.link().split_once('?').unwrap().1.to_owned();
    let page = app.get(&format!("/demo/?{query}")).await;
    assert_eq!(page.status, 200, "the link's page is served: {}", page.text);
    assert!(page.text.contains("<html"), "{}", page.text);
    let api = app.get(&format!("/auth/email/verify?token={token}")).await;
    assert_eq!(api.status, 405, "GET /auth/email/verify: {}", api.text);
    assert_eq!(me_verified(&app, &email).await, false);
    assert_eq!(verify(&app, &token).await.status, 200, "still live");
}

async fn a_new_link_leaves_the_old_one_for_the_grace_only(backend: Backend) {
    let app = spawn_app(backend).await;
    let grace = app.services().settings.accounts.replaced_token_grace_secs;
    // Within the grace the old link works, and following it ends the new one.
    let email = new_email();
    app.register(&email).await;
    let old = verify_mail(&app, &email).await.link_token();
    let reply = resend(&app, &email).await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    let mails = app.wait_for_mail_to(&email, 2).await;
    let new = mails[1].link_token();
    assert_ne!(old, new);
    assert_eq!(verify(&app, &old).await.status, 200);
    let refused = verify(&app, &new).await;
    assert_eq!(
        (refused.status, refused.error()),
        (400, "invalid_account_token"),
        "ended with the old one: {}",
        refused.text
    );

    // Past the grace the old link is dead, the new one works.
    let email = new_email();
    app.register(&email).await;
    let old = verify_mail(&app, &email).await.link_token();
    assert_eq!(resend(&app, &email).await.status, 202);
    let new = app.wait_for_mail_to(&email, 2).await[1].link_token();
    app.advance(i64::try_from(grace).unwrap());
    let refused = verify(&app, &old).await;
    assert_eq!(refused.status, 400, "the old link died: {}", refused.text);
    assert_eq!(refused.error(), "invalid_account_token");
    assert_eq!(verify(&app, &new).await.status, 200);
}

async fn resend_answers_alike_and_sends_nothing_to_unknown_or_verified_addresses(backend: Backend) {
    let app = spawn_app(backend).await;
    let (verified, unverified, unknown) = (new_email(), new_email(), new_email());
    app.register(&verified).await;
    app.register(&unverified).await;
    let token = verify_mail(&app, &verified).await.link_token();
    assert_eq!(verify(&app, &token).await.status, 200);
    verify_mail(&app, &unverified).await;

    let answers: Vec<Reply> = vec![
        resend(&app, &unknown).await,
        resend(&app, &verified).await,
        resend(&app, &unverified).await,
    ];
    for reply in &answers {
        assert_eq!(reply.status, 202, "{}", reply.text);
        assert_eq!(reply.body, json!({ "status": "accepted" }));
        assert_eq!(reply.text, answers[0].text);
        assert_eq!(
            reply.header("content-type"),
            answers[0].header("content-type")
        );
        assert_eq!(reply.header("cache-control"), Some("no-store"));
    }
    app.settled().await;
    assert!(
        app.mail_to(&unknown).is_empty(),
        "nothing to an unknown address"
    );
    assert_eq!(
        app.mail_to(&verified).len(),
        1,
        "nothing more to a verified address"
    );
    assert_eq!(app.mail_to(&unverified).len(), 2, "a new link");
}

async fn required_mode_refuses_login_until_verified_only_with_the_right_password(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.accounts.email_verification = Verification::Required;
    })
    .await;
    let email = new_email();
    app.register(&email).await;
    let user = app.user_id(&email).await;
    // More refusals than limits.login_account_failures (5): a right password
    // is not a guess, and does not lock the owner out while the mail travels.
    for _ in 0..7 {
        let reply = app.try_login(&email, PASSWORD).await;
        assert_eq!(reply.status, 403, "{}", reply.text);
        assert_eq!(reply.error(), "email_not_verified");
        assert!(reply.refresh_cookie().is_none(), "no session");
        assert!(reply.body.get("access_token").is_none());
    }
    let wrong = app.try_login(&email, "not the password at all").await;
    assert_eq!(
        wrong.status, 401,
        "a wrong password says nothing of the address: {}",
        wrong.text
    );
    assert_eq!(wrong.error(), "invalid_credentials");
    assert!(
        authd::sessions::list_live(app.services(), user)
            .await
            .unwrap()
            .is_empty()
    );
    let events = app.audit_events(user).await;
    assert!(
        events.iter().any(|e| e.kind == "login_failed"
            && e.detail.as_deref() == Some("the email address is not verified")),
        "the refusal is audited with its reason"
    );

    let token = verify_mail(&app, &email).await.link_token();
    assert_eq!(verify(&app, &token).await.status, 200);
    let reply = app.try_login(&email, PASSWORD).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
}

async fn a_link_to_an_address_the_account_no_longer_has_does_not_verify(backend: Backend) {
    let app = spawn_app(backend).await;
    let (first, second) = (new_email(), new_email());
    app.register(&first).await;
    let user = app.user_id(&first).await;
    let token = verify_mail(&app, &first).await.link_token();
    {
        let mut conn = app.store().conn().await.unwrap();
        authd::store::users::set_email(&mut conn, user, &second, app.now())
            .await
            .unwrap();
    }
    let reply = verify(&app, &token).await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    assert_eq!(reply.error(), "invalid_account_token");
    let kinds = app.audit_kinds(user).await;
    assert!(!kinds.contains(&"email_verified".to_owned()), "{kinds:?}");
}

async fn a_password_change_ends_the_links_sent_before_it(backend: Backend) {
    let app = spawn_app(backend).await;
    let email = new_email();
    app.register(&email).await;
    let token = verify_mail(&app, &email).await.link_token();
    let tokens = app.login_body(&email).await;
    let changed = app
        .send(
            app.client
                .post(app.url("/auth/password"))
                .bearer_auth(&tokens.access)
                .json(&json!({
                    "current_password": PASSWORD,
                    "new_password": "another horse battery staple",
                })),
        )
        .await;
    assert_eq!(changed.status, 204, "{}", changed.text);
    let reply = verify(&app, &token).await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    assert_eq!(reply.error(), "invalid_account_token");
    // A new link, issued under the new credentials, works.
    assert_eq!(resend(&app, &email).await.status, 202);
    // The first link, the password change's notice, the new link.
    let mails = app.wait_for_mail_to(&email, 3).await;
    let newest = mails
        .iter()
        .rev()
        .find(|m| m.action().as_deref() == Some("verify_email"))
        .unwrap();
    let reply = app
        .post_json(
            "/auth/email/verify",
            &json!({ "token": newest.link_token(), "password": "another horse battery staple" }),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
}

async fn malformed_tokens_are_refused_as_invalid_account_tokens(backend: Backend) {
    let app = spawn_app(backend).await;
    for token in ["", "short", &"a".repeat(43), &"é".repeat(200)] {
        let reply = verify(&app, token).await;
        assert_eq!(reply.status, 400, "{token:?}: {}", reply.text);
        assert!(
            ["invalid_account_token", "invalid_request"].contains(&reply.error()),
            "{token:?}: {}",
            reply.text
        );
    }
    let reply = app.post_json("/auth/email/verify", &json!({})).await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.error(), "invalid_request");
}

async fn introspection_of_a_users_access_token_says_whether_the_address_is_verified(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let (id, secret) = app.create_client("gateway", "authd:introspect").await;
    let email = new_email();
    app.register(&email).await;
    let tokens = app.login_body(&email).await;
    let introspect = || async {
        let reply = app
            .post_form(
                "/oauth/introspect",
                &[("token", tokens.access.as_str())],
                Some((id.as_str(), secret.as_str())),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply.body
    };
    let before = introspect().await;
    assert_eq!(before["active"], true, "{before}");
    assert_eq!(before["email_verified"], false, "{before}");
    // Marked verified in the store: following the link would end this
    // session (its first proof, `accounts::proof`).
    {
        let mut conn = app.store().conn().await.unwrap();
        let user = app.user_id(&email).await;
        let marked = authd::store::users::set_email_verified(&mut conn, user, &email, app.now())
            .await
            .unwrap();
        assert!(marked);
    }
    // The same token: the answer is read now, not when the token was made.
    assert_eq!(introspect().await["email_verified"], true);
    let (machine, machine_secret) = app.create_client("batch", "jobs").await;
    let machine_token = app
        .post_form(
            "/oauth/token",
            &[("grant_type", "client_credentials")],
            Some((machine.as_str(), machine_secret.as_str())),
        )
        .await
        .access_token();
    let answer = app
        .post_form(
            "/oauth/introspect",
            &[("token", machine_token.as_str())],
            Some((id.as_str(), secret.as_str())),
        )
        .await
        .body;
    assert_eq!(answer["active"], true, "{answer}");
    assert!(
        answer.get("email_verified").is_none(),
        "a machine has no address"
    );
}
