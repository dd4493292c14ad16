//! Account tokens: the links and codes that prove their reader holds an
//! address. Every flow that goes by email (verification, password reset,
//! email change, login codes) issues and spends them here, so the rules are
//! the same for all of them:
//!
//! - A link token is 256 bits from the system's CSPRNG, base64url (43
//!   characters); only its SHA-256 is stored. A code is `digits` decimal
//!   digits, uniform (rejection sampling); only an HMAC of it is stored, keyed
//!   by a key derived from the refresh-token key ring, so a copy of the table
//!   cannot be brute-forced offline without the key. Rotating the ring's
//!   current key out of it kills the codes it keyed.
//! - A token is bound to its purpose, to the address it was sent to, and to
//!   the user's credential version when it was issued: a password change, a
//!   reset or an email change ends every link issued before it ([`Redeemed`]
//!   is checked under the user's lock by the flow).
//! - Issuing a token cuts the live ones of the same user and purpose short:
//!   for the purposes anyone can ask for (a reset, a verification link, a
//!   login code: [`Purpose::keeps_replaced`]) they stay valid
//!   `accounts.replaced_token_grace_secs` (10 minutes) more at most, so a
//!   stranger's request cannot end the link or code its owner is about to use;
//!   an email-change link, asked for only by the signed-in owner (maybe
//!   correcting the address), ends at once. Using one ends the others (the
//!   flows call [`end_all`]). A code is tried against every live code of its
//!   user and purpose, each try counted on each of them; how many can be live
//!   at once is bounded by the send budgets (`mail::limits`) over the grace.
//! - Looking a token up spends nothing ([`find_link`]); only [`spend`], in the
//!   flow's transaction, does, and exactly once under concurrency (one
//!   conditional `UPDATE`). No `GET` endpoint takes a token: a mail scanner
//!   opening a link loads the app's page and spends nothing.
//! - A code allows `accounts.code_attempts` tries: each try is counted before
//!   the comparison, in a statement of its own ([`check_code`]), so concurrent
//!   guesses cannot share an attempt, and a wrong guess stays counted whatever
//!   the request does next. At the limit the code is dead.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use ring::{digest, hmac, rand::SecureRandom, rand::SystemRandom};
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use crate::error::ServiceError;
use crate::services::Services;
use crate::store::{self, AsDb};

/// What a token is for; the strings are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    VerifyEmail,
    PasswordReset,
    EmailChange,
    OtpLogin,
}

impl Purpose {
    /// Whether a newer token leaves this purpose's older ones live for the
    /// grace (`accounts.replaced_token_grace_secs`): the purposes whose
    /// messages anyone can ask for.
    pub fn keeps_replaced(self) -> bool {
        !matches!(self, Self::EmailChange)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify_email",
            Self::PasswordReset => "password_reset",
            Self::EmailChange => "email_change",
            Self::OtpLogin => "otp_login",
        }
    }
}

/// What to issue.
pub struct Issue<'a> {
    pub purpose: Purpose,
    pub user: Uuid,
    /// The address the token is sent to (for an email change: the new one).
    pub email: &'a str,
    pub credential_version: i64,
    pub valid_for: Duration,
    /// Whether the token has a link (most do).
    pub link: bool,
    /// Digits of a code to issue as well, if any.
    pub code_digits: Option<u32>,
}

/// A token just issued: the secrets to put in the message, never stored.
pub struct Issued {
    pub id: Uuid,
    pub link: Option<SecretString>,
    pub code: Option<SecretString>,
    pub expires_at: DateTime<Utc>,
}

/// A live token found by its link or its code: what it was issued for. The
/// flow checks these under the user's lock, then spends it.
pub struct Redeemed {
    pub id: Uuid,
    pub user: Uuid,
    pub email: String,
    pub credential_version: i64,
}

impl From<store::account_tokens::LiveToken> for Redeemed {
    fn from(t: store::account_tokens::LiveToken) -> Self {
        Self {
            id: t.id,
            user: t.user_id,
            email: t.email,
            credential_version: t.credential_version,
        }
    }
}

/// Domain separation of the code key from every other use of the ring.
const CODE_KEY_LABEL: &[u8] = b"authd account code v1";

/// Issues a token in `db`, the flow's transaction (with the message that
/// carries it). The user's live tokens of the same purpose expire at the end
/// of the grace at the latest (at once for a purpose that does not
/// [`Purpose::keeps_replaced`]).
pub async fn issue(
    svc: &Services,
    db: &mut impl AsDb,
    issue: &Issue<'_>,
) -> Result<Issued, ServiceError> {
    let now = svc.now();
    let id = Uuid::now_v7();
    let valid_for = chrono::Duration::from_std(issue.valid_for).map_err(ServiceError::internal)?;
    let expires_at = now + valid_for;
    let link = issue.link.then(new_link_token).transpose()?;
    let code = issue.code_digits.map(new_code).transpose()?;
    let token_hash = link.as_ref().map(|t| link_hash(t.expose_secret()));
    let code_hash = code
        .as_ref()
        .map(|code| code_hash(svc, id, code.expose_secret()));
    let grace = match issue.purpose.keeps_replaced() {
        true => svc.settings.accounts.replaced_token_grace_secs,
        false => 0,
    };
    let cut_to = now + chrono::Duration::seconds(i64::try_from(grace).unwrap_or(0));
    store::account_tokens::expire_live_by(db, issue.user, issue.purpose.as_str(), cut_to).await?;
    store::account_tokens::insert(
        db,
        &store::account_tokens::NewToken {
            id,
            user_id: issue.user,
            purpose: issue.purpose.as_str(),
            email: issue.email,
            credential_version: issue.credential_version,
            token_hash: token_hash.as_ref().map(|h| h.as_ref()),
            code_hash: code_hash.as_deref(),
            created_at: now,
            expires_at,
        },
    )
    .await?;
    Ok(Issued {
        id,
        link,
        code,
        expires_at,
    })
}

/// The live token of `purpose` that `token` (from a link) names, or `None`
/// for anything else: unknown, spent, replaced, expired, malformed. Spends
/// nothing.
pub async fn find_link(
    svc: &Services,
    db: &mut impl AsDb,
    purpose: Purpose,
    token: &str,
) -> Result<Option<Redeemed>, ServiceError> {
    if !looks_like_link_token(token) {
        return Ok(None);
    }
    let hash = link_hash(token);
    let found =
        store::account_tokens::find_live_by_hash(db, purpose.as_str(), hash.as_ref(), svc.now())
            .await?;
    Ok(found.map(Redeemed::from))
}

/// Tries `code` against the live codes of `user` for `purpose` (the newest
/// and those a newer one left live for the grace). The attempt is counted on
/// each of them first, in one statement on a write connection of its own,
/// committed whatever happens next; `None` when there is no live code with
/// attempts left, or the code is none of them. Call outside any transaction.
pub async fn check_code(
    svc: &Services,
    user: Uuid,
    purpose: Purpose,
    code: &str,
) -> Result<Option<Redeemed>, ServiceError> {
    let now = svc.now();
    let max = i32::try_from(svc.settings.accounts.code_attempts).unwrap_or(5);
    let mut conn = svc.store.write_conn().await?;
    let tried =
        store::account_tokens::count_code_attempts(&mut conn, user, purpose.as_str(), max, now)
            .await?;
    drop(conn);
    // Every candidate is compared, so the time does not say which matched.
    let mut matched = None;
    for candidate in tried {
        let ok = candidate
            .code_hash
            .as_deref()
            .is_some_and(|stored| code_matches(svc, stored, candidate.id, code.trim()));
        if ok && matched.is_none() {
            matched = Some(candidate);
        }
    }
    Ok(matched.map(Redeemed::from))
}

/// Spends token `id` in `db`, the flow's transaction: `false` when it was
/// spent, replaced or expired since it was found (of two requests spending
/// one token, exactly one gets `true`).
pub async fn spend(svc: &Services, db: &mut impl AsDb, id: Uuid) -> Result<bool, ServiceError> {
    Ok(store::account_tokens::spend(db, id, svc.now()).await?)
}

/// Ends every live token of `user` for `purpose` in `db` (a reset ends the
/// other reset links, a confirmed email change the other confirmations).
pub async fn end_all(
    svc: &Services,
    db: &mut impl AsDb,
    user: Uuid,
    purpose: Purpose,
) -> Result<u64, ServiceError> {
    Ok(store::account_tokens::end_live(db, user, purpose.as_str(), svc.now()).await?)
}

/// Length of a link token: 32 bytes, base64url without padding.
pub const LINK_TOKEN_LEN: usize = 43;

fn looks_like_link_token(token: &str) -> bool {
    token.len() == LINK_TOKEN_LEN
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn random<const N: usize>() -> Result<[u8; N], ServiceError> {
    let mut bytes = [0u8; N];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| ServiceError::internal(anyhow::anyhow!("the system's CSPRNG failed")))?;
    Ok(bytes)
}

fn new_link_token() -> Result<SecretString, ServiceError> {
    Ok(SecretString::from(URL_SAFE_NO_PAD.encode(random::<32>()?)))
}

/// `digits` uniform decimal digits: each drawn from a byte below 250
/// (rejection sampling, so no digit is likelier than another).
fn new_code(digits: u32) -> Result<SecretString, ServiceError> {
    let mut code = String::with_capacity(digits as usize);
    while code.len() < digits as usize {
        for b in random::<16>()? {
            if b < 250 && code.len() < digits as usize {
                code.push(char::from(b'0' + b % 10));
            }
        }
    }
    Ok(SecretString::from(code))
}

fn link_hash(token: &str) -> digest::Digest {
    digest::digest(&digest::SHA256, token.as_bytes())
}

/// The stored form of a code: the id of the ring key it is keyed by (the
/// current one), then the HMAC of the token's id and the code.
fn code_hash(svc: &Services, token: Uuid, code: &str) -> Vec<u8> {
    let keys = svc.refresh.derived_keys(CODE_KEY_LABEL);
    let mut out = Vec::with_capacity(33);
    if let Some((id, key)) = keys.first() {
        out.push(*id);
        out.extend_from_slice(hmac::sign(key, &code_message(token, code)).as_ref());
    }
    out
}

/// Whether `code` is the one `stored` was made from, compared in constant
/// time (`hmac::verify`); `false` when its key has left the ring.
fn code_matches(svc: &Services, stored: &[u8], token: Uuid, code: &str) -> bool {
    let Some((key_id, tag)) = stored.split_first() else {
        return false;
    };
    svc.refresh
        .derived_keys(CODE_KEY_LABEL)
        .iter()
        .find(|(id, _)| id == key_id)
        .is_some_and(|(_, key)| hmac::verify(key, &code_message(token, code), tag).is_ok())
}

fn code_message(token: Uuid, code: &str) -> Vec<u8> {
    [token.as_bytes().as_slice(), code.as_bytes()].concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_the_digits_asked_for_and_vary() {
        let mut seen = std::collections::HashSet::new();
        for digits in [6, 8, 10] {
            for _ in 0..50 {
                let code = new_code(digits).unwrap();
                let code = code.expose_secret();
                assert_eq!(code.len(), digits as usize);
                assert!(code.bytes().all(|b| b.is_ascii_digit()));
                seen.insert(code.to_owned());
            }
        }
        assert_eq!(seen.len(), 150, "150 codes drawn, all different");
    }

    #[test]
    fn link_tokens_are_43_url_safe_characters_of_32_random_bytes() {
        let a = new_link_token().unwrap();
        let b = new_link_token().unwrap();
        assert_ne!(a.expose_secret(), b.expose_secret());
        for t in [&a, &b] {
            assert!(looks_like_link_token(t.expose_secret()));
            assert_eq!(URL_SAFE_NO_PAD.decode(t.expose_secret()).unwrap().len(), 32);
        }
        assert!(!looks_like_link_token("short"));
        assert!(!looks_like_link_token(&"a".repeat(42)));
        assert!(!looks_like_link_token(&format!("{}=", "a".repeat(42))));
    }
}
