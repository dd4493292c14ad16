//! Revocation reaching services that verify access tokens locally: authd's
//! revocation feed read by `authd-verify`, in process and in the example
//! microservice, against the real server. Each test prints the delays it
//! measured from the revoking request's answer to the first refusal.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use authd_verify::{DEFAULT_MAX_REVOCATION_STALENESS, Verifier, VerifyError};
use serde_json::json;

use crate::helpers::{Backend, PASSWORD, TestApp, example_binary, spawn_app_with};
use crate::on_both_stores;

on_both_stores!(
    every_kind_of_revocation_reaches_a_local_verifier_by_the_next_feed_poll,
    the_example_microservice_serves_users_and_scoped_clients_and_refuses_revoked_sessions,
);

/// The feed's poll interval in these tests: 250 ms, or
/// `AUTHD_TEST_REVOCATION_POLL_MS` to measure another (the default is 5 s).
fn poll() -> Duration {
    let ms = std::env::var("AUTHD_TEST_REVOCATION_POLL_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(250);
    Duration::from_millis(ms)
}
/// A safety net against a verifier that stopped polling, far beyond two polls.
fn give_up() -> Duration {
    Duration::from_secs(15) + poll() * 2
}

async fn verifier(app: &TestApp, client: &(String, String)) -> Verifier {
    // The test server's issuer, `http://authd.test`, is not loopback; the
    // URLs fetched are.
    Verifier::builder("http://authd.test")
        .allow_insecure_http()
        .jwks_url(app.url("/.well-known/jwks.json"))
        .revocation(client.0.clone(), client.1.clone())
        .revocation_feed_url(app.url("/auth/revocations"))
        .revocation_poll_interval(poll())
        .max_revocation_staleness(DEFAULT_MAX_REVOCATION_STALENESS.max(poll() * 12))
        .build()
        .await
        .expect("the verifier starts against authd")
}

/// How long after now (the revoking request has been answered) `verifier`
/// starts refusing `token` as revoked. The property checked is not a time: a
/// poll that starts after the revocation committed must carry it, so once a
/// second feed poll has completed since now, the token must be refused.
async fn time_to_refusal(verifier: &Verifier, token: &str) -> Duration {
    let answered = SystemTime::now();
    let started = Instant::now();
    let mut refused = None;
    let mut last_poll = verifier.last_revocation_poll();
    let mut polls_since = 0;
    loop {
        // Read the poll count before verifying: a token accepted after two
        // polls completed since the answer was missed by a whole poll.
        let poll = verifier.last_revocation_poll();
        if poll != last_poll && poll.is_some_and(|p| p > answered) {
            polls_since += 1;
            last_poll = poll;
        }
        match verifier.verify(token).await {
            Err(VerifyError::Revoked) => {
                refused.get_or_insert(started.elapsed());
            }
            Ok(_) => assert!(
                refused.is_none(),
                "accepted again after being refused as revoked"
            ),
            Err(other) => panic!("refused for another reason: {other:?}"),
        }
        if polls_since >= 2 {
            return refused.unwrap_or_else(|| {
                panic!("still accepted after a feed poll that started after the revocation")
            });
        }
        assert!(
            started.elapsed() < give_up(),
            "no second feed poll within {:?}",
            give_up()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn report(what: &str, backend: Backend, delays: &[(&str, Duration)]) {
    let list: Vec<String> = delays
        .iter()
        .map(|(kind, d)| format!("{kind} {} ms", d.as_millis()))
        .collect();
    eprintln!(
        "revocation delay ({what}, {backend:?}, poll {} ms): {}",
        poll().as_millis(),
        list.join(", ")
    );
}

async fn every_kind_of_revocation_reaches_a_local_verifier_by_the_next_feed_poll(backend: Backend) {
    // No grace window, so presenting a rotated token is reuse at once.
    let app = spawn_app_with(backend, |s| s.refresh.reuse_interval_secs = 0).await;
    let client = app.create_client("orders", "authd:revocations").await;
    let verifier = verifier(&app, &client).await;
    let (email, _) = app.user_with_tokens().await;
    let mut delays = Vec::new();

    // Logout with the refresh token.
    let t = app.login_body(&email).await;
    let bystander = app.login_body(&email).await;
    assert!(verifier.verify(&t.access).await.is_ok());
    let reply = app
        .post_json("/auth/logout", &json!({ "refresh_token": t.refresh }))
        .await;
    assert_eq!(reply.status, 204);
    delays.push(("logout", time_to_refusal(&verifier, &t.access).await));
    // Only that session: another one of the same user still verifies.
    assert!(verifier.verify(&bystander.access).await.is_ok());

    // RFC 7009 revocation of the access token itself.
    let t = app.login_body(&email).await;
    let reply = app
        .post_form("/oauth/revoke", &[("token", &t.access)], None)
        .await;
    assert_eq!(reply.status, 200);
    delays.push(("oauth_revoke", time_to_refusal(&verifier, &t.access).await));

    // A user ending one of their sessions from the session list.
    let t = app.login_body(&email).await;
    let sid = crate::helpers::jwt_claims(&t.access)["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let reply = app
        .send(
            app.client
                .delete(app.url(&format!("/auth/sessions/{sid}")))
                .bearer_auth(&bystander.access),
        )
        .await;
    assert_eq!(reply.status, 204);
    delays.push((
        "session_delete",
        time_to_refusal(&verifier, &t.access).await,
    ));

    // A password change ends every other session.
    let t = app.login_body(&email).await;
    let reply = app
        .send(
            app.client
                .post(app.url("/auth/password"))
                .bearer_auth(&bystander.access)
                .json(&json!({
                    "current_password": PASSWORD,
                    "new_password": PASSWORD.to_owned() + " again",
                })),
        )
        .await;
    assert_eq!(reply.status, 204, "{}", reply.text);
    delays.push((
        "password_change",
        time_to_refusal(&verifier, &t.access).await,
    ));
    assert!(verifier.verify(&bystander.access).await.is_ok());

    // Reuse of a rotated refresh token ends every session of the user.
    let rotated = app.refresh_body(&bystander.refresh).await;
    assert_eq!(rotated.status, 200);
    assert_eq!(app.refresh_body(&bystander.refresh).await.status, 401);
    delays.push((
        "reuse_detected",
        time_to_refusal(&verifier, &rotated.access_token()).await,
    ));

    report("authd-verify in process", backend, &delays);
    assert!(verifier.last_revocation_poll().is_some());
}

/// The example microservice as a process of its own, pointed at `app`.
struct Microservice {
    child: Child,
    base: String,
}

impl Microservice {
    fn start(app: &TestApp, client: &(String, String)) -> Self {
        let mut child = Command::new(example_binary("microservice"))
            .env("AUTHD_ISSUER", "http://authd.test")
            .env("AUTHD_ALLOW_INSECURE_HTTP", "true")
            .env("AUTHD_JWKS_URL", app.url("/.well-known/jwks.json"))
            .env("AUTHD_REVOCATION_FEED_URL", app.url("/auth/revocations"))
            .env("AUTHD_CLIENT_ID", &client.0)
            .env("AUTHD_CLIENT_SECRET", &client.1)
            .env(
                "AUTHD_REVOCATION_POLL_SECS",
                poll().as_secs_f64().to_string(),
            )
            .env("MICROSERVICE_PORT", "0")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the microservice starts");
        let stdout = child.stdout.take().expect("stdout");
        let line = std::io::BufRead::lines(std::io::BufReader::new(stdout))
            .next()
            .expect("a line")
            .expect("readable");
        let base = line
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {line}"))
            .to_owned();
        Self { child, base }
    }
}

impl Drop for Microservice {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn the_example_microservice_serves_users_and_scoped_clients_and_refuses_revoked_sessions(
    backend: Backend,
) {
    let app = spawn_app_with(backend, |_| {}).await;
    let client = app
        .create_client("reporting", "reports:read authd:revocations")
        .await;
    let service = Microservice::start(&app, &client);
    let get = |path: &str, token: Option<&str>| {
        let mut request = app.client.get(format!("{}{path}", service.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        app.send(request)
    };

    let (email, tokens) = app.user_with_tokens().await;
    let hello = get("/hello", Some(&tokens.access)).await;
    assert_eq!(hello.status, 200, "{}", hello.text);
    assert_eq!(hello.body["sub"], app.user_id(&email).await.to_string());

    let missing = get("/hello", None).await;
    assert_eq!(missing.status, 401);
    assert_eq!(missing.header("www-authenticate"), Some("Bearer"));
    let forged = get("/hello", Some("e30.e30.e30")).await;
    assert_eq!(forged.status, 401);
    assert!(
        forged
            .header("www-authenticate")
            .is_some_and(|h| h.contains(r#"error="invalid_token""#)),
        "{:?}",
        forged.header("www-authenticate")
    );

    // Scopes come from client credentials; a user's token has none.
    let scoped = app
        .post_form(
            "/oauth/token",
            &[("grant_type", "client_credentials")],
            Some((&client.0, &client.1)),
        )
        .await
        .access_token();
    let reports = get("/reports", Some(&scoped)).await;
    assert_eq!(reports.status, 200, "{}", reports.text);
    // Each route takes one kind of token: `/reports` a client's, `/hello` a user's.
    assert_eq!(get("/reports", Some(&tokens.access)).await.status, 401);
    assert_eq!(get("/hello", Some(&scoped)).await.status, 401);

    // Logging out everywhere: the service refuses the token within a poll.
    let other = app.login_body(&email).await;
    let reply = app
        .send(
            app.client
                .post(app.url("/auth/logout?scope=global"))
                .bearer_auth(&tokens.access),
        )
        .await;
    assert_eq!(reply.status, 204);
    let started = Instant::now();
    let mut delays = Vec::new();
    for token in [&tokens.access, &other.access] {
        loop {
            let reply = get("/hello", Some(token)).await;
            if reply.status == 401 {
                delays.push(("logout_global", started.elapsed()));
                break;
            }
            assert_eq!(reply.status, 200, "{}", reply.text);
            assert!(
                started.elapsed() < give_up(),
                "still served after revocation"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    report("example microservice over HTTP", backend, &delays);
    // A client's token has no session and is still served.
    assert_eq!(get("/reports", Some(&scoped)).await.status, 200);
}
