//! The end every sign-in shares, whatever proved the user (a password, an
//! emailed code, a reset): the session started under the per-user cap, the
//! `login_succeeded` event, the commit, the login metric and the log of the
//! sessions the cap ended. Each flow checks its own proof, settles its own
//! throttle and tokens in the transaction, and then hands it here.
//!
//! A sign-in ends as an outcome ([`SignIn`]), not a session: the flows that
//! come later stop short of a session (a second factor to ask for, a consent
//! to give) and say so with another variant, which every caller then has to
//! handle.

use uuid::Uuid;

use crate::audit::{self, AuditEvent, AuditKind, RequestMeta};
use crate::error::ServiceError;
use crate::services::Services;
use crate::sessions::browser::BrowserSession;
use crate::sessions::{self, Methods, Session};
use crate::store::Tx;

/// How a sign-in ended.
///
/// Room is kept for the outcomes that stop short of a session:
/// `SecondFactor` (the proof was right, and the account asks for a second
/// factor before any session starts) and `Consent` (the user is known, and a
/// client asks for scopes not yet granted). They are added with the flows
/// that produce them, so that no caller matches a variant nothing makes.
#[derive(Debug)]
pub enum SignIn {
    /// The user is signed in: the session started.
    Complete(Session),
}

impl SignIn {
    /// The browser session a [`Start::Browser`] sign-in started (the hosted
    /// login page's password and code forms).
    pub(super) fn into_browser(self) -> BrowserSession {
        match self {
            Self::Complete(session) => BrowserSession {
                id: session.id,
                user_id: session.user_id,
                auth_time: session.created_at,
                methods: session.auth_methods,
            },
        }
    }
}

/// Who signed in, and how: what [`sign_in`] starts a session from.
///
/// `start` says which kind of session the sign-in starts: a refresh-token
/// family (`sessions::start`, the JSON API) or a browser session at authd
/// (`sessions::browser::start`, the hosted login page), with the same tail.
pub(super) struct Proven {
    pub user: Uuid,
    pub start: Start,
    /// What proved the user, kept on the session (its tokens' `amr`).
    pub methods: Methods,
    /// The audit detail of `login_succeeded` (none for a password login).
    pub detail: Option<&'static str>,
    /// What the log line of the sign-in says.
    pub log: &'static str,
}

/// Which session a sign-in starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// A refresh-token family: the JSON API's sign-ins.
    Refresh,
    /// A browser session at authd (the `__Host-authd_session` cookie): the
    /// hosted login page's.
    Browser,
}

/// Starts the session of `proven` in `tx` (which the caller has settled its
/// proof in), audits it and commits; then counts the login and logs the
/// sessions the per-user cap ended.
pub(super) async fn sign_in(
    svc: &Services,
    mut tx: Tx<'_>,
    proven: Proven,
    meta: &RequestMeta,
) -> Result<SignIn, ServiceError> {
    let user = proven.user;
    let now = svc.now();
    let started = match proven.start {
        Start::Refresh => {
            sessions::start(&mut tx, &svc.policy, user, now, meta, proven.methods).await?
        }
        Start::Browser => {
            sessions::browser::start(&mut tx, svc, user, now, meta, proven.methods).await?
        }
    };
    let session = started.session;
    let mut event = AuditEvent::new(
        AuditKind::LoginSucceeded,
        Some(user),
        Some(session.id),
        meta,
        now,
    );
    if let Some(detail) = proven.detail {
        event = event.with_detail(detail);
    }
    audit::record(&mut tx, &event).await?;
    tx.commit().await?;
    svc.metrics.logins.with_label_values(&["ok"]).inc();
    if started.evicted > 0 {
        tracing::info!(user = %user, evicted = started.evicted, "session cap reached: the oldest sessions ended");
        svc.metrics
            .revoked(sessions::logout::reasons::SESSION_LIMIT, started.evicted);
    }
    tracing::info!(user = %user, session = %session.id, "{}", proven.log);
    Ok(SignIn::Complete(session))
}
