//! Building the application from settings: keys, store, hashing pool, the HTTP
//! server on a bound listener, and the background cleanup.

use std::collections::HashSet;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_cors::Cors;
use actix_web::dev::Server;
use actix_web::http::header;
use actix_web::middleware::DefaultHeaders;
use actix_web::{App, HttpServer, web};
use secrecy::{ExposeSecret, SecretString};
use tracing_actix_web::TracingLogger;

use crate::clock::Clock;
use crate::config::Settings;
use crate::keys::{KeySet, write_private_file};
use crate::metrics::Metrics;
use crate::passwords::Hasher;
use crate::refresh::RefreshTokens;
use crate::sessions::RotationPolicy;
use crate::store::{self, Store};
use crate::throttle::{LoginThrottle, RateLimiter};
use crate::tokens::AccessTokens;

/// The file, inside `data_dir`, of the generated refresh-token key.
pub const GENERATED_REFRESH_KEY_FILE: &str = "refresh.key";

/// Everything a request handler needs, shared by all workers.
pub struct AppState {
    pub settings: Settings,
    pub store: Arc<dyn Store>,
    pub hasher: Hasher,
    pub access: AccessTokens,
    pub refresh: RefreshTokens,
    pub clock: Arc<dyn Clock>,
    pub policy: RotationPolicy,
    pub throttle: LoginThrottle,
    pub register_limit: RateLimiter,
    pub refresh_limit: RateLimiter,
    pub trusted_proxies: Vec<std::net::IpAddr>,
    pub metrics: Metrics,
    /// `GET /openapi.json`, built once.
    pub openapi: web::Bytes,
    origins: HashSet<String>,
}

impl AppState {
    /// The issuer's own origin and the configured ones.
    pub fn origin_allowed(&self, origin: &str) -> bool {
        self.origins.contains(origin)
    }
}

/// A start-up failure, with the setting or resource to fix.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Keys(#[from] crate::keys::KeyError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("password hashing: {0}")]
    Hasher(#[from] crate::passwords::HashError),
    #[error("metrics: {0}")]
    Metrics(String),
    #[error("the OpenAPI document: {0}")]
    OpenApi(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
}

pub struct Application {
    port: u16,
    server: Server,
    state: web::Data<AppState>,
}

impl Application {
    /// Binds `server.host:server.port` (port 0: any free port) and builds the app.
    pub async fn build(settings: Settings, clock: Arc<dyn Clock>) -> Result<Self, StartError> {
        let addr = format!("{}:{}", settings.server.host, settings.server.port);
        let listener =
            TcpListener::bind(&addr).map_err(|source| StartError::Bind { addr, source })?;
        let store = store::connect(&settings.database).await?;
        Self::build_with(settings, clock, store, listener)
    }

    pub fn build_with(
        settings: Settings,
        clock: Arc<dyn Clock>,
        store: Arc<dyn Store>,
        listener: TcpListener,
    ) -> Result<Self, StartError> {
        let state = web::Data::new(build_state(settings, clock, store)?);
        let port = listener
            .local_addr()
            .map(|a| a.port())
            .map_err(|source| StartError::Bind {
                addr: "listener".into(),
                source,
            })?;
        let server = run(listener, state.clone())?;
        spawn_cleanup(state.clone().into_inner());
        Ok(Self {
            port,
            server,
            state,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn state(&self) -> Arc<AppState> {
        self.state.clone().into_inner()
    }

    /// Serves until SIGTERM or SIGINT, then drains in-flight requests.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

pub fn build_state(
    settings: Settings,
    clock: Arc<dyn Clock>,
    store: Arc<dyn Store>,
) -> Result<AppState, StartError> {
    let keys = Arc::new(KeySet::load(&settings)?);
    let access = AccessTokens::new(
        keys,
        settings.issuer(),
        &settings.jwt.audience,
        &settings.jwt.client_id,
        settings.jwt.access_ttl_secs,
    );
    let refresh = RefreshTokens::new(&refresh_secret(&settings)?);
    let hasher = Hasher::new(&settings.password)?;
    let policy = RotationPolicy::from_settings(&settings.refresh);
    let openapi = crate::http::document_json(&settings)
        .map_err(|e| StartError::OpenApi(e.to_string()))?
        .into();
    let origins = settings.allowed_origins();
    let throttle = LoginThrottle::new(&settings.limits);
    let l = &settings.limits;
    let register_limit = RateLimiter::new(l.register_per_ip, l.register_window_secs);
    let refresh_limit = RateLimiter::new(l.refresh_per_ip, l.refresh_window_secs);
    let trusted_proxies = settings
        .server
        .trusted_proxies
        .iter()
        .filter_map(|p| p.parse().ok())
        .collect();
    Ok(AppState {
        settings,
        store,
        hasher,
        access,
        refresh,
        clock,
        policy,
        throttle,
        register_limit,
        refresh_limit,
        trusted_proxies,
        metrics: Metrics::new().map_err(|e| StartError::Metrics(e.to_string()))?,
        openapi,
        origins,
    })
}

/// The configured refresh-token key, or the generated one in `data_dir`.
fn refresh_secret(settings: &Settings) -> Result<SecretString, StartError> {
    if let Some(secret) = &settings.refresh.secret {
        return Ok(secret.clone());
    }
    let path = settings.data_path(GENERATED_REFRESH_KEY_FILE);
    let io = |source| crate::keys::KeyError::Io {
        path: path.display().to_string(),
        source,
    };
    if path.exists() {
        let secret = std::fs::read_to_string(&path).map_err(io)?;
        let secret = secret.trim_end().to_owned();
        if secret.len() < 32 {
            return Err(crate::config::ConfigError::invalid(
                path.display().to_string(),
                "the refresh-token key must be at least 32 bytes",
            )
            .into());
        }
        return Ok(SecretString::from(secret));
    }
    let secret = crate::keys::generate(jsonwebtoken::Algorithm::HS256)?;
    write_private_file(&path, secret.expose_secret().as_bytes())?;
    tracing::warn!(
        path = %path.display(),
        "no refresh.secret configured: generated one; instances sharing a database must share refresh.secret"
    );
    Ok(secret)
}

fn run(listener: TcpListener, state: web::Data<AppState>) -> Result<Server, StartError> {
    let workers = match state.settings.server.workers {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let shutdown = state.settings.server.shutdown_timeout_secs;
    let demo = state.settings.demo.enabled;
    let server = HttpServer::new(move || {
        let origins = state.origins.clone();
        let cors = Cors::default()
            .allowed_origin_fn(move |origin, _| origin.to_str().is_ok_and(|o| origins.contains(o)))
            .allowed_methods(["GET", "POST", "DELETE"])
            .allowed_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
            .supports_credentials()
            .max_age(600);
        App::new()
            .wrap(cors)
            .wrap(
                DefaultHeaders::new()
                    .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
                    .add((header::X_FRAME_OPTIONS, "DENY"))
                    .add((header::REFERRER_POLICY, "no-referrer")),
            )
            .wrap(TracingLogger::default())
            .wrap(actix_web::middleware::from_fn(crate::http::measure))
            .app_data(state.clone())
            .configure(crate::http::routes)
            // Development only; kept apart from the API's routes.
            .configure(|cfg| {
                if demo {
                    crate::http::demo::routes(cfg);
                }
            })
    })
    .workers(workers)
    .shutdown_timeout(shutdown)
    // A client that has not sent its headers within 5 s, or keeps an idle
    // connection open past the keep-alive, is dropped: slow clients cannot pin
    // connections. Header blocks over 128 KiB get 431 from actix's parser.
    .client_request_timeout(Duration::from_secs(5))
    .client_disconnect_timeout(Duration::from_secs(1))
    .keep_alive(Duration::from_secs(30))
    .listen(listener)
    .map_err(|source| StartError::Bind {
        addr: "listener".into(),
        source,
    })?
    .run();
    Ok(server)
}

/// Runs the cleanup sweep every `database.cleanup_interval_secs`.
fn spawn_cleanup(state: Arc<AppState>) {
    let interval = Duration::from_secs(state.settings.database.cleanup_interval_secs.max(1));
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            if let Err(e) = purge_once(&state).await {
                tracing::warn!(error = %e, "cleanup failed; will retry");
            }
        }
    });
}

/// What one cleanup sweep deleted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    pub sessions: u64,
    pub audit_events: u64,
    pub throttle_counters: u64,
}

/// One cleanup sweep, in batches so no statement holds locks for long:
/// sessions whose current token expired longer ago than an access token can
/// live (a revoked session is kept until then, so its refresh tokens are
/// answered as revoked, not unknown, and the revocation feed still lists it
/// while any of its access tokens could be accepted), and audit events
/// older than `database.audit_retention_days`. Storage stays proportional to
/// the sessions used within the idle limit.
pub async fn purge_once(state: &AppState) -> Result<Purged, crate::store::StoreError> {
    const BATCH: i64 = 1_000;
    let now = state.clock.now();
    let retention = chrono::Duration::days(i64::from(state.settings.database.audit_retention_days));
    let mut purged = Purged::default();
    loop {
        let n = state
            .store
            .purge_sessions(now - state.access.max_acceptance(), BATCH)
            .await?;
        purged.sessions += n;
        if n < BATCH as u64 {
            break;
        }
    }
    loop {
        let n = state.store.purge_audit(now - retention, BATCH).await?;
        purged.audit_events += n;
        if n < BATCH as u64 {
            break;
        }
    }
    loop {
        let n = state
            .store
            .purge_throttle(state.throttle.expired_before(now), now, BATCH)
            .await?;
        purged.throttle_counters += n;
        if n < BATCH as u64 {
            break;
        }
    }
    if purged != Purged::default() {
        tracing::info!(
            sessions = purged.sessions,
            audit_events = purged.audit_events,
            throttle_counters = purged.throttle_counters,
            "cleanup"
        );
    }
    Ok(purged)
}
