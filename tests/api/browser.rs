//! The browser pattern in a real browser: the demo app at `/demo/`, driven in
//! headless Chromium through chromedriver (WebDriver, with `fantoccini`); and
//! authd's hosted sign-in pages from an app on another origin (`sign_in`).
//!
//! These tests need Debian's `chromium` and `chromium-driver`. Without them they
//! pass without running and say so on stderr, unless `AUTHD_REQUIRE_BROWSER=1`
//! (CI), which turns the skip into a failure.
//!
//! They run on SQLite only: what they test is the browser's side (the cookie the
//! page cannot read, what survives a reload, two tabs sharing one cookie jar);
//! the rotation and grace rules they lean on are tested on both stores in
//! `refresh`, and a browser start costs seconds.

mod accounts;
mod demo_code_flow;
mod demo_mfa;
mod login_code;
mod mfa_enrol;
mod page;
mod passkeys;
mod security;
mod sign_in;

use fantoccini::Locator;
use serde_json::json;

use crate::helpers::{Backend, spawn_app, spawn_app_with};
use page::{in_browser, in_browser_with};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_keeps_the_refresh_token_from_scripts_and_a_reload_keeps_the_user_signed_in() {
    in_browser(|page| async move {
        let email = format!("user-{}@example.com", uuid::Uuid::new_v4().simple());
        page.goto("/demo/").await;
        assert_eq!(page.wait_for("signed-out").await, "signed out");
        page.submit(&email, "register").await;
        assert_eq!(
            page.wait_for("signed-in").await,
            format!("signed in as {email}")
        );
        let stored = "return [localStorage.length, sessionStorage.length, document.cookie];";
        assert_eq!(
            page.js(stored).await,
            json!([0, 0, ""]),
            "the demo stores nothing: the access token is in memory only"
        );

        // The demo's own page is under the cookie's Path=/, so document.cookie
        // would show it were it not HttpOnly.
        let cookie = page
            .refresh_cookie()
            .await
            .expect("the browser holds the __Host- refresh cookie");
        assert_eq!(cookie.http_only(), Some(true));
        assert_eq!(cookie.secure(), Some(true));
        assert_eq!(cookie.path(), Some("/"));
        assert_eq!(
            cookie.domain(),
            Some("localhost"),
            "host-only: WebDriver names a Domain cookie with a leading dot"
        );
        assert_eq!(
            cookie.same_site().map(|s| s.to_string()).as_deref(),
            Some("Strict")
        );
        let seen = page.js("return document.cookie;").await;
        assert!(
            !seen.as_str().expect("a string").contains("authd_refresh"),
            "document.cookie shows the refresh cookie: {seen}"
        );
        assert_eq!(page.js(stored).await, json!([0, 0, ""]));

        // A script can neither overwrite the HttpOnly cookie nor make authd
        // take a cookie of the unprefixed name (what a sibling subdomain could
        // plant) for it: the browser sends both, authd reads only its own.
        page.js(
            "document.cookie = '__Host-authd_refresh=forged; Path=/; Secure; SameSite=Strict';
             document.cookie = 'authd_refresh=planted; Path=/auth';",
        )
        .await;
        let kept = page
            .refresh_cookie()
            .await
            .expect("the cookie is still there");
        assert_eq!(
            kept.value(),
            cookie.value(),
            "a script overwrote the cookie"
        );
        assert!(page.cookie("authd_refresh").await.is_none(), "on /demo/");
        page.goto("/auth/me").await;
        assert_eq!(
            page.cookie("authd_refresh")
                .await
                .map(|c| c.value().to_owned()),
            Some("planted".to_owned()),
            "the browser holds the planted cookie and sends it to /auth"
        );

        // Nothing in the page survives a navigation or a reload but the
        // cookie: each load signs in again by a refresh the browser sent it
        // with (rotated, so it presented the current token).
        for reload in [false, true] {
            let rotated = page.refreshes("rotated");
            if reload {
                page.reload().await;
            } else {
                page.goto("/demo/").await;
            }
            assert_eq!(
                page.wait_for("signed-in").await,
                format!("signed in as {email}")
            );
            assert_eq!(page.refreshes("rotated"), rotated + 1, "reload: {reload}");
        }
        let rotated = page.refresh_cookie().await.expect("the rotated cookie");
        assert_ne!(
            rotated.value(),
            cookie.value(),
            "the browser kept the new token"
        );

        // Once the access token has expired, a call gets 401, and the page
        // refreshes and retries instead of signing out.
        page.app.advance(901);
        let rotated = page.refreshes("rotated");
        let me = page
            .js_async("demo.loadMe().then(done, (e) => done(String(e)));")
            .await;
        assert_eq!(me, json!(true), "the call succeeds after a refresh");
        assert_eq!(page.refreshes("rotated"), rotated + 1);
        assert_eq!(
            page.wait_for("signed-in").await,
            format!("signed in as {email}")
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_cookie_path_auth_the_browser_keeps_the_cookie_under_auth_and_sends_it_there() {
    in_browser_with(
        |s| s.refresh.cookie_path = "/auth".into(),
        |page| async move {
            let email = page.sign_in_new_user().await;
            // Not this page's cookie: its Path is /auth.
            assert!(page.cookie("authd_refresh").await.is_none());
            page.goto("/auth/me").await;
            let cookie = page
                .cookie("authd_refresh")
                .await
                .expect("the browser holds the unprefixed cookie");
            assert_eq!(cookie.path(), Some("/auth"));
            assert_eq!(cookie.http_only(), Some(true));
            assert_eq!(cookie.secure(), Some(true));
            assert!(page.refresh_cookie().await.is_none(), "no __Host- cookie");
            let seen = page.js("return document.cookie;").await;
            assert_eq!(seen, json!(""), "document.cookie shows the refresh cookie");

            let rotated = page.refreshes("rotated");
            page.goto("/demo/").await;
            assert_eq!(
                page.wait_for("signed-in").await,
                format!("signed in as {email}")
            );
            assert_eq!(
                page.refreshes("rotated"),
                rotated + 1,
                "a refresh by cookie"
            );
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_tabs_of_the_demo_refreshing_at_the_same_moment_both_stay_signed_in() {
    in_browser(|page| async move {
        let email = page.sign_in_new_user().await;
        let (a, b) = page.second_window().await;
        page.switch(&b).await;
        page.goto("/demo/").await;
        assert_eq!(
            page.wait_for("signed-in").await,
            format!("signed in as {email}"),
            "the second tab signs in from the shared cookie"
        );

        // Both tabs wait for the same instant of the browser's clock (a timer,
        // then a short spin for precision) and refresh: each presents the
        // cookie the jar holds then, the same one while neither answer has
        // arrived. Timers on a loaded machine can slip past the few
        // milliseconds a refresh takes, so the race is run until authd has
        // seen one (its grace outcome), at most ten times (in trials about six
        // runs in ten raced); every run must leave both tabs signed in.
        let arm = "const at = arguments[0];
                   window.race = new Promise((r) => setTimeout(r, at - 30 - Date.now()))
                     .then(() => { while (Date.now() < at) {}
                                   const started = Date.now();
                                   return demo.refresh().then((ok) => [ok, started]); });";
        let mut gaps = Vec::new();
        for _ in 0..10 {
            let grace = page.refreshes("grace");
            let at = page.js("return Date.now() + 300;").await;
            for window in [&b, &a] {
                page.switch(window).await;
                page.browser
                    .execute(arm, vec![at.clone()])
                    .await
                    .expect("arm the refresh");
            }
            let mut started = Vec::new();
            for (name, window) in [("A", &a), ("B", &b)] {
                page.switch(window).await;
                let outcome = page.js_async("window.race.then(done);").await;
                assert_eq!(outcome[0], json!(true), "tab {name}'s refresh failed");
                started.push(outcome[1].as_i64().expect("a time in ms"));
            }
            gaps.push((started[0] - started[1]).abs());
            if page.refreshes("grace") > grace {
                break;
            }
        }
        assert!(
            page.refreshes("grace") > 0,
            "the two tabs never presented the same cookie (their refreshes started \
             {gaps:?} ms apart): simultaneous refreshes were not tested"
        );

        for window in [&a, &b] {
            page.switch(window).await;
            let me = page
                .js_async("demo.loadMe().then(done, (e) => done(String(e)));")
                .await;
            assert_eq!(me, json!(true), "a tab cannot call the API");
            page.reload().await;
            assert_eq!(
                page.wait_for("signed-in").await,
                format!("signed in as {email}"),
                "a tab is signed out after a reload"
            );
        }
        let user = page.app.user_id(&email).await;
        let kinds = page.app.audit_kinds(user).await;
        assert!(
            !kinds.iter().any(|k| k == "refresh_reuse_detected"),
            "the race was taken for token theft: {kinds:?}"
        );
        assert_eq!(page.refreshes("reuse_detected"), 0);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logging_out_of_the_demo_signs_out_every_tab_and_the_old_cookie_no_longer_works() {
    in_browser(|page| async move {
        let email = page.sign_in_new_user().await;
        let (a, b) = page.second_window().await;
        page.switch(&b).await;
        page.goto("/auth/me").await;
        let old = page
            .refresh_cookie()
            .await
            .expect("the browser holds the refresh cookie")
            .value()
            .to_owned();

        page.switch(&a).await;
        let logout = page
            .browser
            .find(Locator::Id("logout"))
            .await
            .expect("#logout");
        logout.click().await.expect("click");
        assert_eq!(page.wait_for("signed-out").await, "signed out");
        page.reload().await;
        assert_eq!(page.wait_for("signed-out").await, "signed out");

        page.switch(&b).await;
        assert!(
            page.refresh_cookie().await.is_none(),
            "logout left the cookie in the browser"
        );
        page.goto("/demo/").await;
        assert_eq!(
            page.wait_for("signed-out").await,
            "signed out",
            "another tab is still signed in after a reload"
        );

        let replay = page.app.refresh_cookie(&old).await;
        assert_eq!(
            replay.status, 401,
            "the old cookie still works: {}",
            replay.text
        );
        assert_eq!(replay.error(), "invalid_grant");
        let user = page.app.user_id(&email).await;
        assert!(
            page.app
                .audit_kinds(user)
                .await
                .iter()
                .any(|k| k == "logout")
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_is_served_only_when_enabled_and_under_a_policy_without_inline_scripts() {
    let off = spawn_app(Backend::Sqlite).await;
    for path in ["/demo", "/demo/", "/demo/app.js", "/demo/links.js"] {
        assert_eq!(
            off.get(path).await.status,
            404,
            "{path} is served by default"
        );
    }

    let on = spawn_app_with(Backend::Sqlite, |s| s.demo.enabled = true).await;
    let bare = on.get("/demo").await;
    assert_eq!(bare.status, 308);
    assert_eq!(bare.header("location"), Some("/demo/"));
    for (path, content_type) in [
        ("/demo/", "text/html"),
        ("/demo/app.js", "text/javascript"),
        ("/demo/links.js", "text/javascript"),
        ("/demo/code_flow.js", "text/javascript"),
        ("/demo/ui.js", "text/javascript"),
        ("/demo/passkeys.js", "text/javascript"),
        ("/demo/app.css", "text/css"),
    ] {
        let reply = on.get(path).await;
        assert_eq!(reply.status, 200, "{path}");
        let served = reply.header("content-type").unwrap_or_default();
        assert!(served.starts_with(content_type), "{path}: {served}");
        assert_eq!(reply.header("cache-control"), Some("no-store"));
        assert_eq!(
            reply.header("referrer-policy"),
            Some("no-referrer"),
            "{path}: the token of a link would leave in a Referer"
        );
        let csp = reply.header("content-security-policy").unwrap_or_default();
        for directive in [
            "default-src 'none'",
            "script-src 'self'",
            "connect-src 'self'",
        ] {
            assert!(csp.contains(directive), "{path}: {csp}");
        }
        assert!(!csp.contains("unsafe"), "{path}: {csp}");
    }
    let html = on.get("/demo/").await.text;
    let scripts = [
        "ui.js",
        "links.js",
        "code_flow.js",
        "mfa.js",
        "passkeys.js",
        "app.js",
    ];
    assert_eq!(html.matches("<script").count(), scripts.len(), "{html}");
    for script in scripts {
        let tag = format!(r#"<script src="{script}" defer></script>"#);
        assert!(html.contains(&tag), "{tag} is missing");
    }
    assert!(html.contains(r#"<meta name="referrer" content="no-referrer">"#));
}

/// The hosted login page's second step in Chromium: after the password, the
/// code form (its CSP lets it post), then the consent page; no browser
/// session before the code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hosted_login_asks_for_the_totp_code_and_goes_on_to_consent() {
    in_browser(|page| async move {
        let app = &page.app;
        let client = crate::authorize::support::client(app).await;
        let user = crate::mfa::enrolled(app).await;
        let query = crate::authorize::support::query(&client, &[]);
        page.goto(&format!("/oauth/authorize?{query}")).await;
        page.fill("email", &user.email).await;
        page.fill("password", &format!("{}\n", crate::helpers::PASSWORD))
            .await;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !page.href().await.contains("/login")
            || page.js("return !!document.getElementById('code');").await != json!(true)
        {
            assert!(
                std::time::Instant::now() < deadline,
                "no code form: {}",
                page.href().await
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert!(
            page.cookie("__Host-authd_session").await.is_none(),
            "no session before the code"
        );
        page.fill("code", &format!("{}\n", user.code(app))).await;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !page.href().await.contains("/consent?request=") {
            assert!(
                std::time::Instant::now() < deadline,
                "not at consent: {}",
                page.href().await
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert!(page.cookie("__Host-authd_session").await.is_some());
    })
    .await;
}
