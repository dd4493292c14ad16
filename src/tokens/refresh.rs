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
//! `key id (1) | session id (16) | counter (8, big-endian) | HMAC-SHA256 tag (32)`.
//! The tag is the 256-bit secret; it is checked in constant time before the
//! database is consulted, so forged tokens cost no query.
//!
//! # The key ring
//!
//! The first byte names the key of the ring that made the tag; the tag covers
//! it, so it cannot be changed without the key. One key, the current one, makes
//! new tokens; retired keys only verify, so their tokens still rotate, and come
//! back made by the current key. A token naming a key the ring does not hold
//! (removed, or never configured) is refused like a forgery: no key is looked
//! up outside the ring and nothing fails louder than `None`.
//!
//! Tokens made before rings existed carry 1 in that byte (it was a version
//! byte, always 1) and were made by the single `refresh.secret`; that key is
//! the ring's key 1 ([`SINGLE_KEY_ID`]), so those tokens keep their meaning.
//! Id 0 is never a key: it is kept for a future layout.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::hmac;
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

/// The id of the key that `refresh.secret` (or the generated development key)
/// is: the first byte of every token made before key rings.
pub const SINGLE_KEY_ID: u8 = 1;
const BODY_LEN: usize = 1 + 16 + 8;
const TOKEN_LEN: usize = BODY_LEN + 32;
/// Length of an encoded refresh token.
pub const ENCODED_LEN: usize = 76;
/// Domain separation: these keys sign nothing else.
const CONTEXT: &[u8] = b"authd refresh token v1\0";

/// What a valid refresh token names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshClaims {
    pub session: Uuid,
    pub counter: i64,
}

/// One key of the ring: the id tokens name it by, and its secret.
pub struct RefreshKey {
    id: u8,
    key: hmac::Key,
}

impl RefreshKey {
    pub fn new(id: u8, secret: &SecretString) -> Self {
        Self {
            id,
            key: hmac::Key::new(hmac::HMAC_SHA256, secret.expose_secret().as_bytes()),
        }
    }

    pub fn id(&self) -> u8 {
        self.id
    }
}

/// Two keys of one ring with the same id.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("refresh-token key id {0} appears twice")]
pub struct DuplicateKeyId(pub u8);

/// Derives and checks refresh tokens with a ring of keys.
pub struct RefreshTokens {
    current: RefreshKey,
    retired: BTreeMap<u8, hmac::Key>,
}

impl RefreshTokens {
    /// A ring of one key, [`SINGLE_KEY_ID`]: what `refresh.secret` configures.
    pub fn new(secret: &SecretString) -> Self {
        Self {
            current: RefreshKey::new(SINGLE_KEY_ID, secret),
            retired: BTreeMap::new(),
        }
    }

    /// `current` makes new tokens; it and every key of `retired` verify.
    pub fn ring(
        current: RefreshKey,
        retired: impl IntoIterator<Item = RefreshKey>,
    ) -> Result<Self, DuplicateKeyId> {
        let mut ring = BTreeMap::new();
        for key in retired {
            if key.id == current.id || ring.insert(key.id, key.key).is_some() {
                return Err(DuplicateKeyId(key.id));
            }
        }
        Ok(Self {
            current,
            retired: ring,
        })
    }

    /// The id of the key that makes new tokens.
    pub fn current_key_id(&self) -> u8 {
        self.current.id
    }

    /// The ids of the keys that only verify, in order.
    pub fn retired_key_ids(&self) -> Vec<u8> {
        self.retired.keys().copied().collect()
    }

    /// A key for another purpose derived from each key of the ring (HMAC of
    /// `label` under the key), current first, with the id of the key it came
    /// from: the keyed hashes of emailed codes (`accounts::tokens`) and the
    /// sealed outbox (`mail::seal`) use them, so they rotate with the ring.
    pub fn derived_keys(&self, label: &[u8]) -> Vec<(u8, hmac::Key)> {
        std::iter::once((self.current.id, derive(&self.current.key, label)))
            .chain(
                self.retired
                    .iter()
                    .map(|(id, key)| (*id, derive(key, label))),
            )
            .collect()
    }

    /// The key [`derived_keys`](Self::derived_keys) derives from the current
    /// key alone, with its id: for what is made new and never checked against
    /// an older key (the keyed hash of an address, `tokens::address`).
    pub fn current_derived_key(&self, label: &[u8]) -> (u8, hmac::Key) {
        (self.current.id, derive(&self.current.key, label))
    }

    pub fn encode(&self, claims: RefreshClaims) -> SecretString {
        let mut raw = [0u8; TOKEN_LEN];
        raw[0] = self.current.id;
        raw[1..17].copy_from_slice(claims.session.as_bytes());
        raw[17..BODY_LEN].copy_from_slice(&claims.counter.to_be_bytes());
        let tag = tag(&self.current.key, &raw[..BODY_LEN]);
        raw[BODY_LEN..].copy_from_slice(tag.as_ref());
        SecretString::from(URL_SAFE_NO_PAD.encode(raw))
    }

    /// `None` for anything that is not a token a key of this ring made.
    pub fn decode(&self, token: &str) -> Option<RefreshClaims> {
        let raw = raw(token)?;
        // An id outside the ring is refused here, as a wrong tag is below.
        let key = if raw[0] == self.current.id {
            &self.current.key
        } else {
            self.retired.get(&raw[0])?
        };
        let mut message = Vec::with_capacity(CONTEXT.len() + BODY_LEN);
        message.extend_from_slice(CONTEXT);
        message.extend_from_slice(&raw[..BODY_LEN]);
        // Constant-time comparison of the tag.
        hmac::verify(key, &message, &raw[BODY_LEN..]).ok()?;
        let session = Uuid::from_slice(&raw[1..17]).ok()?;
        let counter = i64::from_be_bytes(raw[17..BODY_LEN].try_into().ok()?);
        Some(RefreshClaims { session, counter })
    }
}

/// The key id a token names, unchecked: for logs and for tests of rotation.
/// `None` when it does not have a token's shape.
pub fn key_id_of(token: &str) -> Option<u8> {
    raw(token).map(|raw| raw[0])
}

fn raw(token: &str) -> Option<[u8; TOKEN_LEN]> {
    if token.len() != ENCODED_LEN {
        return None;
    }
    let mut raw = [0u8; TOKEN_LEN];
    let n = URL_SAFE_NO_PAD.decode_slice(token, &mut raw).ok()?;
    (n == TOKEN_LEN).then_some(raw)
}

/// A key for `label`'s purpose: the HMAC of `label` under a ring key.
fn derive(key: &hmac::Key, label: &[u8]) -> hmac::Key {
    hmac::Key::new(hmac::HMAC_SHA256, hmac::sign(key, label).as_ref())
}

fn tag(key: &hmac::Key, body: &[u8]) -> hmac::Tag {
    let mut ctx = hmac::Context::with_key(key);
    ctx.update(CONTEXT);
    ctx.update(body);
    ctx.sign()
}

/// A short, non-secret prefix of a token for logs.
pub fn log_prefix(token: &str) -> &str {
    token.get(..6).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> SecretString {
        SecretString::from(s.to_owned())
    }

    fn codec(s: &str) -> RefreshTokens {
        RefreshTokens::new(&secret(s))
    }

    fn key(id: u8, s: &str) -> RefreshKey {
        RefreshKey::new(id, &secret(s))
    }

    const A: &str = "0123456789abcdef0123456789abcdef";
    const B: &str = "fedcba9876543210fedcba9876543210";

    fn claims(counter: i64) -> RefreshClaims {
        RefreshClaims {
            session: Uuid::new_v4(),
            counter,
        }
    }

    #[test]
    fn a_token_round_trips_and_has_the_documented_length() {
        let c = codec(A);
        let claims = claims(41);
        let token = c.encode(claims);
        assert_eq!(token.expose_secret().len(), ENCODED_LEN);
        assert_eq!(c.decode(token.expose_secret()), Some(claims));
        assert_eq!(key_id_of(token.expose_secret()), Some(SINGLE_KEY_ID));
    }

    /// Made by authd before key rings (version byte 1), with this secret: it
    /// decodes under the single secret, and is made again byte for byte.
    #[test]
    fn a_token_made_before_key_rings_decodes_under_the_single_secret() {
        const TOKEN: &str =
            "AX8cKjtNXk9ginucDR4vOksAAAAAAAAAKUwgU1PUnp1wZcU5M7fW3wyMbio_h0ecjoTf5nwCGvBE";
        let c = codec("a refresh.secret deployed before key rings");
        let claims = c
            .decode(TOKEN)
            .expect("a token already in the wild decodes");
        assert_eq!(
            claims.session.to_string(),
            "7f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"
        );
        assert_eq!(claims.counter, 41);
        assert_eq!(c.encode(claims).expose_secret(), TOKEN);
        // And as key 1 of a ring, current or retired.
        let legacy = || key(1, "a refresh.secret deployed before key rings");
        let current = RefreshTokens::ring(legacy(), [key(2, B)]).unwrap();
        let retired = RefreshTokens::ring(key(2, B), [legacy()]).unwrap();
        assert_eq!(current.decode(TOKEN), Some(claims));
        assert_eq!(retired.decode(TOKEN), Some(claims));
    }

    #[test]
    fn retired_keys_verify_and_only_the_current_key_makes_tokens() {
        let old = codec(A);
        let ring = RefreshTokens::ring(key(2, B), [key(1, A)]).unwrap();
        assert_eq!(
            (ring.current_key_id(), ring.retired_key_ids()),
            (2, vec![1])
        );
        let claims = claims(7);
        let before = old.encode(claims);
        assert_eq!(ring.decode(before.expose_secret()), Some(claims));
        let after = ring.encode(claims);
        assert_eq!(key_id_of(after.expose_secret()), Some(2));
        assert_eq!(ring.decode(after.expose_secret()), Some(claims));
        // A ring without key 1: its tokens are refused, key 2's are not.
        let only_b = RefreshTokens::ring(key(2, B), []).unwrap();
        assert_eq!(only_b.decode(before.expose_secret()), None);
        assert_eq!(only_b.decode(after.expose_secret()), Some(claims));
        // The old single key does not know key 2.
        assert_eq!(old.decode(after.expose_secret()), None);
    }

    #[test]
    fn the_key_id_is_bound_into_the_tag() {
        // Both keys the same secret: only the tag's cover of the id byte can
        // refuse a token moved from one id to the other.
        let ring = RefreshTokens::ring(key(2, A), [key(1, A), key(3, B)]).unwrap();
        let token = ring.encode(claims(1));
        let mut raw = URL_SAFE_NO_PAD.decode(token.expose_secret()).unwrap();
        for id in [0u8, 1, 3, 4, 255] {
            raw[0] = id;
            let moved = URL_SAFE_NO_PAD.encode(&raw);
            assert_eq!(key_id_of(&moved), Some(id));
            assert_eq!(ring.decode(&moved), None, "id {id}");
        }
    }

    #[test]
    fn a_ring_refuses_an_id_twice() {
        assert_eq!(
            RefreshTokens::ring(key(2, A), [key(2, B)]).err(),
            Some(DuplicateKeyId(2))
        );
        assert_eq!(
            RefreshTokens::ring(key(2, A), [key(1, B), key(1, A)]).err(),
            Some(DuplicateKeyId(1))
        );
    }

    #[test]
    fn tokens_from_another_key_or_tampered_are_refused() {
        let a = codec(A);
        let b = codec(B);
        let token = a.encode(claims(1)).expose_secret().to_owned();
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
        assert_eq!(key_id_of(&"!".repeat(76)), None);
        assert_eq!(key_id_of(&token[..75]), None);
    }

    #[test]
    fn the_counter_is_bound_into_the_tag() {
        let c = codec(A);
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
