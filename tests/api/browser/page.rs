//! The harness of the browser tests: chromedriver and a Chromium session, authd
//! with the demo on the browser's origin (the links of its mail lead to the
//! demo there), and what a test does with the page. The browser's console
//! (where Chromium reports what a Content-Security-Policy blocked) is read
//! through chromedriver's log endpoint ([`Page::console`]).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use crate::helpers::{Backend, PASSWORD, TestApp, spawn_app_on};

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

    /// A Chromium session; `javascript: false` turns scripts off in every
    /// page (WebDriver's own scripts still run: chromedriver injects them
    /// through DevTools).
    async fn connect(&self, javascript: bool) -> Client {
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
        let prefs = if javascript {
            json!({})
        } else {
            json!({ "profile.managed_default_content_settings.javascript": 2 })
        };
        let capabilities = json!({
            "browserName": "chrome",
            "goog:loggingPrefs": { "browser": "ALL" },
            "goog:chromeOptions": { "binary": CHROMIUM, "args": args, "prefs": prefs },
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
pub struct Page {
    pub app: TestApp,
    pub browser: Client,
    /// `http://localhost:PORT`: authd's issuer, so the page's own requests pass
    /// the Origin check of cookie requests. Chromium keeps `Secure` cookies on
    /// http://localhost.
    pub origin: String,
    /// chromedriver's URL, for what fantoccini does not ask (the console).
    driver: String,
}

/// Runs `test` against authd with the demo enabled and a fresh browser. The
/// browser session is closed and chromedriver stopped even when `test` panics.
pub async fn in_browser<F, Fut>(test: F)
where
    F: FnOnce(Arc<Page>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    in_browser_with(|_| {}, test).await;
}

/// [`in_browser`], with `configure` applied to authd's settings.
pub async fn in_browser_with<F, Fut>(configure: impl FnOnce(&mut authd::config::Settings), test: F)
where
    F: FnOnce(Arc<Page>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    run(configure, true, test).await;
}

/// [`in_browser`], in a browser whose pages run no script.
pub async fn in_browser_without_javascript<F, Fut>(test: F)
where
    F: FnOnce(Arc<Page>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    run(|_| {}, false, test).await;
}

async fn run<F, Fut>(
    configure: impl FnOnce(&mut authd::config::Settings),
    javascript: bool,
    test: F,
) where
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
        s.email.link_base = format!("{origin}/demo/");
        configure(s);
    })
    .await;
    let driver = Driver::start();
    let browser = driver.connect(javascript).await;
    let page = Arc::new(Page {
        app,
        browser: browser.clone(),
        origin,
        driver: format!("http://127.0.0.1:{}", driver.port),
    });
    let outcome = tokio::spawn(test(page)).await;
    let _ = browser.close().await;
    drop(driver);
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

impl Page {
    pub async fn goto(&self, path: &str) {
        self.browser
            .goto(&format!("{}{path}", self.origin))
            .await
            .unwrap_or_else(|e| panic!("open {path}: {e}"));
    }

    /// Opens `url` whole, as a click on a link in a mail would.
    pub async fn open(&self, url: &str) {
        self.browser
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("open {url}: {e}"));
    }

    /// The address bar: the current page's whole URL.
    pub async fn href(&self) -> String {
        self.js("return location.href;")
            .await
            .as_str()
            .expect("a string")
            .to_owned()
    }

    /// `http://localhost:PORT/demo/`: the page the mail's links lead to.
    pub fn demo_url(&self) -> String {
        format!("{}/demo/", self.origin)
    }

    /// What the browser's console said since the last call, one line a
    /// message (`SEVERE http://… - Sending form data to … violates the
    /// following Content Security Policy directive …`).
    pub async fn console(&self) -> Vec<String> {
        let session = self.browser.session_id().await.expect("session id");
        let session = session.expect("a WebDriver session");
        let url = format!("{}/session/{session}/se/log", self.driver);
        let log: Value = reqwest::Client::new()
            .post(url)
            .json(&json!({ "type": "browser" }))
            .send()
            .await
            .expect("chromedriver's log")
            .json()
            .await
            .expect("a JSON log");
        let entries = log["value"].as_array().cloned().unwrap_or_default();
        entries
            .iter()
            .map(|e| {
                format!(
                    "{} {}",
                    e["level"].as_str().unwrap_or_default(),
                    e["message"].as_str().unwrap_or_default()
                )
            })
            .collect()
    }

    /// Adds a WebDriver virtual authenticator to the browser (WebAuthn
    /// Level 2, §11.3): a platform authenticator (CTAP2, `internal`) that
    /// keeps discoverable credentials and verifies its user, as a phone or a
    /// laptop's screen lock does. Returns its id.
    pub async fn add_virtual_authenticator(&self) -> String {
        let options = json!({
            "protocol": "ctap2",
            "transport": "internal",
            "hasResidentKey": true,
            "hasUserVerification": true,
            "isUserVerified": true,
        });
        let added = self
            .webdriver(reqwest::Method::POST, "authenticator", Some(options))
            .await;
        added["value"]
            .as_str()
            .unwrap_or_else(|| panic!("an authenticator id: {added}"))
            .to_owned()
    }

    /// The credentials the virtual authenticator `id` holds (with their
    /// private keys: WebDriver's Get Credentials).
    pub async fn authenticator_credentials(&self, id: &str) -> Vec<Value> {
        let path = format!("authenticator/{id}/credentials");
        let held = self.webdriver(reqwest::Method::GET, &path, None).await;
        held["value"].as_array().cloned().unwrap_or_default()
    }

    /// Empties the virtual authenticator `id`.
    pub async fn remove_authenticator_credentials(&self, id: &str) {
        let path = format!("authenticator/{id}/credentials");
        self.webdriver(reqwest::Method::DELETE, &path, None).await;
    }

    /// Puts `credential` (as Get Credentials lists one) in the virtual
    /// authenticator `id`.
    pub async fn add_authenticator_credential(&self, id: &str, credential: Value) {
        let path = format!("authenticator/{id}/credential");
        self.webdriver(reqwest::Method::POST, &path, Some(credential))
            .await;
    }

    /// A WebAuthn command of chromedriver (`/session/{id}/webauthn/{path}`).
    async fn webdriver(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let session = self.browser.session_id().await.expect("session id");
        let session = session.expect("a WebDriver session");
        let url = format!("{}/session/{session}/webauthn/{path}", self.driver);
        let mut request = reqwest::Client::new().request(method, url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let reply = request.send().await.expect("chromedriver answers");
        let status = reply.status();
        let value: Value = reply.json().await.expect("a JSON answer");
        assert!(status.is_success(), "webauthn/{path}: {status} {value}");
        value
    }

    pub async fn reload(&self) {
        self.browser.refresh().await.expect("reload");
    }

    pub async fn js(&self, script: &str) -> Value {
        self.browser
            .execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("script {script:?}: {e}"))
    }

    /// Runs `script` (which calls the callback `done` with its result) and waits.
    pub async fn js_async(&self, script: &str) -> Value {
        let script = format!("const done = arguments[arguments.length - 1]; {script}");
        self.browser
            .execute_async(&script, vec![])
            .await
            .unwrap_or_else(|e| panic!("script {script:?}: {e}"))
    }

    /// Waits until the page's `#status` is in `state` (`signed-in`,
    /// `signed-out`, or the view of a link: `forgot`, `reset`, `verify`,
    /// `change-confirm`) and returns its text.
    pub async fn wait_for(&self, state: &str) -> String {
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

    /// Waits until the page shows an error (`#error`) and returns its code
    /// and its text.
    pub async fn wait_for_error(&self) -> (String, String) {
        let started = Instant::now();
        loop {
            let seen = self
                .js("const e = document.getElementById('error');
                     return e ? [e.dataset.code || '', e.textContent] : ['', ''];")
                .await;
            if seen[1] != "" {
                let text = |i: usize| seen[i].as_str().unwrap_or_default().to_owned();
                return (text(0), text(1));
            }
            assert!(
                started.elapsed() < PAGE_TIMEOUT,
                "the page shows no error; it shows {}",
                self.js("return document.getElementById('status').textContent;")
                    .await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the page's `#notice` (the outcome it keeps on screen) says
    /// `text`.
    pub async fn wait_for_notice(&self, text: &str) {
        let started = Instant::now();
        loop {
            let seen = self.text("notice").await;
            if seen == text {
                return;
            }
            assert!(
                started.elapsed() < PAGE_TIMEOUT,
                "the page's notice is {seen:?}, not {text:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The text of the element `id`.
    pub async fn text(&self, id: &str) -> String {
        let element = self.browser.find(Locator::Id(id)).await.expect(id);
        element.text().await.expect("text")
    }

    /// Whether the element `id` is shown.
    pub async fn shown(&self, id: &str) -> bool {
        let element = self.browser.find(Locator::Id(id)).await.expect(id);
        element.is_displayed().await.expect("is displayed")
    }

    /// Types `text` into the field `id`, replacing what it held.
    pub async fn fill(&self, id: &str, text: &str) {
        let field = self.browser.find(Locator::Id(id)).await.expect(id);
        field.clear().await.expect("clear");
        field.send_keys(text).await.expect("type");
    }

    pub async fn click(&self, id: &str) {
        let element = self.browser.find(Locator::Id(id)).await.expect(id);
        element.click().await.expect("click");
    }

    /// Types the email and the test password into the form and clicks `button`.
    pub async fn submit(&self, email: &str, button: &str) {
        self.submit_with(email, PASSWORD, button).await;
    }

    /// Types the email and `password` into the sign-in form and clicks `button`.
    pub async fn submit_with(&self, email: &str, password: &str, button: &str) {
        self.fill("email", email).await;
        self.fill("password", password).await;
        self.click(button).await;
    }

    /// Opens the demo and signs in through its form as a user registered here.
    pub async fn sign_in_new_user(&self) -> String {
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

    /// The refresh cookie as the browser holds it (`__Host-authd_refresh`).
    /// WebDriver lists the cookies of the current page's URL, so the tab must
    /// be on a page under the cookie's path.
    pub async fn refresh_cookie(&self) -> Option<fantoccini::cookies::Cookie<'static>> {
        self.cookie("__Host-authd_refresh").await
    }

    /// The cookie `name` as the browser holds it for the current page's URL.
    pub async fn cookie(&self, name: &str) -> Option<fantoccini::cookies::Cookie<'static>> {
        self.browser
            .get_all_cookies()
            .await
            .expect("cookies")
            .into_iter()
            .find(|c| c.name() == name)
    }

    /// Opens a new window (a second tab of the same browser) and returns to the
    /// current one; returns both handles, current first.
    pub async fn second_window(
        &self,
    ) -> (fantoccini::wd::WindowHandle, fantoccini::wd::WindowHandle) {
        let first = self.browser.window().await.expect("window");
        let second = self.browser.new_window(false).await.expect("new window");
        (first, second.handle)
    }

    pub async fn switch(&self, window: &fantoccini::wd::WindowHandle) {
        self.browser
            .switch_to_window(window.clone())
            .await
            .expect("switch window");
    }

    pub fn refreshes(&self, outcome: &str) -> u64 {
        self.app
            .services()
            .metrics
            .refreshes
            .with_label_values(&[outcome])
            .get()
    }
}
