//! Signing in with an email and a password: the throttle, the Argon2id check,
//! and the new session.

use crate::audit::{self, AuditEvent, AuditKind, RequestMeta};
use crate::domain::{Email, Password};
use crate::error::ServiceError;
use crate::services::Services;
use crate::sessions::{self, Session};
use crate::store;
use crate::throttle::Keys;

/// Checks the credentials and starts a session.
///
/// - The attempt is counted against the account and the client before any
///   hashing (`LoginThrottle::reserve`): a locked-out account or client, and
///   guesses sent at once past the limit, are refused without an Argon2id run.
/// - An unknown email costs one Argon2id run, like a wrong password (a dummy
///   hash is verified), and counts against the same throttle keys: the answer
///   and its timing say nothing about which emails have accounts.
/// - A failure is counted, and audited, in one transaction; so is a success
///   with its session, the re-hash of an outdated hash and the cleared count,
///   and the end of the oldest session when the user is at the cap
///   (`refresh.max_sessions_per_user`; see `sessions::start`).
pub async fn login(
    svc: &Services,
    email: &Email,
    password: &Password,
    meta: &RequestMeta,
) -> Result<Session, ServiceError> {
    let now = svc.now();
    let keys = Keys::new(email.as_str(), meta.ip.as_deref());
    let reserved = reserve(svc, &keys).await?;
    let mut conn = svc.store.conn().await?;
    let stored = store::users::find_credentials_by_email(&mut conn, email.as_str()).await?;
    // No connection is held while hashing.
    drop(conn);
    let hash = stored.as_ref().map(|c| c.password_hash.as_str());
    let verified = checked(
        svc,
        &keys,
        reserved,
        svc.hasher.verify(password, hash).await,
    )
    .await?;
    let user_id = match (&stored, verified.ok) {
        (Some(c), true) => c.id,
        _ => {
            tracing::info!(known_user = stored.is_some(), "login failed");
            svc.metrics.logins.with_label_values(&["failed"]).inc();
            let mut tx = svc.store.begin().await?;
            svc.throttle.failed(&mut tx, &keys, now).await?;
            let user = stored.map(|c| c.id);
            let event = AuditEvent::new(AuditKind::LoginFailed, user, None, meta, now);
            audit::record(&mut tx, &event).await?;
            tx.commit().await?;
            return Err(ServiceError::InvalidCredentials);
        }
    };
    svc.metrics.logins.with_label_values(&["ok"]).inc();
    let mut tx = svc.store.begin().await?;
    svc.throttle.succeeded(&mut tx, &keys).await?;
    if let Some(rehash) = &verified.rehash {
        store::users::set_password_hash(&mut tx, user_id, rehash, now).await?;
    }
    let started = sessions::start(&mut tx, &svc.policy, user_id, now, meta).await?;
    let session = started.session;
    let event = AuditEvent::new(
        AuditKind::LoginSucceeded,
        Some(user_id),
        Some(session.id),
        meta,
        now,
    );
    audit::record(&mut tx, &event).await?;
    tx.commit().await?;
    if verified.rehash.is_some() {
        tracing::info!(user = %user_id, "password re-hashed with the current parameters");
    }
    if started.evicted > 0 {
        tracing::info!(user = %user_id, evicted = started.evicted, "session cap reached: the oldest sessions ended");
        svc.metrics
            .revoked(sessions::logout::reasons::SESSION_LIMIT, started.evicted);
    }
    tracing::info!(user = %user_id, session = %session.id, "login");
    Ok(session)
}

/// Reserves an attempt against `keys` in a transaction of its own (no
/// transaction is held while hashing), or refuses it as locked out.
pub(super) async fn reserve(
    svc: &Services,
    keys: &Keys,
) -> Result<crate::throttle::Reservation, ServiceError> {
    let mut tx = svc.store.begin().await?;
    let reserved = svc.throttle.reserve(&mut tx, keys, svc.now()).await?;
    tx.commit().await?;
    reserved.map_err(|retry_after_secs| {
        tracing::info!(retry_after_secs, "refused before hashing: locked out");
        svc.metrics.logins.with_label_values(&["locked_out"]).inc();
        ServiceError::LockedOut { retry_after_secs }
    })
}

/// The result of a password check made under a reservation; when hashing
/// failed (saturated), the reservation is given back before the error goes on.
pub(super) async fn checked<T>(
    svc: &Services,
    keys: &Keys,
    reserved: crate::throttle::Reservation,
    result: Result<T, crate::passwords::HashError>,
) -> Result<T, ServiceError> {
    match result {
        Ok(value) => Ok(value),
        Err(e) => {
            let mut tx = svc.store.begin().await?;
            svc.throttle.cancel(&mut tx, keys, reserved).await?;
            tx.commit().await?;
            Err(e.into())
        }
    }
}
