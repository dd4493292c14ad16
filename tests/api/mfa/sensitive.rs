//! Step-up for sensitive actions, on both stores (RFC 9470): for a user
//! with a second factor, removing it, new recovery codes, a password change,
//! an email change request and adding a factor are refused (401
//! `insufficient_user_authentication`, with `WWW-Authenticate` naming
//! `acr_values="2"` and `max_age`) from a session signed in with the
//! password alone, and from one signed in with the factor longer ago than
//! `mfa.step_up_max_age_secs` (a refresh does not renew it); a session
//! signed in with the factor just now is accepted. A user without a factor
//! is asked for nothing more (the password and email change tests).

use serde_json::{Value, json};

use super::{Enrolled, enrolled, stepped_up};
use crate::helpers::{Backend, PASSWORD, Reply, TestApp, spawn_app_with};

crate::on_both_stores!(
    every_sensitive_change_needs_a_recent_second_factor,
    a_stale_second_factor_is_refused_even_after_a_refresh,
);

const MAX_AGE: u64 = 120;
const NEW_PASSWORD: &str = "another long passphrase here";

async fn app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |s| s.mfa.step_up_max_age_secs = MAX_AGE).await
}

/// The sensitive changes, each as (what, method, path, body); the removal
/// comes after the password change, with the new password.
fn changes() -> Vec<(&'static str, reqwest::Method, &'static str, Value)> {
    let new_email = format!("new-{}@example.com", uuid::Uuid::new_v4().simple());
    vec![
        (
            "new recovery codes",
            reqwest::Method::POST,
            "/auth/mfa/recovery-codes",
            json!({ "password": PASSWORD }),
        ),
        (
            "an email change",
            reqwest::Method::POST,
            "/auth/email/change",
            json!({ "new_email": new_email, "current_password": PASSWORD }),
        ),
        (
            "another factor",
            reqwest::Method::POST,
            "/auth/mfa/totp",
            json!({}),
        ),
        (
            "a password change",
            reqwest::Method::POST,
            "/auth/password",
            json!({ "current_password": PASSWORD, "new_password": NEW_PASSWORD }),
        ),
        (
            "removing the factor",
            reqwest::Method::DELETE,
            "/auth/mfa/totp",
            json!({ "password": NEW_PASSWORD }),
        ),
    ]
}

async fn send(
    app: &TestApp,
    access: &str,
    method: reqwest::Method,
    path: &str,
    body: &Value,
) -> Reply {
    app.send(
        app.client
            .request(method, app.url(path))
            .bearer_auth(access)
            .json(body),
    )
    .await
}

fn assert_step_up(reply: &Reply, what: &str) {
    assert_eq!(reply.status, 401, "{what}: {}", reply.text);
    assert_eq!(reply.error(), "insufficient_user_authentication", "{what}");
    let challenge = reply.header("www-authenticate").unwrap_or_default();
    for part in [
        "Bearer ",
        r#"error="insufficient_user_authentication""#,
        r#"acr_values="2""#,
        &format!("max_age={MAX_AGE}"),
    ] {
        assert!(challenge.contains(part), "{what}: {challenge}");
    }
}

async fn every_sensitive_change_needs_a_recent_second_factor(backend: Backend) {
    let app = app(backend).await;
    let user: Enrolled = enrolled(&app).await;
    // `user.access` signed in with the password, before the factor existed.
    for (what, method, path, body) in changes() {
        let reply = send(&app, &user.access, method, path, &body).await;
        assert_step_up(&reply, what);
    }
    assert!(
        app.mail_to(&user.email)
            .iter()
            .all(|m| !m.subject.contains("password was changed"))
    );
    // Signed in with the factor just now: each goes through.
    let access = stepped_up(&app, &user).await;
    for (what, method, path, body) in changes() {
        let reply = send(&app, &access, method, path, &body).await;
        let expected = match what {
            "new recovery codes" => 200,
            "an email change" => 202,
            "another factor" => 409,
            _ => 204,
        };
        assert_eq!(reply.status, expected, "{what}: {}", reply.text);
    }
}

async fn a_stale_second_factor_is_refused_even_after_a_refresh(backend: Backend) {
    let app = app(backend).await;
    let user = enrolled(&app).await;
    let c = super::challenge(&app, &user.email).await;
    let signed_in = super::verify(&app, &c, &user.code(&app)).await;
    assert_eq!(signed_in.status, 200, "{}", signed_in.text);
    let (method, path, body) = (
        reqwest::Method::POST,
        "/auth/mfa/recovery-codes",
        json!({ "password": PASSWORD }),
    );
    app.advance(i64::try_from(MAX_AGE).unwrap() - 30);
    let fresh = send(&app, &signed_in.access_token(), method.clone(), path, &body).await;
    assert_eq!(fresh.status, 200, "within the age: {}", fresh.text);
    app.advance(31);
    let stale = send(&app, &signed_in.access_token(), method.clone(), path, &body).await;
    assert_step_up(&stale, "stale");
    let refreshed = app.refresh_body(&signed_in.refresh_token()).await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.text);
    let again = send(&app, &refreshed.access_token(), method, path, &body).await;
    assert_step_up(&again, "stale, refreshed");
}
