//! Passwordless sign-in with a passkey: a discoverable assertion (the user
//! is not named first; the authenticator picks the passkey, and the
//! credential id it answers with names it), with user verification, ending
//! in the tail every sign-in shares (`sign_in`). The ceremony and the
//! assertion checks are `factors::passkey`'s.
//!
//! A passkey with user verification is two factors (the device, and the PIN
//! or biometric that unlocked it): the session's methods are `passkey`, its
//! tokens' `amr` `["swk", "mfa"]` and `acr` "2", and no other factor is
//! asked for.
//!
//! Throttling: once the passkey names its user, the try is reserved on the
//! login throttle's counters of the account and the client before the
//! assertion is checked (a locked-out account is refused unchecked); a
//! refused assertion is a failed login (counted, audited `login_failed`); an
//! accepted one clears the account's failures.

use webauthn_rs::prelude::{PublicKeyCredential, RequestChallengeResponse};

use crate::audit::RequestMeta;
use crate::error::ServiceError;
use crate::factors::passkey::{self, Ceremony};
use crate::services::Services;
use crate::sessions::{Method, Methods};
use crate::store;
use crate::throttle::Keys;

use super::login::{refuse, reserve};
use super::sign_in::{Proven, SignIn, Start, sign_in};

/// Begins a passwordless sign-in through the JSON API (a refresh-token
/// family at the end): the options for `navigator.credentials.get`.
pub async fn start(
    svc: &Services,
    meta: &RequestMeta,
) -> Result<Ceremony<RequestChallengeResponse>, ServiceError> {
    passkey::start_passwordless(svc, Start::Refresh.name(), meta).await
}

/// [`start`] for the hosted login page (a browser session at the end).
pub async fn start_in_browser(
    svc: &Services,
    meta: &RequestMeta,
) -> Result<Ceremony<RequestChallengeResponse>, ServiceError> {
    passkey::start_passwordless(svc, Start::Browser.name(), meta).await
}

/// Finishes the passwordless sign-in `ceremony` with the authenticator's
/// assertion: [`SignIn::Complete`] with a refresh-token family.
///
/// - `InvalidCeremony` (401): unknown, expired, used (once, whatever its
///   outcome), a registration's or a second factor's, or made for the
///   hosted page.
/// - `InvalidPasskey` (401): an unknown credential, a user handle not the
///   passkey's, a wrong origin or RP id, a bad signature, user verification
///   missing (counted as a failed login once the passkey names its user).
/// - `LockedOut` (429): the account or client is locked out.
pub async fn finish(
    svc: &Services,
    ceremony: &str,
    credential: &PublicKeyCredential,
    meta: &RequestMeta,
) -> Result<SignIn, ServiceError> {
    finish_as(svc, ceremony, credential, Start::Refresh, meta).await
}

/// [`finish`] for a ceremony of the hosted login page: a browser session.
pub async fn finish_in_browser(
    svc: &Services,
    ceremony: &str,
    credential: &PublicKeyCredential,
    meta: &RequestMeta,
) -> Result<super::BrowserSignIn, ServiceError> {
    Ok(finish_as(svc, ceremony, credential, Start::Browser, meta)
        .await?
        .into())
}

async fn finish_as(
    svc: &Services,
    ceremony: &str,
    credential: &PublicKeyCredential,
    start: Start,
    meta: &RequestMeta,
) -> Result<SignIn, ServiceError> {
    super::limit_codes(svc, meta)?;
    let now = svc.now();
    let claimed = passkey::claim_passwordless(svc, ceremony, credential, start.name(), now).await?;
    let user = claimed.row.user_id;
    let mut conn = svc.store.conn().await?;
    let credentials = store::users::find_credentials(&mut conn, user)
        .await?
        .ok_or(ServiceError::InvalidPasskey)?;
    drop(conn);
    let keys = Keys::new(&svc.refresh, &credentials.email, meta.ip.as_deref());
    // Counted before the assertion is checked, refused when locked out.
    let _reserved = reserve(svc, &keys).await?;
    let now = svc.now();
    let mut tx = svc.store.begin().await?;
    store::users::lock(&mut tx, user).await?;
    if !passkey::check_passwordless(svc, &mut tx, claimed, credential, now).await? {
        drop(tx);
        let mut tx = svc.store.begin().await?;
        refuse(
            svc,
            &mut tx,
            &keys,
            Some(user),
            Some("passkey refused"),
            meta,
        )
        .await?;
        tx.commit().await?;
        return Err(ServiceError::InvalidPasskey);
    }
    svc.throttle.succeeded(&mut tx, &keys).await?;
    let proven = Proven {
        user,
        start,
        methods: Methods::one(Method::Passkey),
        detail: Some("passkey".to_owned()),
        log: "passwordless sign-in with a passkey",
    };
    sign_in(svc, tx, proven, meta).await
}
