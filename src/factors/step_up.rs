//! Step-up for sensitive actions (adding or removing a factor, new recovery
//! codes, a password change, an email change request): for a user with a
//! confirmed second factor, the caller's session must have been signed in
//! with one (a TOTP or recovery code, a passkey: `mfa` in its `amr`) at most `mfa.step_up_max_age_secs`
//! ago. Otherwise `StepUpRequired` (401 `insufficient_user_authentication`
//! with RFC 9470's `WWW-Authenticate` attributes): the client signs in again
//! with the factor (login, then `/auth/mfa/verify`) and retries with the new
//! session's token. A user without a factor is not asked for anything more.
//!
//! The session's sign-in time is its `auth_time` (the first-party login, or
//! the browser session's sign-in for a client family): a refresh does not
//! make a session fresh again.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::ServiceError;
use crate::services::Services;
use crate::store::{self, AsDb};

/// Checks that session `session` of `user` may make a sensitive change now:
/// `Ok` for a user without a confirmed factor, or a session signed in with a
/// second factor within the setting's age; `StepUpRequired` otherwise;
/// `SessionEnded` for a session that is not the user's.
pub async fn require(
    svc: &Services,
    db: &mut impl AsDb,
    user: Uuid,
    session: Uuid,
    now: DateTime<Utc>,
) -> Result<(), ServiceError> {
    if !store::factors::has_confirmed(db, user).await? {
        return Ok(());
    }
    if recent_second_factor(svc, db, user, session, now).await? {
        return Ok(());
    }
    tracing::info!(user = %user, session = %session, "a sensitive change refused: no recent second factor");
    Err(ServiceError::StepUpRequired {
        max_age_secs: svc.settings.mfa.step_up_max_age_secs,
    })
}

/// Whether session `session` of `user` was signed in with a second factor
/// at most `mfa.step_up_max_age_secs` before `now`, whether or not the user
/// still has one: the rule of [`require`], and of a user acting as an admin
/// (`admin::authorize_user`), who needs it without exception.
/// `SessionEnded` for a session that is not the user's.
pub async fn recent_second_factor(
    svc: &Services,
    db: &mut impl AsDb,
    user: Uuid,
    session: Uuid,
    now: DateTime<Utc>,
) -> Result<bool, ServiceError> {
    let max_age_secs = svc.settings.mfa.step_up_max_age_secs;
    let row = store::sessions::find(db, session)
        .await?
        .filter(|s| s.user_id == user)
        .ok_or(ServiceError::SessionEnded)?;
    let max_age = chrono::Duration::seconds(i64::try_from(max_age_secs).unwrap_or(i64::MAX));
    Ok(row.auth_methods.has_second_factor() && now - row.authenticated_at() <= max_age)
}

/// [`require`] on a connection of its own, at the service's time: what a
/// sensitive change calls first, before its password is checked or counted.
pub async fn require_now(svc: &Services, user: Uuid, session: Uuid) -> Result<(), ServiceError> {
    let mut conn = svc.store.conn().await?;
    require(svc, &mut conn, user, session, svc.now()).await
}
