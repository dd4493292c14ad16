//! The browser pattern in a real browser: the demo app at `/demo/`, driven in
//! headless Chromium through chromedriver (WebDriver, with `fantoccini`).
//!
//! These tests need Debian's `chromium` and `chromium-driver`. Without them they
//! pass without running and say so on stderr, unless `AUTHD_REQUIRE_BROWSER=1`
//! (CI), which turns the skip into a failure.
//!
//! They run on SQLite only: what they test is the browser's side (the cookie the
//! page cannot read, what survives a reload, two tabs sharing one cookie jar);
//! the rotation and grace rules they lean on are tested on both stores in
//! `refresh`, and a browser start costs seconds.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use crate::helpers::{Backend, PASSWORD, TestApp, spawn_app, spawn_app_on, spawn_app_with};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// How long the page may take to reach a state before the test fails.
const PAGE_TIMEOUT: Duration = Duration::from_secs(15);

/// Whether Chromium and chromedriver are installed. Without them: a note on
/// stderr and `false`, or a panic when `AUTHD_REQUIRE_BROWSER=1`.
fn browser_installed() -> bool {
    let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER]
        .into_iter()
        .filter(|path| !std::path::Path::new(path).exists())
        .collect();
    if missing.is_empty() {
        return true;
    }
    if std::env::var("AUTHD_REQUIRE_BROWSER").is_ok_and(|v| v == "1") {
        panic!(
            "AUTHD_REQUIRE_BROWSER=1 but {} missing",
            missing.join(" and ")
        );
    }
    static NOTICE: std::sync::Once = std::sync::Once::new();
    NOTICE.call_once(|| {
        // Straight to stderr, past the harness's capture, so the skip is seen.
        let _ = writeln!(
            std::io::stderr(),
            "\nnote: {} missing: the browser tests are SKIPPED (they pass without \
             running). Install Debian's chromium and chromium-driver to run them.\n",
            missing.join(" and ")
        );
    });
    false
}

/// chromedriver on a port of its choosing, stopped with the test; the browser
/// profile is a fresh directory, deleted with it.
struct Driver {
    child: Child,
    port: u16,
    profile: tempfile::TempDir,
}

impl Driver {
    /// Starts chromedriver, trying three times: a driver that exits before it
    /// listens is a fault of the machine, not of authd (its output is shown).
    fn start() -> Self {
        let mut failures = Vec::new();
        for _ in 0..3 {
            match Self::try_start() {
                Ok(driver) => return driver,
                Err(e) => {
                    let _ = writeln!(std::io::stderr(), "note: {e}; trying again");
                    failures.push(e);
                }
            }
        }
        panic!("chromedriver never started: {failures:#?}");
    }

    fn try_start() -> Result<Self, String> {
        let mut child = Command::new(CHROMEDRIVER)
            .arg("--port=0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("chromedriver starts");
        // chromedriver prints "... started successfully on port N."; its output
        // is drained to the end so it never blocks on a full pipe, and kept
        // for the message should it never say so.
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let stdout = child.stdout.take().expect("chromedriver stdout");
        let stderr = child.stderr.take().expect("chromedriver stderr");
        let drain = |pipe: Box<dyn std::io::Read + Send>, tx: std::sync::mpsc::Sender<String>| {
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    let _ = tx.send(line);
                }
            });
        };
        drain(Box::new(stdout), tx.clone());
        drain(Box::new(stderr), tx);
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut output = Vec::new();
        let port = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(line) = rx.recv_timeout(left) else {
                let _ = child.kill();
                let status = child.wait();
                return Err(format!(
                    "chromedriver did not report its port ({status:?}); it said: {}",
                    output.join(" | ")
                ));
            };
            let port = line
                .split("started successfully on port ")
                .nth(1)
                .and_then(|rest| rest.trim_end_matches('.').parse::<u16>().ok());
            match port {
                Some(port) => break port,
                None => output.push(line),
            }
        };
        // The rest of the output is read and dropped by the draining threads.
        drop(rx);
        Ok(Self {
            child,
            port,
            profile: tempfile::tempdir().expect("profile dir"),
        })
    }

    async fn connect(&self) -> Client {
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1000,800",
        ]
        .into_iter()
        .map(str::to_owned)
        .chain([format!("--user-data-dir={}", self.profile.path().display())])
        .collect::<Vec<_>>();
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!("a JSON object")
        };
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .expect("a Chromium session through chromedriver")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// authd with the demo, the browser, and the origin the browser uses.
struct Page {
    app: TestApp,
    browser: Client,
    /// `http://localhost:PORT`: authd's issuer, so the page's own requests pass
    /// the Origin check of cookie requests. Chromium keeps `Secure` cookies on
    /// http://localhost.
    origin: String,
}

/// Runs `test` against authd with the demo enabled and a fresh browser. The
/// browser session is closed and chromedriver stopped even when `test` panics.
async fn in_browser<F, Fut>(test: F)
where
    F: FnOnce(Arc<Page>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    if !browser_installed() {
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a port");
    let port = listener.local_addr().expect("bound address").port();
    let origin = format!("http://localhost:{port}");
    let app = spawn_app_on(Backend::Sqlite, listener, |s| {
        s.server.issuer = origin.clone();
        s.demo.enabled = true;
    })
    .await;
    let driver = Driver::start();
    let browser = driver.connect().await;
    let page = Arc::new(Page {
        app,
        browser: browser.clone(),
        origin,
    });
    let outcome = tokio::spawn(test(page)).await;
    let _ = browser.close().await;
    drop(driver);
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

impl Page {
    async fn goto(&self, path: &str) {
        self.browser
            .goto(&format!("{}{path}", self.origin))
            .await
            .unwrap_or_else(|e| panic!("open {path}: {e}"));
    }

    async fn reload(&self) {
        self.browser.refresh().await.expect("reload");
    }

    async fn js(&self, script: &str) -> Value {
        self.browser
            .execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("script {script:?}: {e}"))
    }

    /// Runs `script` (which calls the callback `done` with its result) and waits.
    async fn js_async(&self, script: &str) -> Value {
        let script = format!("const done = arguments[arguments.length - 1]; {script}");
        self.browser
            .execute_async(&script, vec![])
            .await
            .unwrap_or_else(|e| panic!("script {script:?}: {e}"))
    }

    /// Waits until the page's `#status` is in `state` (`signed-in` or
    /// `signed-out`) and returns its text.
    async fn wait_for(&self, state: &str) -> String {
        let started = Instant::now();
        loop {
            let seen = self
                .js("const s = document.getElementById('status');
                     const e = document.getElementById('error');
                     return s ? [s.dataset.state, s.textContent, e.textContent] : null;")
                .await;
            if seen[0] == state {
                return seen[1].as_str().unwrap_or_default().to_owned();
            }
            assert!(
                started.elapsed() < PAGE_TIMEOUT,
                "the page did not reach {state:?}; it shows {seen}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Types the email and the test password into the form and clicks `button`.
    async fn submit(&self, email: &str, button: &str) {
        for (id, text) in [("email", email), ("password", PASSWORD)] {
            let field = self.browser.find(Locator::Id(id)).await.expect(id);
            field.clear().await.expect("clear");
            field.send_keys(text).await.expect("type");
        }
        let button = self.browser.find(Locator::Id(button)).await.expect(button);
        button.click().await.expect("click");
    }

    /// Opens the demo and signs in through its form as a user registered here.
    async fn sign_in_new_user(&self) -> String {
        let email = format!("user-{}@example.com", uuid::Uuid::new_v4().simple());
        self.app.register(&email).await;
        self.goto("/demo/").await;
        self.wait_for("signed-out").await;
        self.submit(&email, "login").await;
        assert_eq!(
            self.wait_for("signed-in").await,
            format!("signed in as {email}")
        );
        email
    }

    /// The refresh cookie as the browser holds it. WebDriver lists the cookies
    /// of the current page's URL, so the tab must be on a page under `/auth`.
    async fn refresh_cookie(&self) -> Option<fantoccini::cookies::Cookie<'static>> {
        self.browser
            .get_all_cookies()
            .await
            .expect("cookies")
            .into_iter()
            .find(|c| c.name() == "authd_refresh")
    }

    /// Opens a new window (a second tab of the same browser) and returns to the
    /// current one; returns both handles, current first.
    async fn second_window(&self) -> (fantoccini::wd::WindowHandle, fantoccini::wd::WindowHandle) {
        let first = self.browser.window().await.expect("window");
        let second = self.browser.new_window(false).await.expect("new window");
        (first, second.handle)
    }

    async fn switch(&self, window: &fantoccini::wd::WindowHandle) {
        self.browser
            .switch_to_window(window.clone())
            .await
            .expect("switch window");
    }

    fn refreshes(&self, outcome: &str) -> u64 {
        self.app
            .services()
            .metrics
            .refreshes
            .with_label_values(&[outcome])
            .get()
    }
}

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

        // On a page under /auth, where the cookie's Path would show it to
        // document.cookie if it were not HttpOnly.
        page.goto("/auth/me").await;
        let cookie = page
            .refresh_cookie()
            .await
            .expect("the browser holds the refresh cookie");
        assert_eq!(cookie.http_only(), Some(true));
        assert_eq!(cookie.secure(), Some(true));
        assert_eq!(cookie.path(), Some("/auth"));
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

        // Nothing in the page survives a navigation or a reload but the cookie.
        page.goto("/demo/").await;
        assert_eq!(
            page.wait_for("signed-in").await,
            format!("signed in as {email}")
        );
        page.reload().await;
        assert_eq!(
            page.wait_for("signed-in").await,
            format!("signed in as {email}")
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
    for path in ["/demo", "/demo/", "/demo/app.js"] {
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
        ("/demo/app.css", "text/css"),
    ] {
        let reply = on.get(path).await;
        assert_eq!(reply.status, 200, "{path}");
        let served = reply.header("content-type").unwrap_or_default();
        assert!(served.starts_with(content_type), "{path}: {served}");
        assert_eq!(reply.header("cache-control"), Some("no-store"));
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
    assert_eq!(html.matches("<script").count(), 1, "{html}");
    assert!(html.contains(r#"<script src="app.js" defer></script>"#));
}
