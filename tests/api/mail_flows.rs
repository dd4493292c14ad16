//! The account flows end to end over a real SMTP server (`helpers::smtp`:
//! STARTTLS and AUTH required): the messages authd sends for a registration
//! and a forgotten password leave through SMTP, and the links and codes read
//! from what the server received work. The flows' rules are tested in their
//! own files against the `.eml` delivery; this is the same path with the
//! real transport.

use serde_json::json;

use crate::helpers::mime::Parsed;
use crate::helpers::smtp::{SmtpServer, smtp_available};
use crate::helpers::{Backend, PASSWORD, spawn_app_with};
use crate::on_both_stores;

on_both_stores!(the_verification_link_and_the_reset_link_and_code_travel_over_smtp_and_work,);

/// The `token` query parameter of the first link in the text part.
fn link_token(message: &Parsed) -> String {
    let link = message
        .text
        .split_whitespace()
        .find(|w| w.starts_with("https://") && w.contains("token="))
        .unwrap_or_else(|| panic!("no link in:\n{}", message.text));
    link.split_once("token=")
        .map(|(_, t)| t.split('&').next().unwrap_or(t).to_owned())
        .unwrap()
}

/// The first word of `digits` digits in the text part.
fn code(message: &Parsed, digits: usize) -> String {
    message
        .text
        .split(|c: char| !c.is_ascii_alphanumeric())
        .find(|w| w.len() == digits && w.bytes().all(|b| b.is_ascii_digit()))
        .unwrap_or_else(|| panic!("no code in:\n{}", message.text))
        .to_owned()
}

async fn the_verification_link_and_the_reset_link_and_code_travel_over_smtp_and_work(
    backend: Backend,
) {
    if !smtp_available() {
        return;
    }
    let smtp = SmtpServer::start();
    let app = spawn_app_with(backend, |s| {
        smtp.configure(s);
        s.email.link_base = "https://app.example.com/account".into();
    })
    .await;
    let email = format!("smtp-{}@example.com", uuid::Uuid::new_v4().simple());
    app.register(&email).await;

    let received = smtp.wait_for(1).await;
    let verify = &received[0].message;
    assert!(
        verify.text.contains("action=verify_email"),
        "{}",
        verify.text
    );
    let reply = app
        .post_json(
            "/auth/email/verify",
            &json!({ "token": link_token(verify) }),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["email_verified"], true);

    let forgot = app
        .post_json("/auth/password/forgot", &json!({ "email": email }))
        .await;
    assert_eq!(forgot.status, 202, "{}", forgot.text);
    let received = smtp.wait_for(2).await;
    let reset = &received[1].message;
    assert!(
        reset.text.contains("action=password_reset"),
        "{}",
        reset.text
    );
    let digits = app.services().settings.accounts.reset_code_digits as usize;
    let by_code = app
        .post_json(
            "/auth/password/reset",
            &json!({ "email": email, "code": code(reset, digits), "new_password": "a new and long passphrase" }),
        )
        .await;
    assert_eq!(by_code.status, 204, "{}", by_code.text);
    assert_eq!(app.try_login(&email, PASSWORD).await.status, 401);
    assert_eq!(
        app.try_login(&email, "a new and long passphrase")
            .await
            .status,
        200
    );

    // The notice of the change, then a second reset by the link this time.
    let received = smtp.wait_for(3).await;
    assert!(
        received[2]
            .message
            .header("subject")
            .unwrap_or_default()
            .to_lowercase()
            .contains("password"),
        "the password_changed notice"
    );
    app.post_json("/auth/password/forgot", &json!({ "email": email }))
        .await;
    let received = smtp.wait_for(4).await;
    let by_link = app
        .post_json(
            "/auth/password/reset",
            &json!({ "token": link_token(&received[3].message), "new_password": "yet another long passphrase" }),
        )
        .await;
    assert_eq!(by_link.status, 204, "{}", by_link.text);
    assert_eq!(
        app.try_login(&email, "yet another long passphrase")
            .await
            .status,
        200
    );
}
