//! Refresh tokens: opaque to clients, derived on the server from the session
//! (family) id and the session's rotation counter with an HMAC key that never
//! enters the database.
//!
//! Why derived and not random-and-hashed: the grace rule must hand concurrent
//! tabs and retried requests *the same* current token. With random tokens stored
//! as hashes, the server cannot produce the current token again; with derived
//! tokens it can, and the database still holds nothing usable: a dump yields
//! session ids and counters, and without the key no token can be computed.
//!
//! Layout (57 bytes, base64url without padding = 76 characters):
//! `version (1) | session id (16) | counter (8, big-endian) | HMAC-SHA256 tag (32)`.
//! The tag is the 256-bit secret; it is checked in constant time before the
//! database is consulted, so forged tokens cost no query.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::hmac;
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

const VERSION: u8 = 1;
const BODY_LEN: usize = 1 + 16 + 8;
const TOKEN_LEN: usize = BODY_LEN + 32;
/// Length of an encoded refresh token.
pub const ENCODED_LEN: usize = 76;
/// Domain separation: this key signs nothing else.
const CONTEXT: &[u8] = b"authd refresh token v1\0";

/// What a valid refresh token names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshClaims {
    pub session: Uuid,
    pub counter: i64,
}

/// Derives and checks refresh tokens.
pub struct RefreshTokens {
    key: hmac::Key,
}

impl RefreshTokens {
    pub fn new(secret: &SecretString) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret.expose_secret().as_bytes()),
        }
    }

    pub fn encode(&self, claims: RefreshClaims) -> SecretString {
        let mut raw = [0u8; TOKEN_LEN];
        raw[0] = VERSION;
        raw[1..17].copy_from_slice(claims.session.as_bytes());
        raw[17..BODY_LEN].copy_from_slice(&claims.counter.to_be_bytes());
        let tag = self.tag(&raw[..BODY_LEN]);
        raw[BODY_LEN..].copy_from_slice(tag.as_ref());
        SecretString::from(URL_SAFE_NO_PAD.encode(raw))
    }

    /// `None` for anything that is not a token this key made.
    pub fn decode(&self, token: &str) -> Option<RefreshClaims> {
        if token.len() != ENCODED_LEN {
            return None;
        }
        let mut raw = [0u8; TOKEN_LEN];
        let n = URL_SAFE_NO_PAD.decode_slice(token, &mut raw).ok()?;
        if n != TOKEN_LEN || raw[0] != VERSION {
            return None;
        }
        let mut message = Vec::with_capacity(CONTEXT.len() + BODY_LEN);
        message.extend_from_slice(CONTEXT);
        message.extend_from_slice(&raw[..BODY_LEN]);
        // Constant-time comparison of the tag.
        hmac::verify(&self.key, &message, &raw[BODY_LEN..]).ok()?;
        let session = Uuid::from_slice(&raw[1..17]).ok()?;
        let counter = i64::from_be_bytes(raw[17..BODY_LEN].try_into().ok()?);
        Some(RefreshClaims { session, counter })
    }

    fn tag(&self, body: &[u8]) -> hmac::Tag {
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(CONTEXT);
        ctx.update(body);
        ctx.sign()
    }
}

/// A short, non-secret prefix of a token for logs.
pub fn log_prefix(token: &str) -> &str {
    token.get(..6).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codec(secret: &str) -> RefreshTokens {
        RefreshTokens::new(&SecretString::from(secret.to_owned()))
    }

    #[test]
    fn a_token_round_trips_and_has_the_documented_length() {
        let c = codec("0123456789abcdef0123456789abcdef");
        let claims = RefreshClaims {
            session: Uuid::new_v4(),
            counter: 41,
        };
        let token = c.encode(claims);
        assert_eq!(token.expose_secret().len(), ENCODED_LEN);
        assert_eq!(c.decode(token.expose_secret()), Some(claims));
    }

    #[test]
    fn tokens_from_another_key_or_tampered_are_refused() {
        let a = codec("0123456789abcdef0123456789abcdef");
        let b = codec("fedcba9876543210fedcba9876543210");
        let claims = RefreshClaims {
            session: Uuid::new_v4(),
            counter: 1,
        };
        let token = a.encode(claims).expose_secret().to_owned();
        assert_eq!(b.decode(&token), None);
        // Flip every character in turn: no single change survives.
        for i in 0..token.len() {
            let mut bytes = token.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let tampered = String::from_utf8(bytes).unwrap();
            if tampered != token {
                assert_eq!(a.decode(&tampered), None, "position {i}");
            }
        }
        assert_eq!(a.decode(""), None);
        assert_eq!(a.decode(&token[..75]), None);
        assert_eq!(a.decode(&format!("{token}A")), None);
        assert_eq!(a.decode(&"!".repeat(76)), None);
    }

    #[test]
    fn the_counter_is_bound_into_the_tag() {
        let c = codec("0123456789abcdef0123456789abcdef");
        let session = Uuid::new_v4();
        let t1 = c.encode(RefreshClaims {
            session,
            counter: 1,
        });
        let t2 = c.encode(RefreshClaims {
            session,
            counter: 2,
        });
        assert_ne!(t1.expose_secret(), t2.expose_secret());
    }
}
