//! Starting a session at sign-in (under the per-user cap), issuing its
//! tokens, and checking that a session an access token names is still live.

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use uuid::Uuid;

use super::logout::reasons;
use super::{ClientBinding, Methods, RotationPolicy, Session, SessionKind};
use crate::audit::{self, AuditEvent, AuditKind, RequestMeta};
use crate::error::ServiceError;
use crate::ids::{SessionId, UserId};
use crate::services::Services;
use crate::store::{self, StoreError, Tx};
use crate::tokens::refresh::RefreshClaims;

/// A new session, and how many older ones it ended (the per-user cap).
pub struct Started {
    pub session: Session,
    pub evicted: u64,
    /// The ids of the sessions it ended.
    pub evicted_ids: Vec<Uuid>,
}

/// Whose sessions a new one is counted with under the per-user cap. A new
/// session ends only the oldest of its own cohort, so no party's sign-ins end
/// another's sessions: browser sign-ins never end a family, an app signing
/// in over and over (each `prompt=none` makes a family) ends only its own
/// oldest families, never the user's first-party sessions, another app's or
/// the browser session.
#[derive(Debug, Clone, Copy)]
enum Cohort<'a> {
    /// authd's own refresh families (`/auth/login` and the other JSON sign-ins).
    FirstParty,
    /// The families of one client (the authorization code flow).
    Client(&'a ClientBinding),
    /// Browser sessions at authd (the hosted login page).
    Browser,
}

/// Inserts a new session of `user`, signed in by `methods`, starting at `now`,
/// in `tx`, which it locks the user in (`store::users::lock`): starts queue
/// with every change to several sessions of the user, so
///
/// - the cap holds: at most `policy.max_sessions_per_user` live sessions of
///   the new one's cohort remain (first-party families; one client's
///   families; browser sessions, under `browser_session.max_per_user`), the
///   oldest ending first (revoked like a logout, so the feed lists it and its
///   refresh token is refused, with a `session_evicted` event);
/// - the session starts no earlier than the `started_before` of the user's
///   stored user revocations, so no user entry of the revocation feed written
///   before it covers it (`sessions::feed` gives the whole argument). That
///   moves the start forward by less than a second plus the clock skew
///   between instances, and only right after a revocation of every session.
pub async fn start(
    tx: &mut Tx<'_>,
    policy: &RotationPolicy,
    user: Uuid,
    now: DateTime<Utc>,
    meta: &RequestMeta,
    methods: Methods,
) -> Result<Started, StoreError> {
    start_bound(tx, policy, user, now, meta, methods, Cohort::FirstParty).await
}

/// Like [`start`], for a client family (the authorization code grant): the
/// same lock, cap and floor, and the row bound to `binding`'s client, scopes,
/// browser session and sign-in time.
pub async fn start_for_client(
    tx: &mut Tx<'_>,
    policy: &RotationPolicy,
    user: Uuid,
    now: DateTime<Utc>,
    meta: &RequestMeta,
    methods: Methods,
    binding: &ClientBinding,
) -> Result<Started, StoreError> {
    start_bound(
        tx,
        policy,
        user,
        now,
        meta,
        methods,
        Cohort::Client(binding),
    )
    .await
}

/// Like [`start`], for a browser session (`sessions::browser::start`): the
/// same lock and floor, the cap among the user's browser sessions, the row
/// of kind `browser`.
pub(super) async fn start_browser(
    tx: &mut Tx<'_>,
    policy: &RotationPolicy,
    user: Uuid,
    now: DateTime<Utc>,
    meta: &RequestMeta,
    methods: Methods,
) -> Result<Started, StoreError> {
    start_bound(tx, policy, user, now, meta, methods, Cohort::Browser).await
}

async fn start_bound(
    tx: &mut Tx<'_>,
    policy: &RotationPolicy,
    user: Uuid,
    now: DateTime<Utc>,
    meta: &RequestMeta,
    methods: Methods,
    cohort: Cohort<'_>,
) -> Result<Started, StoreError> {
    store::users::lock(tx, user).await?;
    let floor = store::user_revocations::latest_started_before(tx, user).await?;
    let starts = floor.map_or(now, |floor| now.max(floor));
    let keep = i64::from(policy.max_sessions_per_user.saturating_sub(1));
    let (kind, client, binding) = match cohort {
        Cohort::FirstParty => (SessionKind::Refresh, None, None),
        Cohort::Client(binding) => (
            SessionKind::Refresh,
            Some(binding.client_id.as_str()),
            Some(binding),
        ),
        Cohort::Browser => (SessionKind::Browser, None, None),
    };
    let reason = reasons::SESSION_LIMIT;
    let evicted =
        store::sessions::revoke_beyond_newest(tx, user, kind.as_str(), client, keep, reason, now)
            .await?;
    for id in &evicted {
        let event = AuditEvent::new(AuditKind::SessionEvicted, Some(user), Some(*id), meta, now)
            .with_detail(format!(
                "the oldest of more than {} live {} sessions, ended at a new sign-in",
                policy.max_sessions_per_user,
                match cohort {
                    Cohort::FirstParty => "first-party",
                    Cohort::Client(_) => "of this client's",
                    Cohort::Browser => "browser",
                }
            ));
        audit::record(tx, &event).await?;
    }
    let mut session = Session {
        auth_methods: methods,
        kind,
        ..policy.new_session(user, starts, meta.user_agent.clone(), meta.ip.clone())
    };
    if let Some(binding) = binding {
        session.client_id = Some(binding.client_id.clone());
        session.scope = Some(binding.scope.clone());
        session.browser_session_id = Some(binding.browser_session_id);
        session.auth_time = Some(binding.auth_time);
        // A client's own lifetimes only shorten the server's.
        if let Some(absolute) = binding.absolute_secs {
            let absolute = starts + chrono::Duration::seconds(absolute);
            session.absolute_expires_at = session.absolute_expires_at.min(absolute);
        }
        if let Some(idle) = binding.idle_secs {
            let idle = chrono::Duration::seconds(idle).min(policy.idle);
            session.idle_secs = Some(idle.num_seconds());
            session.expires_at = (starts + idle).min(session.absolute_expires_at);
        }
        session.expires_at = session.expires_at.min(session.absolute_expires_at);
    }
    store::sessions::insert(tx, &session).await?;
    Ok(Started {
        session,
        evicted: u64::try_from(evicted.len()).unwrap_or(u64::MAX),
        evicted_ids: evicted,
    })
}

/// An access token for a session, and the session's current refresh token.
pub struct IssuedTokens {
    pub access_token: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    pub refresh_token: SecretString,
    /// Seconds until the refresh token (the session) expires, unless rotated.
    pub refresh_expires_in: i64,
}

/// Signs an access token for `session` and derives its current refresh token.
/// The token's `amr` is the session's sign-in methods, whichever refresh
/// issues it; the claims from the account (roles, app_metadata:
/// `accounts::claims`) are read now, so a change reaches the next token.
pub async fn issue_tokens(svc: &Services, session: &Session) -> Result<IssuedTokens, ServiceError> {
    let extra = crate::accounts::claims::of_user(svc, session.user_id).await?;
    let now = svc.now();
    let access = svc
        .access
        .issue(
            session.user_id,
            session.id,
            session.created_at,
            session.auth_methods.amr(),
            extra,
            now,
        )
        .map_err(ServiceError::internal)?;
    let refresh_token = svc.refresh.encode(RefreshClaims {
        session: session.id,
        counter: session.counter,
    });
    Ok(IssuedTokens {
        access_token: access.token,
        expires_in: access.expires_in,
        refresh_token,
        refresh_expires_in: (session.expires_at - now).num_seconds().max(0),
    })
}

/// Whether session `session` of user `user` is neither revoked nor expired:
/// authd's own Bearer routes refuse tokens of ended sessions at once.
pub async fn is_live(svc: &Services, user: UserId, session: SessionId) -> Result<bool, StoreError> {
    let mut conn = svc.store.conn().await?;
    Ok(store::sessions::find(&mut conn, session.0)
        .await?
        .is_some_and(|s| s.user_id == user.0 && s.is_active(svc.now())))
}

/// The session whose current token `claims` names, if it is live: what
/// introspection calls an active refresh token. Only the current token is
/// active (`decide` says `Rotate` for it alone); asking spends nothing.
pub async fn current_of(
    svc: &Services,
    claims: RefreshClaims,
) -> Result<Option<Session>, StoreError> {
    let mut conn = svc.store.conn().await?;
    let Some(session) = store::sessions::find(&mut conn, claims.session).await? else {
        return Ok(None);
    };
    let current = matches!(
        super::decide(&session, claims.counter, svc.now(), &svc.policy),
        super::Decision::Rotate { .. }
    );
    Ok(current.then_some(session))
}
