//! Faults: the database goes away and comes back. authd answers 503 quickly,
//! stays alive, loses nothing, and recovers without a restart. The test puts a
//! TCP proxy it controls between authd and PostgreSQL and cuts it; the shared
//! server that other tests use is never stopped.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::helpers::Backend;

/// A TCP proxy to `target` that the test can cut and restore.
struct Proxy {
    addr: SocketAddr,
    open: Arc<AtomicBool>,
    links: Arc<std::sync::Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl Proxy {
    async fn start(target: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let open = Arc::new(AtomicBool::new(true));
        let links: Arc<std::sync::Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (open2, links2) = (open.clone(), links.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !open2.load(Ordering::SeqCst) {
                    drop(client); // refused: the connection closes at once
                    continue;
                }
                let target = target.clone();
                let link = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                links2.lock().unwrap().push(link);
            }
        });
        Self {
            addr,
            open,
            links,
            accept,
        }
    }

    /// Breaks every open connection and refuses new ones.
    fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
        self.accept.abort();
    }
}

/// `postgres://user@host:port/db` with `host:port` replaced; and the old `host:port`.
fn through(url: &str, proxy: SocketAddr) -> (String, String) {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (authority, path) = rest.split_once('/').unwrap();
    let (userinfo, host) = match authority.rsplit_once('@') {
        Some((u, h)) => (format!("{u}@"), h.to_owned()),
        None => (String::new(), authority.to_owned()),
    };
    let host = if host.contains(':') {
        host
    } else {
        format!("{host}:5432")
    };
    (format!("{scheme}://{userinfo}{proxy}/{path}"), host)
}

/// authd on a fresh Postgres database of its own, reached through a proxy the
/// test controls.
async fn proxied_app(
    configure: impl FnOnce(&mut authd::config::Settings),
) -> (Proxy, crate::helpers::TestApp) {
    let admin = crate::helpers::postgres_url();
    // The test databases live on the server of TEST_DATABASE_URL.
    let (_, server) = through(&admin, "127.0.0.1:1".parse().unwrap());
    let proxy = Proxy::start(server).await;
    let proxy_addr = proxy.addr;
    let app = crate::helpers::spawn_app_through(
        Backend::Postgres,
        |url| through(url, proxy_addr).0,
        configure,
    )
    .await;
    (proxy, app)
}

mod postgres {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(not(authd_postgres_tests), ignore = "TEST_DATABASE_URL is not set")]
    async fn a_database_outage_answers_503_quickly_loses_nothing_and_recovers_without_a_restart() {
        let (proxy, app) = proxied_app(|s| {
            s.database.acquire_timeout_ms = 500;
            s.database.max_connections = 4;
        })
        .await;
        let (_, tokens) = app.user_with_tokens().await;
        let rotated = app.refresh_body(&tokens.refresh).await;
        assert_eq!(rotated.status, 200);
        let current = rotated.refresh_token();

        proxy.cut();
        let started = Instant::now();
        let ready = app.get("/readyz").await;
        assert_eq!(ready.status, 503, "{}", ready.text);
        let refresh = app.refresh_body(&current).await;
        assert_eq!(refresh.status, 503, "{}", refresh.text);
        assert_eq!(refresh.error(), "temporarily_unavailable");
        assert!(refresh.header("retry-after").is_some());
        let login = app
            .try_login("someone@example.com", "wrong guess 1234")
            .await;
        assert_eq!(login.status, 503, "{}", login.text);
        let elapsed = started.elapsed();
        assert!(
            elapsed < Duration::from_secs(10),
            "three answers took {elapsed:?}"
        );
        // What needs no database keeps working.
        assert_eq!(app.get("/healthz").await.status, 200);
        assert_eq!(app.get("/.well-known/jwks.json").await.status, 200);

        proxy.restore();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if app.get("/readyz").await.status == 200 {
                break;
            }
            assert!(Instant::now() < deadline, "authd did not recover");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // The token presented during the outage was not spent: it rotates now,
        // and is not taken for reuse.
        let after = app.refresh_body(&current).await;
        assert_eq!(after.status, 200, "{}", after.text);
        assert_eq!(app.refresh_body(&after.refresh_token()).await.status, 200);
        println!("outage: 3 answers of 503 in {elapsed:?}");
    }
}

mod under_load {
    use super::*;
    use serde_json::json;

    /// The database connection breaks while clients are rotating (what clients
    /// of a restarting Postgres see): requests in flight fail with 503, and once
    /// it is back every client's token still works, one step from the database's.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(not(authd_postgres_tests), ignore = "TEST_DATABASE_URL is not set")]
    async fn postgres_connections_breaking_under_refresh_load_leave_every_family_consistent() {
        const FAMILIES: usize = 12;
        let (proxy, app) = proxied_app(|s| {
            s.database.acquire_timeout_ms = 300;
            s.server.workers = 2;
            s.limits.refresh_per_ip = 1_000_000;
        })
        .await;
        let (email, first) = app.user_with_tokens().await;
        let mut tokens = vec![first.refresh];
        for _ in 1..FAMILIES {
            tokens.push(app.login_body(&email).await.refresh);
        }
        let app = Arc::new(app);
        let stop = Arc::new(AtomicBool::new(false));
        let mut drivers = Vec::new();
        for mut token in tokens {
            let (app, stop) = (app.clone(), stop.clone());
            drivers.push(tokio::spawn(async move {
                let (mut ok, mut unavailable) = (0u32, 0u32);
                while !stop.load(Ordering::SeqCst) {
                    let reply = app
                        .post_json("/auth/refresh", &json!({ "refresh_token": token }))
                        .await;
                    match reply.status {
                        200 => {
                            token = reply.refresh_token();
                            ok += 1;
                        }
                        503 => {
                            unavailable += 1;
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                        other => panic!("refresh answered {other}: {}", reply.text),
                    }
                }
                (token, ok, unavailable)
            }));
        }
        tokio::time::sleep(Duration::from_millis(400)).await;
        proxy.cut();
        tokio::time::sleep(Duration::from_millis(500)).await;
        proxy.restore();
        tokio::time::sleep(Duration::from_millis(800)).await;
        stop.store(true, Ordering::SeqCst);
        let (mut ok, mut unavailable) = (0, 0);
        for driver in drivers {
            let (token, o, u) = driver.await.unwrap();
            ok += o;
            unavailable += u;
            // One more step from whatever the client holds must succeed.
            let reply = app.refresh_body(&token).await;
            assert_eq!(reply.status, 200, "{}", reply.text);
        }
        assert!(unavailable > 0, "the cut happened under load");
        let user = app.state_user(&first.access);
        assert_eq!(
            authd::sessions::list_live(app.services(), user)
                .await
                .unwrap()
                .len(),
            FAMILIES
        );
        println!(
            "{ok} rotations, {unavailable} answered 503 during the cut; every family consistent"
        );
    }
}
