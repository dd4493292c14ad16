//! What every handler shares: the services, and the HTTP edge's own parts
//! (the per-client request limits, the trusted proxies, the allowed origins,
//! the refresh cookie's name, the OpenAPI document, the page templates).

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Arc;

use actix_web::web;

use crate::app::StartError;
use crate::config::RefreshCookie;
use crate::services::Services;
use crate::templates::pages::Pages;
use crate::throttle::RateLimiter;

pub struct AppState {
    pub services: Arc<Services>,
    pub register_limit: RateLimiter,
    pub refresh_limit: RateLimiter,
    pub trusted_proxies: Vec<IpAddr>,
    /// `GET /openapi.json`, built once.
    pub openapi: web::Bytes,
    /// The refresh cookie's full name and path (`refresh.cookie_path`).
    pub refresh_cookie: RefreshCookie,
    /// The hosted pages' templates and stylesheet (`http::pages`), checked
    /// at start-up.
    pub pages: Pages,
    origins: HashSet<String>,
}

impl AppState {
    pub fn new(services: Arc<Services>) -> Result<Self, StartError> {
        let settings = &services.settings;
        let openapi = super::openapi::document_json(settings)
            .map_err(|e| StartError::OpenApi(e.to_string()))?
            .into();
        let l = &settings.limits;
        Ok(Self {
            register_limit: RateLimiter::new(l.register_per_ip, l.register_window_secs),
            refresh_limit: RateLimiter::new(l.refresh_per_ip, l.refresh_window_secs),
            // Canonical, like the peers they are compared with: `::ffff:10.0.0.1`
            // and `10.0.0.1` are one proxy, whichever the listener or the
            // configuration spells.
            trusted_proxies: settings
                .server
                .trusted_proxies
                .iter()
                .filter_map(|p| p.parse::<IpAddr>().ok())
                .map(|ip| ip.to_canonical())
                .collect(),
            origins: settings.allowed_origins(),
            refresh_cookie: settings.refresh.cookie(),
            pages: Pages::load(settings)?,
            openapi,
            services,
        })
    }

    /// The issuer's own origin and the configured ones.
    pub fn origin_allowed(&self, origin: &str) -> bool {
        self.origins.contains(origin)
    }

    /// The allowed origins, for the CORS layer.
    pub fn origins(&self) -> HashSet<String> {
        self.origins.clone()
    }

    /// Whether `origin` is one of authd's own (credentialed CORS).
    pub fn is_own_origin(&self, origin: &str) -> bool {
        self.origins.contains(origin)
    }

    pub fn settings(&self) -> &crate::config::Settings {
        &self.services.settings
    }
}
