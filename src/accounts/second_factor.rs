//! The account's side of second factors: finishing a sign-in with its
//! second factor (`verify`, the same tail as every sign-in; a passkey's
//! options first, `passkey_options`), and the changes that need the password
//! again (removing the TOTP factor or a passkey, a new set of recovery
//! codes). Enrolment and the codes themselves are `factors`'.
//!
//! Throttling: a second-factor code is a guess like a password. Before it is
//! compared, the attempt is reserved on the login throttle's counters of the
//! account and the client (as `authenticate` does before hashing), so a
//! locked-out account or client is refused without a comparison; a wrong
//! code is a failed login (counted, audited `login_failed`); a right one
//! clears the account's failures. The first proof of such an account does
//! not clear them (`sign_in::clears_failures`): alternating a right password
//! and wrong codes gains nothing.

use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;
use webauthn_rs::prelude::RequestChallengeResponse;

use crate::audit::{self, AuditEvent, AuditKind, RequestMeta};
use crate::domain::Password;
use crate::error::ServiceError;
use crate::factors::{self, Presented, challenge::Purpose};
use crate::mail::Mail;
use crate::services::Services;
use crate::sessions::{Method, Methods};
use crate::store;
use crate::throttle::Keys;

use super::login::{refuse, reserve};
use super::reauthenticate::{Check, reauthenticate};
use super::sign_in::{Proven, SignIn, Start, sign_in};

/// Finishes the sign-in waiting on the challenge `token` with a second
/// factor, starting a refresh-token family (the JSON API), exactly as the
/// first proof would have: [`SignIn::Complete`]. The challenge must be live,
/// made for the API, at the user's current credential version; it is spent
/// with the code, in the transaction that starts the session.
///
/// - `InvalidChallenge` (401): unknown, expired, used, made for the hosted
///   page, or made before the password changed. Nothing is counted.
/// - `LockedOut` (429): the account or client is locked out (before the
///   comparison).
/// - `WrongSecondFactor` (401): a wrong code, one already used (the same
///   TOTP step, a spent recovery code), or a TOTP code two steps old;
///   counted as a failed login. The challenge stays for another try.
pub async fn verify(
    svc: &Services,
    token: &str,
    presented: &Presented,
    meta: &RequestMeta,
) -> Result<SignIn, ServiceError> {
    verify_as(svc, token, presented, Start::Refresh, meta).await
}

/// [`verify`] for a challenge of the hosted login page: the same checks,
/// throttle and refusals, and a browser session at authd. A challenge made
/// for the API is `InvalidChallenge` here, and the reverse.
pub async fn verify_in_browser(
    svc: &Services,
    token: &str,
    presented: &Presented,
    meta: &RequestMeta,
) -> Result<super::BrowserSignIn, ServiceError> {
    Ok(verify_as(svc, token, presented, Start::Browser, meta)
        .await?
        .into())
}

async fn verify_as(
    svc: &Services,
    token: &str,
    presented: &Presented,
    start: Start,
    meta: &RequestMeta,
) -> Result<SignIn, ServiceError> {
    super::limit_codes(svc, meta)?;
    let now = svc.now();
    let mut conn = svc.store.conn().await?;
    let challenge =
        factors::challenge::find_live(&mut conn, token, Purpose::SignIn, start.name(), now).await?;
    let user = challenge.user_id;
    let credentials = store::users::find_credentials(&mut conn, user)
        .await?
        .ok_or(ServiceError::InvalidChallenge)?;
    drop(conn);
    let keys = Keys::new(&svc.refresh, &credentials.email, meta.ip.as_deref());
    // Counted before the comparison, refused when locked out.
    let reserved = reserve(svc, &keys).await?;
    let now = svc.now();
    let mut tx = svc.store.begin().await?;
    if store::users::lock(&mut tx, user).await? != Some(challenge.credential_version)
        || !store::factors::spend_challenge(&mut tx, &challenge.token_hash, now).await?
    {
        tracing::info!(user = %user, "second factor refused: the challenge was spent meanwhile, or the password changed");
        return Err(ServiceError::InvalidChallenge);
    }
    let checked =
        match factors::check_and_spend(svc, &mut tx, user, &challenge.token_hash, presented, now)
            .await
        {
            Err(ServiceError::InvalidCeremony) => {
                // A passkey ceremony not made for this sign-in: nothing was
                // checked, so the reserved attempt is given back.
                drop(tx);
                let mut tx = svc.store.begin().await?;
                svc.throttle.cancel(&mut tx, &keys, reserved).await?;
                tx.commit().await?;
                return Err(ServiceError::InvalidCeremony);
            }
            other => other?,
        };
    let Some(method) = checked else {
        // The challenge's spend rolls back with the transaction; a passkey
        // ceremony is worth one try, and is spent again below.
        drop(tx);
        tracing::info!(user = %user, "second factor refused: a wrong or reused code, or a refused passkey");
        let mut tx = svc.store.begin().await?;
        if let Presented::Passkey { ceremony, .. } = presented {
            factors::passkey::burn(&mut tx, ceremony.expose_secret(), now).await?;
        }
        refuse(
            svc,
            &mut tx,
            &keys,
            Some(user),
            Some("wrong second-factor code"),
            meta,
        )
        .await?;
        tx.commit().await?;
        return Err(match presented {
            Presented::Passkey { .. } => ServiceError::InvalidPasskey,
            _ => ServiceError::WrongSecondFactor,
        });
    };
    svc.throttle.succeeded(&mut tx, &keys).await?;
    let by_recovery_code = method == Method::RecoveryCode;
    if by_recovery_code {
        let event = AuditEvent::new(AuditKind::RecoveryCodeUsed, Some(user), None, meta, now);
        audit::record(&mut tx, &event).await?;
        let left = store::factors::recovery_codes_left(&mut tx, user).await?;
        let used = Mail::RecoveryCodeUsed { at: now, left };
        factors::notify(svc, &mut tx, user, &used).await?;
    }
    let detail = match &challenge.detail {
        Some(first) => format!("{first}; second factor: {}", method.name()),
        None => format!("second factor: {}", method.name()),
    };
    let proven = Proven {
        user,
        start,
        methods: Methods::from(challenge.methods).and(method),
        detail: Some(detail),
        log: "login with a second factor",
    };
    let signed_in = sign_in(svc, tx, proven, meta).await;
    if by_recovery_code {
        svc.mail.wake();
    }
    signed_in
}

/// Begins a passkey assertion answering the API's sign-in challenge `token`
/// (`factors::passkey::start_second_factor`); the answer goes to [`verify`]
/// as `Presented::Passkey`.
pub async fn passkey_options(
    svc: &Services,
    token: &str,
    meta: &RequestMeta,
) -> Result<factors::passkey::Ceremony<RequestChallengeResponse>, ServiceError> {
    factors::passkey::start_second_factor(svc, token, Start::Refresh.name(), meta).await
}

/// [`passkey_options`] for a challenge of the hosted login page; the answer
/// goes to [`verify_in_browser`].
pub async fn passkey_options_in_browser(
    svc: &Services,
    token: &str,
    meta: &RequestMeta,
) -> Result<factors::passkey::Ceremony<RequestChallengeResponse>, ServiceError> {
    factors::passkey::start_second_factor(svc, token, Start::Browser.name(), meta).await
}

/// Removes passkey `id` of `user`, given the password again, from a session
/// with a recent second factor (`factors::step_up`, checked first), as the
/// TOTP factor is removed: audited, the owner told; the recovery codes go
/// only when no factor is left. `NoSuchFactor` (404) when the user has no
/// such passkey.
pub async fn remove_passkey(
    svc: &Services,
    user: Uuid,
    session: Uuid,
    id: Uuid,
    password: &Password,
    meta: &RequestMeta,
) -> Result<(), ServiceError> {
    let mut tx = reauthenticated(
        svc,
        user,
        session,
        password,
        "wrong password at second factor removal",
        meta,
    )
    .await?;
    let now = svc.now();
    if !store::passkeys::delete(&mut tx, user, id).await? {
        tx.commit().await?;
        return Err(ServiceError::NoSuchFactor);
    }
    if !factors::due(&mut tx, user).await? {
        store::factors::delete_recovery_codes(&mut tx, user).await?;
    }
    let event = AuditEvent::new(
        AuditKind::FactorRemoved,
        Some(user),
        Some(session),
        meta,
        now,
    )
    .with_detail("passkey");
    audit::record(&mut tx, &event).await?;
    let removed = Mail::FactorRemoved {
        factor: factors::passkey::NOTICE_NAME,
        at: now,
    };
    factors::notify(svc, &mut tx, user, &removed).await?;
    tx.commit().await?;
    svc.mail.wake();
    tracing::info!(user = %user, passkey = %id, "passkey removed");
    Ok(())
}

/// Removes the TOTP factor of `user`, given the password again, from a
/// session with a recent second factor (`factors::step_up`, checked first);
/// with it go the recovery codes, unless a passkey is left for them to stand
/// in for.
/// `NoSuchFactor` (404) when there is none.
pub async fn remove_totp(
    svc: &Services,
    user: Uuid,
    session: Uuid,
    password: &Password,
    meta: &RequestMeta,
) -> Result<(), ServiceError> {
    let mut tx = reauthenticated(
        svc,
        user,
        session,
        password,
        "wrong password at second factor removal",
        meta,
    )
    .await?;
    let now = svc.now();
    if !store::factors::delete_totp(&mut tx, user).await? {
        tx.commit().await?;
        return Err(ServiceError::NoSuchFactor);
    }
    if !factors::due(&mut tx, user).await? {
        store::factors::delete_recovery_codes(&mut tx, user).await?;
    }
    let event = AuditEvent::new(
        AuditKind::FactorRemoved,
        Some(user),
        Some(session),
        meta,
        now,
    )
    .with_detail("totp");
    audit::record(&mut tx, &event).await?;
    let removed = Mail::FactorRemoved {
        factor: factors::TOTP_NOTICE_NAME,
        at: now,
    };
    factors::notify(svc, &mut tx, user, &removed).await?;
    tx.commit().await?;
    svc.mail.wake();
    tracing::info!(user = %user, "TOTP factor removed");
    Ok(())
}

/// What a change of a user's factors from a session starts with: the
/// step-up (`factors::step_up`, first), the password checked again under the
/// login throttle (`wrong`: the audit detail of a wrong one), and the
/// transaction the change is made in, the password still the user's in it.
async fn reauthenticated<'s>(
    svc: &'s Services,
    user: Uuid,
    session: Uuid,
    password: &Password,
    wrong: &'static str,
    meta: &RequestMeta,
) -> Result<store::Tx<'s>, ServiceError> {
    factors::step_up::require_now(svc, user, session).await?;
    let check = Check {
        user,
        session: Some(session),
        password,
        wrong,
    };
    let accept = |stored: Option<_>| stored.ok_or(ServiceError::SessionEnded);
    let (proof, admission) = reauthenticate(svc, check, accept, meta).await?;
    drop(admission);
    let mut tx = svc.store.begin().await?;
    if !proof
        .still_current(svc, &mut tx, "the password changed meanwhile", meta)
        .await?
    {
        tx.commit().await?;
        return Err(ServiceError::InvalidCredentials);
    }
    Ok(tx)
}

/// A new set of recovery codes for `user`, given the password again, from a
/// session with a recent second factor (`factors::step_up`, checked first):
/// the old set ends in the same transaction. Only with a confirmed factor
/// (`NoSuchFactor`, 404, otherwise).
pub async fn regenerate_recovery_codes(
    svc: &Services,
    user: Uuid,
    session: Uuid,
    password: &Password,
    meta: &RequestMeta,
) -> Result<Vec<SecretString>, ServiceError> {
    let mut tx = reauthenticated(
        svc,
        user,
        session,
        password,
        "wrong password at recovery code regeneration",
        meta,
    )
    .await?;
    let now = svc.now();
    if !factors::due(&mut tx, user).await? {
        tx.commit().await?;
        return Err(ServiceError::NoSuchFactor);
    }
    let codes = factors::replace_recovery_codes(svc, &mut tx, user, now).await?;
    let event = AuditEvent::new(
        AuditKind::RecoveryCodesRegenerated,
        Some(user),
        Some(session),
        meta,
        now,
    );
    audit::record(&mut tx, &event).await?;
    tx.commit().await?;
    tracing::info!(user = %user, "recovery codes regenerated");
    Ok(codes)
}
