//! Authorization codes (OAuth 2.1 section 4.1): 256 random bits, stored only
//! as their SHA-256, valid for [`CODE_LIFETIME_SECS`] seconds, spent once, and
//! bound to the client, the redirect URI, the PKCE challenge, the nonce, the
//! scopes and the browser session they were issued for.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use ring::digest;
use ring::rand::{SecureRandom, SystemRandom};
use secrecy::SecretString;
use uuid::Uuid;

use crate::error::ServiceError;
use crate::store::AsDb;
use crate::store::authorization_codes::{self, AuthorizationCode};

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
