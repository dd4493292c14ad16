//! Changing a password, ending the other sessions it must end, and telling
//! the owner (`password_changed`).

use uuid::Uuid;

use crate::audit::{self, AuditEvent, AuditKind, RequestMeta};
use crate::domain::Password;
use crate::error::ServiceError;
use crate::mail::{self, Mail};
use crate::passwords::weakness;
use crate::services::Services;
use crate::sessions::logout::reasons;
use crate::store::{self, Tx};
use crate::throttle::Keys;

use super::login::{checked, reserve};
use super::tokens::Purpose;

/// Changes the password of `user`, given the current one, and revokes every
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
/// Like a login (`login::sign_in`), the change applies only if the password
/// it verified is still the current one, checked under the user's lock: of
/// two changes made at once with the same current password, the second is
/// refused as a wrong current password.
pub async fn change_password(
    svc: &Services,
    user: Uuid,
    current: Uuid,
    old: &Password,
    new: &Password,
    meta: &RequestMeta,
) -> Result<u64, ServiceError> {
    // It will hash: the client's hashing limit, before any database work.
    super::limit_hashing(svc, meta)?;
    // A place for both hashes (the current password's check, the new one's
    // hash) before anything touches the database.
    let admission = svc.hasher.admit()?;
    let mut conn = svc.store.conn().await?;
    let stored = store::users::find_credentials(&mut conn, user)
        .await?
        .ok_or(ServiceError::SessionEnded)?;
    drop(conn);
    // Counted on the login counters of the account and the client, before
    // the hash: a stolen access token gives no more guesses than login does.
    let keys = Keys::new(&svc.refresh, &stored.email, meta.ip.as_deref());
    let reserved = reserve(svc, &keys).await?;
    let hash = Some(stored.password_hash.as_str());
    let verified = svc.hasher.verify_admitted(&admission, old, hash).await;
    let verified = checked(svc, &keys, reserved, verified).await?;
    if !verified.ok {
        drop(admission);
        tracing::info!(user = %user, "password change with a wrong current password");
        let mut tx = svc.store.begin().await?;
        refuse(svc, &mut tx, &keys, user, current, WRONG, meta).await?;
        tx.commit().await?;
        return Err(ServiceError::InvalidCredentials);
    }
    let min_strength = svc.settings.password.min_strength;
    let weak = weakness(new.expose(), &stored.email, min_strength);
    let new_hash = match weak {
        Some(_) => None,
        None => {
            let hashed = svc.hasher.hash_admitted(&admission, new).await;
            Some(checked(svc, &keys, reserved, hashed).await?)
        }
    };
    drop(admission);
    let now = svc.now();
    let mut tx = svc.store.begin().await?;
    let Some(hash) = new_hash else {
        // The current password was right: the account's failures are forgotten.
        svc.throttle.succeeded(&mut tx, &keys).await?;
        tx.commit().await?;
        return Err(ServiceError::WeakPassword(weak.unwrap_or_default()));
    };
    // The user's lock comes first (then its throttle counters, then its
    // sessions), as at sign-in.
    if store::users::lock(&mut tx, user).await? != Some(stored.credential_version) {
        tracing::info!(user = %user, "password change refused: the password changed while it was checked");
        refuse(svc, &mut tx, &keys, user, current, STALE, meta).await?;
        tx.commit().await?;
        return Err(ServiceError::InvalidCredentials);
    }
    svc.throttle.succeeded(&mut tx, &keys).await?;
    store::users::set_new_password(&mut tx, user, &hash, now).await?;
    let revoked = store::sessions::revoke_all_of_user(
        &mut tx,
        user,
        Some(current),
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

/// Settles a refused check of a signed-in user's current password (a
/// password change, an email change) in `tx`: a failed login on the
/// throttle's counters, and its audit event with `detail`.
pub(super) async fn refuse(
    svc: &Services,
    tx: &mut Tx<'_>,
    keys: &Keys,
    user: Uuid,
    current: Uuid,
    detail: &str,
    meta: &RequestMeta,
) -> Result<(), ServiceError> {
    let now = svc.now();
    svc.throttle.failed(tx, keys, now).await?;
    let event = AuditEvent::new(AuditKind::LoginFailed, Some(user), Some(current), meta, now)
        .with_detail(detail);
    audit::record(tx, &event).await?;
    Ok(())
}
