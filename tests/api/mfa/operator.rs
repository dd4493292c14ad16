//! The operator's command for a user who lost both the device and the
//! recovery codes, through the binary, on both stores: `authd users
//! remove-factors EMAIL` removes every factor and code, ends every session
//! (an access token of one is refused, its refresh token too), audits the
//! removal with the actor `operator:cli`, and the owner is told; the user
//! then signs in with the password alone. An unknown address or an account
//! without a factor changes nothing and exits non-zero.

use std::process::Command;

use serde_json::json;

use super::{challenge, enrolled, verify};
use crate::helpers::{Backend, TestApp, jwt_claims, spawn_app};

crate::on_both_stores!(remove_factors_ends_every_factor_and_session_and_tells_the_owner);

/// Runs the binary on the app's database and data directory (its refresh
/// key, so the queued notice opens at the server): success, stdout, stderr.
fn authd(app: &TestApp, args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_authd"))
        .args(args)
        .env("AUTHD__DATA_DIR", &app.services().settings.data_dir)
        .env("AUTHD__DATABASE__URL", app.database_url())
        .env_remove("AUTHD_CONFIG")
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

async fn remove_factors_ends_every_factor_and_session_and_tells_the_owner(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = enrolled(&app).await;
    let c = challenge(&app, &user.email).await;
    let signed_in = verify(&app, &c, &user.code(&app)).await;
    assert_eq!(signed_in.status, 200, "{}", signed_in.text);
    let (other, _) = app.user_with_tokens().await;

    let (ok, _, err) = authd(&app, &["users", "remove-factors", "nobody@example.com"]);
    assert!(!ok && err.contains("no account"), "{err}");
    let (ok, _, err) = authd(&app, &["users", "remove-factors", &other]);
    assert!(!ok && err.contains("no second factor"), "{err}");
    assert!(app.access_works(&user.access).await, "nothing changed");

    let (ok, out, err) = authd(&app, &["users", "remove-factors", &user.email]);
    assert!(ok, "{err}");
    assert!(out.contains("10 recovery codes"), "{out}");
    assert!(out.contains("2 sessions ended"), "{out}");

    // Every session ended: access and refresh tokens are refused.
    assert!(!app.access_works(&user.access).await);
    assert!(!app.access_works(&signed_in.access_token()).await);
    let refreshed = app.refresh_body(&signed_in.refresh_token()).await;
    assert_eq!(refreshed.status, 401, "{}", refreshed.text);
    // The password alone signs in now.
    let login = app.login_body(&user.email).await;
    assert_eq!(jwt_claims(&login.access)["amr"], json!(["pwd"]));
    let status = app.get_bearer("/auth/mfa", &login.access).await;
    assert_eq!(
        status.body,
        json!({ "totp": false, "totp_pending": false, "recovery_codes_left": 0, "passkeys": 0 })
    );
    let id = app.user_id(&user.email).await;
    let event = app
        .audit_events(id)
        .await
        .into_iter()
        .find(|e| e.kind == "factor_removed")
        .expect("the removal is audited");
    assert_eq!(event.actor.as_deref(), Some("operator:cli"));
    assert_eq!(event.detail.as_deref(), Some("all"));
    // The owner is told, by the server's sender.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !app
        .mail_to(&user.email)
        .iter()
        .any(|m| m.subject.contains("second factor was removed"))
    {
        assert!(std::time::Instant::now() < deadline, "no notice");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // Once is enough.
    let (ok, _, err) = authd(&app, &["users", "remove-factors", &user.email]);
    assert!(!ok && err.contains("no second factor"), "{err}");
}
