//! Email verification: the link sent at registration (and on request), and
//! following it.
//!
//! - With `accounts.email_verification` `send` or `required`, registration
//!   queues a `verify_email` message in its own transaction ([`send_link`]),
//!   so an account and its first link commit together.
//! - [`verify_email`] spends the link under the user's lock and marks the
//!   address verified only if it is still the account's address (a link
//!   proves the address it was sent to), and only if the credentials are
//!   those it was issued under (the rule of every account token: a password
//!   change or reset ends the links issued before it). A new link is one
//!   request away.
//! - A link that is the address's first proof ends every session begun
//!   before it and withdraws the password set before it, unless the password
//!   is given with the link (`accounts::proof`: account pre-hijacking).
//! - [`resend_verification`] answers the same whatever the address: the
//!   per-client send limit is counted first, for every address alike, and the
//!   lookup, the recipient's send budget, the new link (which leaves the old
//!   one `accounts.replaced_token_grace_secs` at most) and its message run
//!   after the answer (`crate::background`), so neither the answer nor its
//!   time says whether the address has an account, or whether it is verified.
//! - With `required`, login refuses an unverified address once the password
//!   was found right (`accounts::login`).

use std::sync::Arc;
use std::time::Duration;

use uuid::Uuid;

use super::proof;
use super::tokens::{self, Issue, Purpose};
use crate::audit::{self, AuditEvent, AuditKind, RequestMeta};
use crate::config::Verification;
use crate::domain::{Email, Password};
use crate::error::ServiceError;
use crate::mail::{self, Mail, MailKind};
use crate::services::Services;
use crate::sessions::logout::reasons::UNPROVEN_REGISTRATION;
use crate::store::{self, Tx, users::User};

/// Whether registration sends a verification link.
pub(super) fn sends_links(svc: &Services) -> bool {
    svc.settings.accounts.email_verification != Verification::Off
}

/// Issues a verification link for `user` at `email` in `tx`, the caller's
/// transaction, queues the message that carries it and audits it, if the
/// address's verification budget allows (`mail::admit`); `false` when it did
/// not, and then nothing was issued or queued. The caller commits, then calls
/// `svc.mail.wake()`.
pub(super) async fn send_link(
    svc: &Services,
    tx: &mut Tx<'_>,
    user: Uuid,
    email: &Email,
    credential_version: i64,
    meta: &RequestMeta,
) -> Result<bool, ServiceError> {
    if !mail::admit(svc, tx, MailKind::VerifyEmail, email, meta).await? {
        return Ok(false);
    }
    let valid_for = Duration::from_secs(svc.settings.accounts.verify_ttl_secs);
    let issued = tokens::issue(
        svc,
        tx,
        &Issue {
            purpose: Purpose::VerifyEmail,
            user,
            email: email.as_str(),
            credential_version,
            valid_for,
            link: true,
            code_digits: None,
        },
    )
    .await?;
    let token = issued.link.ok_or_else(|| {
        ServiceError::internal(anyhow::anyhow!("a link token was asked for and not made"))
    })?;
    mail::queue(
        svc,
        tx,
        Some(user),
        email,
        &Mail::VerifyEmail { token, valid_for },
    )
    .await?;
    let event = AuditEvent::new(
        AuditKind::EmailVerificationSent,
        Some(user),
        None,
        meta,
        svc.now(),
    );
    audit::record(tx, &event).await?;
    Ok(true)
}

/// Follows a verification link: marks the address it was sent to verified
/// and returns the user. `InvalidAccountToken` for a link that is unknown,
/// spent, replaced or expired, issued under credentials since changed, or
/// sent to an address the account no longer has; then nothing changes.
///
/// When the link is the address's first proof, every session ends and the
/// password is withdrawn, unless `password` is given and right (`proof`); a
/// wrong one is `InvalidCredentials` (401, counted as a failed login) and
/// spends nothing.
pub async fn verify_email(
    svc: &Services,
    token: &str,
    password: Option<&Password>,
    meta: &RequestMeta,
) -> Result<User, ServiceError> {
    let mut conn = svc.store.conn().await?;
    let found = tokens::find_link(svc, &mut conn, Purpose::VerifyEmail, token)
        .await?
        .ok_or(ServiceError::InvalidAccountToken)?;
    let unproven = store::users::find(&mut conn, found.user)
        .await?
        .is_some_and(|u| !u.email_verified);
    drop(conn);
    let user_id = found.user;
    let given = proof::given(
        svc,
        user_id,
        found.credential_version,
        password,
        unproven,
        meta,
    )
    .await?;
    let now = svc.now();
    let mut tx = svc.store.begin().await?;
    let version = store::users::lock(&mut tx, user_id).await?;
    if version != Some(found.credential_version) {
        tracing::info!(user = %user_id, "verification link refused: the credentials changed since it was sent");
        return Err(ServiceError::InvalidAccountToken);
    }
    if !tokens::spend(svc, &mut tx, found.id).await? {
        return Err(ServiceError::InvalidAccountToken);
    }
    let first = !store::users::find(&mut tx, user_id)
        .await?
        .is_some_and(|u| u.email_verified);
    // Dropping `tx` rolls the spend back: a link to an old address stays
    // unspent, and still proves nothing.
    if !store::users::set_email_verified(&mut tx, user_id, &found.email, now).await? {
        tracing::info!(user = %user_id, "verification link refused: the account's address changed since it was sent");
        return Err(ServiceError::InvalidAccountToken);
    }
    tokens::end_all(svc, &mut tx, user_id, Purpose::VerifyEmail).await?;
    let event = AuditEvent::new(AuditKind::EmailVerified, Some(user_id), None, meta, now);
    audit::record(&mut tx, &event).await?;
    let ended = match first {
        true => Some(
            proof::end_before_proof(
                svc,
                &mut tx,
                user_id,
                found.credential_version,
                &given,
                UNPROVEN_REGISTRATION,
                "a verification link",
                meta,
                now,
            )
            .await?,
        ),
        false => None,
    };
    let user = store::users::find(&mut tx, user_id)
        .await?
        .ok_or(ServiceError::InvalidAccountToken)?;
    tx.commit().await?;
    if let Some(ended) = ended {
        proof::report(svc, user_id, UNPROVEN_REGISTRATION, ended);
    }
    tracing::info!(user = %user_id, "email verified");
    Ok(user)
}

/// Asks for a new verification link for `email`: `Ok` (answer 202) whatever
/// the address. A place on the background runner (`Busy`) and the per-client
/// send limit (`SendLimited`) are taken here, alike for every address; the
/// lookup, the budget and the message run after the answer. An existing,
/// unverified account gets a new link within its budget; any other address
/// gets nothing, and spends no budget. `NotEnabled` with
/// `accounts.email_verification = "off"`.
pub async fn resend_verification(
    svc: &Arc<Services>,
    email: &Email,
    meta: &RequestMeta,
) -> Result<(), ServiceError> {
    if !sends_links(svc) {
        return Err(ServiceError::NotEnabled("email verification"));
    }
    const TASK: &str = "resend_verification";
    let place = svc.background.reserve(TASK)?;
    mail::check_client_limit(svc, meta)?;
    let task = {
        let svc = Arc::clone(svc);
        let email = email.clone();
        let meta = meta.clone();
        async move { resend(&svc, &email, &meta).await }
    };
    place.spawn(TASK, task);
    Ok(())
}

/// The part of [`resend_verification`] after the answer.
async fn resend(svc: &Services, email: &Email, meta: &RequestMeta) -> Result<(), ServiceError> {
    let mut conn = svc.store.conn().await?;
    let found = store::users::find_by_email(&mut conn, email.as_str()).await?;
    drop(conn);
    let Some(user) = found.filter(|u| !u.email_verified) else {
        return Ok(());
    };
    let mut tx = svc.store.begin().await?;
    let Some(version) = store::users::lock(&mut tx, user.id).await? else {
        return Ok(());
    };
    // Read again under the lock: verified or moved meanwhile, nothing to send.
    match store::users::find(&mut tx, user.id).await? {
        Some(now) if !now.email_verified && now.email == email.as_str() => {}
        _ => return Ok(()),
    }
    if !send_link(svc, &mut tx, user.id, email, version, meta).await? {
        return Ok(());
    }
    tx.commit().await?;
    svc.mail.wake();
    tracing::info!(user = %user.id, "verification link sent again");
    Ok(())
}
