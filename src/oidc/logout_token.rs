//! Logout tokens (OpenID Connect Back-Channel Logout 1.0 section 2.4): what
//! they say and how they are signed.
//!
//! A logout token tells one client (`aud`) that the user (`sub`, the same as
//! in its ID tokens) is signed out of the session at authd named by `sid`
//! (the `sid` of the ID tokens the client got within it: the browser
//! session). It carries the back-channel logout event, a random `jti`, and a
//! short life (`TTL_SECS`): a receiver that keeps the `jti`s it saw needs to
//! keep them only that long. It never carries a `nonce` (section 2.4 forbids
//! it, so that a logout token cannot pass for an ID token), and its header's
//! `typ` is `logout+jwt` (section 2.4, as the 2022 errata recommend), which
//! an ID token's (`JWT`) is not.
//!
//! A logout token is signed when it is sent, not when it is queued: the
//! delivery queue keeps its [`Queued`] parts (no token), and each attempt
//! signs them afresh (`iat`/`exp` of that attempt, the same `jti`), so a
//! retry minutes later still carries a valid token and a receiver that
//! deduplicates on `jti` sees one logout.
//!
//! It is signed as the client's ID tokens are: with the current key of the
//! client's ID-token algorithm (`KeySet::id_token_signer`), never an HS256
//! secret, and verifies with the published JWKS.

use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, Header};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::id_token::IdTokenError;
use super::subject;
use crate::keys::{KeySet, alg_name};

/// The event a logout token carries (section 2.4).
pub const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// The `typ` of a logout token's header.
pub const TYP: &str = "logout+jwt";
/// How long a logout token is valid: two minutes, as the specification
/// suggests for a token delivered at once.
pub const TTL_SECS: i64 = 120;

/// The claims of a logout token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LogoutTokenClaims {
    pub iss: String,
    pub sub: String,
    /// The client's id.
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    /// Random, unique to this token.
    pub jti: String,
    /// The session at authd that ended: the `sid` of the client's ID tokens.
    pub sid: Uuid,
    /// `{EVENT: {}}`.
    pub events: Map<String, Value>,
}

/// What a queued logout token needs to be signed at send time (the
/// delivery's payload, as JSON): the client is the delivery's. Holds no
/// token and nothing secret.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Queued {
    /// The `sub` of the client's ID tokens.
    pub sub: String,
    /// The browser session that ended.
    pub sid: Uuid,
    /// Chosen when queued; the same at every attempt.
    pub jti: String,
    /// The client asked for `sid` (`backchannel_logout_session_required`);
    /// authd always sends it.
    pub sid_required: bool,
}

impl Queued {
    /// The parts of the logout token telling a client that `user` is signed
    /// out of session `sid`, with a new `jti`.
    pub fn new(user: Uuid, sid: Uuid, sid_required: bool) -> Self {
        Self {
            sub: subject(user),
            sid,
            jti: Uuid::new_v4().to_string(),
            sid_required,
        }
    }

    /// Its claims for `client_id`, issued at `now` by `issuer`.
    pub fn claims(&self, issuer: &str, client_id: &str, now: DateTime<Utc>) -> LogoutTokenClaims {
        let mut events = Map::new();
        events.insert(EVENT.to_owned(), json!({}));
        LogoutTokenClaims {
            iss: issuer.to_owned(),
            sub: self.sub.clone(),
            aud: client_id.to_owned(),
            iat: now.timestamp(),
            exp: (now + Duration::seconds(TTL_SECS)).timestamp(),
            jti: self.jti.clone(),
            sid: self.sid,
            events,
        }
    }
}

/// The claims of a new logout token telling `client_id` that `user` is
/// signed out of session `sid`, issued at `now` by `issuer`.
pub fn claims(
    issuer: &str,
    client_id: &str,
    user: Uuid,
    sid: Uuid,
    now: DateTime<Utc>,
) -> LogoutTokenClaims {
    Queued::new(user, sid, true).claims(issuer, client_id, now)
}

/// `claims` signed with the current key of `alg`, with its `kid` and the
/// `logout+jwt` type.
pub fn sign(
    keys: &KeySet,
    alg: Algorithm,
    claims: &LogoutTokenClaims,
) -> Result<String, IdTokenError> {
    let key = keys
        .id_token_signer(alg)
        .ok_or(IdTokenError::NoKey(alg_name(alg)))?;
    let encoding = key.encoding().ok_or(IdTokenError::NoKey(alg_name(alg)))?;
    let mut header = Header::new(key.alg);
    header.typ = Some(TYP.to_owned());
    header.kid = Some(key.kid.clone());
    Ok(jsonwebtoken::encode(&header, claims, encoding)?)
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::jwk::JwkSet;
    use jsonwebtoken::{DecodingKey, Validation};
    use secrecy::ExposeSecret;

    use super::*;
    use crate::keys::{KeyMaterial, generate, key_from_material};

    const ISSUER: &str = "https://auth.test";

    fn keys(algs: &[Algorithm]) -> KeySet {
        let keys = algs
            .iter()
            .map(|alg| {
                let kid = format!("{}-key", alg_name(*alg));
                if *alg == Algorithm::HS256 {
                    let secret = b"a unit-test HS256 secret of 32+ bytes";
                    return key_from_material(&kid, *alg, KeyMaterial::Secret(secret), "t")
                        .unwrap();
                }
                let pem = generate(*alg).unwrap();
                let pem = pem.expose_secret().as_bytes();
                key_from_material(&kid, *alg, KeyMaterial::PrivatePem(pem), "t").unwrap()
            })
            .collect();
        let kids: Vec<String> = algs
            .iter()
            .map(|a| format!("{}-key", alg_name(*a)))
            .collect();
        KeySet::with_signers(keys, Some(&kids[0]), &kids).unwrap()
    }

    #[test]
    fn a_logout_token_verifies_with_the_jwks_and_says_what_the_spec_asks() {
        let keys = keys(&[Algorithm::ES256, Algorithm::RS256, Algorithm::EdDSA]);
        let (user, sid, now) = (Uuid::new_v4(), Uuid::new_v4(), Utc::now());
        for alg in [Algorithm::ES256, Algorithm::RS256, Algorithm::EdDSA] {
            let made = claims(ISSUER, "app-1", user, sid, now);
            let token = sign(&keys, alg, &made).unwrap();
            let header = jsonwebtoken::decode_header(&token).unwrap();
            assert_eq!(header.alg, alg);
            assert_eq!(header.typ.as_deref(), Some(TYP));
            let jwks: JwkSet = serde_json::from_str(keys.jwks_json()).unwrap();
            let jwk = jwks.find(header.kid.as_deref().unwrap()).unwrap();
            let mut validation = Validation::new(alg);
            validation.set_audience(&["app-1"]);
            validation.set_issuer(&[ISSUER]);
            validation.set_required_spec_claims(&["iss", "sub", "aud", "exp", "iat"]);
            let read = jsonwebtoken::decode::<Value>(
                &token,
                &DecodingKey::from_jwk(jwk).unwrap(),
                &validation,
            )
            .unwrap()
            .claims;
            assert_eq!(read["sub"], user.to_string());
            assert_eq!(read["sid"], sid.to_string());
            assert_eq!(read["events"], json!({ EVENT: {} }));
            assert_eq!(read["exp"], now.timestamp() + TTL_SECS);
            assert!(read.get("nonce").is_none(), "a logout token has no nonce");
            assert_eq!(read["jti"], made.jti);
        }
    }

    #[test]
    fn every_logout_token_has_its_own_jti() {
        let (user, sid, now) = (Uuid::new_v4(), Uuid::new_v4(), Utc::now());
        let a = claims(ISSUER, "app-1", user, sid, now);
        let b = claims(ISSUER, "app-1", user, sid, now);
        assert_ne!(a.jti, b.jti);
    }

    #[test]
    fn a_queued_token_keeps_its_jti_and_gets_a_fresh_life_at_each_signing() {
        let queued = Queued::new(Uuid::new_v4(), Uuid::new_v4(), true);
        let stored: Queued =
            serde_json::from_str(&serde_json::to_string(&queued).unwrap()).unwrap();
        let now = Utc::now();
        let first = queued.claims(ISSUER, "app-1", now);
        let later = stored.claims(ISSUER, "app-1", now + Duration::minutes(5));
        assert_eq!(first.jti, later.jti);
        assert_eq!(later.iat, (now + Duration::minutes(5)).timestamp());
        assert_eq!(later.exp, later.iat + TTL_SECS);
        assert_eq!(later.sid, queued.sid);
    }

    #[test]
    fn a_logout_token_is_never_signed_with_an_hs256_key() {
        let keys = keys(&[Algorithm::HS256, Algorithm::ES256]);
        let made = claims(ISSUER, "app-1", Uuid::new_v4(), Uuid::new_v4(), Utc::now());
        assert!(matches!(
            sign(&keys, Algorithm::HS256, &made),
            Err(IdTokenError::NoKey(_))
        ));
    }
}
