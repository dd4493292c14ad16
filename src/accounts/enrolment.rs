//! Enrolment at sign-in, under `mfa.required` (`factors::policy`): a first
//! proof of a user without a second factor ends as an enrolment challenge
//! (`SignIn::EnrolFactor`), not a session. With that challenge, and no
//! access token yet, the client begins a TOTP enrolment ([`start`]) and
//! confirms it with a first code ([`confirm`]): the factor is confirmed, the
//! recovery codes made, and the sign-in finishes through the same tail as
//! every sign-in (`sign_in`), with the new factor among its methods (`amr`
//! `otp` and `mfa`, `acr` "2").
//!
//! The challenge is the one `factors::challenge` makes, of purpose `enrol`:
//! single use (spent in the transaction that confirms the factor and starts
//! the session), bound to the user, the credential version and the kind of
//! session, short-lived; never accepted at `POST /auth/mfa/verify`, nor a
//! sign-in challenge here. A wrong first code leaves it for another try and
//! is not a failed login (the code checks a secret this same client was
//! just given: nothing is guessed); code tries count against
//! `limits.code_per_ip` as every code does.

use secrecy::SecretString;
use uuid::Uuid;

use crate::audit::RequestMeta;
use crate::error::ServiceError;
use crate::factors::{self, TotpEnrolment, challenge::Purpose};
use crate::services::Services;
use crate::sessions::{Method, Methods};
use crate::store;

use super::BrowserSignIn;
use super::sign_in::{Proven, SignIn, Start, sign_in};

/// A sign-in finished by enrolling its second factor.
#[derive(Debug)]
pub struct Enrolled<T> {
    pub outcome: T,
    /// The ten recovery codes, to show once (none if the user already had
    /// a factor by the time of the confirmation).
    pub recovery_codes: Option<Vec<SecretString>>,
}

/// The user of the live enrolment challenge `token` for sessions of kind
/// `start`, at the current credential version; else `InvalidChallenge`.
async fn user_of(svc: &Services, token: &str, start: Start) -> Result<Uuid, ServiceError> {
    let mut conn = svc.store.conn().await?;
    let challenge =
        factors::challenge::find_live(&mut conn, token, Purpose::Enrol, start.name(), svc.now())
            .await?;
    let current = store::users::find_credentials(&mut conn, challenge.user_id)
        .await?
        .map(|c| c.credential_version);
    if current != Some(challenge.credential_version) {
        return Err(ServiceError::InvalidChallenge);
    }
    Ok(challenge.user_id)
}

/// Begins the TOTP enrolment of the user of the enrolment challenge `token`
/// (made for the API): a new secret in place of any unconfirmed one. The
/// challenge is not spent. `InvalidChallenge` (401) for anything but a live
/// enrolment challenge of the API at the user's credential version.
pub async fn start(svc: &Services, token: &str) -> Result<TotpEnrolment, ServiceError> {
    let user = user_of(svc, token, Start::Refresh).await?;
    factors::begin_totp(svc, user).await
}

/// [`start`] for a challenge of the hosted login page.
pub async fn start_in_browser(svc: &Services, token: &str) -> Result<TotpEnrolment, ServiceError> {
    let user = user_of(svc, token, Start::Browser).await?;
    factors::begin_totp(svc, user).await
}

/// The enrolment the hosted page showed for `token`, shown again (after a
/// wrong first code); a new one if none waits.
pub async fn shown_in_browser(svc: &Services, token: &str) -> Result<TotpEnrolment, ServiceError> {
    let user = user_of(svc, token, Start::Browser).await?;
    match factors::pending_totp(svc, user).await? {
        Some(enrolment) => Ok(enrolment),
        None => factors::begin_totp(svc, user).await,
    }
}

/// Confirms the TOTP enrolment begun with the enrolment challenge `token`
/// (made for the API) with its first `code`, and finishes the sign-in as
/// the first proof would have, with a refresh-token family: the factor, the
/// recovery codes, the spent challenge and the session commit together.
///
/// - `InvalidChallenge` (401): unknown, expired, used, a sign-in challenge,
///   made for the hosted page, or made before the password changed.
/// - `NoSuchFactor` (404): no enrolment was begun with it.
/// - `WrongEnrolmentCode` (400): a wrong code; the challenge stays.
pub async fn confirm(
    svc: &Services,
    token: &str,
    code: &str,
    meta: &RequestMeta,
) -> Result<Enrolled<SignIn>, ServiceError> {
    confirm_as(svc, token, code, Start::Refresh, meta).await
}

/// [`confirm`] for a challenge of the hosted login page: a browser session.
pub async fn confirm_in_browser(
    svc: &Services,
    token: &str,
    code: &str,
    meta: &RequestMeta,
) -> Result<Enrolled<BrowserSignIn>, ServiceError> {
    let enrolled = confirm_as(svc, token, code, Start::Browser, meta).await?;
    Ok(Enrolled {
        outcome: enrolled.outcome.into(),
        recovery_codes: enrolled.recovery_codes,
    })
}

async fn confirm_as(
    svc: &Services,
    token: &str,
    code: &str,
    start: Start,
    meta: &RequestMeta,
) -> Result<Enrolled<SignIn>, ServiceError> {
    super::limit_codes(svc, meta)?;
    let now = svc.now();
    let mut conn = svc.store.conn().await?;
    let challenge =
        factors::challenge::find_live(&mut conn, token, Purpose::Enrol, start.name(), now).await?;
    drop(conn);
    let user = challenge.user_id;
    let mut tx = svc.store.begin().await?;
    if store::users::lock(&mut tx, user).await? != Some(challenge.credential_version)
        || !store::factors::spend_challenge(&mut tx, &challenge.token_hash, now).await?
    {
        tracing::info!(user = %user, "enrolment refused: the challenge was spent meanwhile, or the password changed");
        return Err(ServiceError::InvalidChallenge);
    }
    // On a refusal the transaction rolls back, the challenge's spend with it.
    let recovery_codes =
        factors::confirm_pending_totp(svc, &mut tx, user, None, code, meta, now).await?;
    let detail = match &challenge.detail {
        Some(first) => format!("{first}; second factor enrolled: totp"),
        None => "second factor enrolled: totp".to_owned(),
    };
    let proven = Proven {
        user,
        start,
        methods: Methods::from(challenge.methods).and(Method::Totp),
        detail: Some(detail),
        log: "login with a second factor enrolled under mfa.required",
    };
    let outcome = sign_in(svc, tx, proven, meta).await;
    svc.mail.wake();
    Ok(Enrolled {
        outcome: outcome?,
        recovery_codes,
    })
}
