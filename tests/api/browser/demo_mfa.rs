//! The demo SPA's second factor in Chromium: a signed-in user sets up an
//! authenticator app from the page (the secret read off the page, its code
//! computed here), sees the recovery codes once, signs out; signing in again,
//! the password alone leaves the page signed out with no refresh cookie and
//! asks for the code; a wrong code is refused and the right one signs in.
//! A recovery code then signs in once. Under `mfa.required`, a user without a
//! factor sets one up at sign-in (a wrong first code refused, no cookie before
//! the right one) and is signed in with the recovery codes shown.

use std::time::{Duration, Instant};

use serde_json::json;

use super::page::{Page, in_browser, in_browser_with};
use crate::mfa::totp_of;

/// Waits until the element `id` is shown and its text starts with `prefix`
/// (any text, for ""); returns the text.
async fn wait_for_text(page: &Page, id: &str, prefix: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    let script = format!(
        "const e = document.getElementById({id:?}); \
         return e && e.offsetParent !== null ? e.textContent : '';"
    );
    loop {
        let text = page.js(&script).await;
        let text = text.as_str().unwrap_or_default().trim().to_owned();
        if !text.is_empty() && text != "–" && text.starts_with(prefix) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "#{id} shows {text:?}, not {prefix:?}..."
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_sets_up_totp_and_asks_for_the_code_at_the_next_sign_in() {
    in_browser(|page| async move {
        let app = &page.app;
        let email = page.sign_in_new_user().await;
        wait_for_text(&page, "totp-status", "off").await;

        page.click("totp-start").await;
        let secret = wait_for_text(&page, "totp-secret", "").await;
        wait_for_text(&page, "totp-uri", "otpauth://totp/").await;
        let totp = totp_of(&secret);
        let code = totp.generate(u64::try_from(app.now().timestamp()).unwrap());
        page.fill("totp-confirm-code", &format!("{code}\n")).await;
        wait_for_text(&page, "totp-status", "on (10 recovery codes left)").await;
        let codes = page
            .js("return [...document.querySelectorAll('#recovery-codes li')].map(l => l.textContent);")
            .await;
        let codes: Vec<String> = serde_json::from_value(codes).unwrap();
        assert_eq!(codes.len(), 10, "ten recovery codes, shown once");
        assert_eq!(page.text("totp-secret").await, "", "the secret is gone from the page");

        page.click("logout").await;
        page.wait_for("signed-out").await;

        // The password alone: no session, no cookie, the code asked for.
        app.advance(30);
        page.submit(&email, "login").await;
        assert_eq!(page.wait_for("mfa").await, "second factor needed");
        assert!(page.refresh_cookie().await.is_none(), "no session before the code");
        page.fill("mfa-code", "000000\n").await;
        assert_eq!(page.wait_for_error().await.0, "invalid_mfa_code");
        assert!(page.refresh_cookie().await.is_none());
        let code = totp.generate(u64::try_from(app.now().timestamp()).unwrap());
        page.fill("mfa-code", &format!("{code}\n")).await;
        assert_eq!(
            page.wait_for("signed-in").await,
            format!("signed in as {email}")
        );
        assert!(page.refresh_cookie().await.is_some());
        let amr = page
            .js_async("fetch('/auth/refresh', {method: 'POST', credentials: 'include'}) \
                 .then(r => r.json()).then(t => done(JSON.parse(atob(t.access_token.split('.')[1] \
                 .replace(/-/g, '+').replace(/_/g, '/'))).amr));")
            .await;
        assert_eq!(amr, json!(["pwd", "otp", "mfa"]));

        // A recovery code, once.
        page.click("logout").await;
        page.wait_for("signed-out").await;
        page.submit(&email, "login").await;
        page.wait_for("mfa").await;
        page.fill("mfa-code", &format!("{}\n", codes[0])).await;
        page.wait_for("signed-in").await;
        page.click("logout").await;
        page.wait_for("signed-out").await;
        page.submit(&email, "login").await;
        page.wait_for("mfa").await;
        page.fill("mfa-code", &format!("{}\n", codes[0])).await;
        assert_eq!(page.wait_for_error().await.0, "invalid_mfa_code");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_the_policy_the_demo_enrols_a_factor_at_sign_in() {
    in_browser_with(
        |s| s.mfa.required = true,
        |page| async move {
            let app = &page.app;
            let email = format!("user-{}@example.com", uuid::Uuid::new_v4().simple());
            app.register(&email).await;
            page.goto("/demo/").await;
            page.wait_for("signed-out").await;
            page.submit(&email, "login").await;
            assert_eq!(
                page.wait_for("mfa-enrol").await,
                "a second factor is required"
            );
            let secret = wait_for_text(&page, "enrol-secret", "").await;
            wait_for_text(&page, "enrol-uri", "otpauth://totp/").await;
            assert!(page.refresh_cookie().await.is_none(), "no session yet");

            page.fill("enrol-code", "000000\n").await;
            assert_eq!(page.wait_for_error().await.0, "invalid_mfa_code");
            assert!(page.refresh_cookie().await.is_none());

            let totp = totp_of(&secret);
            let code = totp.generate(u64::try_from(app.now().timestamp()).unwrap());
            page.fill("enrol-code", &format!("{code}\n")).await;
            assert_eq!(
                page.wait_for("signed-in").await,
                format!("signed in as {email}")
            );
            assert!(page.refresh_cookie().await.is_some());
            let codes = page
                .js("return document.querySelectorAll('#recovery-codes li').length;")
                .await;
            assert_eq!(codes, json!(10), "the recovery codes, shown once");
            wait_for_text(&page, "totp-status", "on (10 recovery codes left)").await;
        },
    )
    .await;
}
