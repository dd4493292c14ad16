//! Creating an account, with its verification link when
//! `accounts.email_verification` sends one, and the enumeration-safe mode
//! (`accounts.enumeration_safe_registration`), in which registering an
//! address that has an account looks, to the caller, exactly like
//! registering a new one.
//!
//! In the safe mode both cases do the same work in the same order: the
//! strength check, the per-client send limit (counted for every address), one
//! Argon2id hash, then one transaction that counts a message against the
//! recipient's send budget, writes it to the outbox and an audit event (a
//! message over its budget is not written, on both paths alike). A new address gets its account and its verification link;
//! an existing one gets nothing created, and its owner a
//! `registration_attempt` message that links to the app's forgot-password
//! page. The caller is told 202 either way.
//!
//! What the caller does next must not tell the two apart either: the
//! password just registered would log in at once to a new account and not
//! to an existing one. So the mode needs `accounts.email_verification =
//! "required"` (`config::accounts`), and in it login answers a right
//! password for an unverified address as a wrong one (401, counted as a
//! failure; `accounts::login`): until the link is followed, which takes the
//! mailbox, the new account behaves like an existing one with another
//! password.

use uuid::Uuid;

use super::verify::{send_link, sends_links};
use crate::audit::{self, AuditEvent, AuditKind, RequestMeta};
use crate::domain::{Email, Password};
use crate::error::ServiceError;
use crate::mail::{self, Mail, MailKind};
use crate::passwords::weakness;
use crate::services::Services;
use crate::store::{self, StoreError, users::NewUser, users::User};

/// What a registration did, as the caller may learn it.
pub enum Registered {
    /// The new user (the default mode: answered 201).
    Created(User),
    /// The enumeration-safe mode: the account was created, or its address had
    /// one and its owner was told; the caller cannot learn which (202).
    Accepted,
}

/// Creates an account, or fails with `WeakPassword`, `SendLimited` when its
/// client is over the per-client send limit, or (default mode) `EmailTaken` (a store
/// error) when the email has one. The new user is not logged in.
pub async fn register(
    svc: &Services,
    email: &Email,
    password: &Password,
    meta: &RequestMeta,
) -> Result<Registered, ServiceError> {
    let min_strength = svc.settings.password.min_strength;
    if let Some(why) = weakness(password.expose(), email.as_str(), min_strength) {
        return Err(ServiceError::WeakPassword(why));
    }
    // It will hash: the client's hashing limit, before any database work.
    super::limit_hashing(svc, meta)?;
    let safe = svc.settings.accounts.enumeration_safe_registration;
    if safe || sends_links(svc) {
        mail::check_client_limit(svc, meta)?;
    }
    // In the safe mode an existing address is hashed too: the same cost.
    let hash = svc.hasher.hash(password).await?;
    match create(svc, email, &hash, safe, meta).await {
        Ok(Some(user)) if !safe => Ok(Registered::Created(user)),
        Ok(_) => Ok(Registered::Accepted),
        // Two registrations of one new address at once, in the safe mode:
        // the one that lost the insert tells the owner, as if it came second.
        Err(ServiceError::Store(StoreError::EmailTaken)) if safe => {
            tell_owner(svc, email, meta).await?;
            Ok(Registered::Accepted)
        }
        Err(e) => Err(e),
    }
}

/// The transaction of a registration: the user, its verification link if
/// one is sent, the audit events. In the safe mode, an address that has an
/// account gets the owner's message instead (`Ok(None)`).
async fn create(
    svc: &Services,
    email: &Email,
    hash: &str,
    safe: bool,
    meta: &RequestMeta,
) -> Result<Option<User>, ServiceError> {
    let now = svc.now();
    let mut tx = svc.store.begin().await?;
    if safe && let Some(owner) = store::users::find_by_email(&mut tx, email.as_str()).await? {
        attempted(svc, &mut tx, owner.id, email, meta).await?;
        tx.commit().await?;
        svc.mail.wake();
        tracing::info!(user = %owner.id, "registration of an address that has an account: its owner is told");
        return Ok(None);
    }
    let user = store::users::insert(
        &mut tx,
        NewUser {
            id: Uuid::new_v4(),
            email: email.as_str(),
            password_hash: hash,
            now,
        },
    )
    .await?;
    let event = AuditEvent::new(AuditKind::Registered, Some(user.id), None, meta, now);
    audit::record(&mut tx, &event).await?;
    // A new account's credentials are at their first version.
    let sent = sends_links(svc) && send_link(svc, &mut tx, user.id, email, 0, meta).await?;
    tx.commit().await?;
    if sent {
        svc.mail.wake();
    }
    tracing::info!(user = %user.id, "registered");
    Ok(Some(user))
}

/// Tells the owner of `email` that someone tried to register it, in a
/// transaction of its own (the safe mode's lost race).
async fn tell_owner(svc: &Services, email: &Email, meta: &RequestMeta) -> Result<(), ServiceError> {
    let mut tx = svc.store.begin().await?;
    let Some(owner) = store::users::find_by_email(&mut tx, email.as_str()).await? else {
        return Ok(());
    };
    attempted(svc, &mut tx, owner.id, email, meta).await?;
    tx.commit().await?;
    svc.mail.wake();
    Ok(())
}

/// The `registration_attempt` message to the owner, within its budget, and
/// the audit event, in `tx`.
async fn attempted(
    svc: &Services,
    tx: &mut store::Tx<'_>,
    owner: Uuid,
    email: &Email,
    meta: &RequestMeta,
) -> Result<(), ServiceError> {
    let mut event = AuditEvent::new(
        AuditKind::RegistrationAttempted,
        Some(owner),
        None,
        meta,
        svc.now(),
    );
    if mail::admit(svc, tx, MailKind::RegistrationAttempt, email, meta).await? {
        mail::queue(svc, tx, Some(owner), email, &Mail::RegistrationAttempt).await?;
    } else {
        event = event.with_detail("the owner's send budget was spent: nothing sent");
    }
    audit::record(tx, &event).await?;
    Ok(())
}
