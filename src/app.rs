//! Building the application from settings and a bound listener: the
//! services (keys, store, hasher, token makers, mailer), the HTTP server, and
//! the background tasks: the cleanup sweep and the mail sender.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_cors::Cors;
use actix_web::dev::Server;
use actix_web::http::header;
use actix_web::middleware::DefaultHeaders;
use actix_web::{App, HttpServer, web};
use tracing_actix_web::TracingLogger;

use crate::clock::Clock;
use crate::config::Settings;
use crate::http::state::AppState;
use crate::keys::KeySet;
use crate::metrics::Metrics;
use crate::passwords::Hasher;
use crate::services::Services;
use crate::sessions::RotationPolicy;
use crate::store::Store;
use crate::throttle::LoginThrottle;
use crate::tokens::AccessTokens;

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
    #[error(transparent)]
    DemoClient(#[from] crate::clients::demo::DemoClientError),
    /// A registered client the keys cannot serve (`clients::check_id_token_key`).
    #[error("{0}")]
    Client(#[from] crate::clients::ClientError),
    #[error("the OpenAPI document: {0}")]
    OpenApi(String),
    /// The event worker's HTTP client could not be built.
    #[error("the event worker: {0}")]
    EventWorker(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
}

pub struct Application {
    port: u16,
    server: Server,
    /// The server of `metrics.listen`, and its port, when it is set.
    metrics: Option<(u16, Server)>,
    state: web::Data<AppState>,
    mail_sender: crate::mail::sender::SenderHandle,
    event_worker: crate::events::worker::WorkerHandle,
}

impl Application {
    /// Binds `server.host:server.port` (port 0: any free port), checks what
    /// the store holds for the settings (the demo's client), and builds the app.
    pub async fn build(settings: Settings, clock: Arc<dyn Clock>) -> Result<Self, StartError> {
        let addr = format!("{}:{}", settings.server.host, settings.server.port);
        let listener =
            TcpListener::bind(&addr).map_err(|source| StartError::Bind { addr, source })?;
        let store = Store::connect(&settings.database).await?;
        crate::clients::warn_pkce_exemptions(&store).await?;
        if settings.demo_served()
            && let Some(id) = &settings.demo.client_id
        {
            crate::clients::demo::check(&store, id, &settings.demo_url()).await?;
        }
        let services = build_services(settings, clock, store)?;
        // A client that may be granted openid on a server whose keys cannot
        // sign its ID tokens (HS256 only) would fail every sign-in: refused.
        let keys = services.access.keys();
        if let Some(refusal) =
            crate::clients::first_without_id_token_key(&services.store, keys).await?
        {
            return Err(refusal.into());
        }
        Self::serve(services, listener)
    }

    /// Builds the app on `store` and `listener`, without the start-up checks
    /// of the registered clients that [`Application::build`] makes.
    pub fn build_with(
        settings: Settings,
        clock: Arc<dyn Clock>,
        store: Store,
        listener: TcpListener,
    ) -> Result<Self, StartError> {
        Self::serve(build_services(settings, clock, store)?, listener)
    }

    fn serve(services: Services, listener: TcpListener) -> Result<Self, StartError> {
        let services = Arc::new(services);
        let state = web::Data::new(AppState::new(services.clone())?);
        let port = listener
            .local_addr()
            .map(|a| a.port())
            .map_err(|source| StartError::Bind {
                addr: "listener".into(),
                source,
            })?;
        let metrics = match &state.services.settings.metrics.listen {
            Some(addr) => {
                let bind_error = |source| StartError::Bind {
                    addr: format!("metrics.listen {addr}"),
                    source,
                };
                let listener = TcpListener::bind(addr).map_err(bind_error)?;
                let port = listener.local_addr().map_err(bind_error)?.port();
                Some((port, run_metrics(listener, state.clone())?))
            }
            None => None,
        };
        let server = run(listener, state.clone())?;
        crate::cleanup::spawn(services.clone());
        let event_worker = crate::events::worker::spawn(services.clone())
            .map_err(|e| StartError::EventWorker(e.to_string()))?;
        let mail_sender = crate::mail::sender::spawn(services);
        Ok(Self {
            port,
            server,
            metrics,
            state,
            mail_sender,
            event_worker,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port of `metrics.listen`, when it is set.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics.as_ref().map(|(port, _)| *port)
    }

    pub fn state(&self) -> Arc<AppState> {
        self.state.clone().into_inner()
    }

    /// Serves until SIGTERM or SIGINT, then drains in-flight requests (both
    /// servers, when `metrics.listen` is set: each stops on the signal) and
    /// lets the mail sender and the event worker settle the batch each is
    /// delivering.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let served = match self.metrics {
            None => self.server.await,
            Some((_, metrics)) => tokio::try_join!(self.server, metrics).map(|_| ()),
        };
        let limit = Duration::from_secs(self.state.services.settings.server.shutdown_timeout_secs);
        self.mail_sender.stop(limit).await;
        self.event_worker.stop(limit).await;
        served
    }
}

/// The services, from settings: keys and token makers, the hasher, the
/// rotation policy, the throttle, the metrics.
pub fn build_services(
    settings: Settings,
    clock: Arc<dyn Clock>,
    store: Store,
) -> Result<Services, StartError> {
    let keys = Arc::new(KeySet::load(&settings)?);
    let access = AccessTokens::new(
        keys,
        settings.issuer(),
        &settings.jwt.audience,
        &settings.jwt.client_id,
        settings.jwt.access_ttl_secs,
    );
    let refresh = crate::keys::refresh::load(&settings)?;
    let metrics = Metrics::new().map_err(|e| StartError::Metrics(e.to_string()))?;
    let background = crate::background::Background::new(
        crate::background::MAX_IN_FLIGHT,
        metrics.background_failed.clone(),
    );
    Ok(Services {
        webauthn: crate::factors::webauthn::build(&settings)?,
        hasher: Hasher::new(&settings.password)?,
        policy: RotationPolicy::from_settings(&settings.refresh),
        throttle: LoginThrottle::new(&settings.limits),
        client_limits: crate::throttle::ClientLimits::new(&settings.limits),
        metrics,
        mail: crate::mail::Mailer::new(&settings)?,
        background,
        access,
        refresh,
        clock,
        store,
        settings,
    })
}

fn run(listener: TcpListener, state: web::Data<AppState>) -> Result<Server, StartError> {
    let settings = &state.services.settings;
    let workers = match settings.server.workers {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let shutdown = settings.server.shutdown_timeout_secs;
    let demo = settings.demo_served();
    // Browsers keep to https for a year once they have seen authd over https
    // (RFC 6797); an http issuer (development) gets no such promise.
    let hsts = settings.issuer().starts_with("https://");
    if !settings.issuer_is_secure_context() {
        tracing::warn!(
            issuer = settings.issuer(),
            "server.issuer is plain http to a host other than localhost: browsers drop the \
             Secure refresh cookie there, so only body delivery works; serve authd over https"
        );
    }
    let server = HttpServer::new(move || {
        let origins = state.origins();
        let cors = Cors::default()
            .allowed_origin_fn(move |origin, _| origin.to_str().is_ok_and(|o| origins.contains(o)))
            .allowed_methods(["GET", "POST", "DELETE"])
            .allowed_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
            .supports_credentials()
            .max_age(600);
        App::new()
            .wrap(cors)
            // Outside the first-party CORS: a registered client's web origin
            // is answered here, without credentials.
            .wrap(actix_web::middleware::from_fn(
                crate::http::client_cors::client_cors,
            ))
            .wrap(actix_web::middleware::Condition::new(
                hsts,
                DefaultHeaders::new().add((header::STRICT_TRANSPORT_SECURITY, "max-age=31536000")),
            ))
            .wrap(
                DefaultHeaders::new()
                    .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
                    .add((header::X_FRAME_OPTIONS, "DENY"))
                    .add((header::REFERRER_POLICY, "no-referrer")),
            )
            .wrap(TracingLogger::<crate::http::request_span::RequestSpan>::new())
            .wrap(actix_web::middleware::from_fn(
                crate::http::operations::measure,
            ))
            .app_data(state.clone())
            .configure(crate::http::pages::routes)
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

/// The server of `metrics.listen`: `GET /metrics` only, on one worker, with
/// the public server's connection limits. Its requests are not counted in
/// the metrics it serves.
fn run_metrics(listener: TcpListener, state: web::Data<AppState>) -> Result<Server, StartError> {
    let shutdown = state.services.settings.server.shutdown_timeout_secs;
    let server = HttpServer::new(move || {
        App::new()
            .wrap(DefaultHeaders::new().add((header::X_CONTENT_TYPE_OPTIONS, "nosniff")))
            .app_data(state.clone())
            .configure(crate::http::metrics_routes)
    })
    .workers(1)
    .shutdown_timeout(shutdown)
    .client_request_timeout(Duration::from_secs(5))
    .client_disconnect_timeout(Duration::from_secs(1))
    .keep_alive(Duration::from_secs(30))
    .listen(listener)
    .map_err(|source| StartError::Bind {
        addr: "metrics.listen".into(),
        source,
    })?
    .run();
    Ok(server)
}
