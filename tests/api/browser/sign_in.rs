//! authd's hosted sign-in pages in Chromium, from a real app on another
//! origin: the example web app (`examples/web_app.rs`, the stock
//! `openidconnect` crate) on `127.0.0.1:PORT`, authd on `localhost:PORT`. The
//! login form, the consent page, single sign-on for a second app, the same
//! app again with no page at all, `prompt=login`, RP-initiated logout with
//! and without `id_token_hint`, and a wrong password.
//!
//! What only a browser shows: that Chromium follows the 303 out of authd
//! after a form's POST (it applies the pages' CSP `form-action` to that
//! redirect, so a page that did not allow the app's origin would leave the
//! user on authd's page, with a report in the console), which cookies it
//! keeps and sends across the two sites, where focus is, and that nothing
//! needs JavaScript.
//!
//! SQLite only, like the other browser tests: the rules these pages lean on
//! (the flow, consent, the browser session, logout, CSRF) are tested on both
//! stores without a browser (`authorize`, `oidc_rp`, `logout`, `pages`), and a
//! browser start costs seconds. A POST with a foreign CSRF token is refused
//! in `authorize`, without a browser.

use std::time::{Duration, Instant};

use fantoccini::Locator;
use fantoccini::elements::Element;
use fantoccini::key::Key;
use serde_json::json;

use super::page::{Page, in_browser, in_browser_without_javascript};
use crate::helpers::{OIDC_SCOPES, OidcClient, PASSWORD};
use crate::oidc_rp::web_app::WebApp;

/// How long a page may take to come before the test fails.
const PAGE_TIMEOUT: Duration = Duration::from_secs(15);

const SESSION_COOKIE: &str = "__Host-authd_session";

/// The example web app, registered at authd as a confidential client named
/// `name` with its callback and its signed-out page.
struct App {
    process: WebApp,
}

impl App {
    async fn start(page: &Page, name: &str) -> Self {
        let (port, base) = WebApp::free_base();
        let spec = authd::clients::ClientSpec {
            kind: authd::clients::ClientKind::Confidential,
            redirect_uris: vec![format!("{base}/callback")],
            post_logout_redirect_uris: vec![format!("{base}/signed-out")],
            ..authd::clients::ClientSpec::machine(name, OIDC_SCOPES)
        };
        // Development: an http:// loopback redirect URI for a confidential client.
        let policy = authd::clients::Policy { development: true };
        let (client, secret) =
            authd::clients::register(page.app.store(), spec, policy, page.app.now())
                .await
                .expect("the app is registered");
        let client = OidcClient {
            id: client.id.to_string(),
            secret: secret.map(|s| secrecy::ExposeSecret::expose_secret(&s).to_owned()),
        };
        Self {
            process: WebApp::run(&page.origin, &client, port).await,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.process.base)
    }
}

fn new_email() -> String {
    format!("user-{}@example.com", uuid::Uuid::new_v4().simple())
}

/// The address bar.
async fn url(page: &Page) -> String {
    page.browser
        .current_url()
        .await
        .expect("current url")
        .to_string()
}

/// The text of the page.
async fn body(page: &Page) -> String {
    let body = page.browser.find(Locator::Css("body")).await.expect("body");
    body.text().await.expect("text")
}

/// Waits until the address bar starts with `prefix` and returns it. On a
/// timeout the failure shows where the browser is and what its console said
/// (a request a CSP blocked is reported there).
async fn wait_for_url(page: &Page, prefix: &str) -> String {
    let started = Instant::now();
    loop {
        let at = url(page).await;
        if at.starts_with(prefix) {
            return at;
        }
        if started.elapsed() > PAGE_TIMEOUT {
            let text = body(page).await;
            let console = page.console().await;
            panic!(
                "the browser never reached {prefix}; it is at {at}: {text:?}; console: {console:#?}"
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the browser has left `here` and returns where it is.
async fn wait_to_leave(page: &Page, here: &str) -> String {
    let started = Instant::now();
    loop {
        let at = url(page).await;
        if at != here {
            return at;
        }
        assert!(
            started.elapsed() < PAGE_TIMEOUT,
            "the browser stayed at {here}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Nothing was blocked by a Content-Security-Policy since the last look.
async fn assert_nothing_blocked(page: &Page) {
    let reports: Vec<String> = page
        .console()
        .await
        .into_iter()
        .filter(|line| line.contains("Content Security Policy"))
        .collect();
    assert!(reports.is_empty(), "a CSP blocked: {reports:#?}");
}

/// The form field whose `<label>` says `label` (found through the label's
/// `for`, as a screen reader would tie them).
async fn field(page: &Page, label: &str) -> Element {
    let xpath = format!("//label[normalize-space(.)='{label}']");
    let tag = page
        .browser
        .find(Locator::XPath(&xpath))
        .await
        .unwrap_or_else(|e| panic!("no label {label:?}: {e}"));
    let id = tag.attr("for").await.expect("for").expect("a label for");
    page.browser
        .find(Locator::Id(&id))
        .await
        .expect("the field")
}

async fn button(page: &Page, text: &str) -> Element {
    let xpath = format!("//button[normalize-space(.)='{text}']");
    page.browser
        .find(Locator::XPath(&xpath))
        .await
        .unwrap_or_else(|e| panic!("no button {text:?}: {e}"))
}

async fn type_into(field: &Element, text: &str) {
    field.clear().await.expect("clear");
    field.send_keys(text).await.expect("type");
}

/// Fills the hosted login form by its labels and sends it with the Enter key.
async fn log_in(page: &Page, email: &str, password: &str) {
    type_into(&field(page, "Email").await, email).await;
    let enter = char::from(Key::Enter);
    type_into(
        &field(page, "Password").await,
        &format!("{password}{enter}"),
    )
    .await;
}

/// Opens `app`, follows its "Sign in with authd" link, and returns where the
/// browser stopped first after the app.
async fn start_sign_in(page: &Page, app: &App) -> String {
    page.open(&app.url("/")).await;
    let link = page
        .browser
        .find(Locator::LinkText("Sign in with authd"))
        .await
        .expect("the app's sign-in link");
    link.click().await.expect("click");
    wait_to_leave(page, &app.url("/")).await
}

/// Waits for `app`'s callback and checks it signed `email` in.
async fn signed_in_at(page: &Page, app: &App, email: &str) {
    wait_for_url(page, &app.url("/callback?")).await;
    let text = body(page).await;
    assert!(
        text.contains(&format!("Signed in as {email}")),
        "the app did not sign the user in: {text}"
    );
}

async fn history_length(page: &Page) -> i64 {
    page.js("return history.length;")
        .await
        .as_i64()
        .expect("a number")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_on_another_site_signs_in_by_login_and_consent_then_sso_and_prompt_login() {
    in_browser(|page| async move {
        let email = new_email();
        page.app.register(&email).await;
        let notes = App::start(&page, "Notes").await;
        let login = format!("{}/login?request=", page.origin);
        let consent = format!("{}/consent?request=", page.origin);

        // The app sends the browser to authd, which shows its login form.
        let at = start_sign_in(&page, &notes).await;
        assert!(at.starts_with(&login), "not the login form: {at}");
        assert!(body(&page).await.contains("to continue to Notes"));

        // The pages' headers, once (the same page, fetched outside the browser).
        let reply = page.app.send(page.app.client.get(&at)).await;
        assert_eq!(reply.status, 200);
        let csp = reply.header("content-security-policy").unwrap_or_default();
        for directive in [
            "default-src 'none'",
            "frame-ancestors 'none'",
            "form-action 'self'",
        ] {
            assert!(csp.contains(directive), "{csp}");
        }
        assert_eq!(reply.header("referrer-policy"), Some("no-referrer"));
        let app_origin = notes.url("");
        assert!(
            csp.contains(&format!("form-action 'self' {app_origin};")),
            "the login form's answer may lead to the app: {csp}"
        );

        // A wrong password: the form again, the error announced and tied to
        // the field, the email kept, and focus in the password field, where
        // the right one is typed and sent with Enter.
        log_in(&page, &email, "not my password at all").await;
        let started = Instant::now();
        let alert = loop {
            if let Ok(alert) = page.browser.find(Locator::Css("[role=alert]")).await {
                break alert;
            }
            assert!(
                started.elapsed() < PAGE_TIMEOUT,
                "no alert: {}",
                body(&page).await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(
            alert.text().await.expect("text"),
            "The email or password is not right."
        );
        assert_eq!(
            url(&page).await,
            format!("{}/login", page.origin),
            "the answer to the POST"
        );
        let alert_id = alert.attr("id").await.expect("id").expect("the alert's id");
        let email_field = field(&page, "Email").await;
        assert_eq!(
            email_field.attr("aria-describedby").await.expect("attr"),
            Some(alert_id)
        );
        assert_eq!(
            email_field.prop("value").await.expect("value"),
            Some(email.clone())
        );
        let focused = page.browser.active_element().await.expect("focus");
        assert_eq!(
            focused.attr("id").await.expect("id").as_deref(),
            Some("password")
        );
        let enter = char::from(Key::Enter);
        focused
            .send_keys(&format!("{PASSWORD}{enter}"))
            .await
            .expect("type");

        // The consent page: the app's name and its scopes in words.
        wait_for_url(&page, &consent).await;
        let text = body(&page).await;
        assert!(text.contains("Allow Notes to use your account?"), "{text}");
        for scope in ["Know who you are", "See your email address"] {
            assert!(text.contains(scope), "{scope:?} is not shown: {text}");
        }
        // The browser session's cookie, as the browser holds it.
        let cookie = page
            .cookie(SESSION_COOKIE)
            .await
            .expect("the browser holds the session cookie");
        assert_eq!(cookie.http_only(), Some(true));
        assert_eq!(cookie.secure(), Some(true));
        assert_eq!(cookie.path(), Some("/"));
        assert_eq!(cookie.domain(), Some("localhost"), "host-only");
        assert_eq!(
            cookie.same_site().map(|s| s.to_string()).as_deref(),
            Some("Lax")
        );
        assert_eq!(
            page.js("return document.cookie;").await,
            json!(""),
            "a script reads the session cookie"
        );

        // Allowed: the 303 that answers the POST leads out of authd to the
        // app's origin, which the page's form-action allows. The app
        // exchanged the code (PKCE) and verified the ID token.
        assert_nothing_blocked(&page).await;
        button(&page, "Allow").await.click().await.expect("click");
        signed_in_at(&page, &notes, &email).await;
        assert_nothing_blocked(&page).await;
        assert_eq!(
            page.js("return document.referrer;").await,
            json!(""),
            "authd's address reached the app as the Referer"
        );

        // Single sign-on: a second app in the same browser gets the consent
        // page only, sent with Enter on its focused Allow button.
        let calendar = App::start(&page, "Calendar").await;
        let at = start_sign_in(&page, &calendar).await;
        assert!(at.starts_with(&consent), "not the consent page: {at}");
        assert!(
            body(&page)
                .await
                .contains("Allow Calendar to use your account?")
        );
        let focused = page.browser.active_element().await.expect("focus");
        assert_eq!(focused.text().await.expect("text"), "Allow");
        focused.send_keys(&enter.to_string()).await.expect("Enter");
        signed_in_at(&page, &calendar, &email).await;

        // The first app again: straight back, no page of authd between (the
        // history grows by the callback alone).
        page.open(&notes.url("/")).await;
        let before = history_length(&page).await;
        let at = start_sign_in(&page, &notes).await;
        assert!(
            at.starts_with(&notes.url("/callback?")),
            "a page shown: {at}"
        );
        signed_in_at(&page, &notes, &email).await;
        assert_eq!(history_length(&page).await, before + 1);

        // prompt=login: the login form despite the browser session; signing
        // in again leads straight out to the app (consent is remembered): the
        // login POST's 303 leaves authd.
        page.open(&notes.url("/login?prompt=login")).await;
        wait_for_url(&page, &login).await;
        let old = page
            .cookie(SESSION_COOKIE)
            .await
            .expect("the session cookie");
        log_in(&page, &email, PASSWORD).await;
        signed_in_at(&page, &notes, &email).await;
        assert_nothing_blocked(&page).await;
        page.goto("/assets/authd.css").await;
        let new = page.cookie(SESSION_COOKIE).await.expect("a session cookie");
        assert_ne!(
            new.value(),
            old.value(),
            "signing in again started a new session"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_javascript_an_app_signs_in_and_out_through_authd_with_and_without_the_hint() {
    in_browser_without_javascript(|page| async move {
        // Scripts are off in the pages (a page's own script does not run).
        page.open("data:text/html,<p%20id=s>off</p><script>s.textContent='on'</script>")
            .await;
        assert_eq!(page.text("s").await, "off", "scripts run");

        let email = new_email();
        page.app.register(&email).await;
        let notes = App::start(&page, "Notes").await;
        let login = format!("{}/login?request=", page.origin);

        let at = start_sign_in(&page, &notes).await;
        assert!(at.starts_with(&login), "not the login form: {at}");
        log_in(&page, &email, PASSWORD).await;
        wait_for_url(&page, &format!("{}/consent?request=", page.origin)).await;
        button(&page, "Allow").await.click().await.expect("click");
        signed_in_at(&page, &notes, &email).await;

        // With the hint (the app kept the ID token): authd ends its browser
        // session at once and sends the browser back to the app.
        button(&page, "Sign out")
            .await
            .click()
            .await
            .expect("click");
        wait_for_url(&page, &notes.url("/signed-out")).await;
        assert!(body(&page).await.contains("Signed out"));
        // The browser session ended: the app's next sign-in shows the form.
        let at = start_sign_in(&page, &notes).await;
        assert!(at.starts_with(&login), "no login form after logout: {at}");
        log_in(&page, &email, PASSWORD).await;
        signed_in_at(&page, &notes, &email).await;

        // Without the hint (the app lost its ID token): authd asks first, and
        // its confirmation form's POST is answered with a 303 to the app's
        // origin, which the page's form-action allows.
        page.browser
            .delete_cookie("web_app_id_token")
            .await
            .expect("delete the app's cookie");
        assert!(page.cookie("web_app_id_token").await.is_none());
        button(&page, "Sign out")
            .await
            .click()
            .await
            .expect("click");
        wait_for_url(&page, &format!("{}/oauth/logout?", page.origin)).await;
        let text = body(&page).await;
        assert!(text.contains("Notes asks to sign you out"), "{text}");
        assert_nothing_blocked(&page).await;
        button(&page, "Sign out")
            .await
            .click()
            .await
            .expect("click");
        wait_for_url(&page, &notes.url("/signed-out")).await;
        assert_nothing_blocked(&page).await;

        let at = start_sign_in(&page, &notes).await;
        assert!(at.starts_with(&login), "no login form after logout: {at}");
    })
    .await;
}
