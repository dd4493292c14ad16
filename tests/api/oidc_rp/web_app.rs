//! The example confidential web app (`examples/web_app.rs`) as a process of
//! its own: a browser starts its login, signs in at authd's pages and comes
//! back to its callback, which shows the user's email. [`WebApp`] is also
//! what the Chromium tests (`browser::sign_in`) sign in through.

use std::process::{Child, Command, Stdio};

use openidconnect::url::Url;

use super::browser::{Browser, Page};
use super::{spawn_issuer, user};
use crate::helpers::{AppKind, Backend, OidcClient, TestApp, example_binary};

/// The example web app running as a process, stopped when dropped.
pub(crate) struct WebApp {
    child: Child,
    /// `http://127.0.0.1:PORT`, where the app listens.
    pub base: String,
}

impl WebApp {
    /// A free port on 127.0.0.1 for an app, and its base URL.
    pub(crate) fn free_base() -> (u16, String) {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        (port, format!("http://127.0.0.1:{port}"))
    }

    async fn start(app: &TestApp) -> Self {
        let (port, base) = Self::free_base();
        let client = app
            .create_oidc_client(AppKind::Confidential, &format!("{base}/callback"))
            .await;
        Self::run(&app.address, &client, port).await
    }

    /// Runs the app on `port` as the confidential `client` of the authd at
    /// `issuer`, once it has read discovery and listens.
    pub(crate) async fn run(issuer: &str, client: &OidcClient, port: u16) -> Self {
        let base = format!("http://127.0.0.1:{port}");
        let bin = tokio::task::spawn_blocking(|| example_binary("web_app"))
            .await
            .unwrap();
        let mut child = Command::new(bin)
            .env("AUTHD_ISSUER", issuer)
            .env("AUTHD_CLIENT_ID", &client.id)
            .env("AUTHD_CLIENT_SECRET", client.secret.as_deref().unwrap())
            .env("WEB_APP_PORT", port.to_string())
            .env_remove("WEB_APP_URL")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the web app starts");
        let stdout = child.stdout.take().expect("stdout");
        let line = tokio::task::spawn_blocking(move || {
            std::io::BufRead::lines(std::io::BufReader::new(stdout)).next()
        })
        .await
        .unwrap();
        let line = match line {
            Some(Ok(line)) => line,
            other => {
                let status = child.wait();
                panic!("the web app printed {other:?} and exited: {status:?}");
            }
        };
        assert_eq!(line, format!("listening on {base}"));
        Self { child, base }
    }
}

impl Drop for WebApp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of cookie `name` set by `reply`.
fn cookie(reply: &crate::helpers::Reply, name: &str) -> Option<String> {
    reply.set_cookies().iter().find_map(|c| {
        c.strip_prefix(&format!("{name}="))
            .map(|rest| rest.split(';').next().unwrap_or("").to_owned())
    })
}

pub async fn the_example_web_app_signs_a_user_in_and_shows_the_email(backend: Backend) {
    let app = spawn_issuer(backend).await;
    let email = user(&app).await;
    let web_app = WebApp::start(&app).await;

    let home = app.send(app.client.get(format!("{}/", web_app.base))).await;
    assert_eq!(home.status, 200);
    assert!(home.text.contains("href=\"/login\""), "{}", home.text);

    let login = app
        .send(app.client.get(format!("{}/login", web_app.base)))
        .await;
    assert_eq!(login.status, 303, "{}", login.text);
    let login_cookie = cookie(&login, "web_app_login").expect("the login cookie");
    let authorization = Url::parse(login.header("location").unwrap()).unwrap();
    assert!(
        authorization
            .as_str()
            .starts_with(&format!("{}/oauth/authorize?", app.address)),
        "{authorization}"
    );

    let mut browser = Browser::new(&app);
    let callback = format!("{}/callback", web_app.base);
    let arrival = browser.authorize(&authorization, &email, &callback).await;
    assert_eq!(arrival.pages, [Page::Login, Page::Consent]);

    // The browser brings the app's cookie back with authd's answer.
    let request = app
        .client
        .get(arrival.redirect.as_str())
        .header("cookie", format!("web_app_login={login_cookie}"));
    let shown = app.send(request).await;
    assert_eq!(shown.status, 200, "{}", shown.text);
    assert!(
        shown.text.contains(&format!("Signed in as <b>{email}</b>")),
        "{}",
        shown.text
    );

    // The same answer without the browser's login cookie: refused (login CSRF).
    let replay = app.send(app.client.get(arrival.redirect.as_str())).await;
    assert_eq!(replay.status, 400, "{}", replay.text);
}
