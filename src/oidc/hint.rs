//! An ID token presented back to authd as `id_token_hint` (RP-initiated
//! logout): accepted when authd signed it, whatever its age. The key comes
//! from the `kid` of its header and must be one of authd's own asymmetric
//! keys (current or retired, as long as it is configured), its algorithm the
//! key's (never the token's own say, never HS256, which never signs an ID
//! token); `iss` must be authd's issuer. Expiry is not required: a relying
//! party logs its user out with the ID token it kept from the sign-in,
//! typically expired by then (RP-Initiated Logout 1.0 section 2).

use std::collections::HashSet;

use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;
use uuid::Uuid;

use crate::keys::KeySet;

/// Longest hint read; anything longer is refused unread.
const MAX_HINT_CHARS: usize = 8 * 1024;

/// What a hint tells the logout endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hint {
    /// The client it was issued to (`aud`).
    pub client_id: String,
    /// The user (`sub`).
    pub subject: String,
    /// The session at authd it names (`sid`), if any.
    pub sid: Option<Uuid>,
}

#[derive(Deserialize)]
struct HintClaims {
    sub: String,
    aud: Audience,
    #[serde(default)]
    sid: Option<Uuid>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

/// The hint's claims, if authd signed `token` (see the module comment).
pub fn verify(keys: &KeySet, issuer: &str, token: &str) -> Option<Hint> {
    if token.len() > MAX_HINT_CHARS {
        return None;
    }
    let header = jsonwebtoken::decode_header(token).ok()?;
    let key = keys.get(header.kid.as_deref()?)?;
    if key.alg == Algorithm::HS256 || header.alg != key.alg {
        return None;
    }
    let mut validation = Validation::new(key.alg);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims = HashSet::new();
    validation.set_issuer(&[issuer]);
    let claims = jsonwebtoken::decode::<HintClaims>(token, &key.decoding, &validation)
        .ok()?
        .claims;
    let client_id = match claims.aud {
        Audience::One(aud) => aud,
        // One audience only: authd's ID tokens name exactly one client.
        Audience::Many(mut auds) if auds.len() == 1 => auds.pop()?,
        Audience::Many(_) => return None,
    };
    Some(Hint {
        client_id,
        subject: claims.sub,
        sid: claims.sid,
    })
}
