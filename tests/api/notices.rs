//! The notices an account's owner gets, on both stores: a password change
//! tells the account (`password_changed`); a confirmed email change tells
//! the old address (`email_changed`) and ends every session; and in the
//! enumeration-safe mode the requester's own mailbox cannot tell a taken new
//! address from a free one.

use serde_json::json;

use crate::helpers::inbox::Delivered;
use crate::helpers::{Backend, PASSWORD, Reply, TestApp, spawn_app, spawn_app_with};
use crate::on_both_stores;

on_both_stores!(
    a_password_change_sends_password_changed_to_the_account,
    a_confirmed_email_change_tells_the_old_address_and_ends_every_session,
    in_the_enumeration_safe_mode_the_requesters_mailbox_gets_the_same_for_a_taken_and_a_free_address,
);

const NEW_PASSWORD: &str = "another horse battery staple";

fn fresh(tag: &str) -> String {
    format!("{tag}-{}@example.com", uuid::Uuid::new_v4().simple())
}

async fn request_change(app: &TestApp, access: &str, new_email: &str) -> Reply {
    app.send(
        app.client
            .post(app.url("/auth/email/change"))
            .bearer_auth(access)
            .json(&json!({ "new_email": new_email, "current_password": PASSWORD })),
    )
    .await
}

/// The first message to `to` whose subject has `words`, waiting for it.
async fn mail_with(app: &TestApp, to: &str, words: &str) -> Delivered {
    for _ in 0..800 {
        if let Some(m) = app
            .mail_to(to)
            .into_iter()
            .find(|m| m.subject.contains(words))
        {
            return m;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("no message about {words:?} reached {to}");
}

async fn a_password_change_sends_password_changed_to_the_account(backend: Backend) {
    let app = spawn_app(backend).await;
    let (email, tokens) = app.user_with_tokens().await;
    let reply = app
        .send(
            app.client
                .post(app.url("/auth/password"))
                .bearer_auth(&tokens.access)
                .json(&json!({ "current_password": PASSWORD, "new_password": NEW_PASSWORD })),
        )
        .await;
    assert_eq!(reply.status, 204, "{}", reply.text);
    let notice = mail_with(&app, &email, "password was changed").await;
    assert!(notice.to.contains(&email));
    for part in [&notice.text, &notice.html] {
        assert!(!part.contains(NEW_PASSWORD) && !part.contains(PASSWORD));
    }
    let queued = &app.services().metrics.mail.queued;
    assert_eq!(queued.with_label_values(&["password_changed"]).get(), 1);
}

async fn a_confirmed_email_change_tells_the_old_address_and_ends_every_session(backend: Backend) {
    let app = spawn_app(backend).await;
    let (old, tokens) = app.user_with_tokens().await;
    let other = app.login_body(&old).await;
    let new = fresh("new");
    assert_eq!(request_change(&app, &tokens.access, &new).await.status, 202);
    let token = app
        .wait_for_action(&new, "email_change_confirm")
        .await
        .link_token();
    let reply = app
        .post_json(
            "/auth/email/change/confirm",
            &json!({ "token": token, "password": PASSWORD }),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);

    let notice = mail_with(&app, &old, "was changed").await;
    assert!(notice.text.contains(&new), "{}", notice.text);
    assert!(notice.text.contains("signed out"), "{}", notice.text);
    assert!(
        !notice.text.contains("token="),
        "no link that could undo or confirm: {}",
        notice.text
    );
    for refresh in [&tokens.refresh, &other.refresh] {
        let reply = app.refresh_body(refresh).await;
        assert_eq!(reply.status, 401, "every session ended: {}", reply.text);
    }
    assert_eq!(app.try_login(&new, PASSWORD).await.status, 200);
}

/// Two requesters, one asking for a taken address and one for a free one:
/// each one's own mailbox gets the same messages (their text differs only by
/// the address asked for), and the same kinds of mail are queued.
async fn in_the_enumeration_safe_mode_the_requesters_mailbox_gets_the_same_for_a_taken_and_a_free_address(
    backend: Backend,
) {
    let app = spawn_app_with(backend, |s| {
        s.accounts.email_verification = authd::config::Verification::Required;
        s.accounts.enumeration_safe_registration = true;
    })
    .await;
    let (first, second, taken) = (fresh("first"), fresh("second"), fresh("taken"));
    let mut access = Vec::new();
    for email in [&first, &second, &taken] {
        let reply = app
            .post_json(
                "/auth/register",
                &json!({ "email": email, "password": PASSWORD }),
            )
            .await;
        assert_eq!(reply.status, 202, "{}", reply.text);
        let token = app
            .wait_for_action(email, "verify_email")
            .await
            .link_token();
        let reply = app
            .post_json(
                "/auth/email/verify",
                &json!({ "token": token, "password": PASSWORD }),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        access.push(app.login_body(email).await.access);
    }
    app.settled().await;
    let before = app.mailbox().len();
    let queued = |kind: &str| {
        app.services()
            .metrics
            .mail
            .queued
            .with_label_values(&[kind])
            .get()
    };

    let free = fresh("free");
    let to_taken = request_change(&app, &access[0], &taken).await;
    app.settled().await;
    let after_taken = (
        queued("email_change_confirm"),
        queued("email_change_notice"),
    );
    let to_free = request_change(&app, &access[1], &free).await;
    app.settled().await;
    assert_eq!(
        (to_taken.status, &to_taken.body),
        (to_free.status, &to_free.body)
    );
    assert_eq!(
        after_taken,
        (1, 1),
        "a taken address: the same two messages"
    );
    assert_eq!(
        (
            queued("email_change_confirm"),
            queued("email_change_notice")
        ),
        (2, 2),
        "and a free one"
    );
    assert_eq!(app.mailbox().len(), before + 4);

    let own = |email: &str, asked: &str| -> Vec<(String, String)> {
        app.mail_to(email)
            .into_iter()
            .filter(|m| m.action().as_deref() != Some("verify_email"))
            .map(|m| (m.subject, m.text.replace(asked, "ASKED")))
            .collect()
    };
    let (mine_taken, mine_free) = (own(&first, &taken), own(&second, &free));
    assert_eq!(mine_taken.len(), 1, "{mine_taken:?}");
    assert_eq!(
        mine_taken, mine_free,
        "the requester's mailbox says the same"
    );

    // The confirmation of a taken address is refused, and changes nothing.
    let token = app
        .wait_for_action(&taken, "email_change_confirm")
        .await
        .link_token();
    let reply = app
        .post_json("/auth/email/change/confirm", &json!({ "token": token }))
        .await;
    assert_eq!(reply.status, 409, "{}", reply.text);
    assert_eq!(app.try_login(&first, PASSWORD).await.status, 200);
    assert_eq!(app.try_login(&taken, PASSWORD).await.status, 200);
}
