//! ID tokens (OpenID Connect Core 1.0 sections 2 and 3.1.3.6): what they
//! say and how they are signed.
//!
//! An ID token tells one client (its `aud` and `azp`) who signed in (`sub`,
//! the same as in userinfo), when (`auth_time`), how (`amr`, RFC 8176
//! values passed in by the sign-in), at which level (`acr`: passed through
//! as given; a placeholder until second factors define levels), in which
//! session at authd (`sid`), and the `nonce` of the authorization request.
//! `email` and `email_verified` are added when the granted scopes include
//! `email`. `at_hash` binds the access token issued with it, when there is one.
//! The claims from the account (roles, app_metadata: `accounts::claims`)
//! are added under their configured names.
//!
//! It is signed with the current key of the client's algorithm
//! (`KeySet::id_token_signer`): RS256, ES256 or EdDSA, never an HS256
//! secret, which every holder could forge with. A client that may be granted
//! `openid` is checked against the keys when the CLI registers or changes it
//! and at start-up (`clients::check_id_token_key`), and at the token endpoint
//! before a code is spent (`oauth::client_family::id_token_alg`), so a missing
//! key here is a server fault.

use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, Header};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::{EMAIL, has_scope, subject};
use crate::error::ServiceError;
use crate::keys::{KeySet, alg_name};
use crate::services::Services;
use crate::store::users::User;

/// The claims of an ID token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct IdTokenClaims {
    pub iss: String,
    pub sub: String,
    /// The client's id.
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    /// When the user signed in (Unix seconds).
    pub auth_time: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// RFC 8176 values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    /// The client the token was issued to: the same as `aud`.
    pub azp: String,
    /// The session at authd the sign-in belongs to.
    pub sid: Uuid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_hash: Option<String>,
    /// The claims from the account (`accounts::claims`), and any other.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// What an ID token is made from.
pub struct IdTokenRequest<'a> {
    pub user: &'a User,
    pub client_id: &'a str,
    /// The client's ID-token algorithm.
    pub alg: Algorithm,
    pub session: Uuid,
    pub auth_time: DateTime<Utc>,
    pub nonce: Option<&'a str>,
    /// RFC 8176 values.
    pub amr: &'a [String],
    /// Passed through as given (`acr_values` are kept for second factors).
    pub acr: Option<&'a str>,
    /// The granted scopes, space-separated.
    pub scope: &'a str,
    /// The access token issued with it, for `at_hash`.
    pub access_token: Option<&'a str>,
    /// The claims from the account (`accounts::claims`).
    pub extra: Map<String, Value>,
}

#[derive(Debug, thiserror::Error)]
pub enum IdTokenError {
    /// No current key of the algorithm, or an HS256 one.
    #[error("no key signs {0} ID tokens")]
    NoKey(&'static str),
    #[error("signing failed: {0}")]
    Sign(#[from] jsonwebtoken::errors::Error),
}

/// The claims of the ID token `request` describes, issued at `now` by
/// `issuer`, valid for `ttl`.
pub fn claims(
    issuer: &str,
    ttl: Duration,
    request: &IdTokenRequest<'_>,
    now: DateTime<Utc>,
) -> IdTokenClaims {
    let email = has_scope(request.scope, EMAIL);
    IdTokenClaims {
        iss: issuer.to_owned(),
        sub: subject(request.user.id),
        aud: request.client_id.to_owned(),
        exp: (now + ttl).timestamp(),
        iat: now.timestamp(),
        auth_time: request.auth_time.timestamp(),
        nonce: request.nonce.map(str::to_owned),
        amr: request.amr.to_vec(),
        acr: request.acr.map(str::to_owned),
        azp: request.client_id.to_owned(),
        sid: request.session,
        email: email.then(|| request.user.email.clone()),
        email_verified: email.then_some(request.user.email_verified),
        at_hash: request
            .access_token
            .map(|token| token_hash(request.alg, token)),
        extra: request.extra.clone(),
    }
}

/// `claims` signed with the current key of `alg`, with its `kid`.
pub fn sign(keys: &KeySet, alg: Algorithm, claims: &IdTokenClaims) -> Result<String, IdTokenError> {
    let key = keys
        .id_token_signer(alg)
        .ok_or(IdTokenError::NoKey(alg_name(alg)))?;
    let encoding = key.encoding().ok_or(IdTokenError::NoKey(alg_name(alg)))?;
    let mut header = Header::new(key.alg);
    header.typ = Some("JWT".to_owned());
    header.kid = Some(key.kid.clone());
    Ok(jsonwebtoken::encode(&header, claims, encoding)?)
}

/// The signed ID token of `request`, issued now by authd's issuer, valid as
/// long as an access token (`jwt.access_ttl_secs`).
pub fn issue(svc: &Services, request: &IdTokenRequest<'_>) -> Result<String, ServiceError> {
    let claims = claims(svc.settings.issuer(), svc.access.ttl(), request, svc.now());
    sign(svc.access.keys(), request.alg, &claims).map_err(ServiceError::internal)
}

/// `at_hash` (OpenID Connect Core 1.0 section 3.1.3.6): the left half of the
/// hash of the token's ASCII, base64url. The hash is the one of the
/// signature: SHA-256 for RS256 and ES256, SHA-512 for EdDSA over Ed25519
/// (as OpenID Connect's errata set 2 says).
pub fn token_hash(alg: Algorithm, token: &str) -> String {
    let digest = match alg {
        Algorithm::EdDSA => &aws_lc_rs::digest::SHA512,
        _ => &aws_lc_rs::digest::SHA256,
    };
    let hash = aws_lc_rs::digest::digest(digest, token.as_bytes());
    let bytes = hash.as_ref();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes[..bytes.len() / 2])
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

    fn user() -> User {
        User {
            id: Uuid::new_v4(),
            email: "ada@example.com".into(),
            email_verified: true,
            created_at: Utc::now(),
        }
    }

    fn request<'a>(
        user: &'a User,
        alg: Algorithm,
        scope: &'a str,
        amr: &'a [String],
    ) -> IdTokenRequest<'a> {
        IdTokenRequest {
            user,
            client_id: "app-1",
            alg,
            session: Uuid::nil(),
            auth_time: Utc::now() - Duration::seconds(60),
            nonce: Some("n-0S6_WzA2Mj"),
            extra: Map::new(),
            amr,
            acr: Some("urn:authd:acr:1"),
            scope,
            access_token: Some("an-access-token"),
        }
    }

    /// Verifies `token` as a relying party would: with the key of its `kid`
    /// found in the published JWKS, the client id as audience.
    fn verify_with_jwks(keys: &KeySet, token: &str, alg: Algorithm) -> IdTokenClaims {
        let header = jsonwebtoken::decode_header(token).unwrap();
        assert_eq!(header.alg, alg);
        assert_eq!(header.typ.as_deref(), Some("JWT"));
        let jwks: JwkSet = serde_json::from_str(keys.jwks_json()).unwrap();
        let jwk = jwks.find(header.kid.as_deref().unwrap()).unwrap();
        let mut validation = Validation::new(alg);
        validation.set_audience(&["app-1"]);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["iss", "sub", "aud", "exp", "iat"]);
        jsonwebtoken::decode::<IdTokenClaims>(
            token,
            &DecodingKey::from_jwk(jwk).unwrap(),
            &validation,
        )
        .unwrap()
        .claims
    }

    fn signs_and_verifies(alg: Algorithm) {
        let keys = keys(&[
            Algorithm::HS256,
            Algorithm::RS256,
            Algorithm::ES256,
            Algorithm::EdDSA,
        ]);
        let user = user();
        let amr = vec!["pwd".to_owned()];
        let request = request(&user, alg, "openid email", &amr);
        let now = Utc::now();
        let made = claims(ISSUER, Duration::seconds(900), &request, now);
        let token = sign(&keys, alg, &made).unwrap();

        let read = verify_with_jwks(&keys, &token, alg);
        assert_eq!(read, made);
        assert_eq!(read.sub, user.id.to_string());
        assert_eq!((read.aud.as_str(), read.azp.as_str()), ("app-1", "app-1"));
        assert_eq!(read.exp, now.timestamp() + 900);
        assert_eq!(read.auth_time, request.auth_time.timestamp());
        assert_eq!(read.nonce.as_deref(), Some("n-0S6_WzA2Mj"));
        assert_eq!(read.amr, ["pwd"]);
        assert_eq!(read.acr.as_deref(), Some("urn:authd:acr:1"));
        assert_eq!(read.sid, Uuid::nil());
        assert_eq!(read.email.as_deref(), Some("ada@example.com"));
        assert_eq!(read.email_verified, Some(true));
        assert_eq!(read.at_hash, Some(token_hash(alg, "an-access-token")));
    }

    #[test]
    fn an_rs256_id_token_verifies_with_the_published_jwks() {
        signs_and_verifies(Algorithm::RS256);
    }

    #[test]
    fn an_es256_id_token_verifies_with_the_published_jwks() {
        signs_and_verifies(Algorithm::ES256);
    }

    #[test]
    fn an_eddsa_id_token_verifies_with_the_published_jwks() {
        signs_and_verifies(Algorithm::EdDSA);
    }

    #[test]
    fn email_claims_need_the_email_scope_and_absent_values_are_left_out() {
        let user = user();
        let mut request = request(&user, Algorithm::ES256, "openid emails", &[]);
        request.nonce = None;
        request.acr = None;
        request.access_token = None;
        let made = claims(ISSUER, Duration::seconds(900), &request, Utc::now());
        let json = serde_json::to_value(&made).unwrap();
        for absent in ["email", "email_verified", "nonce", "acr", "amr", "at_hash"] {
            assert!(json.get(absent).is_none(), "{absent} in {json}");
        }
    }

    #[test]
    fn an_id_token_is_never_signed_with_an_hs256_key_or_a_missing_one() {
        let keys = keys(&[Algorithm::HS256, Algorithm::ES256]);
        let user = user();
        for alg in [Algorithm::HS256, Algorithm::RS256, Algorithm::EdDSA] {
            let made = claims(
                ISSUER,
                Duration::seconds(900),
                &request(&user, alg, "openid", &[]),
                Utc::now(),
            );
            assert!(
                matches!(sign(&keys, alg, &made), Err(IdTokenError::NoKey(_))),
                "{alg:?}"
            );
        }
    }

    #[test]
    fn at_hash_is_the_left_half_of_the_algorithms_hash() {
        // OpenID Connect Core 1.0, section A.3's access token and at_hash (RS256).
        assert_eq!(
            token_hash(
                Algorithm::RS256,
                "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"
            ),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
        assert_eq!(
            token_hash(Algorithm::EdDSA, "x").len(),
            43,
            "32 bytes of SHA-512"
        );
    }
}
