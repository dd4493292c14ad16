//! The authorization code grant of `POST /oauth/token` (RFC 6749 section
//! 4.1.3, OAuth 2.1, OpenID Connect Core section 3.1.3): the client
//! authenticated by its method, the code redeemed (`codes::redeem`: bound
//! client, `redirect_uri`, PKCE, single use), then a client family started
//! like a login's session and its tokens.
//!
//! What is issued, by the scopes granted:
//! - always an access token for the client (RFC 9068: `client_id`, `scope`,
//!   `aud`), whose `sid` is the family, so it is revoked and listed in the
//!   revocation feed like any session's;
//! - an ID token with `openid`;
//! - a refresh token with `offline_access`, and with nothing else: no client
//!   kind, setting or other scope grants one. Without it the family still
//!   exists (it is what the access token's `sid` names, and what a second
//!   presentation of the code ends), but its refresh token is never handed
//!   out. Such a family lives exactly as long as its access token.

use secrecy::SecretString;

use super::client_family::{self, token_client};
use super::codes::{self, PresentedCode, Redeemed};
use super::{ClientCredentials, OAuthError};
use crate::audit::RequestMeta;
use crate::clients::Client;
use crate::services::Services;
use crate::sessions::{self, ClientBinding, Methods, Session};
use crate::tokens::refresh::RefreshClaims;

/// The scope that asks for an ID token (OpenID Connect Core section 3.1.2.1).
pub const OPENID: &str = "openid";
/// The scope that asks for a refresh token (OpenID Connect Core section 11).
pub const OFFLINE_ACCESS: &str = "offline_access";

/// An `authorization_code` request of the token endpoint.
pub struct CodeRequest<'a> {
    pub credentials: &'a ClientCredentials,
    pub code: &'a str,
    pub redirect_uri: Option<&'a str>,
    pub code_verifier: Option<&'a str>,
    pub meta: &'a RequestMeta,
}

/// The tokens of a client family (RFC 6749 section 5.1).
pub struct ClientTokens {
    pub access_token: String,
    pub expires_in: i64,
    /// The scope of the access token, space-separated.
    pub scope: String,
    pub id_token: Option<String>,
    pub refresh_token: Option<SecretString>,
}

/// Which answer [`client_tokens`] makes.
pub enum Issue<'a> {
    /// At the code grant: an ID token with `openid` (carrying the code's
    /// nonce), a refresh token with `offline_access`.
    Code { nonce: Option<&'a str> },
    /// At a refresh of the family: its next refresh token, no ID token.
    Refresh,
}

fn has_scope(list: &str, scope: &str) -> bool {
    list.split(' ').any(|s| s == scope)
}

/// The grant: a registered client authenticated by its method (no
/// credentials, or authd's own first-party client: `invalid_client`), the
/// code redeemed for it, and in the transaction that spent the code the
/// client family started (`sessions::start_for_client`: the user's lock and
/// session cap of a login) and recorded on the code.
pub async fn authorization_code(
    svc: &Services,
    request: CodeRequest<'_>,
) -> Result<ClientTokens, OAuthError> {
    let client = token_client(svc, request.credentials)
        .await?
        .ok_or(OAuthError::InvalidClient)?;
    let presented = PresentedCode {
        code: request.code,
        client_id: &client.id,
        redirect_uri: request.redirect_uri,
        code_verifier: request.code_verifier,
        pkce_required: client.require_pkce,
    };
    let Redeemed { mut tx, code } = codes::redeem(svc, &presented, request.meta).await?;
    // An ID token that cannot be signed is refused before anything is
    // written: dropping `tx` leaves the code unspent.
    if has_scope(&code.scope, OPENID) {
        client_family::id_token_alg(svc, &client)?;
    }
    // Without offline_access nothing can refresh the family: it lives as
    // long as its access token, and so leaves the per-user session cap then
    // (an SPA renewing through the browser session makes one per renewal).
    let (idle_secs, absolute_secs) = if has_scope(&code.scope, OFFLINE_ACCESS) {
        (client.refresh_idle_secs, client.refresh_absolute_secs)
    } else {
        let access = svc.access.ttl().num_seconds();
        let access = client
            .access_token_ttl_secs
            .map_or(access, |own| own.min(access));
        (Some(access), Some(access))
    };
    let binding = ClientBinding {
        client_id: code.client_id.clone(),
        scope: code.scope.clone(),
        browser_session_id: code.browser_session_id,
        auth_time: code.auth_time,
        idle_secs,
        absolute_secs,
    };
    let started = sessions::start_for_client(
        &mut tx,
        &svc.policy,
        code.user_id,
        svc.now(),
        request.meta,
        Methods::from(code.methods.clone()),
        &binding,
    )
    .await?;
    // A code issued before its user was disabled: `start_for_client` holds
    // the user's lock, so the disabling either committed before (refused
    // here, nothing written) or waits and ends this family with the rest.
    if crate::store::users::disabled_at(&mut tx, code.user_id)
        .await?
        .is_some()
    {
        tracing::info!(user = %code.user_id, "authorization code refused: the account is disabled");
        return Err(OAuthError::InvalidGrant("the account is disabled"));
    }
    codes::record_family(&mut tx, &code, started.session.id).await?;
    // The ID token's `sid` is the browser session: the client is told when
    // it ends (`oidc::backchannel`).
    if has_scope(&code.scope, OPENID) {
        crate::oidc::backchannel::signed_in(
            svc,
            &mut tx,
            code.browser_session_id,
            &client.id,
            code.user_id,
        )
        .await?;
    }
    tx.commit().await?;
    if started.evicted > 0 {
        tracing::info!(user = %code.user_id, evicted = started.evicted, "session cap reached: the oldest sessions ended");
        svc.metrics
            .revoked(sessions::logout::reasons::SESSION_LIMIT, started.evicted);
    }
    tracing::info!(client = %client.id, user = %code.user_id, session = %started.session.id,
        "authorization code redeemed: client family started");
    client_tokens(
        svc,
        &started.session,
        &client,
        &code.scope,
        &Issue::Code {
            nonce: code.nonce.as_deref(),
        },
    )
    .await
}

/// The tokens of client family `session` for `client_id`, the access token
/// carrying `scope` (the family's, or narrower at a refresh).
pub async fn client_tokens(
    svc: &Services,
    session: &Session,
    client: &Client,
    scope: &str,
    issue: &Issue<'_>,
) -> Result<ClientTokens, OAuthError> {
    let granted = session.scope.as_deref().unwrap_or_default();
    // Read now: a change of roles or app_metadata reaches the family's
    // tokens at their next issue.
    let extra = crate::accounts::claims::of_user(svc, session.user_id).await?;
    let access = client_family::access_token(svc, session, client, scope, &extra)?;
    let id_token = match issue {
        Issue::Code { nonce } if has_scope(granted, OPENID) => {
            Some(client_family::id_token(svc, session, client, *nonce, &access.token, extra).await?)
        }
        Issue::Code { .. } | Issue::Refresh => None,
    };
    let refresh_token = has_scope(granted, OFFLINE_ACCESS).then(|| {
        svc.refresh.encode(RefreshClaims {
            session: session.id,
            counter: session.counter,
        })
    });
    Ok(ClientTokens {
        access_token: access.token,
        expires_in: access.expires_in,
        scope: scope.to_owned(),
        id_token,
        refresh_token,
    })
}
