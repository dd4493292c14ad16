//! Signing in with an email and a password: the throttle, the Argon2id check,
//! and the new session.

use uuid::Uuid;

use crate::audit::{self, AuditEvent, AuditKind, RequestMeta};
use crate::config::Verification;
use crate::domain::{Email, Password};
use crate::error::ServiceError;
use crate::services::Services;
use crate::sessions::{Method, Methods};
use crate::store::{self, Tx};
use crate::throttle::Keys;

use super::sign_in::{Proven, SignIn, Start, sign_in};
use crate::sessions::browser::BrowserSession;

/// Checks the credentials and signs the user in: [`authenticate`], then
/// [`finish_login`].
///
/// - The client's requests that hash (successful logins too) are limited in
///   memory first (`limits.hash_per_ip`): past it, 429 before any database
///   work.
/// - A place among the hashes is taken next (`Hasher::admit`): a login
///   that cannot be hashed now is refused (503 with `Retry-After`) before it
///   touches the database, and counts and records nothing.
/// - The attempt is counted against the account from this client (the
///   strict count), the account from everywhere (the looser one) and the
///   client before any hashing (`LoginThrottle::reserve`): a locked-out
///   account or client, and guesses sent at once past the limit, are refused
///   without an Argon2id run. A stranger's failures from one network lock
///   that network out of the account, not its owner on another.
/// - An unknown email costs one Argon2id run, like a wrong password (a dummy
///   hash is verified), and counts against the same throttle keys: the answer
///   and its timing say nothing about which emails have accounts.
/// - A failure is counted, and audited, in one transaction; so is a success
///   with its session, the re-hash of an outdated hash and the cleared count,
///   and the end of the oldest session when the user is at the cap
///   (`refresh.max_sessions_per_user`; see `sessions::start`).
/// - A password changed while this one was being checked makes the check
///   stale: refused like a wrong password (see [`finish_login`]).
/// - With `accounts.email_verification = "required"`, a right password for
///   an address not yet verified is refused with `EmailNotVerified` (403),
///   and no session starts. Only a right password learns that: a wrong one
///   is `InvalidCredentials` whatever the address's state. The attempt is
///   settled as a right password (the account's failures are cleared: its
///   owner, waiting for the link, is not guessing) and audited as
///   `login_failed`.
/// - Except with `accounts.enumeration_safe_registration`: there a 403
///   would tell whoever just registered an address that the account is the
///   one they created (an existing account answers their password 401), so
///   the refusal is a wrong password in every way: `InvalidCredentials`,
///   counted as a failure, audited with the same detail.
pub async fn login(
    svc: &Services,
    email: &Email,
    password: &Password,
    meta: &RequestMeta,
) -> Result<SignIn, ServiceError> {
    login_as(svc, email, password, Start::Refresh, meta).await
}

/// How a sign-in on the hosted login page ended: a browser session, or a
/// challenge for the second factor (its page, `accounts::second_factor::
/// verify_in_browser`), no session yet.
#[derive(Debug)]
pub enum BrowserSignIn {
    Complete(BrowserSession),
    SecondFactor(crate::factors::Challenge),
    /// `mfa.required`: a factor to enrol first (`accounts::enrolment`).
    EnrolFactor(crate::factors::Challenge),
}

impl From<SignIn> for BrowserSignIn {
    fn from(outcome: SignIn) -> Self {
        match outcome {
            SignIn::Complete(session) => Self::Complete(BrowserSession {
                id: session.id,
                user_id: session.user_id,
                auth_time: session.created_at,
                methods: session.auth_methods,
            }),
            SignIn::SecondFactor(challenge) => Self::SecondFactor(challenge),
            SignIn::EnrolFactor(challenge) => Self::EnrolFactor(challenge),
        }
    }
}

/// [`login`] from the hosted login page: the same checks, throttles and
/// refusals, and a browser session at authd instead of a refresh-token
/// family (`sessions::browser`); with a second factor due, its challenge.
pub async fn login_in_browser(
    svc: &Services,
    email: &Email,
    password: &Password,
    meta: &RequestMeta,
) -> Result<BrowserSignIn, ServiceError> {
    Ok(login_as(svc, email, password, Start::Browser, meta)
        .await?
        .into())
}

async fn login_as(
    svc: &Services,
    email: &Email,
    password: &Password,
    start: Start,
    meta: &RequestMeta,
) -> Result<SignIn, ServiceError> {
    let proof = authenticate(svc, email, password, meta).await?;
    if !proof.email_verified && svc.settings.accounts.email_verification == Verification::Required {
        return Err(unverified(svc, proof, meta).await?);
    }
    finish_login_as(svc, proof, start, meta).await
}

/// The audit detail of a login refused because the address is not verified.
const UNVERIFIED: &str = "the email address is not verified";

/// Settles a right password for an unverified address: the account's
/// failures cleared (in the enumeration-safe mode: counted, as for a wrong
/// password), the refusal audited, in one transaction; returns the refusal.
/// The address was read before the hash: it only ever goes from unverified
/// to verified, so a stale read can only refuse a login that a retry lets in.
async fn unverified(
    svc: &Services,
    proof: Authenticated,
    meta: &RequestMeta,
) -> Result<ServiceError, ServiceError> {
    let now = svc.now();
    let mut tx = svc.store.begin().await?;
    if svc.settings.accounts.enumeration_safe_registration {
        let user = Some(proof.user);
        refuse(svc, &mut tx, &proof.keys, user, Some(UNVERIFIED), meta).await?;
        tx.commit().await?;
        tracing::info!(user = %proof.user, "login refused as a wrong password: the email address is not verified");
        return Ok(ServiceError::InvalidCredentials);
    }
    svc.throttle.succeeded(&mut tx, &proof.keys).await?;
    let event = AuditEvent::new(AuditKind::LoginFailed, Some(proof.user), None, meta, now)
        .with_detail(UNVERIFIED);
    audit::record(&mut tx, &event).await?;
    tx.commit().await?;
    svc.metrics
        .logins
        .with_label_values(&["email_not_verified"])
        .inc();
    tracing::info!(user = %proof.user, "login refused: the email address is not verified");
    Ok(ServiceError::EmailNotVerified)
}

/// A password found right for a user, and which credentials it was right for:
/// made only by [`authenticate`], spent by [`finish_login`].
pub struct Authenticated {
    user: Uuid,
    /// The credential version read with the hash the password was checked
    /// against (`users.credential_version`).
    credential_version: i64,
    /// Whether the address was verified, read with the hash.
    email_verified: bool,
    rehash: Option<String>,
    keys: Keys,
}

/// The first half of a login: a place among the hashes, the throttle, the
/// credentials read and the Argon2id check, with no connection or
/// transaction held while hashing. No place: `Hash(Overloaded)` (503) before
/// any database work. A wrong password (or an unknown email) is counted and
/// audited here and fails with `InvalidCredentials`.
pub async fn authenticate(
    svc: &Services,
    email: &Email,
    password: &Password,
    meta: &RequestMeta,
) -> Result<Authenticated, ServiceError> {
    // The client's hashing limit (successful logins too), before any
    // database work.
    super::limit_hashing(svc, meta)?;
    let keys = Keys::new(&svc.refresh, email.as_str(), meta.ip.as_deref());
    let admission = svc.hasher.admit()?;
    let reserved = reserve(svc, &keys).await?;
    let mut conn = svc.store.conn().await?;
    let stored = store::users::find_credentials_by_email(&mut conn, email.as_str()).await?;
    // No connection is held while hashing.
    drop(conn);
    let hash = stored.as_ref().map(|c| c.password_hash.as_str());
    let verified = svc.hasher.verify_admitted(&admission, password, hash).await;
    // The place goes back before the settling transaction.
    drop(admission);
    let verified = checked(svc, &keys, reserved, verified).await?;
    match stored {
        Some(c) if verified.ok => Ok(Authenticated {
            user: c.id,
            credential_version: c.credential_version,
            email_verified: c.email_verified,
            rehash: verified.rehash,
            keys,
        }),
        stored => {
            let user = stored.map(|c| c.id);
            tracing::info!(known_user = user.is_some(), "login failed");
            let mut tx = svc.store.begin().await?;
            refuse(svc, &mut tx, &keys, user, None, meta).await?;
            tx.commit().await?;
            Err(ServiceError::InvalidCredentials)
        }
    }
}

/// The second half of a login: the sign-in (`accounts::sign_in`), in one
/// transaction with the cleared failure count and the re-hash; only if the
/// password `proof` verified is still the user's.
///
/// The user's row is locked and its credential version read first: a
/// password change holds the same lock while it moves the version on and
/// revokes the other sessions. So either the change committed first, this
/// login sees a newer version than it verified against and is refused (as a
/// wrong password: 401 `invalid_credentials`, counted and audited as a
/// failure, its re-hash of the old password dropped), or this login commits
/// first and the change, waiting on the lock, revokes its session with the
/// others. No session started with the old password outlives the change.
pub async fn finish_login(
    svc: &Services,
    proof: Authenticated,
    meta: &RequestMeta,
) -> Result<SignIn, ServiceError> {
    finish_login_as(svc, proof, Start::Refresh, meta).await
}

/// [`finish_login`], starting the session `start` says.
async fn finish_login_as(
    svc: &Services,
    proof: Authenticated,
    start: Start,
    meta: &RequestMeta,
) -> Result<SignIn, ServiceError> {
    let user_id = proof.user;
    let now = svc.now();
    let mut tx = svc.store.begin().await?;
    let current = store::users::lock(&mut tx, user_id).await?;
    if current != Some(proof.credential_version) {
        tracing::info!(user = %user_id, "login refused: the password changed while it was checked");
        refuse(
            svc,
            &mut tx,
            &proof.keys,
            current.map(|_| user_id),
            Some(STALE),
            meta,
        )
        .await?;
        tx.commit().await?;
        return Err(ServiceError::InvalidCredentials);
    }
    if super::sign_in::clears_failures(&mut tx, user_id).await? {
        svc.throttle.succeeded(&mut tx, &proof.keys).await?;
    }
    if let Some(rehash) = &proof.rehash {
        store::users::set_password_hash(&mut tx, user_id, rehash, now).await?;
    }
    let outcome = sign_in(
        svc,
        tx,
        Proven {
            user: user_id,
            start,
            methods: Methods::one(Method::Password),
            detail: None,
            log: "login",
        },
        meta,
    )
    .await?;
    if proof.rehash.is_some() {
        tracing::info!(user = %user_id, "password re-hashed with the current parameters");
    }
    Ok(outcome)
}

/// The audit detail of a login refused because the password changed while it
/// was being checked.
const STALE: &str = "the password changed while this login was checked";

/// Settles a refused login in `tx`: counted as a failure (the reservation
/// stays, the client's failure is counted) and audited.
pub(super) async fn refuse(
    svc: &Services,
    tx: &mut Tx<'_>,
    keys: &Keys,
    user: Option<Uuid>,
    detail: Option<&str>,
    meta: &RequestMeta,
) -> Result<(), ServiceError> {
    let now = svc.now();
    svc.metrics.logins.with_label_values(&["failed"]).inc();
    svc.throttle.failed(tx, keys, now).await?;
    let mut event = AuditEvent::new(AuditKind::LoginFailed, user, None, meta, now);
    if let Some(detail) = detail {
        event = event.with_detail(detail);
    }
    audit::record(tx, &event).await?;
    Ok(())
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
/// failed, the reservation is given back before the error goes on.
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
