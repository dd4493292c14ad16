//! Starting a session at sign-in, issuing its tokens, and checking that a
//! session an access token names is still live.

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use uuid::Uuid;

use super::{RotationPolicy, Session};
use crate::audit::RequestMeta;
use crate::error::ServiceError;
use crate::services::Services;
use crate::store::{self, StoreError, Tx};
use crate::tokens::refresh::RefreshClaims;

/// Inserts a new session of `user`, starting at `now`, in `tx`.
pub async fn start(
    tx: &mut Tx<'_>,
    policy: &RotationPolicy,
    user: Uuid,
    now: DateTime<Utc>,
    meta: &RequestMeta,
) -> Result<Session, StoreError> {
    let session = policy.new_session(user, now, meta.user_agent.clone(), meta.ip.clone());
    store::sessions::insert(tx, &session).await?;
    Ok(session)
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
pub fn issue_tokens(svc: &Services, session: &Session) -> Result<IssuedTokens, ServiceError> {
    let now = svc.now();
    let access = svc
        .access
        .issue(session.user_id, session.id, now)
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

/// Whether session `sid` of user `sub` is neither revoked nor expired:
/// authd's own Bearer routes refuse tokens of ended sessions at once.
pub async fn is_live(svc: &Services, sub: Uuid, sid: Uuid) -> Result<bool, StoreError> {
    let mut conn = svc.store.conn().await?;
    Ok(store::sessions::find(&mut conn, sid)
        .await?
        .is_some_and(|s| s.user_id == sub && s.is_active(svc.now())))
}

/// The user's live sessions, newest first.
pub async fn list_live(svc: &Services, user: Uuid) -> Result<Vec<Session>, StoreError> {
    let mut conn = svc.store.conn().await?;
    store::sessions::list_live(&mut conn, user, svc.now()).await
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
