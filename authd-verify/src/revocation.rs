//! The revocation feed: polls authd for revocations and remembers each until
//! no token it covers can still be accepted here. Two kinds: a session entry
//! (`sid`) and, from feed version 2 on, a user entry: every session of a user
//! (keyed by the SHA-256 of `sub`) that started before `started_before`,
//! compared with the token's `auth_time`, the start of its session, which
//! every token of a session carries (its `iat` would not do: a refresh racing
//! the revocation signs a token of an ended session after it). A user's
//! token without `auth_time` whose `sub` has an entry is refused.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Deserialize;

use crate::Claims;
use crate::http;

/// The feed version asked for: the one with user entries. authd lists every
/// revoked session one by one to readers that do not ask for it.
const FEED_VERSION: &str = "2";

/// Pages followed in one poll when authd keeps answering `more: true`; the
/// rest waits for the next poll rather than looping forever.
const MAX_PAGES_PER_POLL: usize = 100;
/// A feed page larger than this is refused.
const MAX_PAGE_BYTES: usize = 4 * 1024 * 1024;

/// Client credentials for the feed. No `Debug`: the secret must not be logged.
pub(crate) struct FeedCredentials {
    pub client_id: String,
    pub client_secret: String,
}

#[derive(Default)]
struct State {
    /// Revoked session id -> Unix time after which it may be forgotten.
    revoked: HashMap<String, i64>,
    /// SHA-256 of a user id -> the user's revoked sessions.
    users: HashMap<String, UserRevoked>,
    cursor: Option<String>,
    last_success: Option<SystemTime>,
    /// The same moment on the monotonic clock, which staleness is judged by.
    last_success_at: Option<Instant>,
}

pub(crate) struct Revocations {
    url: String,
    http: reqwest::Client,
    credentials: FeedCredentials,
    pub interval: Duration,
    /// The verifier's leeway, in seconds. authd's `until` is the last moment
    /// a token of the session can be valid by authd's clock; this verifier
    /// accepts tokens up to `exp + leeway`, so it keeps each entry until
    /// `until + leeway`. Forgetting it at `until` would let a revoked token
    /// back in whenever the leeway exceeds the margin authd adds (60 s).
    leeway: i64,
    /// The bound on one feed request, sending and reading included.
    request_timeout: Duration,
    state: RwLock<State>,
}

/// Every session of a user that started before `started_before` (Unix
/// seconds) is revoked, until `until`.
#[derive(Clone, Copy)]
struct UserRevoked {
    started_before: i64,
    until: i64,
}

#[derive(Deserialize)]
struct Page {
    revocations: Vec<Entry>,
    #[serde(default)]
    users: Vec<UserEntry>,
    cursor: String,
    #[serde(default)]
    more: bool,
}

#[derive(Deserialize)]
struct Entry {
    sid: String,
    until: i64,
}

#[derive(Deserialize)]
struct UserEntry {
    sub_sha256: String,
    started_before: i64,
    until: i64,
}

impl Revocations {
    pub fn new(
        url: String,
        http: reqwest::Client,
        credentials: FeedCredentials,
        interval: Duration,
        leeway: i64,
        request_timeout: Duration,
    ) -> Self {
        Self {
            url,
            http,
            credentials,
            interval,
            leeway,
            request_timeout,
            state: RwLock::new(State::default()),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    fn read<T>(&self, f: impl FnOnce(&State) -> T) -> T {
        match self.state.read() {
            Ok(state) => f(&state),
            Err(poisoned) => f(&poisoned.into_inner()),
        }
    }

    fn write<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        match self.state.write() {
            Ok(mut state) => f(&mut state),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    /// Whether a user's token (one with a `sid`) is revoked: its session is
    /// listed, or a user entry of its `sub` covers its `auth_time`.
    pub fn is_revoked(&self, claims: &Claims) -> bool {
        let Some(sid) = &claims.sid else {
            return false;
        };
        self.read(|s| {
            if s.revoked.contains_key(sid) {
                return true;
            }
            if s.users.is_empty() {
                return false;
            }
            s.users
                .get(&sub_sha256(&claims.sub))
                .is_some_and(|user| claims.auth_time.is_none_or(|t| t < user.started_before))
        })
    }

    pub fn last_success(&self) -> Option<SystemTime> {
        self.read(|s| s.last_success)
    }

    /// Whether the last complete poll ended more than `max` ago (or none
    /// has): then revocations may be missing, and user tokens are refused.
    pub fn is_stale(&self, max: Duration) -> bool {
        self.read(|s| s.last_success_at.is_none_or(|at| at.elapsed() > max))
    }

    pub fn revoked_count(&self) -> usize {
        self.read(|s| s.revoked.len())
    }

    pub fn revoked_users_count(&self) -> usize {
        self.read(|s| s.users.len())
    }

    /// One poll: every page until `more` is false. Each page is applied as it
    /// arrives, so a failure part way keeps what was learnt. Entries whose
    /// `until` plus the leeway has passed are forgotten at the end. Each
    /// request is bounded by the request timeout, so a feed that stops
    /// answering fails this poll instead of stopping all later ones.
    pub async fn poll(&self) -> Result<(), String> {
        for _ in 0..MAX_PAGES_PER_POLL {
            let cursor = self.read(|s| s.cursor.clone());
            let page = http::bounded(
                self.request_timeout,
                &self.url,
                self.page(cursor.as_deref()),
            )
            .await?;
            let more = page.more;
            self.write(|s| {
                for entry in page.revocations {
                    let until = s.revoked.entry(entry.sid).or_insert(entry.until);
                    *until = (*until).max(entry.until);
                }
                // A later entry of the same user covers at least as much for
                // at least as long: keep the later of both bounds.
                for entry in page.users {
                    let new = UserRevoked {
                        started_before: entry.started_before,
                        until: entry.until,
                    };
                    let user = s.users.entry(entry.sub_sha256).or_insert(new);
                    user.started_before = user.started_before.max(new.started_before);
                    user.until = user.until.max(new.until);
                }
                s.cursor = Some(page.cursor);
            });
            if !more {
                let now = SystemTime::now();
                let now_secs = unix_seconds(now);
                let leeway = self.leeway;
                self.write(|s| {
                    s.revoked
                        .retain(|_, until| until.saturating_add(leeway) > now_secs);
                    s.users
                        .retain(|_, user| user.until.saturating_add(leeway) > now_secs);
                    s.last_success = Some(now);
                    s.last_success_at = Some(Instant::now());
                });
                return Ok(());
            }
        }
        Err(format!(
            "GET {}: still `more` after {MAX_PAGES_PER_POLL} pages; continuing next poll",
            self.url
        ))
    }

    /// One request of the feed, from `cursor` (the start without one).
    async fn page(&self, cursor: Option<&str>) -> Result<Page, String> {
        let mut request = self
            .http
            .get(&self.url)
            .basic_auth(
                &self.credentials.client_id,
                Some(&self.credentials.client_secret),
            )
            .query(&[("version", FEED_VERSION)]);
        if let Some(cursor) = cursor {
            request = request.query(&[("since", cursor)]);
        }
        let response = request
            .send()
            .await
            .map_err(|e| format!("GET {}: {e}", self.url))?;
        http::check_origin(&response, &self.url).map_err(|e| format!("GET {}: {e}", self.url))?;
        let status = response.status();
        if status == reqwest::StatusCode::BAD_REQUEST && cursor.is_some() {
            // A cursor authd no longer understands: start over with the
            // full list (repeats are harmless).
            self.write(|s| s.cursor = None);
            return Err(format!("GET {}: cursor refused, starting over", self.url));
        }
        if !status.is_success() {
            return Err(format!("GET {}: status {status}", self.url));
        }
        let body = http::read_capped(response, MAX_PAGE_BYTES, &self.url).await?;
        serde_json::from_slice(&body)
            .map_err(|e| format!("GET {}: not a revocation feed page: {e}", self.url))
    }
}

/// The key of a user entry: the lowercase hex SHA-256 of `sub` as written.
fn sub_sha256(sub: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, sub.as_bytes());
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn unix_seconds(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    }
}
