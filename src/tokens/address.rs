//! The keyed hash of an email address: the one form in which an address is a
//! key in the database (the outbox's `recipient_hash`, the send counts of
//! `mail::limits`, the account counters of `throttle::login`).
//!
//! An HMAC-SHA256, not a plain SHA-256: with a plain hash, anyone holding a
//! copy of the database (a replica, a backup, a reporting user) could hash a
//! list of candidate addresses and learn which of them asked for a reset or
//! failed a login, accounts or not. The key is derived from the refresh-token
//! ring and never enters the database.
//!
//! Made with the ring's *current* key only. When the current key changes,
//! every hash changes with it: the counters kept under the old hashes (send
//! counts, login and reset-code lockouts) are simply forgotten, and the
//! outbox's records of sent mail no longer match new ones. That costs at most
//! one counting window after a rotation, which an attacker cannot cause (only
//! the operator rotates), and it means a key removed from the ring (perhaps
//! because it leaked) stops keying anything at once. A derivation from the
//! oldest key would keep the counts across a rotation, but would tie every
//! address key to a key the operator may need to remove.

use ring::hmac;

use crate::tokens::refresh::RefreshTokens;

/// Domain separation from every other use of the ring.
const ADDRESS_KEY_LABEL: &[u8] = b"authd address key v1";

/// The keyed hash of `address` (as normalized by `Email::parse`), 64 hex
/// characters: the same length and alphabet as the SHA-256 it replaces.
pub fn address_hash(ring: &RefreshTokens, address: &str) -> String {
    let (_, key) = ring.current_derived_key(ADDRESS_KEY_LABEL);
    hmac::sign(&key, address.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use secrecy::SecretString;

    use super::*;
    use crate::tokens::refresh::RefreshKey;

    fn key(id: u8, secret: &str) -> RefreshKey {
        RefreshKey::new(id, &SecretString::from(secret.to_owned()))
    }

    const A: &str = "0123456789abcdef0123456789abcdef";
    const B: &str = "fedcba9876543210fedcba9876543210";

    #[test]
    fn the_hash_is_keyed_stable_and_follows_the_current_key() {
        let ring = RefreshTokens::ring(key(1, A), []).unwrap();
        let hash = address_hash(&ring, "alice@example.com");
        assert_eq!(hash.len(), 64);
        assert!(hash.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(hash, address_hash(&ring, "alice@example.com"));
        assert_ne!(hash, address_hash(&ring, "bob@example.com"));
        let sha256: String = ring::digest::digest(&ring::digest::SHA256, b"alice@example.com")
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_ne!(hash, sha256, "not the unkeyed hash");
        // Another secret, or the same key retired behind a new current one:
        // another hash.
        let other = RefreshTokens::ring(key(1, B), []).unwrap();
        assert_ne!(hash, address_hash(&other, "alice@example.com"));
        let rotated = RefreshTokens::ring(key(2, B), [key(1, A)]).unwrap();
        assert_ne!(hash, address_hash(&rotated, "alice@example.com"));
        // Not the key the codes are hashed with: labels separate the uses.
        let (_, code_key) = ring.current_derived_key(b"authd account code v1");
        let code_tag = hmac::sign(&code_key, b"alice@example.com");
        assert_ne!(
            hash,
            code_tag
                .as_ref()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
    }
}
