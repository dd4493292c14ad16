//! Token revocation (RFC 7009): who may revoke what, and what revoking ends.
//!
//! RFC 7009 section 2.1: the server authenticates the client by its method,
//! then checks that the token was issued to it. At authd a token with a
//! session was issued to whoever holds that session (`sessions::rotate::
//! Holder`): a first-party family to authd's own public client (a request
//! with no client credentials, or naming `jwt.client_id` alone), a client
//! family (the authorization code flow) to its client, authenticated as at
//! the token endpoint (`client_family::authenticated_client`: a public client
//! by its `client_id` alone, a confidential one by its secret in its
//! registered way). A machine client's token has no session.

use uuid::Uuid;

use super::classify::{Token, classify};
use super::client_family::authenticated_client;
use super::{ClientCredentials, OAuthError};
use crate::audit::{AuditKind, RequestMeta};
use crate::clients::Client;
use crate::ids::{SessionId, UserId};
use crate::services::Services;
use crate::sessions::logout::{self, reasons};
use crate::sessions::rotate::Holder;
use crate::store;

const NOT_YOURS: &str = "this token was not issued to the authenticated client";

/// Revokes `token` for the client of `credentials`.
///
/// The caller is authenticated first (`invalid_client` on any failure, a
/// public client's id that is neither authd's own nor registered included).
/// Then the token must have been issued to it:
/// - a first-party family's refresh or access token is revoked by the first
///   party (no credentials, or authd's own `client_id`); a registered client
///   presenting it is `unauthorized_client`, as before client families;
/// - a client family's refresh or access token is revoked by its client; another
///   client (authd's own `client_id` included) is `unauthorized_client`, and
///   a request naming no client at all `invalid_client` (the client must
///   authenticate: RFC 6749 section 5.2, "no client authentication
///   included"). Nothing ends on a refusal;
/// - a machine client's own access token has no session and expires on its
///   own: `unsupported_token_type`, or `unauthorized_client` for another
///   registered client.
///
/// A refresh token ends its session (a rotated-away one is reuse and ends
/// every session of the user, as at logout); an access token ends its
/// session. A token authd does not accept is no error: there is nothing to
/// revoke.
pub async fn revoke(
    svc: &Services,
    credentials: ClientCredentials,
    token: &str,
    meta: &RequestMeta,
) -> Result<(), OAuthError> {
    let registered = authenticated_client(svc, &credentials).await?;
    let named = !matches!(credentials, ClientCredentials::None);
    let holder = match &registered {
        Some(client) => Holder::Client(&client.id),
        None => Holder::FirstParty,
    };
    match classify(svc, token) {
        Token::Refresh(claims) => {
            if issued_to(svc, claims.session, holder, named).await? {
                logout::end_by_refresh_token(svc, claims, holder, "revocation", meta).await?;
            }
            Ok(())
        }
        Token::Access(claims) => match claims.user_session() {
            Some((user, session)) => {
                if issued_to(svc, session, holder, named).await? {
                    let (session, user) = (SessionId(session), UserId(user));
                    logout::end_one(svc, session, user, AuditKind::Logout, reasons::LOGOUT, meta)
                        .await?;
                }
                Ok(())
            }
            None => machine_token(registered.as_ref(), &claims.client_id),
        },
        Token::Unknown => {
            tracing::info!("revocation of a token authd does not accept: nothing to do");
            Ok(())
        }
    }
}

/// Whether session `id`, which a presented token names, was issued to
/// `holder`, who named a client (`named`) or not: `Ok(true)` to revoke it,
/// `Ok(false)` when there is nothing to revoke, or the refusal.
///
/// Whom a session belongs to never changes, so reading it here, before the
/// revocation reads it again, decides it once. A session no longer stored
/// (swept) is judged as before client families: nothing to do for the first
/// party, not a registered client's.
async fn issued_to(
    svc: &Services,
    id: Uuid,
    holder: Holder<'_>,
    named: bool,
) -> Result<bool, OAuthError> {
    let mut conn = svc.store.conn().await?;
    let session = store::sessions::find(&mut conn, id).await?;
    drop(conn);
    let Some(session) = session else {
        return match holder {
            Holder::FirstParty => Ok(false),
            Holder::Client(_) => Err(OAuthError::UnauthorizedClient(NOT_YOURS)),
        };
    };
    if holder.holds(&session) {
        return Ok(true);
    }
    tracing::info!(session = %session.id, owner = session.client_id.as_deref(), ?holder,
        "revocation of a token issued to another client refused");
    match (holder, &session.client_id) {
        // A client family's token presented with no client at all: its
        // client must authenticate to revoke it.
        (Holder::FirstParty, Some(_)) if !named => Err(OAuthError::InvalidClient),
        (Holder::FirstParty, Some(_)) => Err(OAuthError::UnauthorizedClient(
            "this token was issued to a registered client: only that client may revoke it",
        )),
        _ => Err(OAuthError::UnauthorizedClient(NOT_YOURS)),
    }
}

/// The answer for a machine client's own access token.
fn machine_token(registered: Option<&Client>, issued_to: &str) -> Result<(), OAuthError> {
    match registered {
        Some(client) if client.id != issued_to => Err(OAuthError::UnauthorizedClient(NOT_YOURS)),
        _ => Err(OAuthError::UnsupportedTokenType(
            "a client's access token has no session to revoke; it expires on its own",
        )),
    }
}
