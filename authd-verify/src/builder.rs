//! `VerifierBuilder`: the settings of a [`Verifier`], the checks `build` makes
//! before its first requests, and the background tasks it starts to keep the
//! keys and the revocation list fresh.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use crate::discovery::discover;
use crate::error::BuildError;
use crate::http;
use crate::keys::{CacheBounds, JwksCache, PinnedKey};
use crate::revocation::{FeedCredentials, Revocations};
use crate::verifier::{
    DEFAULT_LEEWAY, DEFAULT_MAX_CACHE, DEFAULT_MAX_KEY_STALENESS, DEFAULT_MAX_REVOCATION_STALENESS,
    DEFAULT_MIN_CACHE, DEFAULT_REQUEST_TIMEOUT, DEFAULT_REVOCATION_POLL,
    DEFAULT_UNKNOWN_KID_INTERVAL, Inner, MIN_HS256_SECRET_BYTES, Verifier,
};
use jsonwebtoken::{Algorithm, DecodingKey};

/// Configures a [`Verifier`]. Every setting has a default except the issuer.
pub struct VerifierBuilder {
    issuer: String,
    audience: String,
    discovery_url: Option<String>,
    jwks_url: Option<String>,
    use_jwks: bool,
    shared: Vec<(String, Vec<u8>)>,
    leeway: Duration,
    min_cache: Duration,
    max_cache: Duration,
    unknown_kid_interval: Duration,
    credentials: Option<FeedCredentials>,
    feed_url: Option<String>,
    poll_interval: Duration,
    max_key_staleness: Duration,
    max_revocation_staleness: Duration,
    request_timeout: Duration,
    allow_insecure_http: bool,
    http: Option<reqwest::Client>,
}

impl VerifierBuilder {
    pub(crate) fn new(issuer: String) -> Self {
        Self {
            issuer,
            audience: "authd".to_owned(),
            discovery_url: None,
            jwks_url: None,
            use_jwks: true,
            shared: Vec::new(),
            leeway: DEFAULT_LEEWAY,
            min_cache: DEFAULT_MIN_CACHE,
            max_cache: DEFAULT_MAX_CACHE,
            unknown_kid_interval: DEFAULT_UNKNOWN_KID_INTERVAL,
            credentials: None,
            feed_url: None,
            poll_interval: DEFAULT_REVOCATION_POLL,
            max_key_staleness: DEFAULT_MAX_KEY_STALENESS,
            max_revocation_staleness: DEFAULT_MAX_REVOCATION_STALENESS,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            allow_insecure_http: false,
            http: None,
        }
    }

    /// The `aud` tokens must contain (authd's `jwt.audience`; default `"authd"`).
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = audience.into();
        self
    }

    /// Where to read the discovery document, if not at
    /// `{issuer}/.well-known/openid-configuration`. Its `issuer` must still
    /// equal the configured issuer.
    pub fn discovery_url(mut self, url: impl Into<String>) -> Self {
        self.discovery_url = Some(url.into());
        self
    }

    /// Fetch keys from this URL instead of the discovered `jwks_uri`.
    pub fn jwks_url(mut self, url: impl Into<String>) -> Self {
        self.jwks_url = Some(url.into());
        self
    }

    /// Use no JWKS at all, only the shared secrets of [`hs256_secret`](Self::hs256_secret).
    pub fn without_jwks(mut self) -> Self {
        self.use_jwks = false;
        self
    }

    /// Accept HS256 tokens whose `kid` is `kid`, verified with `secret` (the
    /// same bytes as authd's key of that kid; at least 32 bytes). Only tokens
    /// naming this kid are verified with it, and only as HS256.
    pub fn hs256_secret(mut self, kid: impl Into<String>, secret: impl Into<Vec<u8>>) -> Self {
        self.shared.push((kid.into(), secret.into()));
        self
    }

    /// Tolerated clock skew for `exp`, `nbf` and `iat` (default 30 s). With
    /// revocation on, revoked sessions are remembered for the leeway past
    /// their `until`, since their tokens are accepted that much longer.
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Bounds on the JWKS cache lifetime taken from `Cache-Control: max-age`
    /// (default 30 s to 1 h; without `max-age`, 5 minutes within the bounds).
    /// The cache is refreshed in the background at three quarters of it.
    pub fn cache_bounds(mut self, min: Duration, max: Duration) -> Self {
        self.min_cache = min;
        self.max_cache = max;
        self
    }

    /// Minimum time between two JWKS refetches caused by unknown kids
    /// (default 30 s).
    pub fn unknown_kid_refetch_interval(mut self, interval: Duration) -> Self {
        self.unknown_kid_interval = interval;
        self
    }

    /// Turns on revocation: poll authd's revocation feed with these
    /// registered-client credentials and refuse tokens of revoked sessions.
    pub fn revocation(
        mut self,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Self {
        self.credentials = Some(FeedCredentials {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
        });
        self
    }

    /// The feed URL, if not the discovered `revocation_feed_endpoint`.
    pub fn revocation_feed_url(mut self, url: impl Into<String>) -> Self {
        self.feed_url = Some(url.into());
        self
    }

    /// Interval between two polls of the feed (default 5 s).
    pub fn revocation_poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// How long the JWKS keys keep serving past their cache lifetime while
    /// every refresh fails (default 24 h). Past it, every token whose key
    /// comes from the JWKS is refused with [`VerifyError::StaleKeys`](crate::VerifyError::StaleKeys) until
    /// a fetch succeeds again (refreshes keep being retried every 1 to 30 s).
    /// Shared HS256 secrets are not affected.
    ///
    /// The default rides out a day-long outage of the JWKS (or of the path to
    /// it) while authd keeps signing with the same key, yet a key authd has
    /// withdrawn stops being accepted within a day even by a verifier kept
    /// from reaching authd. With the default cache bounds, keys serve at most
    /// 25 h after the last successful fetch.
    pub fn max_key_staleness(mut self, bound: Duration) -> Self {
        self.max_key_staleness = bound;
        self
    }

    /// With revocation on, the age of the revocation list (time since a poll
    /// last succeeded) past which user tokens are refused with
    /// [`VerifyError::StaleRevocations`](crate::VerifyError::StaleRevocations) until a poll succeeds again (default
    /// 60 s; it must exceed the poll interval). Tokens without `sid` are not
    /// affected: the feed never lists them.
    ///
    /// The default is twelve 5 s polls: a healthy list is at most one
    /// interval plus one request (10 s) old, so some nine failed polls in a
    /// row (an authd restart) refuse nobody. It is the minute the feed's
    /// cursor reaches back, and far below the 15-minute token life: a
    /// revocation made while the feed is unreachable is missed for at most
    /// 60 s plus one poll; a bound near 15 minutes would bound nothing.
    pub fn max_revocation_staleness(mut self, bound: Duration) -> Self {
        self.max_revocation_staleness = bound;
        self
    }

    /// Accept `http://` for the issuer and the URLs fetched (discovery, JWKS,
    /// feed) to hosts other than loopback. Off by default: over plain http,
    /// anyone on the path can swap the keys, and so forge any token, or read
    /// the feed client's secret. `http://` to `localhost`, `127.0.0.0/8` or
    /// `[::1]` is always accepted; other schemes never are.
    pub fn allow_insecure_http(mut self) -> Self {
        self.allow_insecure_http = true;
        self
    }

    /// The HTTP client for discovery, JWKS and feed (default: rustls, 5 s
    /// connect and 10 s request timeouts, redirects followed only within the
    /// origin of each request, see [`redirect_policy`](crate::redirect_policy)).
    /// Whatever its own timeouts, each request is also bounded by
    /// [`request_timeout`](Self::request_timeout), and an answer that is a
    /// redirect or that comes from another origin than the one asked is
    /// refused. Build it with [`redirect_policy`](crate::redirect_policy): a
    /// client that follows redirects anywhere still sends each request where
    /// it is redirected.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// The longest one request to authd may take, sending and reading the
    /// answer (default 10 s). Enforced by this crate, independently of the
    /// HTTP client: a JWKS fetch or feed poll that gets no complete answer in
    /// time fails, the last keys or list stay in use, and it is retried.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Discovers the endpoints, fetches the JWKS and (with revocation) polls
    /// the feed once, then starts the background refresh tasks on the current
    /// Tokio runtime. Fails if any of these first requests fails, so that a
    /// misconfigured service stops at start-up instead of refusing every token.
    pub async fn build(self) -> Result<Verifier, BuildError> {
        if self.min_cache < Duration::from_secs(1) || self.min_cache > self.max_cache {
            return Err(BuildError::Config(
                "cache_bounds: min must be at least 1 s and at most max".into(),
            ));
        }
        if self.request_timeout.is_zero() {
            return Err(BuildError::Config(
                "request_timeout must not be zero".into(),
            ));
        }
        if self.poll_interval.is_zero() {
            return Err(BuildError::Config(
                "revocation_poll_interval must not be zero".into(),
            ));
        }
        if self.credentials.is_some() && self.max_revocation_staleness <= self.poll_interval {
            return Err(BuildError::Config(format!(
                "max_revocation_staleness ({:?}) must exceed revocation_poll_interval ({:?}), \
                 or user tokens would be refused between two polls",
                self.max_revocation_staleness, self.poll_interval
            )));
        }
        let allow_http = self.allow_insecure_http;
        let transport = |what: &str, url: &str| {
            http::check_transport(what, url, allow_http).map_err(BuildError::InsecureTransport)
        };
        transport("issuer", &self.issuer)?;
        for (what, url) in [
            ("discovery_url", &self.discovery_url),
            ("jwks_url", &self.jwks_url),
            ("revocation_feed_url", &self.feed_url),
        ] {
            if let Some(url) = url {
                transport(what, url)?;
            }
        }
        if !self.use_jwks && self.shared.is_empty() {
            return Err(BuildError::Config(
                "without_jwks needs an hs256_secret".into(),
            ));
        }
        let mut shared = HashMap::new();
        for (kid, secret) in &self.shared {
            if secret.len() < MIN_HS256_SECRET_BYTES {
                return Err(BuildError::Config(format!(
                    "the HS256 secret of kid {kid:?} has {} bytes, at least {MIN_HS256_SECRET_BYTES} are needed",
                    secret.len()
                )));
            }
            let key = PinnedKey {
                alg: Algorithm::HS256,
                key: DecodingKey::from_secret(secret),
            };
            shared.insert(kid.clone(), Arc::new(key));
        }
        let http = match self.http {
            Some(http) => http,
            None => reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(5))
                .timeout(Duration::from_secs(10))
                .redirect(http::redirect_policy())
                .build()
                .map_err(|e| BuildError::Config(format!("HTTP client: {e}")))?,
        };

        let needs_discovery = (self.use_jwks && self.jwks_url.is_none())
            || (self.credentials.is_some() && self.feed_url.is_none());
        let discovered = if needs_discovery {
            let url = self.discovery_url.clone().unwrap_or_else(|| {
                format!(
                    "{}/.well-known/openid-configuration",
                    self.issuer.trim_end_matches('/')
                )
            });
            transport("discovery URL", &url)?;
            Some(discover(&http, &url, &self.issuer, self.request_timeout, allow_http).await?)
        } else {
            None
        };

        let jwks = if self.use_jwks {
            let url = match (self.jwks_url, &discovered) {
                (Some(url), _) => url,
                (None, Some(d)) => d.jwks_uri.clone(),
                (None, None) => unreachable_config("jwks_uri")?,
            };
            let bounds = CacheBounds {
                min: self.min_cache,
                max: self.max_cache,
            };
            Some(JwksCache::new(
                url,
                http.clone(),
                bounds,
                self.unknown_kid_interval,
                self.max_key_staleness,
                self.request_timeout,
            ))
        } else {
            None
        };
        let first_ttl = match &jwks {
            Some(jwks) => Some(jwks.fetch().await.map_err(BuildError::Jwks)?),
            None => None,
        };

        let leeway = i64::try_from(self.leeway.as_secs()).unwrap_or(i64::MAX / 4);
        let revocations = match self.credentials {
            Some(credentials) => {
                let url = match (self.feed_url, &discovered) {
                    (Some(url), _) => url,
                    (None, Some(d)) => d.revocation_feed_endpoint.clone().ok_or_else(|| {
                        BuildError::Discovery(
                            "no revocation_feed_endpoint in the discovery document".into(),
                        )
                    })?,
                    (None, None) => unreachable_config("revocation_feed_endpoint")?,
                };
                let feed = Revocations::new(
                    url,
                    http.clone(),
                    credentials,
                    self.poll_interval,
                    leeway,
                    self.request_timeout,
                );
                feed.poll().await.map_err(BuildError::Revocation)?;
                Some(feed)
            }
            None => None,
        };

        let inner = Arc::new(Inner {
            issuer: self.issuer,
            audience: self.audience,
            leeway,
            jwks,
            shared,
            revocations,
            max_revocation_staleness: self.max_revocation_staleness,
            tasks: Mutex::new(Vec::new()),
        });
        let mut tasks = Vec::new();
        if let Some(ttl) = first_ttl {
            tasks.push(tokio::spawn(refresh_keys(Arc::downgrade(&inner), ttl)).abort_handle());
        }
        if let Some(feed) = &inner.revocations {
            let poll = poll_revocations(Arc::downgrade(&inner), feed.interval);
            tasks.push(tokio::spawn(poll).abort_handle());
        }
        match inner.tasks.lock() {
            Ok(mut slot) => *slot = tasks,
            Err(poisoned) => *poisoned.into_inner() = tasks,
        }
        Ok(Verifier { inner })
    }
}

fn unreachable_config<T>(what: &str) -> Result<T, BuildError> {
    Err(BuildError::Config(format!(
        "no {what}: neither configured nor discovered"
    )))
}

/// Refreshes the JWKS at three quarters of its cache lifetime; after a failed
/// fetch it keeps the old keys and retries after a quarter of the last
/// lifetime (between 1 and 30 s). Aborted when the verifier is dropped.
async fn refresh_keys(inner: Weak<Inner>, first_ttl: Duration) {
    let mut ttl = first_ttl;
    let mut delay = ttl.mul_f64(0.75);
    loop {
        tokio::time::sleep(delay).await;
        let Some(inner) = inner.upgrade() else { return };
        let Some(jwks) = &inner.jwks else { return };
        delay = match jwks.fetch().await {
            Ok(new_ttl) => {
                ttl = new_ttl;
                ttl.mul_f64(0.75)
            }
            Err(error) => {
                tracing::warn!(%error, "JWKS refresh failed; serving the last keys and retrying");
                (ttl / 4).clamp(Duration::from_secs(1), Duration::from_secs(30))
            }
        };
    }
}

/// Polls the feed at a fixed cadence (a poll starts every `interval`, however
/// long the previous one took, unless it overran). A failed poll keeps the
/// last state and is retried at the next tick. Aborted when the verifier is
/// dropped.
async fn poll_revocations(inner: Weak<Inner>, interval: Duration) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick is immediate, and `build` has just polled.
    ticks.tick().await;
    loop {
        ticks.tick().await;
        let Some(inner) = inner.upgrade() else { return };
        let Some(feed) = &inner.revocations else {
            return;
        };
        if let Err(error) = feed.poll().await {
            tracing::warn!(%error, "revocation feed poll failed; keeping the last state");
        }
    }
}
