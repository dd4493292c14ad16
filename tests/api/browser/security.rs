//! The security page in Chromium: a user signs in on authd's own sign-in
//! of the page, enrols TOTP by reading the secret shown on the page (the QR
//! code beside it must load under the pages' CSP), sees the recovery codes,
//! signs out, and signs in again with the password and the code on the
//! hosted second step. No step needs a script of the page's own.
//!
//! SQLite only, like the other browser tests: the refusals are tested on
//! both stores without a browser (`pages::security`).

use std::time::{Duration, Instant};

use serde_json::json;

use super::page::{Page, in_browser};
use crate::helpers::PASSWORD;
use crate::mfa::totp_of;

const SESSION_COOKIE: &str = "__Host-authd_session";

/// Waits until the page's address ends with `path` and an element matches
/// the CSS `selector`.
async fn wait_for_page(page: &Page, path: &str, selector: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    let script = format!("return !!document.querySelector({selector:?});");
    loop {
        let href = page.href().await;
        let here = href.split('?').next().is_some_and(|h| h.ends_with(path));
        if here && page.js(&script).await == json!(true) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "not at {path} with {selector}: {href}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_enrols_totp_on_the_security_page_and_signs_in_again_with_the_code() {
    in_browser(|page| async move {
        let app = &page.app;
        let (email, _) = app.user_with_tokens().await;

        // Signed out, the page leads to its own sign-in.
        page.goto("/account/security").await;
        wait_for_page(&page, "/account/security/sign-in", "#email").await;
        page.fill("email", &email).await;
        page.fill("password", &format!("{PASSWORD}\n")).await;
        wait_for_page(&page, "/account/security", "#start-totp").await;
        assert!(page.cookie(SESSION_COOKIE).await.is_some());

        // Enrolment: the QR code loads (the CSP allows its data: URI), the
        // secret is read from the page and its code confirms it.
        page.click("start-totp").await;
        wait_for_page(&page, "/account/security/totp", "#secret").await;
        let drawn = page
            .js("const q = document.getElementById('qr'); return q.complete && q.naturalWidth > 0;")
            .await;
        assert_eq!(drawn, json!(true), "the QR code is drawn");
        let secret = page.text("secret").await;
        let totp = totp_of(secret.trim());
        let code = totp.generate(u64::try_from(app.now().timestamp()).unwrap());
        page.fill("code", &format!("{code}\n")).await;
        wait_for_page(&page, "/account/security/totp/confirm", "#codes").await;
        let codes = page
            .js("return document.querySelectorAll('#codes li').length;")
            .await;
        assert_eq!(codes, json!(10), "ten recovery codes");
        page.click("done").await;
        wait_for_page(&page, "/account/security", "#remove-totp").await;
        assert!(page.text("totp-status").await.starts_with("On"));
        assert!(page.text("codes-left").await.starts_with("10 of 10"));
        let blocked: Vec<String> = page
            .console()
            .await
            .into_iter()
            .filter(|l| l.contains("Content Security Policy"))
            .collect();
        assert!(blocked.is_empty(), "{blocked:?}");

        // Signing out ends the browser session.
        page.click("sign-out").await;
        wait_for_page(&page, "/oauth/logout", r#"form[action="/logout/confirm"]"#).await;
        page.js(r#"document.querySelector('form[action="/logout/confirm"] button').click();"#)
            .await;
        wait_for_page(&page, "/logout/done", "main").await;
        assert!(page.cookie(SESSION_COOKIE).await.is_none());

        // Signing in again asks for the code after the password.
        app.advance(30);
        page.goto("/account/security").await;
        wait_for_page(&page, "/account/security/sign-in", "#email").await;
        page.fill("email", &email).await;
        page.fill("password", &format!("{PASSWORD}\n")).await;
        wait_for_page(&page, "/account/security/sign-in", "#code").await;
        assert!(
            page.cookie(SESSION_COOKIE).await.is_none(),
            "no session before the code"
        );
        let code = totp.generate(u64::try_from(app.now().timestamp()).unwrap());
        page.fill("code", &format!("{code}\n")).await;
        wait_for_page(&page, "/account/security", "#remove-totp").await;
        assert!(page.cookie(SESSION_COOKIE).await.is_some());
    })
    .await;
}
