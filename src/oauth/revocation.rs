//! Token revocation (RFC 7009): who may revoke what, and what revoking ends.

use super::classify::{Token, classify};
use super::permissions::registered_client;
use super::{ClientCredentials, OAuthError};
use crate::audit::{AuditKind, RequestMeta};
use crate::services::Services;
use crate::sessions::logout::{self, reasons};

const NOT_YOURS: &str = "this token was not issued to the authenticated client";

/// Revokes `token` for the client of `credentials`.
///
/// Public clients revoke by presenting the token, naming at most authd's own
/// `client_id` (another is `invalid_client`); a registered client's
/// credentials, if sent, must hold, and it may revoke only its own tokens
/// (RFC 7009 section 2.1): a user's token is `unauthorized_client`, and its
/// own access token, which has no session and expires on its own,
/// `unsupported_token_type`. A refresh token ends its session (a rotated-away
/// one is reuse and ends every session of the user); a user's access token
/// ends its session. A token authd does not accept is no error: there is
/// nothing to revoke.
pub async fn revoke(
    svc: &Services,
    credentials: ClientCredentials,
    token: &str,
    meta: &RequestMeta,
) -> Result<(), OAuthError> {
    let registered = match credentials {
        ClientCredentials::Secret { id, secret, .. } => {
            Some(registered_client(svc, &id, &secret).await?)
        }
        ClientCredentials::Public(id) if id != svc.settings.jwt.client_id => {
            return Err(OAuthError::InvalidClient);
        }
        ClientCredentials::Public(_) | ClientCredentials::None => None,
    };
    match classify(svc, token) {
        Token::Refresh(_) if registered.is_some() => Err(OAuthError::UnauthorizedClient(NOT_YOURS)),
        Token::Refresh(claims) => {
            logout::end_by_refresh_token(svc, claims, "revocation", meta).await?;
            Ok(())
        }
        Token::Access(claims) => match (claims.user_session(), &registered) {
            (Some(_), Some(_)) => Err(OAuthError::UnauthorizedClient(NOT_YOURS)),
            (Some((user, session)), None) => {
                logout::end_one(svc, session, user, AuditKind::Logout, reasons::LOGOUT, meta)
                    .await?;
                Ok(())
            }
            (None, Some(client)) if client.id != claims.client_id => {
                Err(OAuthError::UnauthorizedClient(NOT_YOURS))
            }
            (None, _) => Err(OAuthError::UnsupportedTokenType(
                "a client's access token has no session to revoke; it expires on its own",
            )),
        },
        Token::Unknown => {
            tracing::info!("revocation of a token authd does not accept: nothing to do");
            Ok(())
        }
    }
}
