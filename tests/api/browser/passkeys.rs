//! Passkeys on authd's hosted pages in Chromium, with WebDriver's virtual
//! authenticator (a platform authenticator that keeps discoverable
//! credentials and verifies its user): a user adds a passkey on the
//! security page, signs out, and signs in to an app with the passkey alone
//! on the hosted login page, by its button and by the email field's
//! autofill; and a password followed by the passkey as the hosted second
//! step. The pages' one script (`/assets/passkeys.js`) must run under their
//! policy, and nothing may be blocked by it.
//!
//! And the demo SPA: a signed-in user adds a passkey through the JSON API
//! (`/auth/passkeys/register/*`), signs out, and signs in with it alone
//! (`/auth/passkey/*`, cookie delivery).
//!
//! Chromium answers an autofill (conditional) request at once when the
//! virtual authenticator holds a discoverable passkey of the site: it picks
//! it as a user would. So a test that needs the page to wait (the button;
//! the password first) takes the passkey out of the authenticator while
//! the page loads, and puts it back (WebDriver's Add Credential) after.
//!
//! SQLite only, like the other browser tests: the pages' refusals are tested
//! on both stores without a browser (`pages::passkeys`), with a software
//! authenticator.

use std::time::{Duration, Instant};

use serde_json::json;

use super::page::{Page, in_browser};
use crate::helpers::PASSWORD;

const SESSION_COOKIE: &str = "__Host-authd_session";

/// Waits until the page's address (before its query) ends with `path` and
/// `script` (an expression) is true.
async fn wait_until(page: &Page, path: &str, script: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    let script = format!("return !!({script});");
    loop {
        let href = page.href().await;
        let here = href.split('?').next().is_some_and(|h| h.ends_with(path));
        if here && page.js(&script).await == json!(true) {
            return;
        }
        if Instant::now() >= deadline {
            let console = page.console().await;
            let error = page
                .js("const e = document.querySelector('.passkey-error'); return e ? e.textContent : null;")
                .await;
            panic!(
                "not at {path} with {script}: {href}; the page says {error}; the console: {console:#?}"
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What the console says the policy blocked (nothing, if all is well).
async fn csp_blocked(page: &Page) -> Vec<String> {
    page.console()
        .await
        .into_iter()
        .filter(|l| l.contains("Content Security Policy"))
        .collect()
}

/// Whether the passkey form `id`'s button is shown (the script unhid it).
fn shown(id: &str) -> String {
    format!(
        "document.getElementById('{id}') && !document.getElementById('{id}').closest('form').hidden"
    )
}

/// Signs in on the security page with the password and adds a passkey
/// named `name` (the account's first factor: its recovery codes are shown),
/// then signs out.
async fn enrol_and_sign_out(page: &Page, email: &str, authenticator: &str, name: &str) {
    page.goto("/account/security").await;
    wait_until(
        page,
        "/account/security/sign-in",
        "document.getElementById('email')",
    )
    .await;
    page.fill("email", email).await;
    page.fill("password", &format!("{PASSWORD}\n")).await;
    wait_until(
        page,
        "/account/security",
        "document.getElementById('add-passkey')",
    )
    .await;
    assert!(page.text("passkeys-status").await.starts_with("None"));

    page.click("add-passkey").await;
    wait_until(page, "/account/security/passkeys", &shown("create-passkey")).await;
    page.fill("passkey-name", name).await;
    page.click("create-passkey").await;
    wait_until(
        page,
        "/account/security/passkeys/confirm",
        "document.getElementById('codes')",
    )
    .await;
    assert_eq!(page.text("enrolled").await, "Your passkey is set up.");
    let codes = page
        .js("return document.querySelectorAll('#codes li').length;")
        .await;
    assert_eq!(codes, json!(10), "ten recovery codes with the first factor");
    assert_eq!(page.authenticator_credentials(authenticator).await.len(), 1);

    page.click("done").await;
    wait_until(
        page,
        "/account/security",
        "document.getElementById('passkey-list')",
    )
    .await;
    assert_eq!(
        page.js("return [...document.querySelectorAll('#passkey-list .passkey-name')].map(e => e.textContent);")
            .await,
        json!([name])
    );
    let blocked = csp_blocked(page).await;
    assert!(blocked.is_empty(), "{blocked:?}");

    page.click("sign-out").await;
    confirm_sign_out(page).await;
}

/// Signs out of authd from any page.
async fn sign_out(page: &Page) {
    page.goto("/oauth/logout").await;
    confirm_sign_out(page).await;
}

async fn confirm_sign_out(page: &Page) {
    wait_until(
        page,
        "/oauth/logout",
        r#"document.querySelector('form[action="/logout/confirm"]')"#,
    )
    .await;
    page.js(r#"document.querySelector('form[action="/logout/confirm"] button').click();"#)
        .await;
    wait_until(page, "/logout/done", "document.querySelector('main')").await;
    assert!(page.cookie(SESSION_COOKIE).await.is_none());
}

/// Opens an authorization of a new client: the hosted login page.
async fn authorize(page: &Page) {
    open_authorization(page).await;
    wait_until(page, "/login", "document.getElementById('email')").await;
}

async fn open_authorization(page: &Page) {
    let client = crate::authorize::support::client(&page.app).await;
    let query = crate::authorize::support::query(&client, &[]);
    page.goto(&format!("/oauth/authorize?{query}")).await;
}

/// Waits for the consent page: the sign-in is done.
async fn wait_for_consent(page: &Page) {
    wait_until(page, "/consent", "document.querySelector('main')").await;
    assert!(page.cookie(SESSION_COOKIE).await.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passkey_added_on_the_security_page_signs_in_alone_on_the_hosted_login() {
    in_browser(|page| async move {
        let authenticator = page.add_virtual_authenticator().await;
        let (email, _) = page.app.user_with_tokens().await;
        enrol_and_sign_out(&page, &email, &authenticator, "Laptop").await;

        // The button: the page loads with an empty authenticator (its
        // autofill request finds nothing and waits), the passkey comes back,
        // and the button's prompt (the autofill request aborted first) finds
        // it without an email.
        let passkey = take_passkey(&page, &authenticator).await;
        authorize(&page).await;
        let field = page
            .js("return document.getElementById('email').getAttribute('autocomplete');")
            .await;
        assert_eq!(
            field,
            json!("username webauthn"),
            "autofill offers passkeys"
        );
        wait_until(&page, "/login", &shown("passkey-sign-in")).await;
        page.add_authenticator_credential(&authenticator, passkey)
            .await;
        page.js("document.getElementById('passkey-sign-in').click();")
            .await;
        wait_for_consent(&page).await;
        let blocked = csp_blocked(&page).await;
        assert!(blocked.is_empty(), "{blocked:?}");
        sign_out(&page).await;

        // The autofill: the passkey is offered as the login page loads, and
        // taken (signed out, so nothing but the passkey leads to consent).
        open_authorization(&page).await;
        wait_for_consent(&page).await;
        let blocked = csp_blocked(&page).await;
        assert!(blocked.is_empty(), "{blocked:?}");

        let user = page.app.user_id(&email).await;
        let logins = page
            .app
            .audit_kinds(user)
            .await
            .into_iter()
            .filter(|k| k == "login_succeeded")
            .count();
        assert!(
            logins >= 3,
            "the password, then the passkey twice: {logins}"
        );
    })
    .await;
}

/// Takes the one passkey out of the virtual authenticator: the credential
/// to put back.
async fn take_passkey(page: &Page, authenticator: &str) -> serde_json::Value {
    let mut held = page.authenticator_credentials(authenticator).await;
    assert_eq!(held.len(), 1, "{held:?}");
    page.remove_authenticator_credentials(authenticator).await;
    held.remove(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_then_the_passkey_on_the_hosted_second_step() {
    in_browser(|page| async move {
        let authenticator = page.add_virtual_authenticator().await;
        let (email, _) = page.app.user_with_tokens().await;
        enrol_and_sign_out(&page, &email, &authenticator, "Phone").await;

        // The login page's autofill would take the passkey at once: the
        // page loads without it.
        let passkey = take_passkey(&page, &authenticator).await;
        authorize(&page).await;
        page.fill("email", &email).await;
        page.fill("password", &format!("{PASSWORD}\n")).await;
        wait_until(&page, "/login", &shown("passkey-second-factor")).await;
        page.add_authenticator_credential(&authenticator, passkey)
            .await;
        assert!(
            page.cookie(SESSION_COOKIE).await.is_none(),
            "no session before the second factor"
        );
        page.js("document.getElementById('passkey-second-factor').click();")
            .await;
        wait_for_consent(&page).await;
        let blocked = csp_blocked(&page).await;
        assert!(blocked.is_empty(), "{blocked:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_adds_a_passkey_and_signs_in_with_it_alone() {
    in_browser(|page| async move {
        let authenticator = page.add_virtual_authenticator().await;
        let email = page.sign_in_new_user().await;
        page.click("add-passkey").await;
        page.wait_for_notice("Passkey added: Passkey.").await;
        let codes = page.text("recovery-codes").await;
        assert_eq!(codes.lines().count(), 11, "ten codes, shown once: {codes}");
        assert_eq!(page.text("passkeys").await, "Passkey");
        assert_eq!(
            page.authenticator_credentials(&authenticator).await.len(),
            1
        );

        page.click("logout").await;
        assert_eq!(page.wait_for("signed-out").await, "signed out");
        assert!(page.refresh_cookie().await.is_none());
        page.click("passkey-login").await;
        assert_eq!(
            page.wait_for("signed-in").await,
            format!("signed in as {email}")
        );
        assert!(page.refresh_cookie().await.is_some(), "cookie delivery");
        let blocked = csp_blocked(&page).await;
        assert!(blocked.is_empty(), "{blocked:?}");
    })
    .await;
}
