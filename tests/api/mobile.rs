//! The native (mobile) client pattern, run for real: the `mobile_client`
//! example binary logs in, calls, refreshes and logs out against authd, through
//! an HTTP proxy of the test's that records every exchange and can lose the
//! answer to a refresh (authd rotates, the client never hears of it).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::helpers::{Backend, PASSWORD, TestApp, spawn_app};

mod reset;

/// The client's exit code for "signed out: log in again".
const SIGNED_OUT: i32 = 3;

fn client_binary() -> &'static Path {
    crate::helpers::example_binary("mobile_client")
}

/// The client run as a user would: its own process, its own state file.
struct Client {
    base_url: String,
    state: PathBuf,
}

impl Client {
    async fn run(&self, args: &[&str]) -> Output {
        self.run_with(args, &[]).await
    }

    async fn run_with(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        // Finding (maybe building) the binary and running it block, so both
        // happen off the runtime's workers.
        let bin = tokio::task::spawn_blocking(client_binary).await.unwrap();
        let mut command = std::process::Command::new(bin);
        command
            .arg("--base-url")
            .arg(&self.base_url)
            .arg("--state")
            .arg(&self.state)
            .args(args)
            .env_remove("AUTHD_PASSWORD")
            .env_remove("AUTHD_NEW_PASSWORD")
            .env_remove("AUTHD_URL")
            .env_remove("AUTHD_STATE");
        for (k, v) in env {
            command.env(k, v);
        }
        tokio::task::spawn_blocking(move || command.output().unwrap())
            .await
            .unwrap()
    }

    async fn login(&self, email: &str) -> Output {
        let out = self
            .run_with(
                &["login", "--email", email],
                &[("AUTHD_PASSWORD", PASSWORD)],
            )
            .await;
        assert_success(&out);
        out
    }

    fn stored(&self) -> Value {
        serde_json::from_str(&std::fs::read_to_string(&self.state).unwrap()).unwrap()
    }

    fn stored_refresh(&self) -> String {
        self.stored()["refresh_token"].as_str().unwrap().to_owned()
    }
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn assert_success(out: &Output) {
    let (stdout, stderr) = text(out);
    assert!(
        out.status.success(),
        "{:?}\nstdout: {stdout}\nstderr: {stderr}",
        out.status
    );
}

/// One request and its answer, as the proxy saw them.
#[derive(Debug, Clone)]
struct Exchange {
    method: String,
    path: String,
    request: Value,
    status: u16,
    response: Value,
    at: Instant,
    /// false: authd answered, and the proxy closed the client's connection
    /// instead of passing the answer on.
    delivered: bool,
}

/// What the proxy does to the next refresh answers.
#[derive(Default)]
struct Losses {
    /// How many of the next `/auth/refresh` answers to lose.
    refreshes: usize,
    /// Runs each time an answer is lost (to move authd's clock, say).
    on_loss: Option<Box<dyn FnMut() + Send>>,
}

/// An HTTP/1.1 proxy in front of authd that reads each request and answer
/// whole (Content-Length bodies, which is all authd and reqwest send here),
/// records them, and loses the refresh answers it is told to.
struct HttpProxy {
    url: String,
    log: Arc<Mutex<Vec<Exchange>>>,
    losses: Arc<Mutex<Losses>>,
    accept: JoinHandle<()>,
}

impl HttpProxy {
    async fn start(target: &str) -> Self {
        let target: SocketAddr = target.trim_start_matches("http://").parse().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let log: Arc<Mutex<Vec<Exchange>>> = Arc::default();
        let losses: Arc<Mutex<Losses>> = Arc::default();
        let (log2, losses2) = (log.clone(), losses.clone());
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(relay(client, target, log2.clone(), losses2.clone()));
            }
        });
        Self {
            url,
            log,
            losses,
            accept,
        }
    }

    fn lose_refreshes(&self, count: usize, on_loss: Option<Box<dyn FnMut() + Send>>) {
        *self.losses.lock().unwrap() = Losses {
            refreshes: count,
            on_loss,
        };
    }

    /// Forgets what was recorded so far.
    fn take(&self) -> Vec<Exchange> {
        std::mem::take(&mut *self.log.lock().unwrap())
    }
}

impl Drop for HttpProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// `METHOD path status` of each exchange, for comparing sequences.
fn summary(log: &[Exchange]) -> Vec<String> {
    log.iter()
        .map(|e| format!("{} {} {}", e.method, e.path, e.status))
        .collect()
}

async fn relay(
    client: TcpStream,
    target: SocketAddr,
    log: Arc<Mutex<Vec<Exchange>>>,
    losses: Arc<Mutex<Losses>>,
) {
    let mut client = BufReader::new(client);
    let mut server: Option<BufReader<TcpStream>> = None;
    while let Some(request) = read_message(&mut client).await {
        if server.is_none() {
            server = Some(BufReader::new(TcpStream::connect(target).await.unwrap()));
        }
        let upstream = server.as_mut().unwrap();
        upstream.get_mut().write_all(&request.raw).await.unwrap();
        let response = read_message(upstream)
            .await
            .expect("authd answers every request");
        let mut words = request.start.split_whitespace();
        let method = words.next().unwrap_or("").to_owned();
        let path = words.next().unwrap_or("").to_owned();
        let status = response
            .start
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let lose = path == "/auth/refresh" && {
            let mut losses = losses.lock().unwrap();
            if losses.refreshes > 0 {
                losses.refreshes -= 1;
                if let Some(hook) = losses.on_loss.as_mut() {
                    hook();
                }
                true
            } else {
                false
            }
        };
        log.lock().unwrap().push(Exchange {
            method,
            path,
            request: serde_json::from_slice(&request.body).unwrap_or(Value::Null),
            status,
            response: serde_json::from_slice(&response.body).unwrap_or(Value::Null),
            at: Instant::now(),
            delivered: !lose,
        });
        if lose {
            // authd has answered; the client's connection closes without it.
            return;
        }
        if client.get_mut().write_all(&response.raw).await.is_err() {
            return;
        }
    }
}

struct Message {
    start: String,
    raw: Vec<u8>,
    body: Vec<u8>,
}

/// One HTTP/1.1 message; `None` when the peer closed the connection.
async fn read_message(stream: &mut BufReader<TcpStream>) -> Option<Message> {
    let mut raw = Vec::new();
    let mut start = String::new();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if stream.read_line(&mut line).await.ok()? == 0 {
            return None;
        }
        raw.extend_from_slice(line.as_bytes());
        if start.is_empty() {
            start = line.trim_end().to_owned();
            continue;
        }
        if line == "\r\n" {
            break;
        }
        let (name, value) = line.split_once(':').unwrap_or((&line, ""));
        let name = name.trim().to_ascii_lowercase();
        if name == "content-length" {
            length = value.trim().parse().unwrap();
        }
        assert!(
            !(name == "transfer-encoding" && value.contains("chunked")),
            "the test proxy does not do chunked bodies"
        );
    }
    let mut body = vec![0; length];
    stream.read_exact(&mut body).await.ok()?;
    raw.extend_from_slice(&body);
    Some(Message { start, raw, body })
}

/// authd, a recording proxy in front of it, a registered user, and a client
/// (not yet logged in) that talks to authd through the proxy.
async fn setup(backend: Backend) -> (TestApp, HttpProxy, Client, String, tempfile::TempDir) {
    let app = spawn_app(backend).await;
    let proxy = HttpProxy::start(&app.address).await;
    let email = format!("phone-{}@example.com", uuid::Uuid::new_v4().simple());
    app.register(&email).await;
    let dir = tempfile::tempdir().unwrap();
    let client = Client {
        base_url: proxy.url.clone(),
        state: dir.path().join("session.json"),
    };
    (app, proxy, client, email, dir)
}

async fn the_client_logs_in_keeps_its_tokens_in_a_private_file_and_calls_as_the_user(
    backend: Backend,
) {
    let (app, proxy, client, email, _dir) = setup(backend).await;
    let login = client.login(&email).await;
    let stored = client.stored();
    let (access, refresh) = (
        stored["access_token"].as_str().unwrap().to_owned(),
        stored["refresh_token"].as_str().unwrap().to_owned(),
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&client.state)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
    // The expiry is the server's 900 s counted from the login, by this clock.
    let now = chrono::Utc::now().timestamp();
    let expires_at = stored["access_expires_at"].as_i64().unwrap();
    assert!(
        (now + 890..=now + 900).contains(&expires_at),
        "{expires_at} vs {now}"
    );
    // What it stored is what authd sent, and it works.
    let sent = &proxy.take()[0];
    assert_eq!(
        summary(std::slice::from_ref(sent)),
        ["POST /auth/login 200"]
    );
    assert_eq!(sent.request["token_delivery"], "body");
    assert_eq!(sent.response["refresh_token"], refresh.as_str());
    assert!(app.access_works(&access).await);

    let call = client.run(&["call"]).await;
    assert_success(&call);
    let (stdout, _) = text(&call);
    assert!(stdout.contains(&email), "{stdout}");
    assert_eq!(
        summary(&proxy.take()),
        ["GET /auth/me 200"],
        "a fresh access token is used as it is"
    );
    assert_eq!(client.stored_refresh(), refresh);

    for out in [&login, &call] {
        let (stdout, stderr) = text(out);
        for secret in [&access, &refresh, &PASSWORD.to_owned()] {
            assert!(
                !stdout.contains(secret.as_str()) && !stderr.contains(secret.as_str()),
                "a secret is printed:\n{stdout}\n{stderr}"
            );
        }
    }

    // A wrong password stores nothing.
    let other = Client {
        base_url: client.base_url.clone(),
        state: client.state.with_file_name("other.json"),
    };
    let refused = other
        .run_with(
            &["login", "--email", &email],
            &[("AUTHD_PASSWORD", "not the password at all")],
        )
        .await;
    assert_eq!(refused.status.code(), Some(1), "{:?}", text(&refused));
    assert!(!other.state.exists());
}

async fn the_client_refreshes_before_the_access_token_expires_and_when_authd_refuses_it(
    backend: Backend,
) {
    let (app, proxy, client, email, _dir) = setup(backend).await;
    client.login(&email).await;
    proxy.take();
    let first = client.stored_refresh();

    // Within the margin (here wider than the token's whole life): refresh first.
    let call = client.run(&["call", "--refresh-margin-secs", "1000"]).await;
    assert_success(&call);
    assert!(text(&call).0.contains(&email));
    assert_eq!(
        summary(&proxy.take()),
        ["POST /auth/refresh 200", "GET /auth/me 200"]
    );
    let second = client.stored_refresh();
    assert_ne!(second, first, "the rotated token is stored");

    // authd's clock passes the access token's expiry while the client's does
    // not: authd answers 401 invalid_token, the client refreshes once and retries.
    app.advance(901);
    let call = client.run(&["call"]).await;
    assert_success(&call);
    assert!(text(&call).0.contains(&email));
    assert_eq!(
        summary(&proxy.take()),
        [
            "GET /auth/me 401",
            "POST /auth/refresh 200",
            "GET /auth/me 200"
        ]
    );
    let third = client.stored_refresh();
    assert_ne!(third, second, "the rotated token is stored");
    // The stored token is the session's current one: it rotates, and is no reuse.
    assert_eq!(app.refresh_body(&third).await.status, 200);
    let user = app.user_id(&email).await;
    assert!(
        !app.audit_kinds(user)
            .await
            .iter()
            .any(|k| k == "refresh_reuse_detected")
    );
}

async fn a_refresh_whose_answer_is_lost_is_retried_with_the_same_token_and_the_client_stays_signed_in(
    backend: Backend,
) {
    let (app, proxy, client, email, _dir) = setup(backend).await;
    client.login(&email).await;
    proxy.take();
    let held = client.stored_refresh();

    proxy.lose_refreshes(1, None);
    let call = client.run(&["call", "--refresh-margin-secs", "1000"]).await;
    assert_success(&call);
    let (stdout, stderr) = text(&call);
    assert!(stdout.contains(&email), "{stdout}");
    assert!(
        stderr.contains("retrying with the same refresh token"),
        "{stderr}"
    );

    let log = proxy.take();
    assert_eq!(
        summary(&log),
        [
            "POST /auth/refresh 200",
            "POST /auth/refresh 200",
            "GET /auth/me 200"
        ]
    );
    let (lost, retry) = (&log[0], &log[1]);
    // authd rotated on the first request; the client never saw that answer.
    assert!(!lost.delivered && retry.delivered);
    let rotated = lost.response["refresh_token"].as_str().unwrap();
    assert_ne!(rotated, held);
    // The retry presented the token the client held, not another one...
    assert_eq!(lost.request["refresh_token"], held.as_str());
    assert_eq!(retry.request["refresh_token"], held.as_str());
    // ...soon enough for the real 10 s window (authd's own clock stands still
    // in this test, so the proxy's clock is the one that can tell)...
    let gap = retry.at - lost.at;
    assert!(gap < Duration::from_secs(10), "retried after {gap:?}");
    // ...and the grace rule answered with the token of the lost answer, which
    // the client now holds.
    assert_eq!(retry.response["refresh_token"], rotated);
    assert_eq!(client.stored_refresh(), rotated);

    // No reuse was seen: the session is live, and the stored token is its
    // current one.
    let user = app.user_id(&email).await;
    assert!(
        !app.audit_kinds(user)
            .await
            .iter()
            .any(|k| k == "refresh_reuse_detected")
    );
    let sessions = authd::sessions::list_live(app.services(), user)
        .await
        .unwrap();
    assert_eq!(sessions.len(), 1);
    let next = client.run(&["call", "--refresh-margin-secs", "1000"]).await;
    assert_success(&next);
    assert_eq!(
        summary(&proxy.take()),
        ["POST /auth/refresh 200", "GET /auth/me 200"]
    );
}

async fn a_lost_refresh_retried_after_the_grace_window_signs_the_client_out(backend: Backend) {
    // The counterpart of the test above: the same loss, but authd's clock
    // moves 11 s while the answer is lost, so the retry of the spent token is
    // reuse. It shows that what kept the client signed in there is the grace
    // rule, and that the client treats invalid_grant as signed out.
    let (app, proxy, client, email, _dir) = setup(backend).await;
    client.login(&email).await;
    proxy.take();
    let clock = app.clock.clone();
    proxy.lose_refreshes(
        1,
        Some(Box::new(move || {
            clock.advance(chrono::Duration::seconds(11));
        })),
    );
    let call = client.run(&["call", "--refresh-margin-secs", "1000"]).await;
    assert_eq!(call.status.code(), Some(SIGNED_OUT), "{:?}", text(&call));
    assert!(text(&call).1.contains("signed out"), "{:?}", text(&call));
    assert!(!client.state.exists(), "the tokens are deleted");
    assert_eq!(
        summary(&proxy.take()),
        ["POST /auth/refresh 200", "POST /auth/refresh 401"]
    );
    let user = app.user_id(&email).await;
    assert!(
        app.audit_kinds(user)
            .await
            .iter()
            .any(|k| k == "refresh_reuse_detected")
    );
}

async fn a_refresh_that_never_gets_an_answer_gives_up_within_the_grace_window_and_keeps_the_tokens(
    backend: Backend,
) {
    let (_app, proxy, client, email, _dir) = setup(backend).await;
    client.login(&email).await;
    proxy.take();
    let held = client.stored_refresh();
    proxy.lose_refreshes(usize::MAX, None);
    let call = client.run(&["call", "--refresh-margin-secs", "1000"]).await;
    assert_eq!(call.status.code(), Some(1), "{:?}", text(&call));
    let log = proxy.take();
    assert!(log.len() >= 3, "a few attempts: {:?}", summary(&log));
    assert!(
        log.iter()
            .all(|e| e.path == "/auth/refresh" && e.request["refresh_token"] == held.as_str())
    );
    let span = log.last().unwrap().at - log[0].at;
    assert!(
        span < Duration::from_secs(10),
        "attempts spread over {span:?}"
    );
    // Not signed out: the client keeps what it has, and when answers come
    // through again (here within the window), the grace rule brings it back
    // to the token authd rotated to on the first attempt.
    assert_eq!(client.stored_refresh(), held);
    let rotated = log[0].response["refresh_token"].as_str().unwrap();
    proxy.lose_refreshes(0, None);
    let call = client.run(&["call", "--refresh-margin-secs", "1000"]).await;
    assert_success(&call);
    assert_eq!(client.stored_refresh(), rotated);
}

async fn logging_out_ends_the_session_and_leaves_the_client_signed_out(backend: Backend) {
    let (app, proxy, client, email, _dir) = setup(backend).await;
    client.login(&email).await;
    let saved = std::fs::read(&client.state).unwrap();
    let refresh = client.stored_refresh();
    proxy.take();

    let logout = client.run(&["logout"]).await;
    assert_success(&logout);
    assert!(!client.state.exists(), "the tokens are deleted");
    let log = proxy.take();
    assert_eq!(summary(&log), ["POST /auth/logout 204"]);
    assert_eq!(log[0].request["refresh_token"], refresh.as_str());

    let reply = app.refresh_body(&refresh).await;
    assert_eq!(reply.status, 401, "{}", reply.text);
    assert_eq!(reply.error(), "invalid_grant");

    let call = client.run(&["call"]).await;
    assert_eq!(call.status.code(), Some(SIGNED_OUT), "{:?}", text(&call));
    assert!(proxy.take().is_empty(), "nothing to send without tokens");

    // A copy of the old tokens (a backup restored, say) is worth nothing:
    // authd refuses the access token of the ended session, then the refresh
    // token, and the client deletes them and says it is signed out.
    std::fs::write(&client.state, saved).unwrap();
    let call = client.run(&["call"]).await;
    assert_eq!(call.status.code(), Some(SIGNED_OUT), "{:?}", text(&call));
    assert_eq!(
        summary(&proxy.take()),
        ["GET /auth/me 401", "POST /auth/refresh 401"]
    );
    assert!(!client.state.exists());
}

crate::on_both_stores!(
    the_client_logs_in_keeps_its_tokens_in_a_private_file_and_calls_as_the_user,
    the_client_refreshes_before_the_access_token_expires_and_when_authd_refuses_it,
    a_refresh_whose_answer_is_lost_is_retried_with_the_same_token_and_the_client_stays_signed_in,
    a_lost_refresh_retried_after_the_grace_window_signs_the_client_out,
    a_refresh_that_never_gets_an_answer_gives_up_within_the_grace_window_and_keeps_the_tokens,
    logging_out_ends_the_session_and_leaves_the_client_signed_out,
);
