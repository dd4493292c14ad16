//! The first proof of an address, and what it ends (account pre-hijacking).
//!
//! Whoever set an account's password before its address was proven may not
//! be the mailbox's owner: someone can register another person's address with
//! a password of their own and keep a session, or move their own account to
//! another person's address with an email change, and wait for the mailbox's
//! owner to follow the link (or sign in with a code). So the first proof of an
//! address on an account ([`end_before_proof`]) ends every session that began
//! before it, and withdraws the password (replaced by the hash of a random
//! password nobody knows) unless:
//!
//! - the password was set by a reset: a reset proves the address, so no later
//!   proof of that address is a first one (the reset marks it verified);
//! - or whoever follows the link gives the password with it ([`Given`]): the
//!   mailbox's owner knows it, so it is theirs. A wrong one is refused as a
//!   wrong password at login is, and spends nothing.
//!
//! The three first proofs: a verification link (`verify`), a login code
//! (`otp`, which cannot carry a password; its session begins after the
//! proof), and the confirmation of an email change (`email_change`: the new
//! address is the account's for the first time, so every confirmation is one).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::audit::{self, AuditEvent, AuditKind, RequestMeta};
use crate::domain::Password;
use crate::error::ServiceError;
use crate::services::Services;
use crate::sessions::logout;
use crate::store::{self, Tx, users::Credentials};

use super::reauthenticate::{Check, reauthenticate};

/// What a first proof was given, worked out before its transaction (no
/// transaction is held while a password is hashed).
pub(super) struct Given {
    /// The credential version at which the given password was found right:
    /// the password is kept if it is still the current one under the lock.
    known: Option<i64>,
    /// The hash a withdrawn password is replaced by.
    replacement: Option<String>,
}

/// Checks the password that came with a link (`password`), or, without one,
/// makes the hash that replaces a withdrawn password (only when `may_withdraw`:
/// the proof may be a first one). A link issued at another credential version
/// than the account's (`version`: a password changed since) is refused
/// (`InvalidAccountToken`) before any password is looked at, as the caller
/// would refuse it under the lock. A wrong password is `InvalidCredentials`,
/// counted on the login throttle of the account and the client and audited as
/// a failed login; past the throttle's limits the password is not checked
/// (`LockedOut`).
pub(super) async fn given(
    svc: &Services,
    user: Uuid,
    version: i64,
    password: Option<&Password>,
    may_withdraw: bool,
    meta: &RequestMeta,
) -> Result<Given, ServiceError> {
    let Some(password) = password else {
        let replacement = match may_withdraw {
            true => Some(svc.hasher.unusable_hash()),
            false => None,
        };
        return Ok(Given {
            known: None,
            replacement,
        });
    };
    let check = Check {
        user,
        session: None,
        password,
        wrong: "wrong password given with an emailed link",
    };
    let accept = |stored: Option<Credentials>| {
        stored
            .filter(|c| c.credential_version == version)
            .ok_or(ServiceError::InvalidAccountToken)
    };
    let (proof, admission) = reauthenticate(svc, check, accept, meta).await?;
    drop(admission);
    proof.forgive(svc).await?;
    Ok(Given {
        known: Some(proof.credentials.credential_version),
        replacement: None,
    })
}

/// What a first proof ended.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Ended {
    pub sessions: u64,
    pub password: bool,
}

/// The first proof of `user`'s address, in `tx`, which holds the user's lock
/// (read as `version`): every session of the user ends (they all began before
/// the proof), with the one user revocation the feed lists, for `reason`; the
/// password is withdrawn unless `given` found it right at `version`; the audit
/// event says `how` the address was proven. The caller calls [`report`] after
/// its commit.
#[allow(clippy::too_many_arguments)]
pub(super) async fn end_before_proof(
    svc: &Services,
    tx: &mut Tx<'_>,
    user: Uuid,
    version: i64,
    given: &Given,
    reason: &str,
    how: &str,
    meta: &RequestMeta,
    now: DateTime<Utc>,
) -> Result<Ended, ServiceError> {
    let sessions = logout::revoke_every_session(svc, tx, user, reason, now).await?;
    let password = given.known != Some(version);
    if password {
        let Some(hash) = &given.replacement else {
            return Err(ServiceError::internal(anyhow::anyhow!(
                "a first proof without a password or its replacement"
            )));
        };
        store::users::set_new_password(tx, user, hash, now).await?;
        let event = AuditEvent::new(AuditKind::PasswordReset, Some(user), None, meta, now)
            .with_detail(format!(
                "the first proof of the address was {how}: the password set before it \
                 was withdrawn and its sessions ended"
            ));
        audit::record(tx, &event).await?;
    } else if sessions > 0 {
        let event = AuditEvent::new(AuditKind::SessionRevoked, Some(user), None, meta, now)
            .with_detail(format!(
                "the first proof of the address was {how}: the sessions begun before it ended"
            ));
        audit::record(tx, &event).await?;
    }
    Ok(Ended { sessions, password })
}

/// Logs and counts what a committed first proof ended.
pub(super) fn report(svc: &Services, user: Uuid, reason: &str, ended: Ended) {
    if ended.sessions > 0 || ended.password {
        tracing::info!(
            user = %user,
            sessions = ended.sessions,
            password_withdrawn = ended.password,
            "the first proof of the address ended what began before it"
        );
    }
    svc.metrics.revoked(reason, ended.sessions);
}
