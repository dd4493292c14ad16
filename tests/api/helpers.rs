//! The test harness: the real server on a random port, against a fresh SQLite
//! file or a fresh PostgreSQL database per test, with a clock the test drives.

use std::sync::{Arc, OnceLock};

use authd::app::Application;
use authd::clock::ManualClock;
use authd::config::{KeySettings, Settings, Sources};
use authd::http::state::AppState;
use authd::services::Services;
use sqlx::Connection;

pub mod inbox;
pub mod mime;
mod requests;
pub mod smtp;
pub mod stock;

pub use requests::{Reply, jwt_claims, urlencode};

pub const PASSWORD: &str = "correct horse battery staple";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub address: String,
    /// `http://127.0.0.1:PORT` of `metrics.listen`, when the test set it.
    pub metrics_address: Option<String>,
    pub client: reqwest::Client,
    pub clock: Arc<ManualClock>,
    pub state: Arc<AppState>,
    /// The test's directory (its data directories, the SQLite file), shared
    /// with the apps started by `spawn_sibling`.
    dir: Arc<tempfile::TempDir>,
    database: Arc<TestDatabase>,
}

/// The PostgreSQL server for tests: `TEST_DATABASE_URL` (a URL whose database
/// the tests may connect to in order to create their own).
///
/// Without it the Postgres tests are compiled as ignored (see `build.rs` and
/// `on_both_stores!`), so the harness reports them as `ignored`, never `ok`;
/// one run anyway (`--include-ignored`) fails here. `AUTHD_REQUIRE_POSTGRES=1`
/// (CI) without it does not compile (see `main.rs`).
pub fn postgres_url() -> String {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => panic!(
            "TEST_DATABASE_URL is not set: a Postgres test cannot run without it. Set it, e.g. \
             TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres (cargo then \
             rebuilds the suite with the Postgres tests enabled)"
        ),
    }
}

/// Settings for a test: the defaults, with cheap Argon2id parameters, one
/// worker, and a data directory of its own.
pub fn test_settings(dir: &std::path::Path) -> Settings {
    let mut settings = Settings::load(&Sources::default()).expect("default settings load");
    settings.server.host = "127.0.0.1".into();
    settings.server.port = 0;
    settings.server.workers = 1;
    settings.server.issuer = "http://authd.test".into();
    // The page links open, as the tests read them; by default it would
    // follow the issuer (`http://authd.test/demo/`).
    settings.email.link_base = "http://localhost:8080/demo/".into();
    settings.server.allowed_origins = vec!["https://app.example.com".into()];
    settings.data_dir = dir.join("data");
    settings.password.argon2_m_cost = 1024;
    settings.password.argon2_t_cost = 1;
    settings.password.max_concurrent_hashes = 2;
    // Every test's requests come from 127.0.0.1 and its clock stands still:
    // the per-client limits of hashing and of code tries (checked in memory)
    // would stop a test that logs in often. Their own tests set them.
    settings.limits.hash_per_ip = 1_000_000;
    settings.limits.code_per_ip = 1_000_000;
    settings.database.url = format!("sqlite://{}", dir.join("authd.db").display()).into();
    settings.log.format = "pretty".into();
    settings.jwt.keys = vec![shared_rs256_key()];
    // Every metric, for the tests that read them (`TestApp::metrics`): the
    // public listener serves none by default.
    settings.metrics.listen = Some("127.0.0.1:0".into());
    settings
}

/// One RS256 key for the whole test process: generating RSA keys is slow, and
/// only the tests of key handling need keys of their own.
pub fn shared_rs256_key() -> KeySettings {
    static PEM: OnceLock<String> = OnceLock::new();
    let pem = PEM.get_or_init(|| {
        use secrecy::ExposeSecret;
        authd::keys::generate(jsonwebtoken::Algorithm::RS256)
            .expect("RSA key")
            .expose_secret()
            .to_owned()
    });
    private_key("test-rs256", "RS256", pem)
}

/// An HS256 key given inline.
pub fn hs256_key(kid: &str, secret: &str) -> KeySettings {
    KeySettings {
        secret: Some(secret.to_owned().into()),
        private_key: None,
        ..private_key(kid, "HS256", "")
    }
}

/// A signing key given inline, as a configuration file would.
pub fn private_key(kid: &str, alg: &str, pem: &str) -> KeySettings {
    KeySettings {
        kid: kid.into(),
        alg: alg.into(),
        secret: None,
        secret_file: None,
        private_key: Some(pem.to_owned().into()),
        private_key_file: None,
        public_key: None,
        public_key_file: None,
    }
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

/// Starts authd with `configure` applied to the test settings.
pub async fn spawn_app_with(backend: Backend, configure: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_through(backend, str::to_owned, configure).await
}

/// Like `spawn_app_with`, with the database URL authd uses rewritten by
/// `route` (to go through a proxy the test controls, say); the test database
/// itself is created and dropped directly.
pub async fn spawn_app_through(
    backend: Backend,
    route: impl FnOnce(&str) -> String,
    configure: impl FnOnce(&mut Settings),
) -> TestApp {
    start(backend, None, route, configure).await
}

/// Like `spawn_app_with`, serving on `listener`, bound by the test: its port is
/// known before the settings are made (a browser's origin must be the issuer's).
pub async fn spawn_app_on(
    backend: Backend,
    listener: std::net::TcpListener,
    configure: impl FnOnce(&mut Settings),
) -> TestApp {
    start(backend, Some(listener), str::to_owned, configure).await
}

async fn start(
    backend: Backend,
    listener: Option<std::net::TcpListener>,
    route: impl FnOnce(&str) -> String,
    configure: impl FnOnce(&mut Settings),
) -> TestApp {
    let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
    let database = Arc::new(test_database(backend, dir.path()).await);
    let settings = test_settings(dir.path());
    launch(settings, dir, database, listener, route, configure).await
}

/// Starts authd with `settings` on `database`, the database URL rewritten by
/// `route`, then `configure` applied.
async fn launch(
    mut settings: Settings,
    dir: Arc<tempfile::TempDir>,
    database: Arc<TestDatabase>,
    listener: Option<std::net::TcpListener>,
    route: impl FnOnce(&str) -> String,
    configure: impl FnOnce(&mut Settings),
) -> TestApp {
    settings.database.url = route(&database.url).into();
    configure(&mut settings);
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let app = match listener {
        None => Application::build(settings, clock.clone()).await,
        Some(listener) => {
            let store = authd::store::Store::connect(&settings.database)
                .await
                .expect("store connects");
            Application::build_with(settings, clock.clone(), store, listener)
        }
    }
    .expect("authd starts");
    let address = format!("http://127.0.0.1:{}", app.port());
    let metrics_address = app
        .metrics_port()
        .map(|port| format!("http://127.0.0.1:{port}"));
    let state = app.state();
    tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        // A hung request fails its test instead of hanging the suite.
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .expect("client");
    TestApp {
        address,
        metrics_address,
        client,
        clock,
        state,
        dir,
        database,
    }
}

/// A database of a test's own: a SQLite file in the test's directory, or a new
/// PostgreSQL database on the server of `TEST_DATABASE_URL`, dropped with it.
pub struct TestDatabase {
    pub url: String,
    drop: Option<(String, String)>,
}

/// Panics for Postgres without `TEST_DATABASE_URL` (see `postgres_url`).
pub async fn test_database(backend: Backend, dir: &std::path::Path) -> TestDatabase {
    if backend == Backend::Sqlite {
        return TestDatabase {
            url: format!("sqlite://{}", dir.join("authd.db").display()),
            drop: None,
        };
    }
    let admin = postgres_url();
    let name = format!("authd_test_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .expect("connect to TEST_DATABASE_URL");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .expect("create test database");
    let (base, _) = admin
        .rsplit_once('/')
        .expect("TEST_DATABASE_URL has a database path");
    TestDatabase {
        url: format!("{base}/{name}"),
        drop: Some((admin, name)),
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // Dropped from a thread of its own: Drop cannot await, and FORCE ends
        // the connections a server may still hold.
        if let Some((admin, name)) = self.drop.take() {
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                if let Ok(rt) = rt {
                    rt.block_on(async {
                        if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                            )))
                            .execute(&mut conn)
                            .await;
                        }
                    });
                }
            })
            .join();
        }
    }
}

impl TestApp {
    /// Another authd on this app's database (the same SQLite file or the same
    /// Postgres database), with a data directory of its own and `configure`
    /// applied to fresh test settings: two deployments sharing one store. The
    /// database lives until every app on it is dropped.
    ///
    /// Like instances behind one load balancer, it holds this app's generated
    /// refresh-token key (a copy of `data_dir/refresh.key`), unless `configure`
    /// gives it a ring of its own: the keyed address hashes of the shared
    /// counters and the sealed outbox are made with keys derived from it.
    pub async fn spawn_sibling(&self, configure: impl FnOnce(&mut Settings)) -> TestApp {
        let own = self
            .dir
            .path()
            .join(format!("sibling-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir(&own).expect("sibling directory");
        let settings = test_settings(&own);
        let key = authd::keys::refresh::GENERATED_REFRESH_KEY_FILE;
        let generated = self.services().settings.data_path(key);
        if generated.exists() {
            std::fs::create_dir_all(&settings.data_dir).expect("sibling data directory");
            std::fs::copy(&generated, settings.data_path(key)).expect("refresh key copied");
        }
        launch(
            settings,
            self.dir.clone(),
            self.database.clone(),
            None,
            str::to_owned,
            configure,
        )
        .await
    }

    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        use authd::clock::Clock;
        self.clock.now()
    }

    pub fn advance(&self, secs: i64) {
        self.clock.advance(chrono::Duration::seconds(secs));
    }

    /// The services of the server under test.
    pub fn services(&self) -> &Services {
        &self.state.services
    }

    /// The URL of the test's database, for a test that changes it behind
    /// authd's back (a fault trigger, a lock held by the test).
    pub fn database_url(&self) -> &str {
        &self.database.url
    }

    /// The server's store.
    pub fn store(&self) -> &authd::store::Store {
        &self.state.services.store
    }

    /// The id of the user registered with `email`.
    pub async fn user_id(&self, email: &str) -> uuid::Uuid {
        let mut conn = self.store().conn().await.unwrap();
        authd::store::users::find_credentials_by_email(&mut conn, email)
            .await
            .unwrap()
            .expect("a registered email")
            .id
    }

    /// The user's audit events, newest first.
    pub async fn audit_events(&self, user: uuid::Uuid) -> Vec<authd::store::audit::AuditRecord> {
        authd::audit::list(self.store(), user, 200).await.unwrap()
    }

    /// The kinds of the user's audit events, newest first.
    pub async fn audit_kinds(&self, user: uuid::Uuid) -> Vec<String> {
        self.audit_events(user)
            .await
            .into_iter()
            .take(50)
            .map(|e| e.kind)
            .collect()
    }

    /// Registers a machine client with `scopes`; returns its id and secret.
    pub async fn create_client(&self, name: &str, scopes: &str) -> (String, String) {
        use secrecy::ExposeSecret;
        let (client, secret) = authd::clients::create(self.store(), name, scopes, self.now())
            .await
            .expect("client created");
        (client.id, secret.expose_secret().to_owned())
    }
}

/// The kind of an app signing users in through the authorization code flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppKind {
    /// A single-page or native app: no secret, PKCE always.
    Public,
    /// A web server holding a secret (client_secret_basic).
    Confidential,
}

/// A client of the authorization code flow, as its app is configured.
#[derive(Debug, Clone)]
pub struct OidcClient {
    pub id: String,
    /// `None` for a public client.
    pub secret: Option<String>,
}

/// The scopes the flow's test clients may be granted.
pub const OIDC_SCOPES: &str = "openid email profile offline_access";

impl TestApp {
    /// Registers an app of `kind` for the authorization code flow, with its
    /// one `redirect_uri`, as `authd clients create --kind ... --redirect-uri
    /// ...` would.
    pub async fn create_oidc_client(&self, kind: AppKind, redirect_uri: &str) -> OidcClient {
        use secrecy::ExposeSecret;
        let spec = authd::clients::ClientSpec {
            kind: match kind {
                AppKind::Public => authd::clients::ClientKind::Public,
                AppKind::Confidential => authd::clients::ClientKind::Confidential,
            },
            redirect_uris: vec![redirect_uri.to_owned()],
            ..authd::clients::ClientSpec::machine(&format!("{kind:?} app"), OIDC_SCOPES)
        };
        // Development: a confidential client's redirect URI is http:// on
        // loopback in these tests.
        let policy = authd::clients::Policy { development: true };
        let (client, secret) = authd::clients::register(self.store(), spec, policy, self.now())
            .await
            .unwrap();
        OidcClient {
            id: client.id.to_string(),
            secret: secret.map(|s| s.expose_secret().to_owned()),
        }
    }
}

/// An example's binary, next to this test binary (`target/debug/deps/api-…`
/// → `target/debug/examples/NAME`). A plain `cargo test` builds examples
/// first; a filtered run (`cargo test --test api mobile`) does not, so it is
/// built here when missing or older than its source.
pub fn example_binary(name: &'static str) -> &'static std::path::Path {
    use std::collections::HashMap;
    use std::path::{Path, PathBuf};
    use std::sync::Mutex;
    static BINS: OnceLock<Mutex<HashMap<&'static str, &'static Path>>> = OnceLock::new();
    let mut bins = BINS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    bins.entry(name).or_insert_with(|| {
        let exe = std::env::current_exe().unwrap();
        let profile_dir = exe.parent().unwrap().parent().unwrap();
        let bin: PathBuf = profile_dir
            .join("examples")
            .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("examples/{name}.rs"));
        let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        if modified(&bin) < modified(&source) {
            let mut cargo = std::process::Command::new(env!("CARGO"));
            cargo
                .args(["build", "--example", name])
                .current_dir(env!("CARGO_MANIFEST_DIR"));
            // Without the variables cargo set for this test (the package's
            // name, its directory, ...): build scripts that watch them would
            // otherwise see a change and rebuild their crates.
            for (var, _) in std::env::vars_os() {
                let var = var.to_string_lossy();
                if var.starts_with("CARGO_PKG_")
                    || var.starts_with("CARGO_MANIFEST_")
                    || [
                        "CARGO_CRATE_NAME",
                        "CARGO_BIN_NAME",
                        "CARGO_PRIMARY_PACKAGE",
                        "CARGO_TARGET_TMPDIR",
                        "CARGO_RUSTC_CURRENT_DIR",
                        "OUT_DIR",
                    ]
                    .contains(&&*var)
                {
                    cargo.env_remove(&*var);
                }
            }
            let status = cargo.status().unwrap();
            assert!(status.success(), "cargo build --example {name}");
        }
        assert!(bin.exists(), "{} was not built", bin.display());
        Box::leak(bin.into_boxed_path())
    })
}

/// Runs each listed `async fn(Backend)` once on SQLite and once on PostgreSQL,
/// as `sqlite::<name>` and `postgres::<name>`. The Postgres ones are ignored
/// (reported as `ignored`, with the reason) when the suite was built without
/// `TEST_DATABASE_URL`; see `build.rs`.
#[macro_export]
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[cfg_attr(not(authd_postgres_tests), ignore = "TEST_DATABASE_URL is not set")]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Postgres).await
                }
            )*
        }
    };
}
