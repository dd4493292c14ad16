//! TOTP (RFC 6238): the secret (160 random bits), sealed at rest, the
//! `otpauth://` URI an authenticator app reads, and which time step a code
//! belongs to. Codes are 6 digits of HMAC-SHA-1 over 30-second steps; the
//! current step and the one before it are accepted, never a later one. A
//! code is accepted once: the caller spends its step with
//! `store::factors::spend_totp_step`, a conditional UPDATE that only moves
//! the factor's last used step forward.
//!
//! The secret is sealed with AES-256-GCM under a key derived from the
//! refresh-key ring with a label of its own (as the outbox is, `mail::seal`):
//! the row records the ring key's id and the nonce, and the row's id and user
//! are the associated data, so a sealed secret copied to another row does
//! not open. A key removed from the ring makes the factors sealed under it
//! unusable (the user then signs in with a recovery code and enrols again):
//! keep a retired key in the ring while factors are sealed under it.

use chrono::{DateTime, Utc};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use secrecy::{ExposeSecret, SecretBox, SecretString};
use totp_rs::{Algorithm, TOTP};
use uuid::Uuid;

use crate::tokens::refresh::RefreshTokens;

/// Seconds per time step.
pub const STEP_SECS: i64 = 30;
/// Digits of a code.
pub const DIGITS: usize = 6;
/// Bytes of a secret (160 bits, RFC 4226's recommendation).
pub const SECRET_BYTES: usize = 20;

const SEAL_KEY_LABEL: &[u8] = b"authd totp seal v1";
const AEAD_KEY_INFO: &[u8] = b"AES-256-GCM key";
const AAD_CONTEXT: &[u8] = b"authd totp v1\0";

/// A TOTP secret in clear: only in memory, never logged.
pub struct Secret(SecretBox<[u8; SECRET_BYTES]>);

impl Secret {
    /// A new random secret.
    pub fn generate() -> anyhow::Result<Self> {
        let mut bytes = [0u8; SECRET_BYTES];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| anyhow::anyhow!("the system's CSPRNG failed"))?;
        Ok(Self(SecretBox::new(Box::new(bytes))))
    }

    /// The secret in base32 (RFC 4648, no padding), as authenticator apps
    /// take it for manual entry.
    pub fn base32(&self) -> SecretString {
        SecretString::from(self.totp().get_secret_base32())
    }

    fn totp(&self) -> TOTP {
        TOTP::new_unchecked(
            Algorithm::SHA1,
            DIGITS,
            0,
            STEP_SECS.unsigned_abs(),
            self.0.expose_secret().to_vec(),
        )
    }

    /// The time step of `code` among the step of `now` and the one before,
    /// compared in constant time; none if it matches neither (or is not six
    /// digits).
    pub fn step_of(&self, code: &str, now: DateTime<Utc>) -> Option<i64> {
        if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let current = now.timestamp().div_euclid(STEP_SECS);
        let totp = self.totp();
        let mut found = None;
        // Both steps are computed whatever the first one gives.
        for step in [current - 1, current] {
            let Ok(at) = u64::try_from(step * STEP_SECS) else {
                continue;
            };
            let expected = totp.generate(at);
            if same(expected.as_bytes(), code.as_bytes()) {
                found = Some(step);
            }
        }
        found
    }

    /// The code of `now`'s step: for tests and tools.
    pub fn code_at(&self, now: DateTime<Utc>) -> String {
        let at = u64::try_from(now.timestamp()).unwrap_or(0);
        self.totp().generate(at)
    }

    /// The `otpauth://totp/` URI (Google Authenticator's key URI format):
    /// `issuer` and `account` percent-encoded.
    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> SecretString {
        let enc = |s: &str| -> String {
            form_urlencoded::byte_serialize(s.as_bytes())
                .collect::<String>()
                .replace('+', "%20")
        };
        SecretString::from(format!(
            "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
            enc(issuer),
            enc(account),
            self.base32().expose_secret(),
            enc(issuer),
        ))
    }
}

/// Whether two codes of the same length are equal, in time that does not
/// depend on where they differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A secret as stored: the ring key's id, the nonce, the ciphertext and tag.
pub struct Sealed {
    pub key_id: u8,
    pub nonce: [u8; NONCE_LEN],
    pub text: Vec<u8>,
}

/// Seals `secret` for the factor row `id` of `user` under the ring's current key.
pub fn seal(ring: &RefreshTokens, id: Uuid, user: Uuid, secret: &Secret) -> anyhow::Result<Sealed> {
    let (key_id, derived) = ring.current_derived_key(SEAL_KEY_LABEL);
    let key = aead_key(&derived)?;
    let mut nonce = [0u8; NONCE_LEN];
    SystemRandom::new()
        .fill(&mut nonce)
        .map_err(|_| anyhow::anyhow!("the system's CSPRNG failed"))?;
    let mut text = secret.0.expose_secret().to_vec();
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(aad(id, user, key_id)),
        &mut text,
    )
    .map_err(|_| anyhow::anyhow!("sealing a TOTP secret failed"))?;
    Ok(Sealed {
        key_id,
        nonce,
        text,
    })
}

/// Opens what [`seal`] made for the row `id` of `user`; none if the ring no
/// longer holds its key or it does not open (altered, moved).
pub fn open(
    ring: &RefreshTokens,
    id: Uuid,
    user: Uuid,
    key_id: i32,
    nonce: &[u8],
    text: &[u8],
) -> Option<Secret> {
    let key_id = u8::try_from(key_id).ok()?;
    let derived = ring
        .derived_keys(SEAL_KEY_LABEL)
        .into_iter()
        .find(|(id, _)| *id == key_id)
        .map(|(_, key)| key)?;
    let key = aead_key(&derived).ok()?;
    let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
    let mut text = text.to_vec();
    let plain = key
        .open_in_place(nonce, Aad::from(aad(id, user, key_id)), &mut text)
        .ok()?;
    let bytes: [u8; SECRET_BYTES] = plain.try_into().ok()?;
    Some(Secret(SecretBox::new(Box::new(bytes))))
}

fn aead_key(derived: &hmac::Key) -> anyhow::Result<LessSafeKey> {
    let bytes = hmac::sign(derived, AEAD_KEY_INFO);
    let key = UnboundKey::new(&AES_256_GCM, bytes.as_ref())
        .map_err(|_| anyhow::anyhow!("an AES-256-GCM key of the wrong length"))?;
    Ok(LessSafeKey::new(key))
}

fn aad(id: Uuid, user: Uuid, key_id: u8) -> Vec<u8> {
    [
        AAD_CONTEXT,
        id.as_bytes().as_slice(),
        user.as_bytes().as_slice(),
        &[key_id],
    ]
    .concat()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::refresh::RefreshKey;

    /// RFC 6238 appendix B: the SHA-1 seed, 8 digits, 30 s steps.
    #[test]
    fn the_rfc_6238_sha1_test_vectors() {
        let totp = TOTP::new_unchecked(Algorithm::SHA1, 8, 0, 30, b"12345678901234567890".to_vec());
        for (time, code) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(totp.generate(time), code, "at {time}");
        }
    }

    fn secret() -> Secret {
        Secret(SecretBox::new(Box::new(*b"12345678901234567890")))
    }

    #[test]
    fn the_current_step_and_one_before_are_accepted_and_no_other() {
        let s = secret();
        let now = DateTime::from_timestamp(1_111_111_111, 0).unwrap();
        let step = now.timestamp() / STEP_SECS;
        let at = |secs: i64| DateTime::from_timestamp(secs, 0).unwrap();
        assert_eq!(s.step_of(&s.code_at(now), now), Some(step));
        let previous = s.code_at(at(now.timestamp() - STEP_SECS));
        assert_eq!(s.step_of(&previous, now), Some(step - 1));
        let two_back = s.code_at(at(now.timestamp() - 2 * STEP_SECS));
        assert_eq!(s.step_of(&two_back, now), None);
        let next = s.code_at(at(now.timestamp() + STEP_SECS));
        assert_eq!(s.step_of(&next, now), None);
        assert_eq!(s.step_of("12345", now), None);
        assert_eq!(s.step_of("abcdef", now), None);
    }

    #[test]
    fn a_sealed_secret_opens_only_in_its_own_row() {
        let ring = RefreshTokens::ring(
            RefreshKey::new(1, &SecretString::from("0123456789abcdef0123456789abcdef")),
            [],
        )
        .unwrap();
        let (id, user) = (Uuid::new_v4(), Uuid::new_v4());
        let sealed = seal(&ring, id, user, &secret()).unwrap();
        assert!(
            !sealed
                .text
                .windows(20)
                .any(|w| w == b"12345678901234567890")
        );
        let opened = open(&ring, id, user, 1, &sealed.nonce, &sealed.text).unwrap();
        assert_eq!(opened.0.expose_secret(), b"12345678901234567890");
        assert!(open(&ring, id, Uuid::new_v4(), 1, &sealed.nonce, &sealed.text).is_none());
        assert!(open(&ring, Uuid::new_v4(), user, 1, &sealed.nonce, &sealed.text).is_none());
        assert!(open(&ring, id, user, 2, &sealed.nonce, &sealed.text).is_none());
    }

    #[test]
    fn the_uri_names_the_issuer_and_account() {
        let uri = secret().otpauth_uri("authd example", "ada@example.com");
        assert_eq!(
            uri.expose_secret(),
            "otpauth://totp/authd%20example:ada%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
             &issuer=authd%20example&algorithm=SHA1&digits=6&period=30"
        );
    }
}
