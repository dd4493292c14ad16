//! The rule of every form on authd's hosted pages: a form POST is accepted
//! only with the CSRF token the page it came from was given, bound to
//! something the server holds for that browser (a binding): the id of the
//! authorization request the page carries, or for a standalone page (the
//! pages of emailed links) a random value in a `__Host-` cookie that another
//! site can neither read nor set.
//!
//! A token is `k` + base64url(key id byte, HMAC-SHA256(form, binding)) under
//! a key derived from the refresh-key ring with its own label
//! (`RefreshTokens::derived_keys`), so it needs no storage, every instance
//! sharing the ring accepts it, a retired ring key still accepts the tokens
//! it made, and a token for one form or one binding is refused for another.
//! The comparison is `ring::hmac::verify`'s, in constant time.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};

use crate::tokens::refresh::RefreshTokens;

/// The label the CSRF key is derived from each ring key with.
const CSRF_KEY_LABEL: &[u8] = b"authd page csrf v1";

/// Longest token read; anything longer is refused unread.
const MAX_TOKEN_CHARS: usize = 128;

/// Why a form's token was refused (the page answers 403 `invalid_csrf_token`).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum CsrfRefused {
    #[error("the form carries no CSRF token")]
    Missing,
    #[error("the browser has no CSRF binding (its cookie)")]
    NoBinding,
    #[error("the form's CSRF token was not made for this form and browser")]
    Foreign,
}

/// The token a page puts in `form` for `binding`, under the current key.
pub fn issue(keys: &RefreshTokens, form: &str, binding: &str) -> String {
    let (id, key) = keys.current_derived_key(CSRF_KEY_LABEL);
    let tag = hmac::sign(&key, &message(form, binding));
    let mut raw = Vec::with_capacity(1 + tag.as_ref().len());
    raw.push(id);
    raw.extend_from_slice(tag.as_ref());
    URL_SAFE_NO_PAD.encode(raw)
}

/// Accepts `presented` if it is the token of `form` for `binding` under any
/// key of the ring.
pub fn check(
    keys: &RefreshTokens,
    form: &str,
    binding: Option<&str>,
    presented: Option<&str>,
) -> Result<(), CsrfRefused> {
    let presented = presented
        .filter(|t| !t.is_empty())
        .ok_or(CsrfRefused::Missing)?;
    let binding = binding
        .filter(|b| !b.is_empty())
        .ok_or(CsrfRefused::NoBinding)?;
    if presented.len() > MAX_TOKEN_CHARS {
        return Err(CsrfRefused::Foreign);
    }
    let raw = URL_SAFE_NO_PAD
        .decode(presented)
        .map_err(|_| CsrfRefused::Foreign)?;
    let (id, tag) = raw.split_first().ok_or(CsrfRefused::Foreign)?;
    let key = keys
        .derived_keys(CSRF_KEY_LABEL)
        .into_iter()
        .find(|(key_id, _)| key_id == id)
        .map(|(_, key)| key)
        .ok_or(CsrfRefused::Foreign)?;
    hmac::verify(&key, &message(form, binding), tag).map_err(|_| CsrfRefused::Foreign)
}

/// A new random binding for a standalone page's cookie: 256 bits, base64url.
pub fn new_binding() -> Option<String> {
    let mut bytes = [0u8; 32];
    SystemRandom::new().fill(&mut bytes).ok()?;
    Some(URL_SAFE_NO_PAD.encode(bytes))
}

/// What the tag covers: the form's name, length-prefixed, then the binding.
fn message(form: &str, binding: &str) -> Vec<u8> {
    let mut m = Vec::with_capacity(8 + form.len() + binding.len());
    m.extend_from_slice(&(form.len() as u64).to_be_bytes());
    m.extend_from_slice(form.as_bytes());
    m.extend_from_slice(binding.as_bytes());
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::refresh::RefreshKey;
    use secrecy::SecretString;

    fn ring(current: u8, keys: &[(u8, &str)]) -> RefreshTokens {
        let key = |id: u8, s: &str| RefreshKey::new(id, &SecretString::from(s.repeat(32)));
        let (_, secret) = keys.iter().find(|(id, _)| *id == current).unwrap();
        let retired = keys
            .iter()
            .filter(|(id, _)| *id != current)
            .map(|(id, s)| key(*id, s));
        RefreshTokens::ring(key(current, secret), retired).unwrap()
    }

    #[test]
    fn a_token_is_accepted_for_its_form_and_binding_only() {
        let keys = ring(1, &[(1, "a")]);
        let token = issue(&keys, "reset", "cookie-1");
        assert_eq!(
            check(&keys, "reset", Some("cookie-1"), Some(&token)),
            Ok(())
        );
        assert_eq!(
            check(&keys, "reset", Some("cookie-2"), Some(&token)),
            Err(CsrfRefused::Foreign)
        );
        assert_eq!(
            check(&keys, "verify", Some("cookie-1"), Some(&token)),
            Err(CsrfRefused::Foreign)
        );
        assert_eq!(
            check(&keys, "reset", Some("cookie-1"), None),
            Err(CsrfRefused::Missing)
        );
        assert_eq!(
            check(&keys, "reset", None, Some(&token)),
            Err(CsrfRefused::NoBinding)
        );
        assert_eq!(
            check(&keys, "reset", Some("cookie-1"), Some("not base64!")),
            Err(CsrfRefused::Foreign)
        );
        let mut tampered = token.into_bytes();
        let last = tampered.len() - 1;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert_eq!(
            check(&keys, "reset", Some("cookie-1"), Some(&tampered)),
            Err(CsrfRefused::Foreign)
        );
    }

    #[test]
    fn a_retired_ring_key_still_accepts_its_tokens_and_another_ring_does_not() {
        let old = ring(1, &[(1, "a")]);
        let token = issue(&old, "verify", "b");
        let rotated = ring(2, &[(1, "a"), (2, "c")]);
        assert_eq!(check(&rotated, "verify", Some("b"), Some(&token)), Ok(()));
        let other = ring(1, &[(1, "z")]);
        assert_eq!(
            check(&other, "verify", Some("b"), Some(&token)),
            Err(CsrfRefused::Foreign)
        );
    }
}
