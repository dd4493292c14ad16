//! Changing the email address: asked for with the current password, and
//! applied only when the link sent to the new address is followed.
//!
//! - The request ([`request_email_change`]) checks the current password as a
//!   password change does (the login throttle's counters, the credential
//!   version under the user's lock), then issues an email-change token bound
//!   to the new address and to that version, queues the confirmation to the
//!   new address and a notice to the old one, in one transaction. The account
//!   keeps its address until the confirmation.
//! - The confirmation ([`confirm_email_change`]) spends the token, moves the
//!   account to the address it was sent to (verified: the link proved it) and
//!   ends every live link and code sent to the old address, in one
//!   transaction. It is the new address's first proof on the account
//!   (`accounts::proof`): every session ends, and the password is withdrawn
//!   unless it is given with the confirmation (someone may have moved their
//!   own account to another person's address, and wait for them to confirm).
//!   The old address is told (`email_changed`). A password changed since the
//!   request kills the link (the version moved on); an address another
//!   account took since is a 409 and changes nothing.
//! - In the enumeration-safe mode, a request for an address another account
//!   has does exactly what a request for a free one does (the same token, the
//!   same two messages, the same statements): neither the answer nor the
//!   requester's own mailbox says whether the address is taken. Its
//!   confirmation is then refused (409), as for an address taken since.
//!
//! The login throttle's account counters are keyed by the address. None are
//! moved at the change: they count wrong passwords, the password is the same,
//! and the counters of the old address lapse with their window.

use uuid::Uuid;

use crate::audit::{self, AuditEvent, AuditKind, RequestMeta};
use crate::domain::{Email, InputError, Password};
use crate::error::ServiceError;
use crate::mail::{self, Mail, MailKind};
use crate::services::Services;
use crate::sessions::logout::reasons::EMAIL_CHANGED;
use crate::store::{self, StoreError, users::Credentials, users::User};

use super::proof;
use super::reauthenticate::{Check, reauthenticate};
use super::tokens::{self, Issue, Purpose};

/// Asks for the address of `user` (signed in on session `current`) to become
/// `new_email`, given the current password. Sends the confirmation link to
/// the new address and a notice to the old one; changes nothing else.
///
/// - 400 (`InputError::SameEmail`) when `new_email` is the current address;
/// - 401 `InvalidCredentials` for a wrong current password, counted on the
///   login throttle and audited as a failed login, as at a password change;
///   a locked-out account is refused (429) before its password is checked;
/// - 503 with no place among the hashes (`Hasher::admit`), before any
///   database work;
/// - 429 `SendLimited` over the per-client send limit, counted before
///   anything is said about the new address; past the new address's budget
///   of confirmations (`mail::admit`), nothing is sent and the answer is the
///   same as for a request that sent;
/// - 409 `EmailTaken` when another account has `new_email` now, except in the
///   enumeration-safe mode, where the request goes on as for a free address
///   (its confirmation will be refused).
pub async fn request_email_change(
    svc: &Services,
    user: Uuid,
    current: Uuid,
    new_email: &Email,
    password: &Password,
    meta: &RequestMeta,
) -> Result<(), ServiceError> {
    // A user with a second factor needs a recent one first.
    crate::factors::step_up::require_now(svc, user, current).await?;
    let check = Check {
        user,
        session: Some(current),
        password,
        wrong: WRONG,
    };
    // The same address is refused before the password is counted or checked.
    let accept = |stored: Option<Credentials>| match stored {
        None => Err(ServiceError::SessionEnded),
        Some(c) if c.email == new_email.as_str() => Err(InputError::SameEmail.into()),
        Some(c) => Ok(c),
    };
    let (proof, admission) = reauthenticate(svc, check, accept, meta).await?;
    drop(admission);
    let stored = &proof.credentials;
    // The password was right: whatever is refused below, the account's
    // failures are forgotten, as at a login.
    let taken = match ready_to_send(svc, new_email, meta).await {
        Ok(taken) => taken,
        Err(refused) => {
            proof.forgive(svc).await?;
            return Err(refused);
        }
    };
    let old_email = super::stored_email(&stored.email)?;
    let now = svc.now();
    let mut tx = svc.store.begin().await?;
    // The user's lock first, then its throttle counters, as at sign-in. A
    // password changed since it was checked makes the check stale.
    if !proof.still_current(svc, &mut tx, STALE, meta).await? {
        tx.commit().await?;
        return Err(ServiceError::InvalidCredentials);
    }
    if !mail::admit(svc, &mut tx, MailKind::EmailChangeConfirm, new_email, meta).await? {
        let event = AuditEvent::new(
            AuditKind::EmailChangeRequested,
            Some(user),
            Some(current),
            meta,
            now,
        )
        .with_detail("the new address's send budget was spent: nothing sent");
        audit::record(&mut tx, &event).await?;
        tx.commit().await?;
        return Ok(());
    }
    let valid_for = std::time::Duration::from_secs(svc.settings.accounts.email_change_ttl_secs);
    let issued = tokens::issue(
        svc,
        &mut tx,
        &Issue {
            purpose: Purpose::EmailChange,
            user,
            email: new_email.as_str(),
            credential_version: stored.credential_version,
            valid_for,
            link: true,
            code_digits: None,
        },
    )
    .await?;
    let Some(token) = issued.link else {
        return Err(ServiceError::internal(anyhow::anyhow!(
            "an email-change token was issued without a link"
        )));
    };
    let confirm = Mail::EmailChangeConfirm {
        token,
        new_email: new_email.clone(),
        valid_for,
    };
    mail::queue(svc, &mut tx, Some(user), new_email, &confirm).await?;
    let notice = Mail::EmailChangeNotice {
        new_email: new_email.clone(),
    };
    mail::queue(svc, &mut tx, Some(user), &old_email, &notice).await?;
    let mut event = AuditEvent::new(
        AuditKind::EmailChangeRequested,
        Some(user),
        Some(current),
        meta,
        now,
    );
    if taken {
        event =
            event.with_detail("the new address has an account: its confirmation will be refused");
    }
    audit::record(&mut tx, &event).await?;
    tx.commit().await?;
    svc.mail.wake();
    tracing::info!(user = %user, "email change requested; confirmation sent to the new address");
    Ok(())
}

/// Whether the request goes on, and whether `new_email` is taken: the
/// per-client send limit is counted first, for every address alike
/// (`SendLimited` past it); then an address with an account is `EmailTaken`
/// (409), or, in the enumeration-safe mode
/// (`accounts.enumeration_safe_registration`), `Ok(true)`: the request goes
/// on exactly as for a free address (`Ok(false)`), so a signed-in user cannot
/// tell taken addresses from free ones here, by the answer or by the mail.
async fn ready_to_send(
    svc: &Services,
    new_email: &Email,
    meta: &RequestMeta,
) -> Result<bool, ServiceError> {
    mail::check_client_limit(svc, meta)?;
    let mut conn = svc.store.conn().await?;
    let taken = store::users::find_by_email(&mut conn, new_email.as_str())
        .await?
        .is_some();
    drop(conn);
    match (taken, svc.settings.accounts.enumeration_safe_registration) {
        (true, false) => Err(StoreError::EmailTaken.into()),
        (taken, _) => Ok(taken),
    }
}

/// Confirms an email change with the token of its link: the account moves to
/// the address the link was sent to, verified, and every live link and code
/// sent to the old address ends. The new address is the account's for the
/// first time, so the confirmation is its first proof (`proof`): every
/// session ends, and the password is withdrawn unless `password` is given and
/// right. Returns the user as it is now.
///
/// `InvalidAccountToken` for a token that is unknown, spent, replaced,
/// expired, or issued before a password change; `InvalidCredentials` (401)
/// for a wrong `password`, counted as a failed login, and then nothing is
/// spent; `EmailTaken` (409) when another account took the address since the
/// request, and then nothing changes (the token stays live until it expires
/// or is replaced).
pub async fn confirm_email_change(
    svc: &Services,
    token: &str,
    password: Option<&Password>,
    meta: &RequestMeta,
) -> Result<User, ServiceError> {
    let mut conn = svc.store.conn().await?;
    let found = tokens::find_link(svc, &mut conn, Purpose::EmailChange, token).await?;
    drop(conn);
    let Some(found) = found else {
        return Err(ServiceError::InvalidAccountToken);
    };
    let given = proof::given(
        svc,
        found.user,
        found.credential_version,
        password,
        true,
        meta,
    )
    .await?;
    let now = svc.now();
    let mut tx = svc.store.begin().await?;
    // Under the user's lock: a password change holds it while it moves the
    // version on, so a link issued before one is refused here.
    if store::users::lock(&mut tx, found.user).await? != Some(found.credential_version) {
        tracing::info!(user = %found.user, "email change link refused: the password changed since it was sent");
        return Err(ServiceError::InvalidAccountToken);
    }
    if !tokens::spend(svc, &mut tx, found.id).await? {
        return Err(ServiceError::InvalidAccountToken);
    }
    let old_email = match store::users::find(&mut tx, found.user).await? {
        Some(u) => super::stored_email(&u.email)?,
        None => return Err(ServiceError::InvalidAccountToken),
    };
    match store::users::set_email(&mut tx, found.user, &found.email, now).await {
        Ok(()) => {}
        Err(StoreError::EmailTaken) => {
            // Dropping `tx` rolls the spend back with everything else.
            tracing::info!(user = %found.user, "email change refused: the address was taken since the request");
            return Err(StoreError::EmailTaken.into());
        }
        Err(e) => return Err(e.into()),
    }
    end_links_to_old_address(svc, &mut tx, found.user).await?;
    let event = AuditEvent::new(AuditKind::EmailChanged, Some(found.user), None, meta, now)
        .with_detail("confirmed by the link sent to the new address");
    audit::record(&mut tx, &event).await?;
    let ended = proof::end_before_proof(
        svc,
        &mut tx,
        found.user,
        found.credential_version,
        &given,
        EMAIL_CHANGED,
        "the confirmation of an email change",
        meta,
        now,
    )
    .await?;
    // The old address is told: the change is done and every session ended.
    let new_email = super::stored_email(&found.email)?;
    let notice = Mail::EmailChanged {
        new_email,
        sessions_ended: true,
    };
    mail::queue(svc, &mut tx, Some(found.user), &old_email, &notice).await?;
    let user = store::users::find(&mut tx, found.user)
        .await?
        .ok_or(ServiceError::InvalidAccountToken)?;
    tx.commit().await?;
    svc.mail.wake();
    proof::report(svc, found.user, EMAIL_CHANGED, ended);
    tracing::info!(user = %found.user, "email changed");
    Ok(user)
}

/// Ends every live link and code of `user` (reset, verification, email
/// change, login code): they were sent to the address the account is moving
/// away from, in `tx`, the change's transaction (a confirmed change here, an
/// admin's in `admin::update`).
pub(crate) async fn end_links_to_old_address(
    svc: &Services,
    tx: &mut store::Tx<'_>,
    user: Uuid,
) -> Result<(), ServiceError> {
    for purpose in [
        Purpose::PasswordReset,
        Purpose::VerifyEmail,
        Purpose::EmailChange,
        Purpose::OtpLogin,
    ] {
        tokens::end_all(svc, tx, user, purpose).await?;
    }
    Ok(())
}

/// Audit details of a refused email change.
const WRONG: &str = "wrong current password at email change";
const STALE: &str = "the password changed while this email change was checked";
