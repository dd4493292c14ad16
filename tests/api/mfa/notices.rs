//! The owner is told by email, on both stores, when a second factor is
//! added or removed and when a recovery code signs in; a refused change
//! (a wrong first code) and a sign-in with the TOTP code tell nothing.

use serde_json::json;

use super::{challenge, enrolled, post_bearer, verify, verify_recovery};
use crate::helpers::inbox::Delivered;
use crate::helpers::{Backend, PASSWORD, TestApp, spawn_app};

crate::on_both_stores!(
    adding_and_removing_a_factor_tell_the_owner,
    a_recovery_code_sign_in_tells_the_owner_how_many_are_left,
);

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

fn queued(app: &TestApp, kind: &str) -> u64 {
    let queued = &app.services().metrics.mail.queued;
    queued.with_label_values(&[kind]).get()
}

async fn adding_and_removing_a_factor_tell_the_owner(backend: Backend) {
    let app = spawn_app(backend).await;
    // A wrong first code adds nothing and tells nothing.
    let (_, tokens) = app.user_with_tokens().await;
    post_bearer(&app, "/auth/mfa/totp", &tokens.access, &json!({})).await;
    let wrong = post_bearer(
        &app,
        "/auth/mfa/totp/confirm",
        &tokens.access,
        &json!({ "code": "000000" }),
    )
    .await;
    assert_eq!(wrong.status, 400, "{}", wrong.text);
    assert_eq!(queued(&app, "factor_added"), 0);

    let user = enrolled(&app).await;
    let added = mail_with(&app, &user.email, "second factor was added").await;
    assert!(added.text.contains("authenticator app"), "{}", added.text);
    assert!(!added.text.contains(&user.secret_base32));
    assert_eq!(queued(&app, "factor_added"), 1);
    assert_eq!(queued(&app, "factor_removed"), 0);

    // Removed from a session that showed the factor.
    let c = challenge(&app, &user.email).await;
    let session = verify(&app, &c, &user.code(&app)).await;
    assert_eq!(session.status, 200, "{}", session.text);
    let removed = app
        .send(
            app.client
                .delete(app.url("/auth/mfa/totp"))
                .bearer_auth(session.access_token())
                .json(&json!({ "password": PASSWORD })),
        )
        .await;
    assert_eq!(removed.status, 204, "{}", removed.text);
    let notice = mail_with(&app, &user.email, "second factor was removed").await;
    assert!(notice.text.contains("authenticator app"), "{}", notice.text);
    assert_eq!(queued(&app, "factor_removed"), 1);
}

async fn a_recovery_code_sign_in_tells_the_owner_how_many_are_left(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = enrolled(&app).await;
    // A TOTP sign-in tells nothing.
    let c = challenge(&app, &user.email).await;
    assert_eq!(verify(&app, &c, &user.code(&app)).await.status, 200);
    assert_eq!(queued(&app, "recovery_code_used"), 0);
    let c = challenge(&app, &user.email).await;
    let code = &user.recovery_codes[3];
    let reply = verify_recovery(&app, &c, code).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let notice = mail_with(&app, &user.email, "recovery code was used").await;
    assert!(
        notice.text.contains("9 of your recovery codes"),
        "{}",
        notice.text
    );
    for part in [&notice.text, &notice.html] {
        assert!(!part.contains(code.as_str()));
    }
    assert_eq!(queued(&app, "recovery_code_used"), 1);
}
