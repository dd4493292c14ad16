//! ADAPTERS FOR THE COORDINATOR TO CONNECT AT MERGE. The code grant
//! (`oauth::grants`) reaches what other branches of issue 17 build only
//! through these functions, each standing in for its counterpart with what
//! exists on this branch:
//!
//! - [`token_client`]: who the client of a token request is, and whether it
//!   must use PKCE. Today every registered client has a secret (a machine
//!   client), so it is taken as confidential; a public `client_id` other
//!   than authd's own is `invalid_client`. To connect: the client kinds of
//!   `clients` (public: `client_id` alone; confidential: its secret; machine:
//!   `unauthorized_client` on the code and refresh grants) and its
//!   `pkce_required`.
//! - [`sign_in_method`]: the stored sign-in methods of a code as the
//!   session's one method. To connect: the methods set behind `amr` (helper
//!   signin), stored on the family as they are on the code.
//! - [`access_token`]: the RFC 9068 client-user access token. To connect:
//!   `oidc`'s client-user access tokens, if they differ.
//! - [`id_token`]: a minimal OpenID Connect ID token signed with the access
//!   tokens' key. To connect: `oidc`'s ID token signer (the client's
//!   algorithm, `acr`, `email`/`email_verified` by scope).

use chrono::{DateTime, Utc};
use jsonwebtoken::Header;
use serde::Serialize;
use uuid::Uuid;

use super::permissions::registered_client;
use super::{ClientCredentials, OAuthError};
use crate::services::Services;
use crate::sessions::{AuthMethod, Session};
use crate::tokens::access::{ClientUserGrant, SignedAccessToken};

/// The client of a token request, authenticated by its method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenClient {
    pub id: String,
    /// Codes of this client must carry a PKCE challenge.
    pub pkce_required: bool,
}

/// The registered client `credentials` prove, or `None` for authd's own
/// first-party client (no credentials, or its `client_id` alone).
pub async fn token_client(
    svc: &Services,
    credentials: &ClientCredentials,
) -> Result<Option<TokenClient>, OAuthError> {
    match credentials {
        ClientCredentials::None => Ok(None),
        ClientCredentials::Public(id) if *id == svc.settings.jwt.client_id => Ok(None),
        // ADAPTER: no public clients are registered on this branch.
        ClientCredentials::Public(_) => Err(OAuthError::InvalidClient),
        ClientCredentials::Secret { id, secret } => {
            let client = registered_client(svc, id, secret).await?;
            Ok(Some(TokenClient {
                id: client.id,
                // ADAPTER: the authorize endpoint requires PKCE of every
                // client by default; an exempted confidential client is
                // known only with the client kinds.
                pkce_required: false,
            }))
        }
    }
}

/// The one sign-in method a session holds today, from the stored names of a
/// code's methods (`password`, `email_code`, `email_link`, ...): a password
/// if one was used, else an emailed code or link.
pub fn sign_in_method(methods: &str) -> AuthMethod {
    if methods.split(' ').any(|m| m == "password" || m == "pwd") {
        AuthMethod::Password
    } else {
        AuthMethod::Otp
    }
}

/// The access token of a client family, carrying `scope` (the family's, or a
/// narrower one asked for at a refresh).
pub fn access_token(
    svc: &Services,
    session: &Session,
    client_id: &str,
    scope: &str,
) -> Result<SignedAccessToken, OAuthError> {
    svc.access
        .issue_for_client(
            &ClientUserGrant {
                client_id,
                scope,
                user: session.user_id,
                session: session.id,
                auth_time: session.authenticated_at(),
                method: session.auth_method.as_str(),
            },
            svc.now(),
        )
        .map_err(OAuthError::internal)
}

/// What an ID token says of a sign-in.
pub struct IdTokenFor<'a> {
    pub session: &'a Session,
    pub client_id: &'a str,
    pub nonce: Option<&'a str>,
}

#[derive(Serialize)]
struct IdClaims<'a> {
    iss: &'a str,
    sub: String,
    aud: &'a str,
    exp: i64,
    iat: i64,
    auth_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
    amr: [&'a str; 1],
    azp: &'a str,
    sid: Uuid,
}

/// An ID token (OpenID Connect Core section 2) for `what`, issued `now`.
pub fn id_token(svc: &Services, what: &IdTokenFor<'_>) -> Result<String, OAuthError> {
    let now: DateTime<Utc> = svc.now();
    let claims = IdClaims {
        iss: svc.access.issuer(),
        sub: what.session.user_id.to_string(),
        aud: what.client_id,
        exp: (now + svc.access.ttl()).timestamp(),
        iat: now.timestamp(),
        auth_time: what.session.authenticated_at().timestamp(),
        nonce: what.nonce,
        amr: [what.session.auth_method.as_str()],
        azp: what.client_id,
        sid: what.session.id,
    };
    let key = svc.access.keys().signer();
    let mut header = Header::new(key.alg);
    header.kid = Some(key.kid.clone());
    let encoding = key
        .encoding()
        .ok_or_else(|| OAuthError::internal(anyhow::anyhow!("the signing key cannot sign")))?;
    jsonwebtoken::encode(&header, &claims, encoding).map_err(OAuthError::internal)
}
