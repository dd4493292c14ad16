//! Password reset by email (`POST /auth/password/forgot`, `POST
//! /auth/password/reset`), through the real endpoints and the real mail: the
//! request answers alike for every address and mails only an account's owner;
//! the link or code works once, until it expires, and only while the account's
//! password and address are those it was sent for; a reset ends every session
//! and says so in the revocation feed; opening the link spends nothing. The
//! code path is in `code`, what a submit refuses and answers in `submit`.

use serde_json::{Value, json};

use crate::helpers::inbox::Delivered;
use crate::helpers::{Backend, PASSWORD, Reply, TestApp, spawn_app, spawn_app_with};
use crate::on_both_stores;

mod code;
mod stale;
mod submit;

on_both_stores!(
    forgot_answers_alike_for_known_and_unknown_addresses_and_mails_only_the_known,
    over_the_send_limits_the_answer_is_alike_for_known_and_unknown,
    a_reset_by_link_sets_the_password_ends_every_session_and_notifies_the_owner,
    a_reset_ends_the_login_lockout_of_the_account,
    a_link_works_once,
    a_link_expires_after_reset_ttl_secs,
    opening_the_link_spends_nothing,
    a_password_change_kills_an_older_link,
    an_address_change_kills_an_older_link,
    a_newer_request_leaves_the_older_link_and_code_for_the_grace_only,
    a_full_background_runner_answers_503_alike_and_takes_requests_again_once_it_drains,
);

const NEW_PASSWORD: &str = "a brand new and long passphrase";

fn new_email() -> String {
    format!("reset-{}@example.com", uuid::Uuid::new_v4().simple())
}

async fn forgot(app: &TestApp, email: &str) -> Reply {
    app.post_json("/auth/password/forgot", &json!({ "email": email }))
        .await
}

fn reset_mails(app: &TestApp, email: &str) -> Vec<Delivered> {
    app.mail_to(email)
        .into_iter()
        .filter(|m| m.action().as_deref() == Some("password_reset"))
        .collect()
}

/// Asks for a reset of `email` and returns the message it brings.
async fn ask(app: &TestApp, email: &str) -> Delivered {
    let before = reset_mails(app, email).len();
    let reply = forgot(app, email).await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let mut mails = reset_mails(app, email);
        if mails.len() > before {
            return mails.pop().unwrap();
        }
        assert!(std::time::Instant::now() < deadline, "no reset mail");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// The `password_changed` notice sent to `email`, waiting for it.
async fn changed_notice(app: &TestApp, email: &str) -> Delivered {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        if let Some(m) = app
            .mail_to(email)
            .into_iter()
            .find(|m| m.subject.contains("password was changed"))
        {
            return m;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no password_changed notice"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

fn code_of(app: &TestApp, mail: &Delivered) -> String {
    mail.code(app.services().settings.accounts.reset_code_digits as usize)
}

async fn reset(app: &TestApp, body: Value) -> Reply {
    app.post_json("/auth/password/reset", &body).await
}

async fn by_link(app: &TestApp, token: &str, password: &str) -> Reply {
    reset(app, json!({ "token": token, "new_password": password })).await
}

async fn by_code(app: &TestApp, email: &str, code: &str, password: &str) -> Reply {
    reset(
        app,
        json!({ "email": email, "code": code, "new_password": password }),
    )
    .await
}

fn assert_refused(reply: &Reply, code: &str) {
    assert_eq!((reply.status, reply.error()), (400, code), "{}", reply.text);
}

/// What a caller can compare between two answers.
fn visible(reply: &Reply) -> (u16, String, Vec<(String, String)>) {
    let mut headers: Vec<(String, String)> = reply
        .headers
        .iter()
        .filter(|(name, _)| *name != "date")
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    headers.sort();
    (reply.status, reply.text.clone(), headers)
}
async fn forgot_answers_alike_for_known_and_unknown_addresses_and_mails_only_the_known(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let (known, unknown) = (new_email(), new_email());
    app.register(&known).await;
    let for_unknown = forgot(&app, &unknown).await;
    let for_known = forgot(&app, &known).await;
    assert_eq!(for_known.status, 202, "{}", for_known.text);
    assert_eq!(for_known.body, json!({ "status": "accepted" }));
    assert_eq!(for_known.header("cache-control"), Some("no-store"));
    assert_eq!(visible(&for_known), visible(&for_unknown));
    // An address differing only in case is the same account.
    assert_eq!(
        visible(&forgot(&app, &known.to_uppercase()).await),
        visible(&for_known)
    );

    app.settled().await;
    let mails = reset_mails(&app, &known);
    assert_eq!(mails.len(), 2, "one message per request");
    let mail = &mails[1];
    assert!(
        mail.link().contains("action=password_reset"),
        "{}",
        mail.text
    );
    assert_eq!(mail.link_token().len(), 43);
    code_of(&app, mail);
    assert!(
        app.mail_to(&unknown).is_empty(),
        "nothing for an unknown address"
    );
    let user = app.user_id(&known).await;
    assert!(
        app.audit_kinds(user)
            .await
            .iter()
            .any(|k| k == "password_reset_requested")
    );
}

async fn over_the_send_limits_the_answer_is_alike_for_known_and_unknown(backend: Backend) {
    // Per recipient: a budget of messages, spent only by messages sent; past
    // it nothing more is sent and the answer is that of any other request.
    let app = spawn_app_with(backend, |s| {
        s.email.per_recipient_limit = 2;
        s.email.per_recipient_total_limit = 2;
        s.accounts.email_verification = authd::config::Verification::Off;
    })
    .await;
    let (known, unknown) = (new_email(), new_email());
    app.register(&known).await;
    for _ in 0..3 {
        let (a, b) = (forgot(&app, &known).await, forgot(&app, &unknown).await);
        assert_eq!(a.status, 202, "{}", a.text);
        assert_eq!(visible(&a), visible(&b));
    }
    app.settled().await;
    assert_eq!(
        reset_mails(&app, &known).len(),
        2,
        "past the budget nothing is sent"
    );

    // Per client IP: the same for every address.
    let app = spawn_app_with(backend, |s| {
        s.email.per_ip_limit = 2;
        s.accounts.email_verification = authd::config::Verification::Off;
    })
    .await;
    let (known, unknown) = (new_email(), new_email());
    app.register(&known).await;
    assert_eq!(forgot(&app, &known).await.status, 202);
    assert_eq!(forgot(&app, &unknown).await.status, 202);
    let (a, b) = (forgot(&app, &known).await, forgot(&app, &unknown).await);
    assert_eq!(
        (a.status, a.error()),
        (429, "too_many_requests"),
        "{}",
        a.text
    );
    assert!(a.header("retry-after").is_some());
    assert_eq!(visible(&a), visible(&b));
}

async fn a_reset_by_link_sets_the_password_ends_every_session_and_notifies_the_owner(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let feed_client = app.create_client("feed", "authd:revocations:sub").await;
    let email = new_email();
    app.register(&email).await;
    let user = app.user_id(&email).await;
    let sessions = [app.login_body(&email).await, app.login_body(&email).await];
    let mail = ask(&app, &email).await;

    let reply = by_link(&app, &mail.link_token(), NEW_PASSWORD).await;
    assert_eq!(reply.status, 204, "{}", reply.text);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert_eq!(reply.text, "");

    assert_eq!(app.try_login(&email, PASSWORD).await.status, 401);
    let login = app.try_login(&email, NEW_PASSWORD).await;
    assert_eq!(login.status, 200, "{}", login.text);
    for old in &sessions {
        assert_eq!(app.refresh_body(&old.refresh).await.status, 401);
        assert!(!app.access_works(&old.access).await);
    }
    let feed = app
        .send(
            app.client
                .get(app.url("/auth/revocations?version=2"))
                .basic_auth(&feed_client.0, Some(&feed_client.1)),
        )
        .await;
    assert_eq!(feed.status, 200, "{}", feed.text);
    let listed: Vec<&Value> = feed.body["users"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["sub"] == user.to_string())
        .collect();
    assert_eq!(listed.len(), 1, "one user entry: {}", feed.text);

    let kinds = app.audit_kinds(user).await;
    assert!(kinds.iter().any(|k| k == "password_reset"), "{kinds:?}");
    let event = app
        .audit_events(user)
        .await
        .into_iter()
        .find(|e| e.kind == "password_reset")
        .unwrap();
    assert_eq!(event.detail.as_deref(), Some("by link"));
    // The link proved the mailbox.
    let me = app.get_bearer("/auth/me", &login.access_token()).await;
    assert_eq!(me.body["email_verified"], true, "{}", me.text);

    let notice = changed_notice(&app, &email).await;
    assert!(notice.text.contains("was changed"), "{}", notice.text);
    assert!(!notice.text.contains(&mail.link_token()));
}

async fn a_reset_ends_the_login_lockout_of_the_account(backend: Backend) {
    let app = spawn_app(backend).await;
    let email = new_email();
    app.register(&email).await;
    let failures = app.services().settings.limits.login_account_failures;
    for _ in 0..failures {
        app.try_login(&email, "not the password at all").await;
    }
    assert_eq!(
        app.try_login(&email, PASSWORD).await.status,
        429,
        "locked out"
    );
    let mail = ask(&app, &email).await;
    assert_eq!(
        by_link(&app, &mail.link_token(), NEW_PASSWORD).await.status,
        204
    );
    let login = app.try_login(&email, NEW_PASSWORD).await;
    assert_eq!(
        login.status, 200,
        "the reset ended the lockout: {}",
        login.text
    );
}

async fn a_link_works_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let email = new_email();
    app.register(&email).await;
    let mail = ask(&app, &email).await;
    let token = mail.link_token();
    assert_eq!(by_link(&app, &token, NEW_PASSWORD).await.status, 204);
    assert_refused(
        &by_link(&app, &token, "yet another long passphrase").await,
        "invalid_account_token",
    );
    assert_refused(
        &by_code(
            &app,
            &email,
            &code_of(&app, &mail),
            "yet another long passphrase",
        )
        .await,
        "invalid_account_token",
    );
    assert_eq!(app.try_login(&email, NEW_PASSWORD).await.status, 200);
}

async fn a_link_expires_after_reset_ttl_secs(backend: Backend) {
    let app = spawn_app(backend).await;
    let ttl = i64::try_from(app.services().settings.accounts.reset_ttl_secs).unwrap();
    let email = new_email();
    app.register(&email).await;
    let mail = ask(&app, &email).await;
    app.advance(ttl - 1);
    assert_eq!(
        by_link(&app, &mail.link_token(), NEW_PASSWORD).await.status,
        204,
        "still valid a second before its expiry"
    );

    let mail = ask(&app, &email).await;
    app.advance(ttl);
    assert_refused(
        &by_link(&app, &mail.link_token(), "yet another long passphrase").await,
        "invalid_account_token",
    );
    assert_refused(
        &by_code(
            &app,
            &email,
            &code_of(&app, &mail),
            "yet another long passphrase",
        )
        .await,
        "invalid_account_token",
    );
    assert_eq!(app.try_login(&email, NEW_PASSWORD).await.status, 200);
}

async fn opening_the_link_spends_nothing(backend: Backend) {
    // The demo app stands in for the app page the link opens.
    let app = spawn_app_with(backend, |s| s.demo.enabled = true).await;
    let email = new_email();
    app.register(&email).await;
    let mail = ask(&app, &email).await;
    let link = mail.link();
    let rest = link.split_once("://").unwrap().1;
    let path = &rest[rest.find('/').unwrap()..];
    assert!(path.starts_with("/demo/?"), "{path}");
    for _ in 0..2 {
        assert_eq!(app.get(path).await.status, 200, "GET {path}");
    }
    let token = mail.link_token();
    let get = app
        .get(&format!("/auth/password/reset?token={token}"))
        .await;
    assert_eq!((get.status, get.error()), (405, "method_not_allowed"));
    assert_eq!(by_link(&app, &token, NEW_PASSWORD).await.status, 204);
}

async fn a_password_change_kills_an_older_link(backend: Backend) {
    let app = spawn_app(backend).await;
    let email = new_email();
    app.register(&email).await;
    let mail = ask(&app, &email).await;
    let tokens = app.login_body(&email).await;
    let changed = app
        .send(
            app.client
                .post(app.url("/auth/password"))
                .bearer_auth(&tokens.access)
                .json(&json!({ "current_password": PASSWORD, "new_password": NEW_PASSWORD })),
        )
        .await;
    assert_eq!(changed.status, 204, "{}", changed.text);
    assert_refused(
        &by_link(&app, &mail.link_token(), "yet another long passphrase").await,
        "invalid_account_token",
    );
    assert_eq!(app.try_login(&email, NEW_PASSWORD).await.status, 200);
}

async fn an_address_change_kills_an_older_link(backend: Backend) {
    let app = spawn_app(backend).await;
    let email = new_email();
    app.register(&email).await;
    let user = app.user_id(&email).await;
    let mail = ask(&app, &email).await;
    // As a confirmed email change would (its flow is tested on its own).
    let moved = new_email();
    let mut conn = app.store().write_conn().await.unwrap();
    authd::store::users::set_email(&mut conn, user, &moved, app.now())
        .await
        .unwrap();
    drop(conn);
    assert_refused(
        &by_link(&app, &mail.link_token(), NEW_PASSWORD).await,
        "invalid_account_token",
    );
    assert_eq!(app.try_login(&moved, PASSWORD).await.status, 200);
}

async fn a_newer_request_leaves_the_older_link_and_code_for_the_grace_only(backend: Backend) {
    let app = spawn_app(backend).await;
    let grace = app.services().settings.accounts.replaced_token_grace_secs;
    let email = new_email();
    app.register(&email).await;
    // Within the grace the older link still works (someone else's request
    // does not break the owner's), and using it ends the newer one.
    let old = ask(&app, &email).await;
    let new = ask(&app, &email).await;
    assert_ne!(old.link_token(), new.link_token());
    assert_eq!(
        by_link(&app, &old.link_token(), NEW_PASSWORD).await.status,
        204
    );
    assert_refused(
        &by_link(&app, &new.link_token(), "another new long passphrase").await,
        "invalid_account_token",
    );

    // Past the grace the older link and code are dead, the newer live.
    let old = ask(&app, &email).await;
    let new = ask(&app, &email).await;
    app.advance(i64::try_from(grace).unwrap());
    assert_refused(
        &by_link(&app, &old.link_token(), NEW_PASSWORD).await,
        "invalid_account_token",
    );
    if code_of(&app, &old) != code_of(&app, &new) {
        assert_refused(
            &by_code(&app, &email, &code_of(&app, &old), NEW_PASSWORD).await,
            "invalid_account_token",
        );
    }
    assert_eq!(
        by_link(&app, &new.link_token(), "yet another long passphrase")
            .await
            .status,
        204
    );
}

async fn a_full_background_runner_answers_503_alike_and_takes_requests_again_once_it_drains(
    backend: Backend,
) {
    let app = spawn_app_with(backend, |s| {
        s.email.per_ip_limit = 1_000_000;
    })
    .await;
    let known = new_email();
    app.register(&known).await;
    app.settled().await;
    // Every place of the runner held by a task waiting on the test.
    let (release, hold) = tokio::sync::watch::channel(false);
    let runner = &app.services().background;
    for _ in 0..authd::background::MAX_IN_FLIGHT {
        let mut hold = hold.clone();
        runner
            .spawn("test", async move {
                let _ = hold.wait_for(|released| *released).await;
                Ok(())
            })
            .unwrap();
    }
    let known_reply = forgot(&app, &known).await;
    let unknown_reply = forgot(&app, &new_email()).await;
    assert_eq!(known_reply.status, 503, "{}", known_reply.text);
    assert_eq!(known_reply.error(), "temporarily_unavailable");
    assert!(known_reply.header("retry-after").is_some());
    assert_eq!(visible(&known_reply), visible(&unknown_reply));

    release.send(true).unwrap();
    app.settled().await;
    assert_eq!(forgot(&app, &known).await.status, 202);
    app.wait_for_action(&known, "password_reset").await;
}
