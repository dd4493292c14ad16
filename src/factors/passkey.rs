//! Passkeys (WebAuthn Level 3, through webauthn-rs): registration by a
//! signed-in user, the list, names, and the assertion checks of both uses: a
//! second factor answering a sign-in challenge, and a passwordless sign-in
//! (whose sign-in tail is `accounts::passkey_sign_in`'s). Removal needs the
//! password again: `accounts::second_factor::remove_passkey`.
//!
//! A ceremony's state (the challenge, the credentials allowed, the policy)
//! stays on the server, in `webauthn_ceremonies`: the client holds only a
//! random id (256 bits; the row's key is its SHA-256) and gets the options
//! for `navigator.credentials`. A ceremony is of one kind (`register`,
//! `second_factor`, `passwordless`), bound to its user (none for a
//! passwordless one), to the sign-in challenge it answers (a second factor)
//! or to the session it starts (passwordless), lasts [`CEREMONY_SECS`] and is
//! spent once, by a conditional UPDATE.
//!
//! User verification is required in every ceremony (webauthn-rs's passkey
//! policy); authd asks no attestation, so a passkey is `swk` in `amr`, and
//! with its user verification a second factor by itself (`mfa`, acr "2").

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use ring::rand::{SecureRandom, SystemRandom};
use secrecy::SecretString;
use uuid::Uuid;
use webauthn_rs::prelude::{
    CreationChallengeResponse, DiscoverableAuthentication, Passkey, PasskeyAuthentication,
    PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential,
    RequestChallengeResponse, Webauthn,
};

use crate::audit::{self, AuditEvent, AuditKind, RequestMeta};
use crate::domain::InputError;
use crate::error::ServiceError;
use crate::mail::Mail;
use crate::services::Services;
use crate::sessions::Method;
use crate::store::{self, AsDb, Tx, passkeys::PasskeyRow};

use super::{challenge, notify, replace_recovery_codes, step_up};

/// How long a ceremony lasts.
pub const CEREMONY_SECS: i64 = 300;

/// A passkey as the notices name it.
pub const NOTICE_NAME: &str = "a passkey";

/// The name a passkey gets when the user gives none.
pub const DEFAULT_NAME: &str = "Passkey";

/// The kinds of ceremony, as stored.
pub mod kind {
    pub const REGISTER: &str = "register";
    pub const SECOND_FACTOR: &str = "second_factor";
    pub const PASSWORDLESS: &str = "passwordless";
}

/// A ceremony begun: the id the client sends back with the authenticator's
/// answer (a bearer value: never logged), and the options for
/// `navigator.credentials.create` / `.get`.
pub struct Ceremony<T> {
    pub id: SecretString,
    pub options: T,
    pub expires_in: i64,
}

/// The relying party, or `NotEnabled` when passkeys are off.
pub fn webauthn(svc: &Services) -> Result<&Webauthn, ServiceError> {
    svc.webauthn
        .as_ref()
        .ok_or(ServiceError::NotEnabled("passkeys"))
}

/// What a ceremony row is made from.
pub(crate) struct NewCeremony<'a> {
    pub kind: &'static str,
    pub user: Option<Uuid>,
    pub state: String,
    pub mfa_challenge: Option<Vec<u8>>,
    pub start: Option<&'a str>,
}

/// Stores a new ceremony; returns the id the client holds.
pub(crate) async fn begin(
    db: &mut impl AsDb,
    new: NewCeremony<'_>,
    now: DateTime<Utc>,
) -> Result<SecretString, ServiceError> {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| ServiceError::internal(anyhow::anyhow!("the system's CSPRNG failed")))?;
    let id = URL_SAFE_NO_PAD.encode(bytes);
    let row = store::passkeys::Ceremony {
        key_hash: challenge::token_hash(&id),
        user_id: new.user,
        kind: new.kind.to_owned(),
        state: new.state,
        mfa_challenge: new.mfa_challenge,
        start: new.start.map(str::to_owned),
        created_at: now,
        expires_at: now + Duration::seconds(CEREMONY_SECS),
        used_at: None,
    };
    store::passkeys::insert_ceremony(db, &row).await?;
    Ok(SecretString::from(id))
}

/// Spends the live ceremony `id` of `kind`: `InvalidCeremony` when it is
/// unknown, of another kind, expired or used.
pub(crate) async fn spend(
    db: &mut impl AsDb,
    id: &str,
    kind: &str,
    now: DateTime<Utc>,
) -> Result<store::passkeys::Ceremony, ServiceError> {
    store::passkeys::spend_ceremony(db, &challenge::token_hash(id), kind, now)
        .await?
        .ok_or_else(|| {
            tracing::info!(
                kind,
                "a passkey ceremony refused: unknown, expired, used or of another kind"
            );
            ServiceError::InvalidCeremony
        })
}

/// Spends the ceremony `id`, whatever its kind, if it is live: after a
/// refused assertion, whose transaction rolled its spend back.
pub(crate) async fn burn(
    db: &mut impl AsDb,
    id: &str,
    now: DateTime<Utc>,
) -> Result<(), ServiceError> {
    let key = challenge::token_hash(id);
    for kind in [kind::SECOND_FACTOR, kind::PASSWORDLESS] {
        store::passkeys::spend_ceremony(db, &key, kind, now).await?;
    }
    Ok(())
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, ServiceError> {
    serde_json::to_string(value).map_err(ServiceError::internal)
}

fn from_json<T: serde::de::DeserializeOwned>(stored: &str) -> Result<T, ServiceError> {
    serde_json::from_str(stored).map_err(ServiceError::internal)
}

/// A passkey's name, trimmed: 1 to 64 characters, no control characters.
pub fn check_name(name: &str) -> Result<String, ServiceError> {
    let name = name.trim();
    let chars = name.chars().count();
    if chars == 0 || chars > 64 || name.chars().any(char::is_control) {
        return Err(ServiceError::Input(InputError::PasskeyName));
    }
    Ok(name.to_owned())
}

/// Begins the registration of a passkey for `user`, from `session`. A user
/// who has a factor needs a recent one first (`step_up`): adding a factor is
/// a sensitive change. The passkeys the user has are excluded (an
/// authenticator holding one says so instead of making a second).
pub async fn start_registration(
    svc: &Services,
    user: Uuid,
    session: Uuid,
) -> Result<Ceremony<CreationChallengeResponse>, ServiceError> {
    let wa = webauthn(svc)?;
    let now = svc.now();
    let mut conn = svc.store.conn().await?;
    step_up::require(svc, &mut conn, user, session, now).await?;
    let email = store::users::find(&mut conn, user)
        .await?
        .ok_or(ServiceError::SessionEnded)?
        .email;
    let exclude = store::passkeys::list(&mut conn, user)
        .await?
        .into_iter()
        .map(|p| p.credential_id)
        .collect::<Vec<_>>();
    let (mut options, state) = wa
        .start_passkey_registration(user, &email, &email, Some(exclude))
        .map_err(|e| ServiceError::internal(anyhow::anyhow!("passkey registration: {e}")))?;
    ask_discoverable(&mut options);
    let new = NewCeremony {
        kind: kind::REGISTER,
        user: Some(user),
        state: to_json(&state)?,
        mfa_challenge: None,
        start: None,
    };
    let id = begin(&mut conn, new, now).await?;
    Ok(Ceremony {
        id,
        options,
        expires_in: CEREMONY_SECS,
    })
}

/// A passkey registered.
pub struct Registered {
    pub id: Uuid,
    pub name: String,
    /// The recovery codes, shown once, when this is the user's first factor.
    pub recovery_codes: Option<Vec<SecretString>>,
}

/// Finishes the registration `ceremony` of `user` with the authenticator's
/// answer: checked by webauthn-rs against the ceremony's state (challenge,
/// origin, RP id, user verification), stored under `name` (default
/// "Passkey"). The first factor of the user brings recovery codes (as a
/// TOTP confirmation does); the owner is told; audited `factor_added`.
///
/// `InvalidCeremony` (401) for a ceremony that is not a live registration of
/// this user; `InvalidPasskeyRegistration` (400) for an answer webauthn-rs
/// refuses (the ceremony is spent all the same); `FactorExists` (409) for a
/// credential already registered.
pub async fn finish_registration(
    svc: &Services,
    user: Uuid,
    session: Uuid,
    ceremony: &str,
    credential: &RegisterPublicKeyCredential,
    name: Option<&str>,
    meta: &RequestMeta,
) -> Result<Registered, ServiceError> {
    let wa = webauthn(svc)?;
    let name = check_name(name.unwrap_or(DEFAULT_NAME))?;
    let now = svc.now();
    let mut tx = svc.store.begin().await?;
    store::users::lock(&mut tx, user).await?;
    let c = spend(&mut tx, ceremony, kind::REGISTER, now).await?;
    if c.user_id != Some(user) {
        tracing::info!(user = %user, "a passkey registration refused: the ceremony is another user's");
        return Err(ServiceError::InvalidCeremony);
    }
    let state: PasskeyRegistration = from_json(&c.state)?;
    let passkey = match wa.finish_passkey_registration(credential, &state) {
        Ok(passkey) => passkey,
        Err(e) => {
            tracing::info!(user = %user, error = %e, "a passkey registration refused");
            tx.commit().await?;
            return Err(ServiceError::InvalidPasskeyRegistration);
        }
    };
    let first = !store::factors::has_confirmed(&mut tx, user).await?;
    let row = PasskeyRow {
        id: Uuid::new_v4(),
        user_id: user,
        credential_id: passkey.cred_id().clone(),
        passkey: to_json(&passkey)?,
        name,
        created_at: now,
        last_used_at: None,
    };
    if !store::passkeys::insert(&mut tx, &row).await? {
        return Err(ServiceError::FactorExists);
    }
    let recovery_codes = match first {
        true => Some(replace_recovery_codes(svc, &mut tx, user, now).await?),
        false => None,
    };
    let event = AuditEvent::new(AuditKind::FactorAdded, Some(user), Some(session), meta, now)
        .with_detail("passkey");
    audit::record(&mut tx, &event).await?;
    let added = Mail::FactorAdded {
        factor: NOTICE_NAME,
        at: now,
    };
    notify(svc, &mut tx, user, &added).await?;
    tx.commit().await?;
    svc.mail.wake();
    tracing::info!(user = %user, passkey = %row.id, "passkey registered");
    Ok(Registered {
        id: row.id,
        name: row.name,
        recovery_codes,
    })
}

/// Asks the authenticator to keep the passkey discoverable (`residentKey:
/// "preferred"`): webauthn-rs asks `"discouraged"`, and an authenticator
/// that follows it (a security key, WebDriver's virtual authenticator) makes
/// a credential a passwordless sign-in cannot find without a user named
/// first. "Preferred", not "required": an authenticator out of room still
/// makes one, good as a second factor. The ceremony's state does not
/// require one either, so the finish is unchanged.
fn ask_discoverable(options: &mut CreationChallengeResponse) {
    let selection = options
        .public_key
        .authenticator_selection
        .get_or_insert_with(Default::default);
    // webauthn-rs does not export the enum (`ResidentKeyRequirement`); its
    // value is read from the name the options carry on the wire.
    selection.resident_key = serde_json::from_value(serde_json::json!("preferred")).ok();
}

/// A registered passkey as the user sees it.
pub struct Listed {
    pub id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// The passkeys of `user`, oldest first.
pub async fn list(svc: &Services, user: Uuid) -> Result<Vec<Listed>, ServiceError> {
    let mut conn = svc.store.conn().await?;
    Ok(store::passkeys::list(&mut conn, user)
        .await?
        .into_iter()
        .map(|p| Listed {
            id: p.id,
            name: p.name,
            created_at: p.created_at,
            last_used_at: p.last_used_at,
        })
        .collect())
}

/// Renames passkey `id` of `user` (not a sensitive change: no step-up).
/// `NoSuchFactor` (404) when the user has no such passkey.
pub async fn rename(svc: &Services, user: Uuid, id: Uuid, name: &str) -> Result<(), ServiceError> {
    let name = check_name(name)?;
    let mut conn = svc.store.conn().await?;
    if !store::passkeys::rename(&mut conn, user, id, &name).await? {
        return Err(ServiceError::NoSuchFactor);
    }
    Ok(())
}

/// How many passkeys `user` has (`GET /auth/mfa`, the challenge's factors).
pub async fn count(db: &mut impl AsDb, user: Uuid) -> Result<i64, ServiceError> {
    Ok(store::passkeys::count(db, user).await?)
}

/// Begins a passkey assertion answering the sign-in challenge `token` (made
/// for a session of kind `start`): the allow-list is the user's passkeys.
/// `InvalidChallenge` (401) for a challenge that is not live;
/// `NoSuchFactor` (404) for a user without a passkey.
pub async fn start_second_factor(
    svc: &Services,
    token: &str,
    start: &str,
    meta: &RequestMeta,
) -> Result<Ceremony<RequestChallengeResponse>, ServiceError> {
    let wa = webauthn(svc)?;
    crate::accounts::limit_ceremonies(svc, meta)?;
    let now = svc.now();
    let mut conn = svc.store.conn().await?;
    let ch = challenge::find_live(&mut conn, token, challenge::Purpose::SignIn, start, now).await?;
    let passkeys = store::passkeys::list(&mut conn, ch.user_id)
        .await?
        .iter()
        .map(|p| from_json::<Passkey>(&p.passkey))
        .collect::<Result<Vec<_>, _>>()?;
    if passkeys.is_empty() {
        return Err(ServiceError::NoSuchFactor);
    }
    let (options, state) = wa
        .start_passkey_authentication(&passkeys)
        .map_err(|e| ServiceError::internal(anyhow::anyhow!("passkey authentication: {e}")))?;
    let new = NewCeremony {
        kind: kind::SECOND_FACTOR,
        user: Some(ch.user_id),
        state: to_json(&state)?,
        mfa_challenge: Some(ch.token_hash),
        start: None,
    };
    let id = begin(&mut conn, new, now).await?;
    Ok(Ceremony {
        id,
        options,
        expires_in: CEREMONY_SECS,
    })
}

/// Checks a passkey answering the sign-in challenge `challenge_hash` of
/// `user`, in the caller's transaction: the ceremony is spent (it must be a
/// live second-factor ceremony made for this challenge and user, else
/// `InvalidCeremony`), the assertion checked against it and the user's
/// stored passkey, and the passkey's counter and backup state updated.
/// `Ok(None)`: the assertion is refused (an unknown credential, another
/// user's, a wrong origin or RP id, a bad signature, no user verification).
pub(crate) async fn check_second_factor(
    svc: &Services,
    tx: &mut Tx<'_>,
    user: Uuid,
    challenge_hash: &[u8],
    ceremony: &str,
    credential: &PublicKeyCredential,
    now: DateTime<Utc>,
) -> Result<Option<Method>, ServiceError> {
    let wa = webauthn(svc)?;
    let c = spend(tx, ceremony, kind::SECOND_FACTOR, now).await?;
    if c.user_id != Some(user) || c.mfa_challenge.as_deref() != Some(challenge_hash) {
        tracing::info!(user = %user, "a passkey refused: its ceremony was made for another sign-in");
        return Err(ServiceError::InvalidCeremony);
    }
    let Some(row) = store::passkeys::find_by_credential(tx, credential.get_credential_id())
        .await?
        .filter(|p| p.user_id == user)
    else {
        tracing::info!(user = %user, "a passkey refused: not one of the user's");
        return Ok(None);
    };
    let state: PasskeyAuthentication = from_json(&c.state)?;
    let checked = wa.finish_passkey_authentication(credential, &state);
    Ok(settle(tx, &row, checked, now)
        .await?
        .then_some(Method::Passkey))
}

/// Begins a passwordless sign-in: a discoverable assertion (no allow-list,
/// user verification required, `mediation: "conditional"` for autofill), for
/// a session of kind `start`.
pub async fn start_passwordless(
    svc: &Services,
    start: &str,
    meta: &RequestMeta,
) -> Result<Ceremony<RequestChallengeResponse>, ServiceError> {
    let wa = webauthn(svc)?;
    crate::accounts::limit_ceremonies(svc, meta)?;
    let (options, state) = wa
        .start_discoverable_authentication()
        .map_err(|e| ServiceError::internal(anyhow::anyhow!("passkey authentication: {e}")))?;
    let new = NewCeremony {
        kind: kind::PASSWORDLESS,
        user: None,
        state: to_json(&state)?,
        mfa_challenge: None,
        start: Some(start),
    };
    let mut conn = svc.store.conn().await?;
    let id = begin(&mut conn, new, svc.now()).await?;
    Ok(Ceremony {
        id,
        options,
        expires_in: CEREMONY_SECS,
    })
}

/// A passwordless ceremony spent and the passkey its assertion names: who
/// claims to sign in, before the assertion is checked.
pub(crate) struct Claimed {
    pub row: PasskeyRow,
    state: DiscoverableAuthentication,
}

/// Spends the passwordless ceremony `ceremony` for a session of kind
/// `start` on a connection of its own (a ceremony is worth one try,
/// whatever its outcome), and finds the passkey `credential` names (and, if
/// the authenticator sent a user handle, whose user it is).
/// `InvalidCeremony` or `InvalidPasskey` (an unknown credential).
pub(crate) async fn claim_passwordless(
    svc: &Services,
    ceremony: &str,
    credential: &PublicKeyCredential,
    start: &str,
    now: DateTime<Utc>,
) -> Result<Claimed, ServiceError> {
    webauthn(svc)?;
    let mut conn = svc.store.conn().await?;
    let c = spend(&mut conn, ceremony, kind::PASSWORDLESS, now).await?;
    if c.start.as_deref() != Some(start) {
        tracing::info!("a passkey refused: the ceremony was made for another kind of sign-in");
        return Err(ServiceError::InvalidCeremony);
    }
    let state: DiscoverableAuthentication = from_json(&c.state)?;
    let row = store::passkeys::find_by_credential(&mut conn, credential.get_credential_id())
        .await?
        .ok_or_else(|| {
            tracing::info!("a passwordless sign-in refused: an unknown passkey");
            ServiceError::InvalidPasskey
        })?;
    if let Some(handle) = credential.get_user_unique_id()
        && handle != row.user_id.as_bytes()
    {
        tracing::info!(user = %row.user_id, "a passwordless sign-in refused: the user handle is not the passkey's");
        return Err(ServiceError::InvalidPasskey);
    }
    Ok(Claimed { row, state })
}

/// Checks the assertion of a claimed passwordless sign-in and records the
/// use in `tx`: true if webauthn-rs accepts it (challenge, origin, RP id,
/// signature, user verification, counter).
pub(crate) async fn check_passwordless(
    svc: &Services,
    tx: &mut Tx<'_>,
    claimed: Claimed,
    credential: &PublicKeyCredential,
    now: DateTime<Utc>,
) -> Result<bool, ServiceError> {
    let wa = webauthn(svc)?;
    let passkey: Passkey = from_json(&claimed.row.passkey)?;
    let checked = wa.finish_discoverable_authentication_v2(credential, claimed.state, &passkey);
    settle(tx, &claimed.row, checked, now).await
}

/// The end of both checks: a refused assertion logged (false), an accepted
/// one recorded on its passkey (the counter and backup state webauthn-rs
/// updates, and the time).
async fn settle(
    tx: &mut Tx<'_>,
    row: &PasskeyRow,
    checked: webauthn_rs::prelude::WebauthnResult<webauthn_rs::prelude::AuthenticationResult>,
    now: DateTime<Utc>,
) -> Result<bool, ServiceError> {
    let result = match checked {
        Ok(result) if result.cred_id().as_slice() == row.credential_id.as_slice() => result,
        Ok(_) => {
            tracing::warn!(user = %row.user_id, "a passkey assertion named another credential than the one looked up");
            return Ok(false);
        }
        Err(e) => {
            tracing::info!(user = %row.user_id, error = %e, "a passkey assertion refused");
            return Ok(false);
        }
    };
    let mut passkey: Passkey = from_json(&row.passkey)?;
    let updated = match passkey.update_credential(&result) {
        Some(true) => Some(to_json(&passkey)?),
        _ => None,
    };
    store::passkeys::record_use(tx, row.id, updated.as_deref(), now).await?;
    Ok(true)
}
