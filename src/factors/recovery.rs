//! Recovery codes: ten single-use codes, made when the first factor is
//! confirmed and on request, shown once, stored only as keyed hashes.
//!
//! A code is ten characters of a 32-letter alphabet without look-alikes (50
//! random bits), shown as `xxxxx-xxxxx`; it is read without regard to case,
//! spaces and dashes. Its hash is an HMAC-SHA256 of the user's id and the
//! code under a key derived from a ring key (label `authd recovery code v1`);
//! the row records which key, and a code is looked for under every key the
//! ring holds, so a rotation of the ring does not end the codes (removing a
//! key does). A list of guesses cannot be checked against a copy of the
//! database without the ring.

use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use crate::tokens::refresh::RefreshTokens;

/// Codes in a set.
pub const COUNT: usize = 10;
const LENGTH: usize = 10;
/// No 0/o, 1/l: 32 letters, five bits each.
const ALPHABET: &[u8; 32] = b"23456789abcdefghijkmnpqrstuvwxyz";

const KEY_LABEL: &[u8] = b"authd recovery code v1";

/// A new set of codes, as shown to the user once.
pub fn generate() -> anyhow::Result<Vec<SecretString>> {
    let rng = SystemRandom::new();
    let mut codes = Vec::with_capacity(COUNT);
    for _ in 0..COUNT {
        let mut bytes = [0u8; LENGTH];
        rng.fill(&mut bytes)
            .map_err(|_| anyhow::anyhow!("the system's CSPRNG failed"))?;
        let letters: String = bytes
            .iter()
            .map(|b| char::from(ALPHABET[usize::from(b & 31)]))
            .collect();
        codes.push(SecretString::from(format!(
            "{}-{}",
            &letters[..LENGTH / 2],
            &letters[LENGTH / 2..]
        )));
    }
    Ok(codes)
}

/// `code` as stored before hashing: lower case, without spaces and dashes;
/// none if it cannot be a code (so nothing is counted against a typo of
/// another kind, such as a TOTP code in the wrong field, any differently).
pub fn normalize(code: &str) -> Option<String> {
    let kept: String = code
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| c.to_ascii_lowercase())
        .collect();
    (kept.len() == LENGTH && kept.bytes().all(|b| ALPHABET.contains(&b))).then_some(kept)
}

/// The hash of a normalized code of `user` under the ring's current key,
/// with that key's id: what is stored.
pub fn hash_current(ring: &RefreshTokens, user: Uuid, code: &str) -> (u8, Vec<u8>) {
    let (id, key) = ring.current_derived_key(KEY_LABEL);
    (id, tag(&key, user, code))
}

/// The hashes of a normalized code of `user` under every key of the ring:
/// what a presented code is looked for with.
pub fn hashes(ring: &RefreshTokens, user: Uuid, code: &str) -> Vec<(u8, Vec<u8>)> {
    ring.derived_keys(KEY_LABEL)
        .into_iter()
        .map(|(id, key)| (id, tag(&key, user, code)))
        .collect()
}

fn tag(key: &hmac::Key, user: Uuid, code: &str) -> Vec<u8> {
    let mut ctx = hmac::Context::with_key(key);
    ctx.update(user.as_bytes());
    ctx.update(code.as_bytes());
    ctx.sign().as_ref().to_vec()
}

/// The codes as strings for an answer.
pub fn shown(codes: &[SecretString]) -> Vec<String> {
    codes.iter().map(|c| c.expose_secret().to_owned()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_ten_distinct_and_read_back_whatever_their_case_and_dashes() {
        let codes = generate().unwrap();
        assert_eq!(codes.len(), COUNT);
        let shown = shown(&codes);
        for code in &shown {
            assert_eq!(code.len(), LENGTH + 1);
            let normal = normalize(code).unwrap();
            assert_eq!(
                normalize(&code.to_uppercase().replace('-', " ")),
                Some(normal)
            );
        }
        let mut unique = shown.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), COUNT);
        assert_eq!(normalize("123456"), None);
        assert_eq!(normalize("abcde-fghi0"), None);
    }
}
