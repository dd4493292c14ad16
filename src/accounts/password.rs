//! Changing a password, ending the other sessions it must end, and telling
//! the owner (`password_changed`).

use uuid::Uuid;

use crate::audit::{self, AuditEvent, AuditKind, RequestMeta};
use crate::domain::Password;
use crate::error::ServiceError;
use crate::mail::{self, Mail};
use crate::oidc::backchannel::{self, Ended};
use crate::passwords::weakness;
use crate::services::Services;
use crate::sessions::logout::reasons;
use crate::store;

use super::login::checked;
use super::reauthenticate::{Check, reauthenticate};
use super::tokens::Purpose;

/// Changes the password of `user`, given the current one (and, for a user
/// with a second factor, from a session with a recent one:
/// `factors::step_up`, checked first), and revokes every
/// other session of the user (ASVS 7.4.3); session `current` stays; the
/// pending reset, verification, email-change and login-code tokens end. The
/// new hash, the move of the credential version, the revocation, the end of
/// the tokens and the audit event commit as one: no answer can leave the new
/// password set and the old sessions alive. A wrong current password counts against the same throttle
/// as a failed login, and a locked-out account is refused before its password
/// is checked. With no place among the hashes (`Hasher::admit`), it is
/// refused at once (503) before any database work. The `password_changed`
/// notice goes to the account's address in the same transaction. Returns how
/// many sessions were revoked.
///
/// The current password is checked by `reauthenticate`, as at an email
/// change. Like a login (`login::finish_login`), the change applies only if
/// the password it verified is still the current one, checked under the
/// user's lock: of two changes made at once with the same current password,
/// the second is refused as a wrong current password.
pub async fn change_password(
    svc: &Services,
    user: Uuid,
    current: Uuid,
    old: &Password,
    new: &Password,
    meta: &RequestMeta,
) -> Result<u64, ServiceError> {
    crate::factors::step_up::require_now(svc, user, current).await?;
    let check = Check {
        user,
        session: Some(current),
        password: old,
        wrong: WRONG,
    };
    let accept = |stored: Option<_>| stored.ok_or(ServiceError::SessionEnded);
    let (proof, admission) = reauthenticate(svc, check, accept, meta).await?;
    let stored = &proof.credentials;
    let min_strength = svc.settings.password.min_strength;
    let weak = weakness(new.expose(), &stored.email, min_strength);
    let new_hash = match weak {
        Some(_) => None,
        None => {
            let hashed = svc.hasher.hash_admitted(&admission, new).await;
            Some(checked(svc, &proof.keys, proof.reserved, hashed).await?)
        }
    };
    drop(admission);
    let Some(hash) = new_hash else {
        // The current password was right: the account's failures are forgotten.
        proof.forgive(svc).await?;
        return Err(ServiceError::WeakPassword(weak.unwrap_or_default()));
    };
    let now = svc.now();
    let mut tx = svc.store.begin().await?;
    if !proof.still_current(svc, &mut tx, STALE, meta).await? {
        tx.commit().await?;
        return Err(ServiceError::InvalidCredentials);
    }
    store::users::set_new_password(&mut tx, user, &hash, now).await?;
    let keep = Some(current);
    backchannel::ended(svc, &mut tx, Ended::User { user, keep }).await?;
    let revoked = store::sessions::revoke_all_of_user(
        &mut tx,
        user,
        keep,
        reasons::PASSWORD_CHANGED,
        now,
        false,
    )
    .await?;
    // The credential version moved on, which kills every emailed link and
    // code issued before it; they are ended too, so none is found live any
    // more (a reset by such a link is refused before it hashes anything).
    for purpose in PENDING {
        super::tokens::end_all(svc, &mut tx, user, purpose).await?;
    }
    let event = AuditEvent::new(
        AuditKind::PasswordChanged,
        Some(user),
        Some(current),
        meta,
        now,
    );
    audit::record(&mut tx, &event).await?;
    // The owner is told, in the same transaction: a change they did not make
    // is a stolen session or password.
    let to = super::stored_email(&stored.email)?;
    mail::queue(
        svc,
        &mut tx,
        Some(user),
        &to,
        &Mail::PasswordChanged { at: now },
    )
    .await?;
    tx.commit().await?;
    svc.mail.wake();
    tracing::info!(user = %user, revoked, "password changed; other sessions revoked");
    svc.metrics.revoked(reasons::PASSWORD_CHANGED, revoked);
    Ok(revoked)
}

/// The emailed links and codes a password change ends.
const PENDING: [Purpose; 4] = [
    Purpose::PasswordReset,
    Purpose::VerifyEmail,
    Purpose::EmailChange,
    Purpose::OtpLogin,
];

/// Audit details of a refused password change.
const WRONG: &str = "wrong current password at password change";
const STALE: &str = "the password changed while this password change was checked";
