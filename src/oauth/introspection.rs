//! Token introspection (RFC 7662): when a token is active and what the
//! answer says of it. Who may ask is `permissions::introspector`.

use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use super::OAuthError;
use super::classify::{Token, classify};
use crate::accounts;
use crate::clients;
use crate::error::ServiceError;
use crate::services::Services;
use crate::sessions;
use crate::tokens::AccessClaims;
use crate::tokens::refresh::RefreshClaims;

/// RFC 7662 section 2.2. Inactive tokens are `{"active": false}` only.
#[derive(Debug, Serialize, Default, ToSchema)]
pub struct Introspection {
    pub active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id: Option<String>,
    /// `Bearer` for access tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    token_type: Option<&'static str>,
    /// authd's extension: `access_token` or `refresh_token`.
    #[serde(skip_serializing_if = "Option::is_none")]
    token_use: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    iat: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    aud: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    iss: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    jti: Option<String>,
    /// authd's extension: the session of a user's token.
    #[serde(skip_serializing_if = "Option::is_none")]
    sid: Option<Uuid>,
    /// authd's extension, for a user's access token: whether the user's
    /// address is verified now (read with the session's check).
    #[serde(skip_serializing_if = "Option::is_none")]
    email_verified: Option<bool>,
    /// How the user signed in to a user's token's session (RFC 8176).
    #[serde(skip_serializing_if = "Option::is_none")]
    amr: Option<Vec<String>>,
    /// The level that sign-in reached: `"2"` with a second factor, `"1"`
    /// without.
    #[serde(skip_serializing_if = "Option::is_none")]
    acr: Option<String>,
    /// The claims from the account, under their configured names
    /// (`tokens.roles_claim`, `tokens.app_metadata_claim`): an access token's
    /// own, as it was issued; for a refresh token, the account's now, which
    /// the next access token of the family will carry.
    #[serde(flatten)]
    #[schema(ignore)]
    extra: Map<String, Value>,
}

/// What introspection answers of `token`. An access token is active while it
/// verifies and, for a user's token, while its session is live (for a machine
/// client's token, while its client is registered); a refresh token while it
/// is its session's current token. Asking spends and rotates nothing.
///
/// Any client holding `authd:introspect` may introspect any token, whoever it
/// was issued to (a gateway in front of several services): the answer names
/// the client it was issued to (`client_id`: the app of a client family, or
/// `jwt.client_id` for authd's own sessions) and, for an app's token, the
/// scopes granted (`scope`), so the caller decides whether it accepts it.
pub async fn introspect(svc: &Services, token: &str) -> Result<Introspection, OAuthError> {
    match classify(svc, token) {
        Token::Refresh(claims) => introspect_refresh(svc, claims).await,
        Token::Access(claims) => introspect_access(svc, claims).await,
        Token::Unknown => Ok(Introspection::default()),
    }
}

async fn introspect_access(
    svc: &Services,
    claims: AccessClaims,
) -> Result<Introspection, OAuthError> {
    // A user's token: the session's check and the user in one query.
    let (live, email_verified) = match claims.user_session() {
        Some((user, session)) => match accounts::user_of_live_session(svc, user, session).await {
            Ok(user) => (true, Some(user.email_verified)),
            Err(ServiceError::SessionEnded) => (false, None),
            Err(e) => return Err(e.into()),
        },
        // A machine client's token lives while its client is registered.
        None => (clients::exists(&svc.store, &claims.client_id).await?, None),
    };
    if !live {
        return Ok(Introspection::default());
    }
    Ok(Introspection {
        active: true,
        scope: claims.scope,
        client_id: Some(claims.client_id),
        token_type: Some("Bearer"),
        token_use: Some("access_token"),
        exp: Some(claims.exp),
        iat: Some(claims.iat),
        sub: Some(claims.sub),
        aud: Some(claims.aud),
        iss: Some(claims.iss),
        jti: Some(claims.jti.to_string()),
        sid: claims.sid,
        email_verified,
        amr: (!claims.amr.is_empty()).then_some(claims.amr),
        acr: claims.acr,
        extra: account_claims(svc, claims.extra),
    })
}

async fn introspect_refresh(
    svc: &Services,
    claims: RefreshClaims,
) -> Result<Introspection, OAuthError> {
    let Some(session) = sessions::current_of(svc, claims).await? else {
        return Ok(Introspection::default());
    };
    // A client family's token was issued to its client, with its scopes; a
    // first-party family's to authd's own client, with none.
    let client_id = session
        .client_id
        .clone()
        .unwrap_or_else(|| svc.settings.jwt.client_id.clone());
    Ok(Introspection {
        active: true,
        scope: session.scope.clone(),
        client_id: Some(client_id),
        token_use: Some("refresh_token"),
        exp: Some(session.expires_at.timestamp()),
        iat: Some(session.last_rotated_at.timestamp()),
        sub: Some(session.user_id.to_string()),
        iss: Some(svc.settings.issuer().to_owned()),
        sid: Some(session.id),
        acr: Some(session.auth_methods.acr().to_owned()),
        amr: Some(session.auth_methods.amr()),
        extra: accounts::claims::of_user(svc, session.user_id).await?,
        ..Introspection::default()
    })
}

/// Of an access token's other claims, the ones from the account under the
/// names configured now; nothing else a token may carry is echoed.
fn account_claims(svc: &Services, mut extra: Map<String, Value>) -> Map<String, Value> {
    let settings = &svc.settings.tokens;
    let names = std::iter::once(&settings.roles_claim).chain(&settings.app_metadata_claim);
    names
        .filter_map(|name| extra.remove_entry(name.as_str()))
        .collect()
}
