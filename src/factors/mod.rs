//! Second factors: TOTP (`totp`), recovery codes (`recovery`), and the
//! sign-in challenge a first proof ends as when one is due (`challenge`).
//! Here: enrolment (start, confirm), the factors a user has, and the check
//! of a presented code, spent in the caller's transaction. Finishing a
//! sign-in with a second factor, and the changes that need the password
//! again, are `accounts::second_factor`'s (they end as a sign-in or need
//! re-authentication). Passkeys (`passkey`, WebAuthn through webauthn-rs,
//! the relying party built in `webauthn`) are a third kind beside these, and
//! also sign in alone (`accounts::passkey_sign_in`).
//!
//! Every change of a user's factors, and every recovery code spent, tells
//! the owner by email (`notify`: `factor_added`, `factor_removed`,
//! `recovery_code_used`), queued in the transaction of the change.
//! Sensitive changes need a recent sign-in with a factor (`step_up`).
//! `policy`: `mfa.required`, a factor for everyone, enrolled at the next
//! sign-in.

pub mod challenge;
pub mod passkey;
pub mod policy;
pub mod recovery;
pub mod reseal;
pub mod step_up;
pub mod totp;
pub mod webauthn;

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use uuid::Uuid;

use crate::audit::{self, AuditEvent, AuditKind, RequestMeta};
use crate::domain::Email;
use crate::error::ServiceError;
use crate::mail::{self, Mail};
use crate::services::Services;
use crate::sessions::Method;
use crate::store::{self, AsDb, Tx};

pub use challenge::Challenge;

/// Whether a sign-in of `user` must show a second factor before any session
/// starts: the user has a confirmed one (a TOTP factor or a passkey).
pub async fn due(db: &mut impl AsDb, user: Uuid) -> Result<bool, ServiceError> {
    Ok(store::factors::has_confirmed(db, user).await?)
}

/// The TOTP factor as the notices name it.
pub const TOTP_NOTICE_NAME: &str = "an authenticator app (TOTP)";

/// Queues `mail`, a notice about the factors of `user`, to the account's
/// address in `tx`: it exists exactly when the change does. The caller wakes
/// the sender after the commit.
pub async fn notify(
    svc: &Services,
    tx: &mut Tx<'_>,
    user: Uuid,
    mail: &Mail,
) -> Result<(), ServiceError> {
    let address = store::users::find(tx, user)
        .await?
        .ok_or(ServiceError::SessionEnded)?
        .email;
    let to = Email::parse(&address)
        .map_err(|_| ServiceError::internal(anyhow::anyhow!("a stored address does not parse")))?;
    mail::queue(svc, tx, Some(user), &to, mail).await?;
    Ok(())
}

/// A second factor as presented.
pub enum Presented {
    Totp(SecretString),
    RecoveryCode(SecretString),
    /// A passkey assertion answering the ceremony `ceremony`
    /// (`passkey::start_second_factor`).
    Passkey {
        ceremony: SecretString,
        credential: Box<webauthn_rs::prelude::PublicKeyCredential>,
    },
}

impl Presented {
    /// What one field of a form holds: digits only are a TOTP code,
    /// anything else a recovery code (which always has letters).
    pub fn from_field(value: SecretString) -> Self {
        use secrecy::ExposeSecret;
        let v = value.expose_secret().trim();
        if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
            Self::Totp(SecretString::from(v.to_owned()))
        } else {
            Self::RecoveryCode(value)
        }
    }
}

/// Checks `presented` for `user`, answering the sign-in challenge whose hash
/// is `challenge`, and spends it in `tx` (the TOTP step, the recovery code,
/// the passkey ceremony), under the caller's lock of the user: the method it
/// proved, or none (wrong, already used, two steps old, no such factor, a
/// refused assertion). A passkey ceremony not made for this challenge and
/// user is `InvalidCeremony`.
pub async fn check_and_spend(
    svc: &Services,
    tx: &mut Tx<'_>,
    user: Uuid,
    challenge: &[u8],
    presented: &Presented,
    now: DateTime<Utc>,
) -> Result<Option<Method>, ServiceError> {
    use secrecy::ExposeSecret;
    match presented {
        Presented::Passkey {
            ceremony,
            credential,
        } => {
            passkey::check_second_factor(
                svc,
                tx,
                user,
                challenge,
                ceremony.expose_secret(),
                credential,
                now,
            )
            .await
        }
        Presented::Totp(code) => {
            let Some(factor) = store::factors::find_totp(tx, user).await? else {
                return Ok(None);
            };
            if factor.confirmed_at.is_none() {
                return Ok(None);
            }
            let Some(secret) = open(svc, &factor) else {
                return Ok(None);
            };
            let Some(step) = secret.step_of(code.expose_secret(), now) else {
                return Ok(None);
            };
            let spent = store::factors::spend_totp_step(tx, factor.id, step, false, now).await?;
            Ok(spent.then_some(Method::Totp))
        }
        Presented::RecoveryCode(code) => {
            let Some(code) = recovery::normalize(code.expose_secret()) else {
                return Ok(None);
            };
            for (key_id, hash) in recovery::hashes(&svc.refresh, user, &code) {
                let key_id = i32::from(key_id);
                if store::factors::spend_recovery_code(tx, user, &hash, key_id, now).await? {
                    return Ok(Some(Method::RecoveryCode));
                }
            }
            Ok(None)
        }
    }
}

fn open(svc: &Services, f: &store::factors::TotpFactor) -> Option<totp::Secret> {
    let opened = totp::open(
        &svc.refresh,
        f.id,
        f.user_id,
        f.sealed_key_id,
        &f.sealed_nonce,
        &f.sealed_secret,
    );
    if opened.is_none() {
        tracing::warn!(user = %f.user_id, key_id = f.sealed_key_id, "a TOTP secret does not open: its ring key is gone or the row was altered");
    }
    opened
}

/// A TOTP enrolment begun: what the authenticator app needs.
pub struct TotpEnrolment {
    /// The secret in base32, for manual entry.
    pub secret: SecretString,
    /// The `otpauth://` URI (for a QR code).
    pub uri: SecretString,
}

/// Begins a TOTP enrolment for `user`: a new secret, sealed, stored
/// unconfirmed (replacing an unconfirmed one); the URI names the account by
/// its address. A user with a confirmed TOTP factor is refused
/// (`FactorExists`, 409): remove it first.
///
/// A user who has a factor needs a recent one (`step_up`) first, before the
/// 409: adding a factor is a sensitive change.
pub async fn start_totp(
    svc: &Services,
    user: Uuid,
    session: Uuid,
) -> Result<TotpEnrolment, ServiceError> {
    let mut conn = svc.store.conn().await?;
    step_up::require(svc, &mut conn, user, session, svc.now()).await?;
    drop(conn);
    begin_totp(svc, user).await
}

/// Begins a TOTP enrolment for `user`, whoever asked (a session's Bearer
/// token after its step-up, or an enrolment challenge): a new secret,
/// sealed, stored unconfirmed in place of an unconfirmed one; `FactorExists`
/// (409) when a confirmed one exists.
pub async fn begin_totp(svc: &Services, user: Uuid) -> Result<TotpEnrolment, ServiceError> {
    let mut conn = svc.store.conn().await?;
    let account = store::users::find(&mut conn, user)
        .await?
        .ok_or(ServiceError::SessionEnded)?
        .email;
    drop(conn);
    let secret = totp::Secret::generate().map_err(ServiceError::internal)?;
    let id = Uuid::new_v4();
    let sealed = totp::seal(&svc.refresh, id, user, &secret).map_err(ServiceError::internal)?;
    let row = store::factors::TotpFactor {
        id,
        user_id: user,
        sealed_key_id: i32::from(sealed.key_id),
        sealed_nonce: sealed.nonce.to_vec(),
        sealed_secret: sealed.text,
        created_at: svc.now(),
        confirmed_at: None,
        last_used_step: 0,
    };
    let mut tx = svc.store.begin().await?;
    if !store::factors::insert_pending_totp(&mut tx, &row).await? {
        return Err(ServiceError::FactorExists);
    }
    tx.commit().await?;
    Ok(enrolment(svc, &secret, &account))
}

fn enrolment(svc: &Services, secret: &totp::Secret, account: &str) -> TotpEnrolment {
    let issuer = &svc.settings.email.product_name;
    TotpEnrolment {
        uri: secret.otpauth_uri(issuer, account),
        secret: secret.base32(),
    }
}

/// The TOTP enrolment of `user` still waiting for its first code, shown
/// again (its secret opened): what a page shows again after a wrong first
/// code. `None` when there is none (or it does not open).
pub async fn pending_totp(
    svc: &Services,
    user: Uuid,
) -> Result<Option<TotpEnrolment>, ServiceError> {
    let mut conn = svc.store.conn().await?;
    let Some(account) = store::users::find(&mut conn, user).await? else {
        return Ok(None);
    };
    let factor = store::factors::find_totp(&mut conn, user)
        .await?
        .filter(|f| f.confirmed_at.is_none());
    Ok(factor
        .and_then(|f| open(svc, &f))
        .map(|secret| enrolment(svc, &secret, &account.email)))
}

/// Confirms the pending TOTP enrolment of `user` with a first code (its step
/// spent as at sign-in). When it is the user's first factor, a set of
/// recovery codes is made and returned, to be shown once. No pending
/// enrolment: `NoSuchFactor` (404); a wrong code: `WrongEnrolmentCode` (400).
pub async fn confirm_totp(
    svc: &Services,
    user: Uuid,
    session: Uuid,
    code: &str,
    meta: &RequestMeta,
) -> Result<Option<Vec<SecretString>>, ServiceError> {
    crate::accounts::limit_codes(svc, meta)?;
    let now = svc.now();
    let mut tx = svc.store.begin().await?;
    store::users::lock(&mut tx, user).await?;
    let codes = confirm_pending_totp(svc, &mut tx, user, Some(session), code, meta, now).await?;
    tx.commit().await?;
    svc.mail.wake();
    Ok(codes)
}

/// Confirms the pending TOTP enrolment of `user` with `code` in `tx`, under
/// the caller's lock of the user: its step spent, recovery codes made when
/// it is the first factor, `factor_added` audited (with `session`, when one
/// asked) and its notice queued. The caller commits and wakes the sender.
/// `NoSuchFactor` (404): no pending enrolment; `WrongEnrolmentCode` (400):
/// a wrong code (nothing written).
pub async fn confirm_pending_totp(
    svc: &Services,
    tx: &mut Tx<'_>,
    user: Uuid,
    session: Option<Uuid>,
    code: &str,
    meta: &RequestMeta,
    now: DateTime<Utc>,
) -> Result<Option<Vec<SecretString>>, ServiceError> {
    let factor = store::factors::find_totp(tx, user)
        .await?
        .filter(|f| f.confirmed_at.is_none())
        .ok_or(ServiceError::NoSuchFactor)?;
    let step = open(svc, &factor).and_then(|s| s.step_of(code, now));
    let Some(step) = step else {
        return Err(ServiceError::WrongEnrolmentCode);
    };
    let first = !store::factors::has_confirmed(tx, user).await?;
    if !store::factors::spend_totp_step(tx, factor.id, step, true, now).await? {
        return Err(ServiceError::WrongEnrolmentCode);
    }
    let codes = match first {
        true => Some(replace_recovery_codes(svc, tx, user, now).await?),
        false => None,
    };
    let event =
        AuditEvent::new(AuditKind::FactorAdded, Some(user), session, meta, now).with_detail("totp");
    audit::record(tx, &event).await?;
    let added = Mail::FactorAdded {
        factor: TOTP_NOTICE_NAME,
        at: now,
    };
    notify(svc, tx, user, &added).await?;
    tracing::info!(user = %user, "TOTP factor confirmed");
    Ok(codes)
}

/// Ends every recovery code of `user` and stores a new set in `tx`; returns
/// the codes to show once.
pub async fn replace_recovery_codes(
    svc: &Services,
    tx: &mut Tx<'_>,
    user: Uuid,
    now: DateTime<Utc>,
) -> Result<Vec<SecretString>, ServiceError> {
    use secrecy::ExposeSecret;
    store::factors::delete_recovery_codes(tx, user).await?;
    let codes = recovery::generate().map_err(ServiceError::internal)?;
    for code in &codes {
        let normal = recovery::normalize(code.expose_secret())
            .ok_or_else(|| ServiceError::internal(anyhow::anyhow!("a made code does not read")))?;
        let (key_id, hash) = recovery::hash_current(&svc.refresh, user, &normal);
        store::factors::insert_recovery_code(tx, user, &hash, i32::from(key_id), now).await?;
    }
    Ok(codes)
}

/// The second factors of a user, as `GET /auth/mfa` shows them.
pub struct Status {
    /// A confirmed TOTP factor.
    pub totp: bool,
    /// A TOTP enrolment waiting for its first code.
    pub totp_pending: bool,
    pub recovery_codes_left: i64,
    /// How many passkeys the user has registered.
    pub passkeys: i64,
}

pub async fn status(svc: &Services, user: Uuid) -> Result<Status, ServiceError> {
    let mut conn = svc.store.conn().await?;
    let totp = store::factors::find_totp(&mut conn, user).await?;
    Ok(Status {
        totp: totp.as_ref().is_some_and(|f| f.confirmed_at.is_some()),
        totp_pending: totp.as_ref().is_some_and(|f| f.confirmed_at.is_none()),
        passkeys: passkey::count(&mut conn, user).await?,
        recovery_codes_left: store::factors::recovery_codes_left(&mut conn, user).await?,
    })
}
