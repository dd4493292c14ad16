//! The sign-in challenge: what a first proof (a password, an emailed code, a
//! reset) ends as when the user has a confirmed second factor. No session
//! starts; the client gets a challenge (256 random bits, stored as their
//! SHA-256) and `POST /auth/mfa/verify` finishes the sign-in with it.
//!
//! A challenge is bound to its user and the credential version it was made
//! at (a password changed meanwhile kills it), to the kind of session it will
//! start (a refresh family for the API, a browser session for the hosted
//! page: one cannot be finished through the other), lasts
//! [`LIFETIME_SECS`], and is spent once, by a conditional UPDATE in the
//! transaction that starts the session.
//!
//! A challenge has a [`Purpose`]: `sign_in` (a second factor is due, answered
//! at `POST /auth/mfa/verify`) or `enrol` (with `mfa.required`, a user without
//! a factor must enrol one first: `accounts::enrolment`). Each is refused
//! where the other is expected, as `InvalidChallenge`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use ring::digest;
use ring::rand::{SecureRandom, SystemRandom};
use secrecy::SecretString;
use uuid::Uuid;

use crate::error::ServiceError;
use crate::sessions::Methods;
use crate::store::{self, AsDb};

/// How long a challenge lasts.
pub const LIFETIME_SECS: i64 = 300;

/// The second factors a challenge can be answered with, as the API names
/// them; `passkey` is added for a user who has one ([`PASSKEY`]).
pub const FACTORS: [&str; 2] = ["totp", "recovery_code"];

/// The factors an enrolment challenge can enrol, as the API names them.
pub const ENROLLABLE: [&str; 1] = ["totp"];

/// What a challenge is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A first proof waiting for the user's second factor.
    SignIn,
    /// A first proof of a user with no factor, under `mfa.required`: waiting
    /// for a factor to be enrolled and confirmed.
    Enrol,
}

impl Purpose {
    /// As a challenge stores it.
    pub fn name(self) -> &'static str {
        match self {
            Self::SignIn => "sign_in",
            Self::Enrol => "enrol",
        }
    }

    fn factors(self) -> Vec<&'static str> {
        match self {
            Self::SignIn => FACTORS.to_vec(),
            Self::Enrol => ENROLLABLE.to_vec(),
        }
    }
}

/// A passkey, among a challenge's factors.
pub const PASSKEY: &str = "passkey";

/// A challenge handed to the client: the proof so far, waiting for a second
/// factor. Holds the bearer value: never logged.
#[derive(Debug)]
pub struct Challenge {
    pub token: SecretString,
    /// What the user can answer it with.
    pub factors: Vec<&'static str>,
    pub expires_in: i64,
}

/// The stored key of a challenge.
pub fn token_hash(token: &str) -> Vec<u8> {
    digest::digest(&digest::SHA256, token.as_bytes())
        .as_ref()
        .to_vec()
}

/// What a challenge is made from.
pub struct Pending<'a> {
    pub user: Uuid,
    pub credential_version: i64,
    /// `refresh` or `browser`.
    pub start: &'static str,
    pub methods: &'a Methods,
    pub detail: Option<&'a str>,
    pub purpose: Purpose,
}

/// Stores a new challenge for `pending` in the caller's transaction.
pub async fn issue(
    db: &mut impl AsDb,
    pending: Pending<'_>,
    now: DateTime<Utc>,
) -> Result<Challenge, ServiceError> {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| ServiceError::internal(anyhow::anyhow!("the system's CSPRNG failed")))?;
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let row = store::factors::Challenge {
        token_hash: token_hash(&token),
        user_id: pending.user,
        credential_version: pending.credential_version,
        start: pending.start.to_owned(),
        methods: pending.methods.to_string(),
        detail: pending.detail.map(str::to_owned),
        created_at: now,
        expires_at: now + Duration::seconds(LIFETIME_SECS),
        used_at: None,
        purpose: pending.purpose.name().to_owned(),
    };
    store::factors::insert_challenge(db, &row).await?;
    let mut factors = pending.purpose.factors();
    if pending.purpose == Purpose::SignIn && store::passkeys::count(db, pending.user).await? > 0 {
        factors.push(PASSKEY);
    }
    Ok(Challenge {
        token: SecretString::from(token),
        factors,
        expires_in: LIFETIME_SECS,
    })
}

/// The live challenge `token` names for `purpose` and a session of kind
/// `start`: unused, unexpired at `now`. Anything else (another purpose
/// included) is `InvalidChallenge`.
pub async fn find_live(
    db: &mut impl AsDb,
    token: &str,
    purpose: Purpose,
    start: &str,
    now: DateTime<Utc>,
) -> Result<store::factors::Challenge, ServiceError> {
    match store::factors::find_challenge(db, &token_hash(token)).await? {
        Some(c)
            if c.used_at.is_none()
                && c.expires_at > now
                && c.start == start
                && c.purpose == purpose.name() =>
        {
            Ok(c)
        }
        _ => Err(ServiceError::InvalidChallenge),
    }
}
