//! Sessions (refresh-token families) and everything that changes them: the
//! rotation rule (`decide`), rotating a presented token (`rotate`, with the
//! argument for why it is safe under concurrency), reuse handling (`reuse`),
//! logout in its scopes (`logout`), the revocation feed (`feed`, with the
//! argument for user entries), starting sessions under the per-user cap
//! (`start`), listing them by pages (`list`), where a refresh token may
//! travel (`delivery`), and the methods a session was signed in with
//! (`methods`, its tokens' `amr`).
//!
//! A session row is the whole state of its family: the counter of the current
//! token, when it was issued, and the limits. Token `n` of a session is derived
//! from `(session id, n)` (see `tokens::refresh`), so the row never grows with rotations.

pub mod browser;
mod decide;
pub mod delivery;
pub mod feed;
pub mod list;
pub mod logout;
pub mod methods;
pub mod reuse;
pub mod rotate;
mod start;

pub use decide::{Decision, decide};
pub use list::list_live;
pub use methods::{Method, Methods};
pub use start::{
    IssuedTokens, Started, current_of, is_live, issue_tokens, start, start_for_client,
};

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use uuid::Uuid;

/// One session as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Session {
    pub id: Uuid,
    pub user_id: Uuid,
    /// The counter of the current refresh token; earlier counters are rotated.
    pub counter: i64,
    pub created_at: DateTime<Utc>,
    /// When the current token was issued (login or last rotation).
    pub last_rotated_at: DateTime<Utc>,
    /// When the current token stops working: the idle limit, capped by the
    /// absolute limit.
    pub expires_at: DateTime<Utc>,
    /// Login time plus the absolute lifetime; no rotation reaches past it.
    pub absolute_expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoked_reason: Option<String>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    /// How the user signed in; every access token of the session says so.
    #[sqlx(try_from = "String")]
    pub auth_methods: Methods,
    /// A refresh-token family (`refresh`) or a browser session at authd
    /// (`browser`, never rotated, never a refresh token).
    #[sqlx(try_from = "String")]
    pub kind: SessionKind,
    /// The client a family made by the authorization code flow belongs to;
    /// `None` for a first-party family. Only that client refreshes it, and
    /// only at `/oauth/token`.
    pub client_id: Option<String>,
    /// The scopes granted to that client, space-separated.
    pub scope: Option<String>,
    /// The browser session the user signed in through for that client.
    pub browser_session_id: Option<Uuid>,
    /// When the user last proved who they are for this session: the login
    /// for a first-party family, the browser session's sign-in for a client
    /// family. `None` only in rows of an older authd, read as `created_at`.
    pub auth_time: Option<DateTime<Utc>>,
}

/// What a session row is (`sessions.kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    /// A refresh-token family, first-party or a client's.
    Refresh,
    /// The browser session at authd (single sign-on).
    Browser,
}

impl SessionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Refresh => "refresh",
            Self::Browser => "browser",
        }
    }
}

impl TryFrom<String> for SessionKind {
    type Error = String;

    fn try_from(stored: String) -> Result<Self, String> {
        match stored.as_str() {
            "refresh" => Ok(Self::Refresh),
            "browser" => Ok(Self::Browser),
            other => Err(format!("unknown session kind {other:?}")),
        }
    }
}

/// What a client family is bound to, from the authorization code it was
/// made from (`oauth::codes::redeem`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientBinding {
    pub client_id: String,
    /// The scopes granted, space-separated.
    pub scope: String,
    pub browser_session_id: Uuid,
    pub auth_time: DateTime<Utc>,
}

/// How the user of a session proved who they are at sign-in, kept on the
/// session so that every access token it issues, at login and at each
/// refresh, carries it as `amr` (RFC 8176 section 2). Stored as the RFC's
/// value. A method added later must be known to every instance sharing the
/// database before any of them starts a session with it: an instance reading
/// a value it does not know fails the request rather than guess.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// `pwd`: a password.
    Password,
    /// `otp`: a one-time code sent by email.
    Otp,
}

impl AuthMethod {
    /// The RFC 8176 value, as stored and as put in `amr`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Password => "pwd",
            Self::Otp => "otp",
        }
    }
}

impl TryFrom<String> for AuthMethod {
    type Error = String;

    fn try_from(stored: String) -> Result<Self, String> {
        match stored.as_str() {
            "pwd" => Ok(Self::Password),
            "otp" => Ok(Self::Otp),
            other => Err(format!("unknown session auth method {other:?}")),
        }
    }
}

impl Session {
    /// The session once token `counter` is current, issued at `now`.
    pub fn rotated(mut self, counter: i64, now: DateTime<Utc>, expires_at: DateTime<Utc>) -> Self {
        self.counter = counter;
        self.last_rotated_at = now;
        self.expires_at = expires_at;
        self
    }

    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && now < self.expires_at
    }

    /// When the user last authenticated for this session.
    pub fn authenticated_at(&self) -> DateTime<Utc> {
        self.auth_time.unwrap_or(self.created_at)
    }
}

/// The limits sessions live under: rotation's, and the per-user cap.
#[derive(Debug, Clone, Copy)]
pub struct RotationPolicy {
    pub idle: Duration,
    pub absolute: Duration,
    /// Grace for concurrent tabs and lost responses; zero disables it.
    pub reuse_interval: Duration,
    /// Live sessions a user may have; a login beyond it ends the oldest.
    pub max_sessions_per_user: u32,
}

impl RotationPolicy {
    /// The policy the `refresh` settings describe.
    pub fn from_settings(refresh: &crate::config::RefreshSettings) -> Self {
        let secs = |s: u64| Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX / 1000));
        Self {
            idle: secs(refresh.idle_ttl_secs),
            absolute: secs(refresh.absolute_ttl_secs),
            reuse_interval: secs(refresh.reuse_interval_secs),
            max_sessions_per_user: refresh.max_sessions_per_user,
        }
    }

    /// A new session of `user_id` starting at `now` (a login): token 0 is
    /// current, with the idle and absolute limits of this policy. Its method
    /// is a password unless the caller sets others (`sessions::start` does).
    pub fn new_session(
        &self,
        user_id: Uuid,
        now: DateTime<Utc>,
        user_agent: Option<String>,
        ip: Option<String>,
    ) -> Session {
        let (expires_at, absolute_expires_at) = self.new_session_expiry(now);
        Session {
            id: Uuid::new_v4(),
            user_id,
            counter: 0,
            created_at: now,
            last_rotated_at: now,
            expires_at,
            absolute_expires_at,
            revoked_at: None,
            revoked_reason: None,
            user_agent,
            ip,
            auth_methods: Methods::one(Method::Password),
            kind: SessionKind::Refresh,
            client_id: None,
            scope: None,
            browser_session_id: None,
            auth_time: Some(now),
        }
    }

    /// The limits of a session that starts at `now`.
    pub fn new_session_expiry(&self, now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
        let absolute = now + self.absolute;
        ((now + self.idle).min(absolute), absolute)
    }
}

/// A session as the owner sees it in `GET /auth/sessions`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SessionView {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub last_refreshed_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    /// The client this session was signed in for (authorization code flow);
    /// absent for a first-party session.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    pub current: bool,
}

impl SessionView {
    pub fn new(s: &Session, current: Uuid) -> Self {
        Self {
            id: s.id,
            created_at: s.created_at,
            last_refreshed_at: s.last_rotated_at,
            expires_at: s.expires_at,
            user_agent: s.user_agent.clone(),
            ip: s.ip.clone(),
            client_id: s.client_id.clone(),
            current: s.id == current,
        }
    }
}
