//! What a presented token is, decided once for revocation and introspection:
//! a refresh token if the refresh codec decodes it (its key id byte and HMAC
//! hold), else an access token if it verifies now, else nothing authd
//! accepts. The `token_type_hint` of RFC 7009 and RFC 7662 is not needed: the
//! two kinds cannot be mistaken for each other.

use crate::services::Services;
use crate::tokens::AccessClaims;
use crate::tokens::refresh::RefreshClaims;

/// A presented token, classified. Made once per request and matched at once,
/// so its size does not matter.
#[allow(clippy::large_enum_variant)]
pub enum Token {
    /// One of authd's refresh tokens (not yet checked against its session).
    Refresh(RefreshClaims),
    /// A valid access token: a user's (with a session) or a client's.
    Access(AccessClaims),
    /// Unknown, forged, expired or of a key authd no longer holds.
    Unknown,
}

/// What `token` is.
pub fn classify(svc: &Services, token: &str) -> Token {
    if let Some(claims) = svc.refresh.decode(token) {
        Token::Refresh(claims)
    } else if let Ok(claims) = svc.access.verify(token, svc.now()) {
        Token::Access(claims)
    } else {
        Token::Unknown
    }
}
