//! Sign-in with a one-time code sent by email (`accounts.otp_enabled`; off,
//! both steps are refused with `NotEnabled`).
//!
//! - [`start`] answers the same whether or not the address has an account:
//!   it counts the request against the per-client send limit (the same work
//!   for every address), and hands the lookup, the recipient's send budget,
//!   the code and the message to `svc.background`, after the answer. An
//!   account within its budget gets a code of `accounts.otp_digits` digits,
//!   valid `accounts.otp_ttl_secs`; a newer code leaves the older one
//!   `accounts.replaced_token_grace_secs` at most, and a code login ends
//!   every other. An unknown address gets nothing.
//! - [`verify`] is a login whose proof is the code instead of a password;
//!   [`verify_in_browser`] is the same from the hosted login page, starting
//!   a browser session at authd instead of a refresh-token family.
//!   Its limits are a code's own, not the password's, so that a stranger's
//!   wrong codes never lock the owner's password login out, and a code out
//!   of tries is answered as dead, not as a lockout: the client's tries in
//!   memory first (`limits.code_per_ip`), the client's lockout (its failed
//!   logins and codes across accounts, `limits.login_ip_failures`), the
//!   address's tries of the day (`limits.code_tries_per_day`, which a
//!   password login does not clear), and `accounts.code_attempts` tries per
//!   code (`tokens::check_code`). A wrong code counts as a failure of the
//!   client. An address without an account goes through the same statements
//!   as an account without a live code, and is answered the same
//!   (`InvalidCredentials`). The right code starts a session whose access
//!   tokens say `amr: ["otp"]`, clears the address's counts as a login does,
//!   and marks the address verified: the code proved the mailbox.
//! - When that is the address's first proof, the password chosen at
//!   registration and its sessions end in the same transaction
//!   (`accounts::proof`): the registrant never proved the address, and may be
//!   someone other than the mailbox's owner signing in now (account
//!   pre-hijacking).

use std::sync::Arc;

use uuid::Uuid;

use crate::audit::{self, AuditEvent, AuditKind, RequestMeta};
use crate::domain::Email;
use crate::error::ServiceError;
use crate::mail::{self, Mail, MailKind};
use crate::services::Services;
use crate::sessions::logout::reasons::UNPROVEN_REGISTRATION;
use crate::sessions::{Method, Methods};
use crate::store::{self, Tx};
use crate::throttle::Keys;

use super::proof;
use super::sign_in::{Proven, SignIn, Start, sign_in};
use super::tokens::{self, Issue, Purpose};

/// What `NotEnabled` names when `accounts.otp_enabled` is off.
const FEATURE: &str = "sign-in with a one-time code";

/// Refuses with `NotEnabled` (404) unless `accounts.otp_enabled`: what both
/// steps check first, and the login page's code form before it reads the
/// address.
pub fn enabled(svc: &Services) -> Result<(), ServiceError> {
    if svc.settings.accounts.otp_enabled {
        Ok(())
    } else {
        Err(ServiceError::NotEnabled(FEATURE))
    }
}

/// Asks for a login code for `email`. `Ok` means only that the request was
/// taken: whether a code is sent is decided after the answer, so the answer
/// and its time say nothing about which addresses have accounts. 503
/// (`Busy`) when too much work after answers is running, 429 (`SendLimited`)
/// over the per-client send limit; both the same for every address, and a
/// 503 spends nothing.
pub async fn start(
    svc: &Arc<Services>,
    email: &Email,
    meta: &RequestMeta,
) -> Result<(), ServiceError> {
    const TASK: &str = "otp_start";
    enabled(svc)?;
    let place = svc.background.reserve(TASK)?;
    mail::check_client_limit(svc, meta)?;
    let (svc_for_task, email, meta) = (Arc::clone(svc), email.clone(), meta.clone());
    place.spawn(TASK, async move {
        send_code(&svc_for_task, &email, &meta).await
    });
    Ok(())
}

/// The work of [`start`] after the answer: a code and its message for the
/// account of `email`, if there is one and its budget allows.
async fn send_code(svc: &Services, email: &Email, meta: &RequestMeta) -> Result<(), ServiceError> {
    let mut conn = svc.store.conn().await?;
    let user = store::users::find_by_email(&mut conn, email.as_str()).await?;
    drop(conn);
    let Some(user) = user else {
        return Ok(());
    };
    let now = svc.now();
    let mut tx = svc.store.begin().await?;
    // The version as it stands under the user's lock: a password changed
    // after this code was issued kills it (checked again in `verify`).
    let Some(version) = store::users::lock(&mut tx, user.id).await? else {
        return Ok(());
    };
    if !mail::admit(svc, &mut tx, MailKind::OtpCode, email, meta).await? {
        return Ok(());
    }
    let accounts = &svc.settings.accounts;
    let valid_for = std::time::Duration::from_secs(accounts.otp_ttl_secs);
    let issued = tokens::issue(
        svc,
        &mut tx,
        &Issue {
            purpose: Purpose::OtpLogin,
            user: user.id,
            email: email.as_str(),
            credential_version: version,
            valid_for,
            link: false,
            code_digits: Some(accounts.otp_digits),
        },
    )
    .await?;
    let Some(code) = issued.code else {
        return Err(ServiceError::internal(anyhow::anyhow!(
            "a login code was issued without its code"
        )));
    };
    mail::queue(
        svc,
        &mut tx,
        Some(user.id),
        email,
        &Mail::OtpCode { code, valid_for },
    )
    .await?;
    let event = AuditEvent::new(AuditKind::OtpSent, Some(user.id), None, meta, now);
    audit::record(&mut tx, &event).await?;
    tx.commit().await?;
    svc.mail.wake();
    tracing::info!(user = %user.id, "login code sent");
    Ok(())
}

/// Signs in with the code sent to `email`: a new session, signed in by
/// [`Method::EmailCode`] (`amr: ["otp"]`). Every refusal is `InvalidCredentials` (401), counted
/// as a failure of the client: a wrong code, an unknown address, a code out
/// of tries, expired, replaced or already used, or one sent before a password
/// change. Refused before the code is looked at: `TooManyRequests` (429) past
/// the client's tries in memory, `LockedOut` (429) for a locked-out client or
/// an address whose tries of the day are spent.
pub async fn verify(
    svc: &Services,
    email: &Email,
    code: &str,
    meta: &RequestMeta,
) -> Result<SignIn, ServiceError> {
    verify_as(svc, email, code, Start::Refresh, meta).await
}

/// [`verify`] from the hosted login page: the same limits, counts and
/// refusals, and a browser session at authd (`sessions::browser`, its
/// methods `email_code`) instead of a refresh-token family.
pub async fn verify_in_browser(
    svc: &Services,
    email: &Email,
    code: &str,
    meta: &RequestMeta,
) -> Result<super::BrowserSignIn, ServiceError> {
    Ok(verify_as(svc, email, code, Start::Browser, meta)
        .await?
        .into())
}

async fn verify_as(
    svc: &Services,
    email: &Email,
    code: &str,
    start: Start,
    meta: &RequestMeta,
) -> Result<SignIn, ServiceError> {
    enabled(svc)?;
    super::limit_codes(svc, meta)?;
    let keys = Keys::new(&svc.refresh, email.as_str(), meta.ip.as_deref());
    super::count_code_try(svc, &keys, &keys.login_code()).await?;
    let mut conn = svc.store.conn().await?;
    let account = store::users::find_by_email(&mut conn, email.as_str()).await?;
    drop(conn);
    let user = account.as_ref().map(|u| u.id);
    // An address without an account tries its code against no user: the
    // statements of an account without a live code, and the same answer.
    let found = tokens::check_code(svc, user.unwrap_or(Uuid::nil()), Purpose::OtpLogin, code)
        .await?
        .filter(|t| Some(t.user) == user && t.email == email.as_str());
    let Some(found) = found else {
        tracing::info!(
            known_user = user.is_some(),
            "login with a wrong one-time code"
        );
        let mut tx = svc.store.begin().await?;
        refuse(svc, &mut tx, &keys, user, WRONG, meta).await?;
        tx.commit().await?;
        return Err(ServiceError::InvalidCredentials);
    };
    let user = found.user;
    // An address nobody has proven: the password set at its registration was
    // chosen by whoever registered it, who may not be the mailbox's owner
    // signing in now (account pre-hijacking, `proof`). Its replacement is
    // hashed here, outside the transaction; it is used only if the address is
    // still unproven under the lock.
    let unproven = account.is_some_and(|a| !a.email_verified);
    let given = proof::given(svc, user, found.credential_version, None, unproven, meta).await?;
    let now = svc.now();
    let mut tx = svc.store.begin().await?;
    // Under the user's lock, as at a password login: a password change (or
    // a reset) since the code was sent kills it; of two requests with the
    // same right code, one spends it and the other is refused.
    let current = store::users::lock(&mut tx, user).await? == Some(found.credential_version);
    if !current || !tokens::spend(svc, &mut tx, found.id).await? {
        tracing::info!(user = %user, "login code refused: spent, or the password changed since it was sent");
        refuse(svc, &mut tx, &keys, Some(user), STALE, meta).await?;
        tx.commit().await?;
        return Err(ServiceError::InvalidCredentials);
    }
    // The codes sent before or after this one (kept by the grace) end with it.
    tokens::end_all(svc, &mut tx, user, Purpose::OtpLogin).await?;
    if super::sign_in::clears_failures(&mut tx, user).await? {
        svc.throttle.succeeded(&mut tx, &keys).await?;
    }
    svc.throttle
        .code_succeeded(&mut tx, &keys.login_code())
        .await?;
    let still_unproven = !store::users::find(&mut tx, user)
        .await?
        .is_some_and(|u| u.email_verified);
    let ended = match still_unproven && unproven {
        true => Some(
            proof::end_before_proof(
                svc,
                &mut tx,
                user,
                found.credential_version,
                &given,
                UNPROVEN_REGISTRATION,
                "a code sign-in",
                meta,
                now,
            )
            .await?,
        ),
        false => None,
    };
    store::users::set_email_verified(&mut tx, user, &found.email, now).await?;
    let proven = Proven {
        user,
        start,
        methods: Methods::one(Method::EmailCode),
        detail: Some("one-time code".into()),
        log: "login with a one-time code",
    };
    let outcome = sign_in(svc, tx, proven, meta).await?;
    if let Some(ended) = ended {
        proof::report(svc, user, UNPROVEN_REGISTRATION, ended);
    }
    Ok(outcome)
}

/// Audit details of a refused code login.
const WRONG: &str = "wrong one-time login code";
const STALE: &str = "one-time login code already used, or sent before a password change";

/// Settles a refused code login in `tx`: the client's failure counted on
/// the login throttle (the account's password counts are not touched), and
/// its audit event: `code_failed` for an account, `login_failed` without a
/// user for an address that has none.
async fn refuse(
    svc: &Services,
    tx: &mut Tx<'_>,
    keys: &Keys,
    user: Option<Uuid>,
    detail: &str,
    meta: &RequestMeta,
) -> Result<(), ServiceError> {
    let now = svc.now();
    svc.metrics.logins.with_label_values(&["failed"]).inc();
    svc.throttle.failed(tx, keys, now).await?;
    let kind = match user {
        Some(_) => AuditKind::CodeFailed,
        None => AuditKind::LoginFailed,
    };
    let event = AuditEvent::new(kind, user, None, meta, now).with_detail(detail);
    audit::record(tx, &event).await?;
    Ok(())
}
