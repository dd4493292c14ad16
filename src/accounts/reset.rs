//! Password reset by email (OWASP Forgot Password Cheat Sheet): asking for a
//! link and a code ([`forgot_password`]), and choosing a new password with
//! either ([`reset_password`]).
//!
//! - Asking answers the same whether or not the address has an account: the
//!   per-client send limit is counted for every address first (in memory, the
//!   same work for all), and the lookup, the recipient's send budget, the
//!   token and the message run after the answer (`crate::background`), so
//!   neither the answer nor its timing says which addresses are registered.
//! - The link and the code are one token (`accounts::tokens`): bound to the
//!   address it was sent to and to the credential version at issue, so a
//!   password change, another reset or an email change ends it; a newer
//!   request leaves the older link and code
//!   `accounts.replaced_token_grace_secs` more at most; a code allows
//!   `accounts.code_attempts` tries. Finding a link spends nothing.
//! - A reset commits as one: the token spent, the new password (credential
//!   version moved on), every session of the user revoked with the one user
//!   revocation the feed lists, the other reset tokens ended, the address
//!   marked verified (the token proved the mailbox), the account's failed-login
//!   count cleared, the audit event, the `password_changed` notice, and, with
//!   `accounts.reset_signs_in`, the new session.

use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use uuid::Uuid;

use super::sign_in::{Proven, SignIn, Start, sign_in};
use super::tokens::{self, Issue, Purpose, Redeemed};
use crate::audit::{self, AuditEvent, AuditKind, RequestMeta};
use crate::domain::{Email, Password};
use crate::error::ServiceError;
use crate::mail::{self, Mail, MailKind};
use crate::passwords::weakness;
use crate::services::Services;
use crate::sessions::{self, Method, Methods, logout::reasons};
use crate::store::{self, Tx};
use crate::throttle::Keys;

/// Asks for a reset link and code for `email`. Takes a place on the
/// background runner (`Busy` when it is full), counts the request against the
/// per-client send limit (`SendLimited` past it), both alike for every
/// address, then hands the rest to the runner and returns: the caller answers
/// 202 whether or not the address has an account.
pub async fn forgot_password(
    svc: &Arc<Services>,
    email: &Email,
    meta: &RequestMeta,
) -> Result<(), ServiceError> {
    const TASK: &str = "password_forgot";
    let place = svc.background.reserve(TASK)?;
    mail::check_client_limit(svc, meta)?;
    place.spawn(TASK, send_reset(svc.clone(), email.clone(), meta.clone()));
    Ok(())
}

/// The part of a forgot-password request done after the answer: the account
/// of `email`, if any and if its reset budget allows (`mail::admit`), gets a
/// new link and code (the older ones cut to the grace), in one transaction
/// with the message, its count and the audit event.
async fn send_reset(
    svc: Arc<Services>,
    email: Email,
    meta: RequestMeta,
) -> Result<(), ServiceError> {
    let mut conn = svc.store.conn().await?;
    let user = store::users::find_by_email(&mut conn, email.as_str()).await?;
    drop(conn);
    let Some(user) = user else {
        tracing::debug!("password reset asked for an address without an account");
        return Ok(());
    };
    send_reset_to(&svc, user.id, &meta, None).await?;
    Ok(())
}

/// Sends the account `user` a new reset link and code, if its reset budget
/// allows (`mail::admit`): the older ones cut to the grace, in one
/// transaction with the message, its count and the audit event
/// `password_reset_requested` (its actor `actor`: an admin's for the admin
/// API; none for the forgot-password request anyone can make). `Ok(None)`:
/// no such account; `Ok(Some(false))`: the budget was spent, nothing sent.
pub async fn send_reset_to(
    svc: &Services,
    user: Uuid,
    meta: &RequestMeta,
    actor: Option<crate::audit::Actor>,
) -> Result<Option<bool>, ServiceError> {
    let mut tx = svc.store.begin().await?;
    let sent = send_reset_in(svc, &mut tx, user, meta, actor).await?;
    if sent == Some(true) {
        tx.commit().await?;
        svc.mail.wake();
        tracing::info!(user = %user, "password reset link and code sent");
    }
    Ok(sent)
}

/// What [`send_reset_to`] does, in `tx` (which takes the lock of `user`,
/// or holds it already: the admin API checks the account's roles under it
/// first). Nothing is to be committed unless it returns `Some(true)`.
pub(crate) async fn send_reset_in(
    svc: &Services,
    tx: &mut Tx<'_>,
    user: Uuid,
    meta: &RequestMeta,
    actor: Option<crate::audit::Actor>,
) -> Result<Option<bool>, ServiceError> {
    let now = svc.now();
    let accounts = &svc.settings.accounts;
    let valid_for = Duration::from_secs(accounts.reset_ttl_secs);
    let Some(version) = store::users::lock(&mut *tx, user).await? else {
        return Ok(None);
    };
    let Some(user) = store::users::find(&mut *tx, user).await? else {
        return Ok(None);
    };
    let to = super::stored_email(&user.email)?;
    if !mail::admit(svc, &mut *tx, MailKind::PasswordReset, &to, meta).await? {
        return Ok(Some(false));
    }
    let issued = tokens::issue(
        svc,
        tx,
        &Issue {
            purpose: Purpose::PasswordReset,
            user: user.id,
            email: &user.email,
            credential_version: version,
            valid_for,
            link: true,
            code_digits: Some(accounts.reset_code_digits),
        },
    )
    .await?;
    let (Some(token), Some(code)) = (issued.link, issued.code) else {
        return Err(missing("a reset token without its link or code"));
    };
    let message = Mail::PasswordReset {
        token,
        code,
        valid_for,
    };
    mail::queue(svc, tx, Some(user.id), &to, &message).await?;
    let mut event = AuditEvent::new(
        AuditKind::PasswordResetRequested,
        Some(user.id),
        None,
        meta,
        now,
    );
    if let Some(actor) = actor {
        event = event.with_actor(actor);
    }
    audit::record(&mut *tx, &event).await?;
    Ok(Some(true))
}

/// What proves the reader of the reset message.
pub enum ResetProof {
    /// The token of the emailed link.
    Link(SecretString),
    /// The emailed code, with the address it was sent to.
    Code { email: Email, code: SecretString },
}

/// Sets a new password for the account a reset link or code was sent to,
/// and ends every session of it. Returns the sign-in when
/// `accounts.reset_signs_in` is on (`accounts::sign_in`, in the reset's
/// transaction).
///
/// - An unknown, spent, replaced or expired link, a wrong code, a code out of
///   tries, and an address without an account all fail alike with
///   `InvalidAccountToken`; a code try counts against the address's
///   reset-code tries of the day (`limits.code_tries_per_day`, known address
///   or not), a wrong one as a failure of the client too, and is audited
///   (`code_failed`). Past those limits a code is not tried: `LockedOut`
///   (429). So after a code's own tries the right code is refused as dead
///   (400), not as a lockout.
/// - A weak new password fails with `WeakPassword` and spends nothing (with a
///   code, it is refused before the code is tried, so it uses no try).
/// - The client's tries and hashes are limited in memory first
///   (`limits.code_per_ip`, `limits.hash_per_ip`): past either,
///   `TooManyRequests` (429) before any database work.
/// - With no place among the hashes (`Hasher::admit`), the request is
///   refused at once (503) before the link or code is looked at: it spends
///   no try and counts nothing.
/// - The token must match the account: issued at the current credential
///   version (no password change or reset since) and to the current address
///   (no email change since). Checked before the new password is hashed, so a
///   stale link costs no Argon2id run, and again under the user's lock after
///   it. Of two requests with one token, one spends it (`tokens::spend`); the
///   other fails as invalid.
pub async fn reset_password(
    svc: &Services,
    proof: ResetProof,
    new: &Password,
    meta: &RequestMeta,
) -> Result<Option<SignIn>, ServiceError> {
    super::limit_codes(svc, meta)?;
    super::limit_hashing(svc, meta)?;
    let min_strength = svc.settings.password.min_strength;
    // With a code, the address is known before the code is tried: a weak
    // password is refused first, so it does not use up one of the code's tries.
    if let ResetProof::Code { email, .. } = &proof
        && let Some(why) = weakness(new.expose(), email.as_str(), min_strength)
    {
        return Err(ServiceError::WeakPassword(why));
    }
    // A place for the new password's hash before anything touches the
    // database: a reset that cannot be hashed now is refused before its code
    // is tried or counted.
    let admission = svc.hasher.admit()?;
    let (found, by) = find_token(svc, &proof, meta).await?;
    let method = match &proof {
        ResetProof::Link(_) => Method::EmailLink,
        ResetProof::Code { .. } => Method::EmailCode,
    };
    if let Some(why) = weakness(new.expose(), &found.email, min_strength) {
        return Err(ServiceError::WeakPassword(why));
    }
    // A token issued before a password change, a reset or an email change is
    // refused here, before the hash (checked again under the lock below).
    let mut conn = svc.store.conn().await?;
    let account = store::users::find_credentials(&mut conn, found.user).await?;
    drop(conn);
    if !account
        .is_some_and(|a| a.credential_version == found.credential_version && a.email == found.email)
    {
        tracing::info!(user = %found.user, "password reset refused before hashing: the password or address changed since the token was issued");
        return Err(ServiceError::InvalidAccountToken);
    }
    // No transaction is held while hashing.
    let hash = svc.hasher.hash_admitted(&admission, new).await?;
    drop(admission);
    let user = found.user;
    let now = svc.now();
    let mut tx = svc.store.begin().await?;
    let version = store::users::lock(&mut tx, user).await?;
    let account = store::users::find(&mut tx, user).await?;
    let current = match (version, account) {
        (Some(version), Some(account))
            if version == found.credential_version && account.email == found.email =>
        {
            account
        }
        _ => {
            tracing::info!(user = %user, "password reset refused: the password or address changed since the token was issued");
            return Err(ServiceError::InvalidAccountToken);
        }
    };
    if !tokens::spend(svc, &mut tx, found.id).await? {
        tracing::info!(user = %user, "password reset refused: the token was spent meanwhile");
        return Err(ServiceError::InvalidAccountToken);
    }
    store::users::set_new_password(&mut tx, user, &hash, now).await?;
    // Lock order: the user's row (held), its throttle counters, its sessions.
    // The reset proved the mailbox: the account's failed logins (from this
    // client and account-wide) and its reset-code tries are forgotten, and a
    // lockout they caused ends (other clients' counts, and the client's own
    // count across accounts, stay).
    let keys = Keys::new(&svc.refresh, &current.email, meta.ip.as_deref());
    // Not with a second factor due: the reset is not the whole sign-in.
    if super::sign_in::clears_failures(&mut tx, user).await? {
        svc.throttle.succeeded(&mut tx, &keys).await?;
    }
    svc.throttle
        .code_succeeded(&mut tx, &keys.reset_code())
        .await?;
    let revoked =
        sessions::logout::revoke_every_session(svc, &mut tx, user, reasons::PASSWORD_RESET, now)
            .await?;
    tokens::end_all(svc, &mut tx, user, Purpose::PasswordReset).await?;
    store::users::set_email_verified(&mut tx, user, &current.email, now).await?;
    let event =
        AuditEvent::new(AuditKind::PasswordReset, Some(user), None, meta, now).with_detail(by);
    audit::record(&mut tx, &event).await?;
    let to = super::stored_email(&current.email)?;
    mail::queue(
        svc,
        &mut tx,
        Some(user),
        &to,
        &Mail::PasswordChanged { at: now },
    )
    .await?;
    let outcome = if svc.settings.accounts.reset_signs_in {
        // The emailed link or code proved the reader, not a password they
        // knew: the session says so (`email_link` or `email_code`, both
        // RFC 8176 `otp`).
        let proven = Proven {
            user,
            start: Start::Refresh,
            methods: Methods::one(method),
            detail: Some("signed in by a password reset".into()),
            log: "signed in by a password reset",
        };
        Some(sign_in(svc, tx, proven, meta).await?)
    } else {
        tx.commit().await?;
        None
    };
    svc.mail.wake();
    svc.metrics.revoked(reasons::PASSWORD_RESET, revoked);
    tracing::info!(user = %user, revoked, by, "password reset; every session revoked");
    Ok(outcome)
}

/// The live reset token `proof` names, and how it was presented (the audit
/// detail), or `InvalidAccountToken`.
async fn find_token(
    svc: &Services,
    proof: &ResetProof,
    meta: &RequestMeta,
) -> Result<(Redeemed, &'static str), ServiceError> {
    use secrecy::ExposeSecret;
    match proof {
        ResetProof::Link(token) => {
            let mut conn = svc.store.conn().await?;
            let found = tokens::find_link(
                svc,
                &mut conn,
                Purpose::PasswordReset,
                token.expose_secret(),
            )
            .await?;
            found
                .map(|t| (t, "by link"))
                .ok_or(ServiceError::InvalidAccountToken)
        }
        ResetProof::Code { email, code } => {
            // Tries are counted before the code is looked at, per address
            // (its reset-code tries of the day) and per client (its
            // lockout): past the limits, 429, for known and unknown
            // addresses alike. The account's password counts are not
            // touched: a login lockout does not refuse a reset by code, nor
            // do wrong codes lock password login.
            let keys = Keys::new(&svc.refresh, email.as_str(), meta.ip.as_deref());
            super::count_code_try(svc, &keys, &keys.reset_code()).await?;
            let mut conn = svc.store.conn().await?;
            let user = store::users::find_by_email(&mut conn, email.as_str())
                .await?
                .map(|u| u.id);
            drop(conn);
            // An address without an account tries its code against no user:
            // the statements of an account without a live code, the same
            // answer, and the same writes below.
            let checked = tokens::check_code(
                svc,
                user.unwrap_or(Uuid::nil()),
                Purpose::PasswordReset,
                code.expose_secret(),
            )
            .await?
            .filter(|t| Some(t.user) == user);
            if let Some(found) = checked {
                return Ok((found, "by code"));
            }
            tracing::info!(
                known_user = user.is_some(),
                "password reset with a wrong code"
            );
            let now = svc.now();
            let mut tx = svc.store.begin().await?;
            svc.throttle.failed(&mut tx, &keys, now).await?;
            let event = AuditEvent::new(AuditKind::CodeFailed, user, None, meta, now)
                .with_detail("password reset code");
            audit::record(&mut tx, &event).await?;
            tx.commit().await?;
            Err(ServiceError::InvalidAccountToken)
        }
    }
}

fn missing(what: &'static str) -> ServiceError {
    ServiceError::internal(anyhow::anyhow!(what))
}
