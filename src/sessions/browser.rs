//! The browser session at authd (single sign-on): a `sessions` row of kind
//! `browser`, started by the hosted login page through `accounts`' one
//! sign-in tail (capped among the user's browser sessions:
//! `browser_session.max_per_user`), and kept in
//! the browser by the `__Host-authd_session` cookie (`HttpOnly; Secure;
//! SameSite=Lax; Path=/`).
//!
//! - Lifetimes: idle (`browser_session.idle_secs`, moved on by each
//!   authorization it answers) and absolute (`browser_session.absolute_secs`
//!   from the sign-in); its `auth_time` is the sign-in and never moves, so
//!   `max_age` is judged against the password, not the last use.
//! - The cookie's value is made like a refresh token (a key id byte, the
//!   session id, an HMAC tag) but under a key derived from the refresh-key
//!   ring with a label of its own, and of another length: a browser cookie is
//!   never a refresh token, and a refresh token is never a browser cookie.
//!   The row is never rotated.
//! - A lookup ([`usable`]) checks the tag, the kind, revocation and both
//!   expiries. The session ends with every "end all sessions" path (a
//!   password change or reset, reuse detection, a global logout), since it
//!   is a sessions row of its user.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use ring::hmac;
use secrecy::SecretString;
use uuid::Uuid;

use super::{Methods, RotationPolicy, Started};
use crate::audit::RequestMeta;
use crate::config::BrowserSessionSettings;
use crate::oidc::backchannel::{self, Ended};
use crate::services::Services;
use crate::store::{self, StoreError, Tx};
use crate::tokens::refresh::RefreshTokens;

/// The cookie that carries the browser session.
pub const COOKIE: &str = "__Host-authd_session";

/// The label the cookie's key is derived from each ring key with.
const KEY_LABEL: &[u8] = b"authd browser session v1";
/// What the tag covers before the body, so no other HMAC of the same key
/// could be taken for it.
const CONTEXT: &[u8] = b"authd browser session cookie v1\0";
/// key id (1) | session id (16) | tag (32).
const RAW_LEN: usize = 1 + 16 + 32;
/// base64url without padding of [`RAW_LEN`] bytes.
const ENCODED_LEN: usize = 66;

/// A usable browser session: who is signed in, since when, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrowserSession {
    pub id: Uuid,
    pub user_id: Uuid,
    /// When the user signed in (proved who they are) for this session.
    pub auth_time: DateTime<Utc>,
    pub methods: Methods,
}

/// The limits of browser sessions, as a session policy: the lifetimes and
/// the per-user cap of `[browser_session]` (browser sessions are capped among
/// themselves: `sessions::start`).
pub fn policy(settings: &BrowserSessionSettings) -> RotationPolicy {
    let secs = |s: u64| Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX / 1000));
    RotationPolicy {
        idle: secs(settings.idle_secs),
        absolute: secs(settings.absolute_secs),
        reuse_interval: Duration::zero(),
        max_sessions_per_user: settings.max_per_user,
    }
}

/// Starts a browser session of `user`, signed in by `methods` at `now`, in
/// `tx`: a session started as every session is (the user's lock, the floor
/// of `sessions::start`), with the browser lifetimes, under the cap of the
/// user's browser sessions (the oldest beyond `browser_session.max_per_user`
/// ends; no family does, and the clients signed in through it are told:
/// `oidc::backchannel`).
pub async fn start(
    tx: &mut Tx<'_>,
    svc: &Services,
    user: Uuid,
    now: DateTime<Utc>,
    meta: &RequestMeta,
    methods: Methods,
) -> Result<Started, StoreError> {
    let policy = policy(&svc.settings.browser_session);
    let started = super::start::start_browser(tx, &policy, user, now, meta, methods).await?;
    for evicted in &started.evicted_ids {
        backchannel::ended(svc, tx, Ended::BrowserSession(*evicted)).await?;
    }
    Ok(started)
}

/// The cookie's value for browser session `id`, under the ring's current key.
pub fn cookie_value(keys: &RefreshTokens, id: Uuid) -> SecretString {
    let (key_id, key) = keys.current_derived_key(KEY_LABEL);
    let mut raw = Vec::with_capacity(RAW_LEN);
    raw.push(key_id);
    raw.extend_from_slice(id.as_bytes());
    let tag = tag(&key, &raw);
    raw.extend_from_slice(tag.as_ref());
    SecretString::from(URL_SAFE_NO_PAD.encode(raw))
}

/// The session id a cookie value names, if a key of the ring made it.
pub fn decode(keys: &RefreshTokens, value: &str) -> Option<Uuid> {
    if value.len() != ENCODED_LEN {
        return None;
    }
    let raw = URL_SAFE_NO_PAD.decode(value).ok()?;
    if raw.len() != RAW_LEN {
        return None;
    }
    let key = keys
        .derived_keys(KEY_LABEL)
        .into_iter()
        .find(|(id, _)| *id == raw[0])
        .map(|(_, key)| key)?;
    let mut message = Vec::with_capacity(CONTEXT.len() + 17);
    message.extend_from_slice(CONTEXT);
    message.extend_from_slice(&raw[..17]);
    // Constant-time comparison of the tag.
    hmac::verify(&key, &message, &raw[17..]).ok()?;
    Uuid::from_slice(&raw[1..17]).ok()
}

fn tag(key: &hmac::Key, body: &[u8]) -> hmac::Tag {
    let mut ctx = hmac::Context::with_key(key);
    ctx.update(CONTEXT);
    ctx.update(body);
    ctx.sign()
}

/// The browser session the cookie `value` names, if it is usable now: made
/// by a key of the ring, a `browser` row, not revoked, within both limits.
/// Using it moves its idle limit on (capped by the absolute one).
pub async fn usable(
    svc: &Services,
    value: Option<&str>,
) -> Result<Option<BrowserSession>, StoreError> {
    let Some(id) = value.and_then(|v| decode(&svc.refresh, v)) else {
        return Ok(None);
    };
    let now = svc.now();
    let mut conn = svc.store.conn().await?;
    let Some(row) = store::browser_sessions::find(&mut conn, id).await? else {
        return Ok(None);
    };
    drop(conn);
    if row.revoked_at.is_some() || now >= row.expires_at || now >= row.absolute_expires_at {
        return Ok(None);
    }
    let policy = policy(&svc.settings.browser_session);
    let idle = (now + policy.idle).min(row.absolute_expires_at);
    // Written at most once a minute: a burst of authorizations costs one write.
    if idle - row.expires_at >= Duration::minutes(1) {
        let mut conn = svc.store.write_conn().await?;
        if !store::browser_sessions::touch(&mut conn, id, idle, now).await? {
            return Ok(None);
        }
    }
    Ok(Some(BrowserSession {
        id: row.id,
        user_id: row.user_id,
        auth_time: row.auth_time.unwrap_or(row.created_at),
        methods: Methods::from(row.auth_methods),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::refresh::{RefreshClaims, RefreshKey};

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
    fn a_cookie_is_never_a_refresh_token_nor_the_reverse() {
        use secrecy::ExposeSecret;
        let keys = ring(1, &[(1, "a")]);
        let id = Uuid::new_v4();
        let cookie = cookie_value(&keys, id);
        assert_eq!(cookie.expose_secret().len(), ENCODED_LEN);
        assert_eq!(decode(&keys, cookie.expose_secret()), Some(id));
        assert_eq!(keys.decode(cookie.expose_secret()), None);
        let refresh = keys.encode(RefreshClaims {
            session: id,
            counter: 0,
        });
        assert_eq!(decode(&keys, refresh.expose_secret()), None);
        // Another ring refuses it; a rotated ring keeps accepting it.
        assert_eq!(decode(&ring(1, &[(1, "z")]), cookie.expose_secret()), None);
        let rotated = ring(2, &[(1, "a"), (2, "b")]);
        assert_eq!(decode(&rotated, cookie.expose_secret()), Some(id));
        let mut tampered = cookie.expose_secret().to_owned().into_bytes();
        tampered[10] = if tampered[10] == b'A' { b'B' } else { b'A' };
        assert_eq!(decode(&keys, std::str::from_utf8(&tampered).unwrap()), None);
    }
}
