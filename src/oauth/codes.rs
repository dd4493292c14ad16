//! Authorization codes (OAuth 2.1 section 4.1): 256 random bits, stored only
//! as their SHA-256, valid for [`CODE_LIFETIME_SECS`] seconds, spent once, and
//! bound to the client, the redirect URI, the PKCE challenge, the nonce, the
//! scopes and the browser session they were issued for.
//!
//! [`redeem`] checks a presented code against all of that and spends it with
//! one conditional UPDATE in the transaction the caller then starts the
//! client family in; a code presented again after that ends the family made
//! from the first presentation (RFC 6749 section 4.1.2, RFC 9700 section
//! 4.2.4).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use ring::digest;
use ring::rand::{SecureRandom, SystemRandom};
use secrecy::SecretString;
use uuid::Uuid;

use super::OAuthError;
use crate::audit::{AuditKind, RequestMeta};
use crate::error::ServiceError;
use crate::ids::{SessionId, UserId};
use crate::oidc::backchannel::Ended;
use crate::services::Services;
use crate::sessions::logout::{self, reasons};
use crate::store::authorization_codes::{self, AuthorizationCode};
use crate::store::{AsDb, Tx};

/// How long a code can be redeemed: long enough for a client's backend to
/// make one request, short enough that a code leaked from a log or a history
/// is dead (RFC 6749 section 4.1.2 recommends at most ten minutes).
pub const CODE_LIFETIME_SECS: i64 = 60;

/// What a code is issued for.
pub struct NewCode<'a> {
    pub client_id: &'a str,
    pub redirect_uri: &'a str,
    pub code_challenge: Option<&'a str>,
    pub nonce: Option<&'a str>,
    /// The scopes granted, space-separated.
    pub scope: &'a str,
    pub user_id: Uuid,
    pub browser_session_id: Uuid,
    pub auth_time: DateTime<Utc>,
    /// The sign-in methods, stored names, space-separated.
    pub methods: &'a str,
}

/// Issues a code for `new` at `now`, stored in `db`; returns the code, which
/// exists nowhere else.
pub async fn issue(
    db: &mut impl AsDb,
    new: &NewCode<'_>,
    now: DateTime<Utc>,
) -> Result<SecretString, ServiceError> {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| ServiceError::internal(anyhow::anyhow!("the system's CSPRNG failed")))?;
    let code = URL_SAFE_NO_PAD.encode(bytes);
    let row = AuthorizationCode {
        code_hash: code_hash(&code),
        client_id: new.client_id.to_owned(),
        redirect_uri: new.redirect_uri.to_owned(),
        code_challenge: new.code_challenge.map(str::to_owned),
        nonce: new.nonce.map(str::to_owned),
        scope: new.scope.to_owned(),
        user_id: new.user_id,
        browser_session_id: new.browser_session_id,
        auth_time: new.auth_time,
        methods: new.methods.to_owned(),
        created_at: now,
        expires_at: now + Duration::seconds(CODE_LIFETIME_SECS),
        used_at: None,
        session_id: None,
    };
    authorization_codes::insert(db, &row).await?;
    Ok(SecretString::from(code))
}

/// The stored form of a code.
pub fn code_hash(code: &str) -> Vec<u8> {
    digest::digest(&digest::SHA256, code.as_bytes())
        .as_ref()
        .to_vec()
}

/// A code as the token request presents it.
pub struct PresentedCode<'a> {
    pub code: &'a str,
    /// The authenticated client.
    pub client_id: &'a str,
    pub redirect_uri: Option<&'a str>,
    pub code_verifier: Option<&'a str>,
    /// The client must use PKCE: a code issued without a challenge is refused.
    pub pkce_required: bool,
}

/// A code just spent, and the open transaction that spent it: the caller
/// starts the client family in it, records it with [`record_family`] and
/// commits, so a code is never spent without its family.
pub struct Redeemed<'s> {
    pub tx: Tx<'s>,
    pub code: AuthorizationCode,
}

const UNUSABLE: &str = "the authorization code is invalid, expired or was already used";

/// Redeems a presented code, in this order:
/// - unknown: `invalid_grant`;
/// - issued to another client: `invalid_grant`, and the code is left as it
///   is (whoever holds a code of A cannot spend it, nor end A's family, by
///   presenting it as B);
/// - already spent: `invalid_grant`, and the family made from it is ended
///   (revoked through `sessions::logout`, so the revocation feed lists it,
///   with an `authorization_code_reused` event);
/// - expired: `invalid_grant`;
/// - `redirect_uri` missing (`invalid_request`) or not the one it was issued
///   for (`invalid_grant`), RFC 6749 section 4.1.3;
/// - PKCE (RFC 7636 section 4.6, [`check_pkce`]);
/// - then spent by one conditional UPDATE (`authorization_codes::spend`): of
///   two racing presentations one wins; the loser is judged a second
///   presentation once the winner's transaction has committed.
pub async fn redeem<'s>(
    svc: &'s Services,
    presented: &PresentedCode<'_>,
    meta: &RequestMeta,
) -> Result<Redeemed<'s>, OAuthError> {
    let hash = code_hash(presented.code);
    let now = svc.now();
    let mut conn = svc.store.conn().await?;
    let Some(code) = authorization_codes::find(&mut conn, &hash).await? else {
        tracing::info!("unknown authorization code");
        return Err(OAuthError::InvalidGrant(UNUSABLE));
    };
    drop(conn);
    if code.client_id != presented.client_id {
        tracing::info!(
            client = presented.client_id,
            "authorization code of another client"
        );
        return Err(OAuthError::InvalidGrant(UNUSABLE));
    }
    if code.used_at.is_some() {
        end_family_of_reused(svc, &code, meta).await?;
        return Err(OAuthError::InvalidGrant(UNUSABLE));
    }
    if code.expires_at <= now {
        tracing::info!(client = %code.client_id, "expired authorization code");
        return Err(OAuthError::InvalidGrant(UNUSABLE));
    }
    let redirect_uri = presented.redirect_uri.ok_or_else(|| {
        OAuthError::InvalidRequest("the parameter redirect_uri is required".into())
    })?;
    if redirect_uri != code.redirect_uri {
        tracing::info!(client = %code.client_id, "redirect_uri differs from the code's");
        return Err(OAuthError::InvalidGrant(
            "redirect_uri is not the one the code was issued for",
        ));
    }
    if presented.pkce_required && code.code_challenge.is_none() {
        return Err(OAuthError::InvalidGrant(
            "this client must use PKCE: the code was issued without a code_challenge",
        ));
    }
    check_pkce(code.code_challenge.as_deref(), presented.code_verifier)?;

    let mut tx = svc.store.begin().await?;
    if !authorization_codes::spend(&mut tx, &hash, now).await? {
        drop(tx);
        let mut conn = svc.store.conn().await?;
        let again = authorization_codes::find(&mut conn, &hash).await?;
        drop(conn);
        if let Some(again) = again.filter(|c| c.used_at.is_some()) {
            end_family_of_reused(svc, &again, meta).await?;
        }
        return Err(OAuthError::InvalidGrant(UNUSABLE));
    }
    Ok(Redeemed { tx, code })
}

/// Records the family made from a spent code, in the transaction that spent
/// it, so that a second presentation can end it.
pub async fn record_family(
    tx: &mut Tx<'_>,
    code: &AuthorizationCode,
    session: uuid::Uuid,
) -> Result<(), OAuthError> {
    authorization_codes::set_session(tx, &code.code_hash, session).await?;
    Ok(())
}

/// A spent code presented again: the family made from it ends.
async fn end_family_of_reused(
    svc: &Services,
    code: &AuthorizationCode,
    meta: &RequestMeta,
) -> Result<(), OAuthError> {
    tracing::warn!(client = %code.client_id, user = %code.user_id, family = ?code.session_id,
        "authorization code presented again: its family ends");
    if let Some(session) = code.session_id {
        // The client got an ID token from the first presentation: it is
        // told, as a back-channel logout, that the sign-in is over.
        logout::end_one_telling(
            svc,
            SessionId(session),
            UserId(code.user_id),
            AuditKind::AuthorizationCodeReused,
            reasons::CODE_REUSED,
            meta,
            Ended::Family {
                browser: code.browser_session_id,
                client: &code.client_id,
            },
        )
        .await?;
    }
    Ok(())
}

/// RFC 7636 verifiers: 43 to 128 characters of the unreserved set.
fn is_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// PKCE with S256 (RFC 7636 section 4.6), the only method authd stores:
/// `BASE64URL(SHA256(verifier))` equals the stored challenge, compared in
/// constant time. A verifier for a code issued without a challenge is refused
/// (the downgrade of RFC 9700 section 4.8.2), as is a code issued with a
/// challenge presented without one. A malformed verifier is
/// `invalid_request`; a wrong one `invalid_grant`.
pub fn check_pkce(challenge: Option<&str>, verifier: Option<&str>) -> Result<(), OAuthError> {
    match (challenge, verifier) {
        (None, None) => Ok(()),
        (None, Some(_)) => Err(OAuthError::InvalidGrant(
            "a code_verifier for a code issued without a code_challenge",
        )),
        (Some(_), None) => Err(OAuthError::InvalidGrant(
            "the code was issued with a code_challenge: code_verifier is required",
        )),
        (Some(challenge), Some(verifier)) => {
            if !is_verifier(verifier) {
                return Err(OAuthError::InvalidRequest(
                    "code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~".into(),
                ));
            }
            let computed = URL_SAFE_NO_PAD
                .encode(digest::digest(&digest::SHA256, verifier.as_bytes()).as_ref());
            let equal = computed.len() == challenge.len()
                && aws_lc_rs::constant_time::verify_slices_are_equal(
                    computed.as_bytes(),
                    challenge.as_bytes(),
                )
                .is_ok();
            if equal {
                Ok(())
            } else {
                Err(OAuthError::InvalidGrant(
                    "code_verifier does not match the code_challenge",
                ))
            }
        }
    }
}

/// The S256 challenge of `verifier` (what a client sends to the authorize
/// endpoint).
pub fn s256_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, verifier.as_bytes()).as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7636 appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn pkce_s256_follows_rfc_7636_and_refuses_the_downgrade() {
        assert_eq!(s256_challenge(VERIFIER), CHALLENGE);
        assert!(check_pkce(Some(CHALLENGE), Some(VERIFIER)).is_ok());
        assert!(check_pkce(None, None).is_ok());
        let wrong = "eBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        for (challenge, verifier) in [
            (Some(CHALLENGE), Some(wrong)),
            (None, Some(VERIFIER)),
            (Some(CHALLENGE), None),
        ] {
            assert!(matches!(
                check_pkce(challenge, verifier),
                Err(OAuthError::InvalidGrant(_))
            ));
        }
        for bad in ["short", &"a".repeat(129), &format!("{VERIFIER}+")] {
            assert!(matches!(
                check_pkce(Some(CHALLENGE), Some(bad)),
                Err(OAuthError::InvalidRequest(_))
            ));
        }
    }
}
