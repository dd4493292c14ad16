//! The outbox's text at rest: a waiting message carries a live link or code,
//! so its address and its whole RFC 5322 text are stored only sealed, with
//! AES-256-GCM under a key derived from the refresh-token ring. A copy of the
//! database (a replica, a backup, a reporting user, PostgreSQL's old row
//! versions and WAL, SQLite's WAL and free pages) holds ciphertext that is
//! useless without the ring, which never enters the database.
//!
//! - The key: for each key of the ring, the HMAC of a fixed label under the
//!   ring's derived key for the outbox (`RefreshTokens::derived_keys`). A
//!   message is sealed under the current key; its row records the key's id
//!   and the nonce (96 random bits, never reused in practice: a key would
//!   have to seal about 2^32 messages before a collision became likely).
//! - The associated data is the message's id and the key id: a sealed text
//!   moved to another row, or relabelled with another key id, does not open.
//! - A key removed from the ring leaves the messages sealed under it
//!   undeliverable: the sender gives them up at once with the reason
//!   [`Unreadable::KeyGone`] (counted in `authd_mail_unreadable_total`).
//!   Keep a retired key in the ring until the outbox has no message sealed
//!   under it (`email.max_attempts` with its backoff bounds how long that is).
//!
//! The address and the text are sealed together, as one plaintext: the
//! address's length (2 bytes, big-endian), the address, the text.

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use uuid::Uuid;

use crate::store::outbox::OutboxRecord;
use crate::tokens::refresh::RefreshTokens;

/// Domain separation of the outbox key from every other use of the ring.
const SEAL_KEY_LABEL: &[u8] = b"authd outbox seal v1";
/// What the AEAD key is drawn from the derived key with.
const AEAD_KEY_INFO: &[u8] = b"AES-256-GCM key";
/// The start of every sealed text's associated data.
const AAD_CONTEXT: &[u8] = b"authd outbox v1\0";

/// A message's address and text as stored: the ring key's id, the nonce,
/// the ciphertext with its tag.
pub struct Sealed {
    pub key_id: u8,
    pub nonce: [u8; NONCE_LEN],
    pub text: Vec<u8>,
}

/// A message opened for delivery. Holds a live link or code: never logged.
pub struct Opened {
    pub recipient: String,
    pub message: String,
}

/// Why a stored message cannot be opened: each is final (the sender gives
/// the message up), and none says anything secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unreadable {
    /// Sealed under a key the ring no longer holds.
    KeyGone(u8),
    /// Does not open under its key: altered, moved from another row, or the
    /// key of that id now has another secret.
    BadSeal(u8),
    /// Neither a sealed text nor (from before sealing) a clear one is stored.
    Missing,
}

impl Unreadable {
    /// The stable name: the `reason` label of `authd_mail_unreadable_total`,
    /// the start of the message's `last_error`, `reason=` in the audit event.
    pub fn label(self) -> &'static str {
        match self {
            Self::KeyGone(_) => "key_gone",
            Self::BadSeal(_) => "bad_seal",
            Self::Missing => "missing",
        }
    }

    /// The reason the message was given up, as stored in `last_error`.
    pub fn reason(self) -> String {
        let label = self.label();
        match self {
            Self::KeyGone(id) => {
                format!("{label}: sealed under refresh key {id}, which is no longer in the ring")
            }
            Self::BadSeal(id) => format!(
                "{label}: the sealed text does not open under refresh key {id} (altered, moved \
                 from another row, or that key's secret changed)"
            ),
            Self::Missing => format!("{label}: the message's text is gone"),
        }
    }

    /// All the labels, for the metric's series.
    pub const LABELS: [&'static str; 3] = ["key_gone", "bad_seal", "missing"];
}

/// Seals `recipient` and `message` for the row `id` under the ring's current
/// key. Fails only if the system's CSPRNG does, or the address is absurdly
/// long.
pub fn seal(
    ring: &RefreshTokens,
    id: Uuid,
    recipient: &str,
    message: &str,
) -> anyhow::Result<Sealed> {
    let (key_id, derived) = ring.current_derived_key(SEAL_KEY_LABEL);
    let key = aead_key(&derived)?;
    let mut nonce = [0u8; NONCE_LEN];
    SystemRandom::new()
        .fill(&mut nonce)
        .map_err(|_| anyhow::anyhow!("the system's CSPRNG failed"))?;
    let length = u16::try_from(recipient.len())
        .map_err(|_| anyhow::anyhow!("a recipient address of {} bytes", recipient.len()))?;
    let mut text = Vec::with_capacity(2 + recipient.len() + message.len() + AES_256_GCM.tag_len());
    text.extend_from_slice(&length.to_be_bytes());
    text.extend_from_slice(recipient.as_bytes());
    text.extend_from_slice(message.as_bytes());
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(aad(id, key_id)),
        &mut text,
    )
    .map_err(|_| anyhow::anyhow!("sealing the message failed"))?;
    Ok(Sealed {
        key_id,
        nonce,
        text,
    })
}

/// Opens what [`seal`] made for the row `id`, with the key of `key_id` if the
/// ring still holds it.
pub fn open(
    ring: &RefreshTokens,
    id: Uuid,
    key_id: i32,
    nonce: &[u8],
    text: &[u8],
) -> Result<Opened, Unreadable> {
    // An id no ring key can have: no key opens it.
    let Ok(key_id) = u8::try_from(key_id) else {
        return Err(Unreadable::KeyGone(0));
    };
    let derived = ring
        .derived_keys(SEAL_KEY_LABEL)
        .into_iter()
        .find(|(id, _)| *id == key_id)
        .map(|(_, key)| key)
        .ok_or(Unreadable::KeyGone(key_id))?;
    let bad = Unreadable::BadSeal(key_id);
    let key = aead_key(&derived).map_err(|_| bad)?;
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| bad)?;
    let mut text = text.to_vec();
    let plain = key
        .open_in_place(nonce, Aad::from(aad(id, key_id)), &mut text)
        .map_err(|_| bad)?;
    let (length, rest) = plain.split_first_chunk::<2>().ok_or(bad)?;
    let (recipient, message) = rest
        .split_at_checked(usize::from(u16::from_be_bytes(*length)))
        .ok_or(bad)?;
    Ok(Opened {
        recipient: String::from_utf8(recipient.to_vec()).map_err(|_| bad)?,
        message: String::from_utf8(message.to_vec()).map_err(|_| bad)?,
    })
}

/// Opens a stored message as the sender would: for operators' tools and
/// tests, which read what a message says without delivering it.
pub fn open_record(ring: &RefreshTokens, record: &OutboxRecord) -> Result<Opened, Unreadable> {
    match (&record.sealed_key_id, &record.sealed_nonce, &record.sealed) {
        (Some(key_id), Some(nonce), Some(text)) => open(ring, record.id, *key_id, nonce, text),
        _ => Err(Unreadable::Missing),
    }
}

fn aead_key(derived: &hmac::Key) -> anyhow::Result<LessSafeKey> {
    let bytes = hmac::sign(derived, AEAD_KEY_INFO);
    let key = UnboundKey::new(&AES_256_GCM, bytes.as_ref())
        .map_err(|_| anyhow::anyhow!("an AES-256-GCM key of the wrong length"))?;
    Ok(LessSafeKey::new(key))
}

fn aad(id: Uuid, key_id: u8) -> Vec<u8> {
    [AAD_CONTEXT, id.as_bytes().as_slice(), &[key_id]].concat()
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
    const TEXT: &str =
        "Subject: Reset\r\n\r\nhttps://app.example/?token=SECRET-TOKEN code 12345678";

    fn ring(current: u8, others: &[u8]) -> RefreshTokens {
        let secret = |id| if id == 1 { A } else { B };
        RefreshTokens::ring(
            key(current, secret(current)),
            others.iter().map(|id| key(*id, secret(*id))),
        )
        .unwrap()
    }

    fn opened(r: Result<Opened, Unreadable>) -> (String, String) {
        let o = r.unwrap();
        (o.recipient, o.message)
    }

    #[test]
    fn a_sealed_message_opens_to_its_address_and_text_and_hides_both() {
        let ring = ring(1, &[]);
        let id = Uuid::now_v7();
        let sealed = seal(&ring, id, "alice@example.com", TEXT).unwrap();
        assert_eq!(sealed.key_id, 1);
        for needle in [&b"alice@"[..], b"SECRET-TOKEN", b"12345678"] {
            assert!(!sealed.text.windows(needle.len()).any(|w| w == needle));
        }
        assert_eq!(
            opened(open(&ring, id, 1, &sealed.nonce, &sealed.text)),
            ("alice@example.com".to_owned(), TEXT.to_owned())
        );
        // Sealed twice, two nonces and two ciphertexts.
        let again = seal(&ring, id, "alice@example.com", TEXT).unwrap();
        assert_ne!(again.nonce, sealed.nonce);
        assert_ne!(again.text, sealed.text);
        // A retired key still opens what it sealed; the current one seals.
        let rotated = self::ring(2, &[1]);
        assert_eq!(
            opened(open(&rotated, id, 1, &sealed.nonce, &sealed.text)).0,
            "alice@example.com"
        );
        assert_eq!(seal(&rotated, id, "a@b.c", TEXT).unwrap().key_id, 2);
    }

    #[test]
    fn a_key_that_left_the_ring_or_a_wrong_key_id_opens_nothing() {
        let id = Uuid::now_v7();
        let sealed = seal(&ring(1, &[]), id, "alice@example.com", TEXT).unwrap();
        // Key 1 removed from the ring.
        let without = ring(2, &[]);
        assert_eq!(
            open(&without, id, 1, &sealed.nonce, &sealed.text).err(),
            Some(Unreadable::KeyGone(1))
        );
        // Relabelled with another key the ring holds: the id is bound in.
        let both = ring(2, &[1]);
        assert_eq!(
            open(&both, id, 2, &sealed.nonce, &sealed.text).err(),
            Some(Unreadable::BadSeal(2))
        );
        for bogus in [0, -1, 256, 3] {
            assert!(matches!(
                open(&both, id, bogus, &sealed.nonce, &sealed.text),
                Err(Unreadable::KeyGone(_))
            ));
        }
        // Key 1 with another secret.
        let replaced = RefreshTokens::ring(key(1, B), []).unwrap();
        assert_eq!(
            open(&replaced, id, 1, &sealed.nonce, &sealed.text).err(),
            Some(Unreadable::BadSeal(1))
        );
    }

    #[test]
    fn a_tampered_text_or_nonce_or_a_swapped_row_opens_nothing() {
        let ring = ring(1, &[]);
        let id = Uuid::now_v7();
        let sealed = seal(&ring, id, "alice@example.com", TEXT).unwrap();
        let bad = Some(Unreadable::BadSeal(1));
        for i in 0..sealed.text.len() {
            let mut text = sealed.text.clone();
            text[i] ^= 0x01;
            assert_eq!(
                open(&ring, id, 1, &sealed.nonce, &text).err(),
                bad,
                "byte {i}"
            );
        }
        let short = &sealed.text[..sealed.text.len() - 1];
        assert_eq!(open(&ring, id, 1, &sealed.nonce, short).err(), bad);
        assert_eq!(open(&ring, id, 1, &sealed.nonce, &[]).err(), bad);
        let mut nonce = sealed.nonce;
        nonce[0] ^= 0x01;
        assert_eq!(open(&ring, id, 1, &nonce, &sealed.text).err(), bad);
        assert_eq!(open(&ring, id, 1, &nonce[..11], &sealed.text).err(), bad);
        // Moved to another row: another message's id does not open it.
        let other = Uuid::now_v7();
        assert_eq!(
            open(&ring, other, 1, &sealed.nonce, &sealed.text).err(),
            bad
        );
        // Two rows' texts swapped: neither opens.
        let theirs = seal(&ring, other, "bob@example.com", TEXT).unwrap();
        assert_eq!(open(&ring, id, 1, &theirs.nonce, &theirs.text).err(), bad);
    }

    #[test]
    fn reasons_are_stable_and_name_no_secret() {
        assert!(Unreadable::KeyGone(3).reason().starts_with("key_gone: "));
        assert!(Unreadable::KeyGone(3).reason().contains("key 3"));
        assert!(Unreadable::BadSeal(1).reason().starts_with("bad_seal: "));
        assert!(Unreadable::Missing.reason().starts_with("missing: "));
        for u in [
            Unreadable::KeyGone(1),
            Unreadable::BadSeal(1),
            Unreadable::Missing,
        ] {
            assert!(Unreadable::LABELS.contains(&u.label()));
        }
    }
}
