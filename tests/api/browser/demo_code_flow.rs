//! "Sign in with authd" in the demo, in Chromium: the page as a public client
//! of the authorization code flow with PKCE (`code_flow.js`), through authd's
//! hosted login and consent pages and back. What the page keeps where, what
//! it refuses before any token request, and RP-initiated logout back to it.
//! The protocol's rules (PKCE, single use, state and iss on the redirect) are
//! tested on both stores by the authorization and token tests; these test the
//! page's side. Also, without a browser: the start-up check of
//! `demo.client_id` and what `/demo/config.json` tells the page.

use std::time::{Duration, Instant};

use fantoccini::Locator;
use serde_json::{Value, json};

use authd::clients::{ClientKind, ClientSpec, Policy};
use authd::config::Settings;

use crate::helpers::{Backend, PASSWORD, TestApp, spawn_app_with, test_settings};

use super::page::{Page, in_browser_with};

/// The key of the round trip's verifier, state and nonce in sessionStorage.
const PENDING: &str = "authd-demo-sign-in";
const WAIT: Duration = Duration::from_secs(15);

fn new_email() -> String {
    format!("user-{}@example.com", uuid::Uuid::new_v4().simple())
}

/// Registers the demo's public client in the database `settings` name (its
/// redirect and post-logout URI the demo's URL, the scopes it asks for)
/// before authd starts on it, as an operator runs `authd clients create`
/// before setting `demo.client_id`; returns its id. On a thread and runtime
/// of its own: the settings hook is synchronous, and runs inside the test's.
fn register_demo_client(settings: &Settings, tweak: impl FnOnce(&mut ClientSpec)) -> String {
    let database = settings.database.clone();
    let url = settings.demo_url();
    let mut spec = ClientSpec {
        kind: ClientKind::Public,
        redirect_uris: vec![url.clone()],
        post_logout_redirect_uris: vec![url],
        ..ClientSpec::machine("Demo", "openid email")
    };
    tweak(&mut spec);
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async {
            let store = authd::store::Store::connect(&database)
                .await
                .expect("the store");
            let policy = Policy { development: true };
            let (client, _) = authd::clients::register(&store, spec, policy, chrono::Utc::now())
                .await
                .expect("the demo's client registered");
            client.id
        })
    })
    .join()
    .expect("the registering thread")
}

/// The settings of a demo whose client is registered (`first_party`: no
/// consent page).
fn with_demo_client(first_party: bool) -> impl FnOnce(&mut Settings) {
    move |s| {
        let id = register_demo_client(s, |spec| spec.first_party = first_party);
        s.demo.client_id = Some(id);
    }
}

/// Requests to `route` so far, whatever their answer.
async fn requests(app: &TestApp, route: &str) -> u64 {
    let label = format!(r#"route="{route}""#);
    let metrics = app.metrics().await.text;
    metrics
        .lines()
        .filter(|l| l.starts_with("authd_http_requests_total{") && l.contains(&label))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

async fn token_requests(app: &TestApp) -> u64 {
    requests(app, "/oauth/token").await
}

/// Polls `script` until it returns `want`.
async fn wait_until(page: &Page, script: &str, want: Value) {
    let started = Instant::now();
    loop {
        let seen = page.js(script).await;
        if seen == want {
            return;
        }
        assert!(
            started.elapsed() < WAIT,
            "{script} gives {seen}, not {want}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn wait_for_path(page: &Page, path: &str) {
    wait_until(page, "return location.pathname;", json!(path)).await;
}

/// The demo, signed out, once its "Sign in with authd" button is shown.
async fn open_demo(page: &Page) {
    page.goto("/demo/").await;
    wait_for_button(page).await;
}

async fn wait_for_button(page: &Page) {
    page.wait_for("signed-out").await;
    wait_until(
        page,
        "return !document.getElementById('code-flow').hidden;",
        json!(true),
    )
    .await;
}

/// Clicks "Sign in with authd" and waits for authd's login page.
async fn start_sign_in(page: &Page) {
    page.click("authd-sign-in").await;
    wait_for_path(page, "/login").await;
}

/// What the tab holds in sessionStorage for the round trip, parsed.
async fn pending(page: &Page) -> Value {
    let stored = page
        .js(&format!("return sessionStorage.getItem('{PENDING}');"))
        .await;
    let stored = stored
        .as_str()
        .expect("the sign-in's verifier, state and nonce");
    serde_json::from_str(stored).expect("JSON")
}

async fn click_css(page: &Page, selector: &str) {
    let element = page
        .browser
        .find(Locator::Css(selector))
        .await
        .unwrap_or_else(|e| panic!("{selector}: {e}"));
    element.click().await.expect("click");
}

/// Signs in on authd's hosted login page.
async fn hosted_login(page: &Page, email: &str) {
    page.fill("email", email).await;
    page.fill("password", PASSWORD).await;
    click_css(page, "form button[type=submit]").await;
}

/// What the page keeps in storage (the cookies are HttpOnly: authd's
/// browser session's is not there).
const STORED: &str = "return [localStorage.length, sessionStorage.length, document.cookie];";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_in_with_authd_goes_through_login_and_consent_and_keeps_the_tokens_in_memory() {
    in_browser_with(with_demo_client(false), |page| async move {
        let email = new_email();
        page.app.register(&email).await;
        open_demo(&page).await;
        start_sign_in(&page).await;
        // The round trip's secrets wait in this tab, for the answer only.
        let round_trip = pending(&page).await;
        for key in ["verifier", "state", "nonce"] {
            let value = round_trip[key].as_str().expect(key);
            assert_eq!(value.len(), 43, "{key}: 32 random bytes, base64url");
        }
        let referrer = page.js("return document.referrer;").await;
        assert_eq!(referrer, json!(""), "no Referer leaves the demo");

        hosted_login(&page, &email).await;
        wait_for_path(&page, "/consent").await;
        let heading = page.browser.find(Locator::Css("h1")).await.expect("h1");
        assert_eq!(
            heading.text().await.expect("text"),
            "Allow Demo to use your account?",
            "not a first-party client: consent is asked"
        );
        click_css(&page, "button[value=allow]").await;

        assert_eq!(
            page.wait_for("signed-in-authd").await,
            format!("signed in with authd as {email}")
        );
        assert_eq!(
            page.href().await,
            page.demo_url(),
            "the code stays in the address bar"
        );
        assert_eq!(
            page.js(STORED).await,
            json!([0, 0, ""]),
            "the tokens are in memory only, and the round trip's secrets are gone"
        );
        assert_eq!(token_requests(&page.app).await, 1);
        let userinfo: Value =
            serde_json::from_str(&page.text("authd-userinfo").await).expect("userinfo JSON");
        assert_eq!(userinfo["email"], json!(email));
        assert_eq!(userinfo["sub"], json!(page.app.user_id(&email).await));
        // Not a first-party session: no refresh cookie was set.
        assert!(page.refresh_cookie().await.is_none());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_with_a_tampered_state_or_issuer_is_refused_by_the_page_before_any_token_request()
{
    in_browser_with(with_demo_client(false), |page| async move {
        let issuer = page.demo_url().trim_end_matches("/demo/").to_owned();
        for (tamper, refused) in [("state", "state_mismatch"), ("iss", "issuer_mismatch")] {
            open_demo(&page).await;
            start_sign_in(&page).await;
            let state = pending(&page).await["state"]
                .as_str()
                .expect("state")
                .to_owned();
            // An answer this tab did not ask for: a code sent with another
            // sign-in's state (an attacker's own, to sign the victim in as
            // the attacker), or sent by another issuer (a mix-up).
            let (state, iss) = match tamper {
                "state" => (format!("{state}x"), issuer.clone()),
                _ => (state, "https://evil.example".to_owned()),
            };
            let before = token_requests(&page.app).await;
            page.open(&format!(
                "{}?code=a-code-from-elsewhere&state={state}&iss={iss}",
                page.demo_url()
            ))
            .await;
            let (code, text) = page.wait_for_error().await;
            assert_eq!(code, refused, "{tamper}: {text}");
            assert_eq!(page.wait_for("signed-out").await, "signed out");
            assert_eq!(page.href().await, page.demo_url(), "{tamper}");
            assert_eq!(page.js(STORED).await, json!([0, 0, ""]), "{tamper}");
            assert_eq!(
                token_requests(&page.app).await,
                before,
                "{tamper}: the code went to the token endpoint"
            );
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_id_token_without_the_nonce_of_the_sign_in_is_refused_and_its_tokens_not_used() {
    in_browser_with(with_demo_client(false), |page| async move {
        let email = new_email();
        page.app.register(&email).await;
        open_demo(&page).await;
        start_sign_in(&page).await;
        // The tab's nonce is not the one authd was sent (as if the answer
        // were for another sign-in whose state leaked): authd's ID token
        // carries the one it was sent.
        page.js(&format!(
            "const p = JSON.parse(sessionStorage.getItem('{PENDING}'));
             p.nonce = p.nonce.slice(1) + 'x';
             sessionStorage.setItem('{PENDING}', JSON.stringify(p));"
        ))
        .await;
        hosted_login(&page, &email).await;
        wait_for_path(&page, "/consent").await;
        click_css(&page, "button[value=allow]").await;
        let (code, text) = page.wait_for_error().await;
        assert_eq!(code, "invalid_id_token", "{text}");
        assert_eq!(page.wait_for("signed-out").await, "signed out");
        assert_eq!(page.js(STORED).await, json!([0, 0, ""]));
        assert_eq!(token_requests(&page.app).await, 1, "the code was exchanged");
        assert_eq!(
            requests(&page.app, "/oauth/userinfo").await,
            0,
            "the access token was used"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_consent_comes_back_to_the_demo_as_an_error_it_shows() {
    in_browser_with(with_demo_client(false), |page| async move {
        let email = new_email();
        page.app.register(&email).await;
        open_demo(&page).await;
        start_sign_in(&page).await;
        hosted_login(&page, &email).await;
        wait_for_path(&page, "/consent").await;
        click_css(&page, "button[value=deny]").await;
        let (code, text) = page.wait_for_error().await;
        assert_eq!(code, "access_denied", "{text}");
        assert!(text.starts_with("authd answered access_denied"), "{text}");
        assert_eq!(page.wait_for("signed-out").await, "signed out");
        assert_eq!(page.href().await, page.demo_url());
        assert_eq!(page.js(STORED).await, json!([0, 0, ""]));
        assert_eq!(token_requests(&page.app).await, 0);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_out_of_authd_comes_back_to_the_demo_signed_out_and_a_new_sign_in_asks_again() {
    // A first-party client: no consent page.
    in_browser_with(with_demo_client(true), |page| async move {
        let email = new_email();
        page.app.register(&email).await;
        open_demo(&page).await;
        start_sign_in(&page).await;
        hosted_login(&page, &email).await;
        assert_eq!(
            page.wait_for("signed-in-authd").await,
            format!("signed in with authd as {email}")
        );

        // Signed in at authd: the button comes straight back, no form.
        page.reload().await;
        wait_for_button(&page).await;
        page.click("authd-sign-in").await;
        assert_eq!(
            page.wait_for("signed-in-authd").await,
            format!("signed in with authd as {email}"),
            "single sign-on through authd's browser session"
        );

        page.click("authd-logout").await;
        assert_eq!(page.wait_for("signed-out").await, "signed out");
        assert_eq!(page.href().await, page.demo_url(), "back at the demo");
        let user = page.app.user_id(&email).await;
        assert!(
            page.app
                .audit_kinds(user)
                .await
                .iter()
                .any(|k| k == "logout"),
            "authd ended its browser session"
        );

        // authd's browser session is gone: a new sign-in asks for the password.
        open_demo(&page).await;
        start_sign_in(&page).await;
        hosted_login(&page, &email).await;
        assert_eq!(
            page.wait_for("signed-in-authd").await,
            format!("signed in with authd as {email}")
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_demo_client_the_page_offers_no_sign_in_with_authd() {
    super::page::in_browser(|page| async move {
        page.goto("/demo/").await;
        page.wait_for("signed-out").await;
        let config = page
            .js_async("fetch('config.json').then((r) => r.json()).then(done);")
            .await;
        assert_eq!(config["client_id"], Value::Null);
        // The page's own read of config.json has settled by the time a
        // second one has: the button stays hidden.
        let shown = page
            .js_async(
                "fetch('config.json').then(() => setTimeout(() =>
                   done(!document.getElementById('code-flow').hidden), 100));",
            )
            .await;
        assert_eq!(shown, json!(false));
        assert!(!page.shown("authd-sign-in").await);
    })
    .await;
}

/// Settings that serve the demo on an http://localhost issuer, on a SQLite
/// database of their own in `dir`.
fn demo_settings(dir: &std::path::Path) -> Settings {
    let mut settings = test_settings(dir);
    settings.server.issuer = "http://localhost:8080".into();
    settings.demo.enabled = true;
    settings
}

async fn start(settings: Settings) -> Result<(), String> {
    let clock = std::sync::Arc::new(authd::clock::ManualClock::new(chrono::Utc::now()));
    authd::app::Application::build(settings, clock)
        .await
        .map(drop)
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn authd_does_not_start_with_a_demo_client_the_demo_could_not_sign_in_through() {
    let url = "http://localhost:8080/demo/";
    type Tweak = fn(&mut ClientSpec);
    let cases: [(Tweak, &str); 4] = [
        (|_| {}, ""),
        (
            |c| {
                c.kind = ClientKind::Confidential;
            },
            "is a confidential client; the demo is a page in a browser",
        ),
        (
            |c| c.redirect_uris = vec!["http://localhost:8080/demo".into()],
            "does not have the demo's URL http://localhost:8080/demo/ as a redirect URI",
        ),
        (
            |c| c.post_logout_redirect_uris.clear(),
            "as a post-logout redirect URI",
        ),
    ];
    for (tweak, refused) in cases {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = demo_settings(dir.path());
        settings.demo.client_id = Some(register_demo_client(&settings, tweak));
        let started = start(settings).await;
        if refused.is_empty() {
            assert_eq!(started, Ok(()), "the demo's client is refused");
        } else {
            let error = started.expect_err(refused);
            assert!(error.starts_with("demo.client_id: client_"), "{error}");
            assert!(error.contains(refused), "{refused}: {error}");
        }
    }

    let dir = tempfile::tempdir().unwrap();
    let mut settings = demo_settings(dir.path());
    settings.demo.client_id = Some("client_00000000000000000000000000000000".into());
    let error = start(settings).await.expect_err("an unknown client");
    assert!(
        error.contains(&format!(
            "no client client_00000000000000000000000000000000 is registered; register the \
             demo's with `authd clients create --kind public --name Demo --scope \"openid \
             email\" --redirect-uri {url} --post-logout-redirect-uri {url}`"
        )),
        "{error}"
    );

    // Not served, the demo's setting is not checked.
    let dir = tempfile::tempdir().unwrap();
    let mut settings = demo_settings(dir.path());
    settings.demo.enabled = false;
    settings.demo.on_local_issuer = false;
    settings.demo.client_id = Some("client_00000000000000000000000000000000".into());
    assert_eq!(start(settings).await, Ok(()));
}

#[tokio::test]
async fn config_json_names_the_demo_client_and_where_the_flow_comes_back_to() {
    let app = spawn_app_with(Backend::Sqlite, |s| s.demo.enabled = true).await;
    let reply = app.get("/demo/config.json").await;
    assert_eq!(reply.status, 200);
    assert!(
        reply
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/json"))
    );
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let config: Value = serde_json::from_str(&reply.text).unwrap();
    assert_eq!(
        config,
        json!({
            "client_id": null,
            "redirect_uri": "http://authd.test/demo/",
            "scope": "openid email",
        })
    );
    let script = app.get("/demo/code_flow.js").await;
    assert_eq!(script.status, 200);
    assert!(script.text.contains("code_challenge_method: 'S256'"));

    let off = spawn_app_with(Backend::Sqlite, |_| {}).await;
    assert_eq!(off.get("/demo/config.json").await.status, 404);
    assert_eq!(off.get("/demo/code_flow.js").await.status, 404);
}
