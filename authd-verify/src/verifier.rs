//! The `Verifier`: checking a token against the keys and the revocation list.
//! Its builder, and the background tasks that keep both fresh, are in
//! `builder.rs`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use crate::builder::VerifierBuilder;
use crate::claims::Claims;
use crate::error::VerifyError;
use crate::keys::{JwksCache, PinnedKey};
use crate::revocation::{Revocations, unix_seconds};
use crate::validation::{Expected, Leeway, Unverified};
/// Default tolerance for clock skew on `exp`, `nbf` and `iat`.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(30);
/// Default minimum time between two unknown-`kid` refetches of the JWKS.
pub const DEFAULT_UNKNOWN_KID_INTERVAL: Duration = Duration::from_secs(30);
/// Default lower bound on how long a fetched JWKS is cached.
pub const DEFAULT_MIN_CACHE: Duration = Duration::from_secs(30);
/// Default upper bound on how long a fetched JWKS is cached.
pub const DEFAULT_MAX_CACHE: Duration = Duration::from_secs(3600);
/// Default interval between two polls of the revocation feed.
pub const DEFAULT_REVOCATION_POLL: Duration = Duration::from_secs(5);
/// Default bound on one request to authd (discovery, JWKS, one feed page),
/// sending and reading the answer included.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time the JWKS keys keep serving past their cache lifetime while
/// every refresh fails (24 h; see [`VerifierBuilder::max_key_staleness`]).
pub const DEFAULT_MAX_KEY_STALENESS: Duration = Duration::from_secs(24 * 3600);
/// Default age of the revocation list past which user tokens are refused
/// (60 s; see [`VerifierBuilder::max_revocation_staleness`]).
pub const DEFAULT_MAX_REVOCATION_STALENESS: Duration = Duration::from_secs(60);
/// The smallest HS256 secret accepted (the same floor authd sets).
pub const MIN_HS256_SECRET_BYTES: usize = 32;

/// Verifies authd access tokens locally. Cheap to clone: clones share the key
/// cache and the revocation list. The background tasks are stopped as soon as
/// the last clone is dropped.
#[derive(Clone)]
pub struct Verifier {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) issuer: String,
    pub(crate) audience: String,
    pub(crate) leeway: i64,
    pub(crate) jwks: Option<JwksCache>,
    pub(crate) shared: HashMap<String, Arc<PinnedKey>>,
    pub(crate) revocations: Option<Revocations>,
    /// Past this age of the revocation list, user tokens are refused.
    pub(crate) max_revocation_staleness: Duration,
    /// The background tasks, aborted when the last clone is dropped: they
    /// hold only a `Weak` to this struct, but would otherwise sleep until
    /// their next tick (up to 45 minutes for the JWKS refresh) before noticing.
    pub(crate) tasks: Mutex<Vec<tokio::task::AbortHandle>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        let tasks = match self.tasks.get_mut() {
            Ok(tasks) => tasks,
            Err(poisoned) => poisoned.into_inner(),
        };
        for task in tasks.drain(..) {
            task.abort();
        }
    }
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("issuer", &self.inner.issuer)
            .field("audience", &self.inner.audience)
            .field("jwks_uri", &self.inner.jwks.as_ref().map(JwksCache::url))
            .field(
                "shared_secret_kids",
                &self.inner.shared.keys().collect::<Vec<_>>(),
            )
            .field(
                "revocation_feed",
                &self.inner.revocations.as_ref().map(Revocations::url),
            )
            .finish()
    }
}

impl Verifier {
    /// Starts configuring a verifier for tokens whose `iss` is `issuer`
    /// (authd's `server.issuer`, e.g. `https://auth.example.com`).
    pub fn builder(issuer: impl Into<String>) -> VerifierBuilder {
        VerifierBuilder::new(issuer.into())
    }

    /// Verifies `token` (the part after `Bearer `) at the current time.
    pub async fn verify(&self, token: &str) -> Result<Claims, VerifyError> {
        self.verify_at(token, SystemTime::now()).await
    }

    /// Verifies `token` as if the time were `now` (for tests; the revocation
    /// list still forgets entries by the real clock, at `until` plus the
    /// leeway, and the staleness of keys and list is judged by the real
    /// monotonic clock).
    ///
    /// The checks are [`validation`](crate::validation)'s, in its order:
    /// size and shape; `typ` is `at+jwt`; `alg` is not `none`; no `crit`;
    /// the `kid` names a known key (refetching the JWKS at most once per
    /// interval); the JWKS keys are not stale; the header `alg` is the key's
    /// algorithm; the signature; `iss`; `aud`; the claims RFC 9068 requires;
    /// `exp`, `nbf` and `iat` within the leeway. Then, with revocation on and
    /// a user token, that the revocation list is not stale, that `sid` is not
    /// revoked, and that no revocation of every session of its `sub` covers
    /// its `auth_time`.
    pub async fn verify_at(&self, token: &str, now: SystemTime) -> Result<Claims, VerifyError> {
        let inner = &self.inner;
        let token = Unverified::parse(token)?;
        let key = match inner.shared.get(token.kid()) {
            Some(key) => Some(Arc::clone(key)),
            None => match &inner.jwks {
                Some(jwks) => {
                    let key = jwks.get_or_refetch(token.kid()).await;
                    if jwks.is_stale() {
                        return Err(VerifyError::StaleKeys);
                    }
                    key
                }
                None => None,
            },
        };
        let expected = Expected {
            issuer: &inner.issuer,
            audience: &inner.audience,
            leeway: Leeway::uniform(inner.leeway),
        };
        let key = key.as_deref().map(PinnedKey::as_key);
        let claims: Claims = token.verify(key, &expected, unix_seconds(now))?;
        if let Some(revocations) = &inner.revocations
            && claims.is_user()
            && revocations.is_stale(inner.max_revocation_staleness)
        {
            return Err(VerifyError::StaleRevocations);
        }
        if let Some(revocations) = &inner.revocations
            && revocations.is_revoked(&claims)
        {
            return Err(VerifyError::Revoked);
        }
        Ok(claims)
    }

    /// The issuer tokens must name.
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// The audience tokens must name.
    pub fn audience(&self) -> &str {
        &self.inner.audience
    }

    /// When the revocation feed was last read completely; `None` without
    /// revocation. A caller may alert when this falls behind; past
    /// [`VerifierBuilder::max_revocation_staleness`] the verifier refuses
    /// user tokens itself.
    pub fn last_revocation_poll(&self) -> Option<SystemTime> {
        self.inner
            .revocations
            .as_ref()
            .and_then(Revocations::last_success)
    }

    /// How many revoked sessions are currently remembered (0 without
    /// revocation).
    pub fn revoked_sessions(&self) -> usize {
        self.inner
            .revocations
            .as_ref()
            .map_or(0, Revocations::revoked_count)
    }

    /// How many users' revocations of every session are currently
    /// remembered (0 without revocation): one per global logout or reuse
    /// detection, however many sessions it ended.
    pub fn revoked_users(&self) -> usize {
        self.inner
            .revocations
            .as_ref()
            .map_or(0, Revocations::revoked_users_count)
    }
}
