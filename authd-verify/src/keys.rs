//! The JWKS cache: fetching, parsing keys pinned to one algorithm each,
//! honouring Cache-Control, the rate-limited refetch on an unknown `kid`, and
//! the bound on how long keys serve once every refresh fails.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use reqwest::header::CACHE_CONTROL;
use serde_json::Value;

use crate::http;
use crate::validation::Key;

/// The lifetime assumed for a JWKS served without `max-age` (before bounds).
const DEFAULT_TTL: Duration = Duration::from_secs(300);
/// A JWKS body larger than this is refused.
const MAX_JWKS_BYTES: usize = 256 * 1024;

/// A verification key and the one algorithm it may verify.
pub(crate) struct PinnedKey {
    pub alg: Algorithm,
    pub key: DecodingKey,
}

impl PinnedKey {
    /// The key as the shared check takes it.
    pub fn as_key(&self) -> Key<'_> {
        Key {
            alg: self.alg,
            decoding: &self.key,
        }
    }
}

/// Bounds on how long a fetched JWKS is trusted before it is refreshed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CacheBounds {
    pub min: Duration,
    pub max: Duration,
}

impl CacheBounds {
    /// The lifetime a response's `Cache-Control` asks for, within the bounds.
    /// `no-cache`/`no-store` count as zero, a missing `max-age` as five minutes.
    fn ttl(&self, cache_control: Option<&str>) -> Duration {
        let asked = cache_control.map_or(DEFAULT_TTL, |value| {
            let mut ttl = DEFAULT_TTL;
            for directive in value.split(',').map(str::trim) {
                let lower = directive.to_ascii_lowercase();
                if lower == "no-cache" || lower == "no-store" {
                    return Duration::ZERO;
                }
                if let Some(Ok(secs)) = lower
                    .strip_prefix("max-age=")
                    .map(|secs| secs.trim_matches('"').parse::<u64>())
                {
                    ttl = Duration::from_secs(secs);
                }
            }
            ttl
        });
        asked.clamp(self.min, self.max)
    }
}

/// The keys of the last successful fetch, and until when they may serve.
#[derive(Default)]
struct KeySet {
    keys: HashMap<String, Arc<PinnedKey>>,
    /// The end of the set's cache lifetime plus the staleness bound, on the
    /// monotonic clock; `None` when that lies beyond what an `Instant` holds
    /// (a bound of centuries: none in practice).
    usable_until: Option<Instant>,
}

pub(crate) struct JwksCache {
    url: String,
    http: reqwest::Client,
    bounds: CacheBounds,
    refetch_interval: Duration,
    /// How long past their cache lifetime the keys still serve while every
    /// refresh fails.
    max_staleness: Duration,
    /// The bound on one fetch, sending and reading included.
    request_timeout: Duration,
    keys: RwLock<Arc<KeySet>>,
    /// Held across each fetch and the store of its answer, so fetches run one
    /// at a time and complete in the order they started. Without it, a slow
    /// background refresh could store its older answer over the newer one of
    /// an unknown-`kid` refetch that started and finished while it waited,
    /// dropping a key that authd had just published.
    fetching: tokio::sync::Mutex<()>,
    /// When the last unknown-`kid` refetch started. Held across that fetch, so
    /// concurrent requests with unknown kids wait for it and share its result.
    last_forced: tokio::sync::Mutex<Option<Instant>>,
}

impl JwksCache {
    pub fn new(
        url: String,
        http: reqwest::Client,
        bounds: CacheBounds,
        refetch_interval: Duration,
        max_staleness: Duration,
        request_timeout: Duration,
    ) -> Self {
        Self {
            url,
            http,
            bounds,
            refetch_interval,
            max_staleness,
            request_timeout,
            keys: RwLock::new(Arc::new(KeySet::default())),
            fetching: tokio::sync::Mutex::new(()),
            last_forced: tokio::sync::Mutex::new(None),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    fn current(&self) -> Arc<KeySet> {
        match self.keys.read() {
            Ok(keys) => Arc::clone(&keys),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    pub fn get(&self, kid: &str) -> Option<Arc<PinnedKey>> {
        self.current().keys.get(kid).cloned()
    }

    /// Whether the keys have outlived their cache lifetime by more than the
    /// staleness bound, every refresh since having failed: then no token is
    /// verified with them. Judged on the monotonic clock.
    pub fn is_stale(&self) -> bool {
        self.current()
            .usable_until
            .is_some_and(|until| Instant::now() > until)
    }

    /// The key named `kid`. An unknown `kid` triggers one refetch, unless one
    /// happened less than the refetch interval ago; concurrent callers share it.
    pub async fn get_or_refetch(&self, kid: &str) -> Option<Arc<PinnedKey>> {
        if let Some(key) = self.get(kid) {
            return Some(key);
        }
        let mut last = self.last_forced.lock().await;
        // Another request may have fetched while this one waited for the lock.
        if let Some(key) = self.get(kid) {
            return Some(key);
        }
        if last.is_some_and(|at| at.elapsed() < self.refetch_interval) {
            return None;
        }
        *last = Some(Instant::now());
        tracing::info!(kid, "unknown kid: refetching the JWKS");
        if let Err(error) = self.fetch().await {
            tracing::warn!(%error, url = %self.url, "JWKS refetch failed; keeping the last keys");
        }
        self.get(kid)
    }

    /// Fetches the JWKS and replaces the cached keys. Returns how long the new
    /// set may be trusted. On failure (no answer within the request timeout,
    /// an error status, a redirect away from the origin, a body over 256 KiB,
    /// not a JWK Set, or a set with no key this crate can use) the previous
    /// keys stay in place, until they go stale.
    pub async fn fetch(&self) -> Result<Duration, String> {
        // One fetch at a time, held until its answer is stored (see `fetching`).
        let _fetching = self.fetching.lock().await;
        let (cache_control, body) =
            http::bounded(self.request_timeout, &self.url, self.download()).await?;
        let keys = parse_jwks(&body)?;
        if keys.is_empty() {
            // Storing it would refuse every token: keep the last good keys.
            return Err(format!(
                "GET {}: the JWKS holds no usable signing key",
                self.url
            ));
        }
        let ttl = self.bounds.ttl(cache_control.as_deref());
        let usable_until = Instant::now()
            .checked_add(ttl)
            .and_then(|end| end.checked_add(self.max_staleness));
        let keys = Arc::new(KeySet { keys, usable_until });
        match self.keys.write() {
            Ok(mut slot) => *slot = keys,
            Err(poisoned) => *poisoned.into_inner() = keys,
        }
        Ok(ttl)
    }

    /// The `Cache-Control` and the body of one GET of the JWKS.
    async fn download(&self) -> Result<(Option<String>, Vec<u8>), String> {
        let response = self
            .http
            .get(&self.url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| format!("GET {}: {e}", self.url))?;
        http::check_origin(&response, &self.url).map_err(|e| format!("GET {}: {e}", self.url))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("GET {}: status {status}", self.url));
        }
        let cache_control = response
            .headers()
            .get(CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = http::read_capped(response, MAX_JWKS_BYTES, &self.url).await?;
        Ok((cache_control, body))
    }
}

/// Parses a JWK Set, keeping the signature keys this crate can pin. A key it
/// cannot use (unknown type, encryption key, symmetric key, no `kid`) is
/// skipped, so one odd entry never hides the others.
fn parse_jwks(body: &[u8]) -> Result<HashMap<String, Arc<PinnedKey>>, String> {
    #[derive(serde::Deserialize)]
    struct Set {
        keys: Vec<Value>,
    }
    let set: Set = serde_json::from_slice(body).map_err(|e| format!("not a JWK Set: {e}"))?;
    let mut keys = HashMap::new();
    for value in set.keys {
        let Ok(jwk) = serde_json::from_value::<Jwk>(value) else {
            tracing::debug!("skipping a JWK this crate cannot read");
            continue;
        };
        let Some(kid) = jwk.common.key_id.clone() else {
            tracing::debug!("skipping a JWK without kid");
            continue;
        };
        match pin(&jwk) {
            Ok(key) => {
                keys.insert(kid, Arc::new(key));
            }
            Err(reason) => tracing::debug!(kid, reason, "skipping a JWK"),
        }
    }
    Ok(keys)
}

/// The key and its one algorithm: the JWK's `alg` if it has one, else the
/// algorithm its type and curve imply. The two must agree.
fn pin(jwk: &Jwk) -> Result<PinnedKey, &'static str> {
    if matches!(
        jwk.common.public_key_use,
        Some(PublicKeyUse::Encryption | PublicKeyUse::Other(_))
    ) {
        return Err("not a signature key");
    }
    let implied = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => Algorithm::ES256,
        AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => {
            Algorithm::EdDSA
        }
        AlgorithmParameters::OctetKey(_) => {
            return Err("symmetric keys are never taken from a JWKS");
        }
        _ => return Err("unsupported key type or curve"),
    };
    let alg = match jwk.common.key_algorithm {
        None => implied,
        Some(KeyAlgorithm::RS256) if implied == Algorithm::RS256 => Algorithm::RS256,
        Some(KeyAlgorithm::ES256) if implied == Algorithm::ES256 => Algorithm::ES256,
        Some(KeyAlgorithm::EdDSA) if implied == Algorithm::EdDSA => Algorithm::EdDSA,
        Some(_) => return Err("unsupported alg, or an alg that does not fit the key type"),
    };
    let key = DecodingKey::from_jwk(jwk).map_err(|_| "unreadable key material")?;
    Ok(PinnedKey { alg, key })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUNDS: CacheBounds = CacheBounds {
        min: Duration::from_secs(10),
        max: Duration::from_secs(3600),
    };

    #[test]
    fn max_age_is_honoured_within_the_bounds() {
        assert_eq!(
            BOUNDS.ttl(Some("public, max-age=300")),
            Duration::from_secs(300)
        );
        assert_eq!(BOUNDS.ttl(Some("max-age=1")), Duration::from_secs(10));
        assert_eq!(BOUNDS.ttl(Some("Max-Age=99999")), Duration::from_secs(3600));
        assert_eq!(BOUNDS.ttl(Some("no-store")), Duration::from_secs(10));
        assert_eq!(BOUNDS.ttl(None), Duration::from_secs(300));
        assert_eq!(BOUNDS.ttl(Some("max-age=junk")), Duration::from_secs(300));
    }

    #[test]
    fn keys_without_kid_symmetric_keys_and_odd_entries_are_skipped() {
        let body = br#"{"keys":[
            {"kty":"oct","kid":"h","k":"c2VjcmV0"},
            {"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
            {"kty":"OKP","crv":"Ed25519","kid":"ed","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
            {"kty":"OKP","crv":"Ed25519","kid":"lies","alg":"RS256","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
            {"kty":"XYZ","kid":"odd"}
        ]}"#;
        let keys = parse_jwks(body).unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys["ed"].alg, Algorithm::EdDSA);
    }
}
