//! Re-authentication: a known user gives their current password again before
//! a sensitive change (a password change, an email change) or with an emailed
//! link (`proof`). Every such check runs the same steps, in this order:
//!
//! - the client's hashing limit, in memory (`limits.hash_per_ip`), then a
//!   place among the hashes (`Hasher::admit`), both before any database work;
//! - the account's credentials read, and judged by the caller (an account
//!   gone, a link issued at another credential version, the same address);
//! - the attempt reserved on the login throttle's counters of the account and
//!   the client (`login::reserve`): a stolen access token or link gives no
//!   more guesses than login does, and a locked-out account is refused before
//!   its password is checked;
//! - the Argon2id check, with no connection or transaction held, and a
//!   failure to hash given back to the throttle (`login::checked`);
//! - a wrong password counted as a failed login and audited (`login_failed`).
//!
//! A right password comes back as [`Reauthenticated`], which the caller
//! settles: under the user's lock ([`Reauthenticated::still_current`], the
//! check made stale by a password changed meanwhile) or on its own
//! ([`Reauthenticated::forgive`]). Second factors, when they come, add their
//! "recent second factor" test here.

use uuid::Uuid;

use crate::audit::{self, AuditEvent, AuditKind, RequestMeta};
use crate::domain::Password;
use crate::error::ServiceError;
use crate::passwords::Admission;
use crate::services::Services;
use crate::store::{self, Tx, users::Credentials};
use crate::throttle::{Keys, Reservation};

use super::login::{checked, reserve};

/// A password to check again for a known user.
pub(super) struct Check<'a> {
    pub user: Uuid,
    /// The session the user is signed in on; none for a password given with
    /// an emailed link, which is then counted as a failed login
    /// (`authd_logins{outcome="failed"}`) when wrong.
    pub session: Option<Uuid>,
    pub password: &'a Password,
    /// The audit detail of a wrong password.
    pub wrong: &'static str,
}

/// A password found right for its user: the credentials it was checked
/// against, and the throttle's keys and reservation.
pub(super) struct Reauthenticated {
    pub credentials: Credentials,
    pub keys: Keys,
    pub reserved: Reservation,
    session: Option<Uuid>,
}

/// Checks `check.password` against the stored hash of `check.user`.
/// `accept` judges the credentials read (or their absence) before anything is
/// counted: its refusal is the answer, and spends nothing. A wrong password
/// is `InvalidCredentials` (401), counted and audited; a locked-out account
/// `LockedOut` (429); no place among the hashes, `Hash(Overloaded)` (503).
/// The place among the hashes comes back with a right password, for a hash
/// the caller makes next (a password change's new one): drop it before any
/// transaction.
pub(super) async fn reauthenticate(
    svc: &Services,
    check: Check<'_>,
    accept: impl FnOnce(Option<Credentials>) -> Result<Credentials, ServiceError>,
    meta: &RequestMeta,
) -> Result<(Reauthenticated, Admission), ServiceError> {
    // It will hash: the client's hashing limit, then a place among the
    // hashes, before any database work.
    super::limit_hashing(svc, meta)?;
    let admission = svc.hasher.admit()?;
    let mut conn = svc.store.conn().await?;
    let stored = store::users::find_credentials(&mut conn, check.user).await?;
    drop(conn);
    let credentials = accept(stored)?;
    let keys = Keys::new(&svc.refresh, &credentials.email, meta.ip.as_deref());
    let reserved = reserve(svc, &keys).await?;
    let hash = Some(credentials.password_hash.as_str());
    let verified = svc
        .hasher
        .verify_admitted(&admission, check.password, hash)
        .await;
    let verified = checked(svc, &keys, reserved, verified).await?;
    if !verified.ok {
        drop(admission);
        tracing::info!(user = %check.user, detail = check.wrong, "re-authentication with a wrong password");
        let mut tx = svc.store.begin().await?;
        refuse(
            svc,
            &mut tx,
            &keys,
            check.user,
            check.session,
            check.wrong,
            meta,
        )
        .await?;
        tx.commit().await?;
        return Err(ServiceError::InvalidCredentials);
    }
    let proof = Reauthenticated {
        credentials,
        keys,
        reserved,
        session: check.session,
    };
    Ok((proof, admission))
}

impl Reauthenticated {
    /// Takes the user's lock in `tx` (before its throttle counters, then its
    /// sessions, as at sign-in) and tells whether the password checked is
    /// still the current one. It is: the account's failures are forgotten,
    /// `true`. A password changed while it was checked makes the check stale:
    /// refused as a wrong password in `tx` (counted, audited with `stale`),
    /// `false`; the caller commits and answers `InvalidCredentials`.
    pub async fn still_current(
        &self,
        svc: &Services,
        tx: &mut Tx<'_>,
        stale: &str,
        meta: &RequestMeta,
    ) -> Result<bool, ServiceError> {
        let user = self.credentials.id;
        if store::users::lock(tx, user).await? != Some(self.credentials.credential_version) {
            tracing::info!(user = %user, detail = stale, "re-authentication made stale: the password changed while it was checked");
            refuse(svc, tx, &self.keys, user, self.session, stale, meta).await?;
            return Ok(false);
        }
        svc.throttle.succeeded(tx, &self.keys).await?;
        Ok(true)
    }

    /// The password was right, whatever the caller refuses next: the
    /// account's failures are forgotten, in a transaction of their own.
    pub async fn forgive(&self, svc: &Services) -> Result<(), ServiceError> {
        let mut tx = svc.store.begin().await?;
        svc.throttle.succeeded(&mut tx, &self.keys).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Settles a refused re-authentication in `tx`: a failed login on the
/// throttle's counters, and its `login_failed` event with `detail`.
async fn refuse(
    svc: &Services,
    tx: &mut Tx<'_>,
    keys: &Keys,
    user: Uuid,
    session: Option<Uuid>,
    detail: &str,
    meta: &RequestMeta,
) -> Result<(), ServiceError> {
    let now = svc.now();
    if session.is_none() {
        svc.metrics.logins.with_label_values(&["failed"]).inc();
    }
    svc.throttle.failed(tx, keys, now).await?;
    let event =
        AuditEvent::new(AuditKind::LoginFailed, Some(user), session, meta, now).with_detail(detail);
    audit::record(tx, &event).await?;
    Ok(())
}
