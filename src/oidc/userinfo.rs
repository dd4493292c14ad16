//! The userinfo endpoint's answer (OpenID Connect Core 1.0 section 5.3):
//! the claims about the user of an access token a client obtained with the
//! `openid` scope.
//!
//! The token is checked like every access token (signature, `typ`, issuer,
//! audience, times), must be a user's (a machine client's token names no
//! user), must carry `openid`, and its session must be live: a token of a
//! session that ended is refused at once, as on authd's own Bearer routes.
//! The answer has `sub` (the ID token's) and, with the `email` scope,
//! `email` and `email_verified`.

use serde::Serialize;
use utoipa::ToSchema;

use super::{EMAIL, OPENID, has_scope, subject};
use crate::error::ServiceError;
use crate::services::Services;
use crate::store;

/// The claims of the userinfo answer.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, ToSchema)]
pub struct UserInfo {
    /// The user: the same `sub` as in the ID token.
    pub sub: String,
    /// With the `email` scope.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// With the `email` scope: whether the address was proven.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
}

/// Why a token gets no answer (RFC 6750 section 3.1).
#[derive(Debug, thiserror::Error)]
pub enum UserInfoError {
    /// 401 `invalid_token`: not a valid access token of a user, or its
    /// session has ended.
    #[error("the access token is invalid, expired or revoked")]
    InvalidToken,
    /// 403 `insufficient_scope`: a valid user's token without `openid`.
    #[error("the access token was not granted the openid scope")]
    InsufficientScope,
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl From<store::StoreError> for UserInfoError {
    fn from(e: store::StoreError) -> Self {
        Self::Service(e.into())
    }
}

/// The claims for the presented access token `token`.
pub async fn userinfo(svc: &Services, token: &str) -> Result<UserInfo, UserInfoError> {
    let now = svc.now();
    let claims = svc.access.verify(token, now).map_err(|e| {
        tracing::info!(reason = %e, "userinfo: access token refused");
        UserInfoError::InvalidToken
    })?;
    let Some((user, session)) = claims.user_session() else {
        tracing::info!(client = %claims.client_id, "userinfo: a machine client's token refused");
        return Err(UserInfoError::InvalidToken);
    };
    let scope = claims.scope.as_deref().unwrap_or("");
    if !has_scope(scope, OPENID) {
        tracing::info!(client = %claims.client_id, "userinfo: a token without the openid scope refused");
        return Err(UserInfoError::InsufficientScope);
    }
    let mut conn = svc.store.conn().await?;
    let Some(user) = store::users::find_by_live_session(&mut conn, session, user, now).await?
    else {
        tracing::info!(%session, "userinfo: access token of an ended session refused");
        return Err(UserInfoError::InvalidToken);
    };
    Ok(claims_of(&user, scope))
}

/// The claims of `user` that the granted `scope` allows.
pub fn claims_of(user: &store::users::User, scope: &str) -> UserInfo {
    let email = has_scope(scope, EMAIL);
    UserInfo {
        sub: subject(user.id),
        email: email.then(|| user.email.clone()),
        email_verified: email.then_some(user.email_verified),
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use uuid::Uuid;

    use super::*;
    use crate::store::users::User;

    #[test]
    fn email_claims_come_with_the_email_scope_only() {
        let user = User {
            id: Uuid::new_v4(),
            email: "ada@example.com".into(),
            email_verified: false,
            created_at: Utc::now(),
        };
        let bare = claims_of(&user, "openid");
        assert_eq!(bare.sub, user.id.to_string());
        assert_eq!(
            serde_json::to_value(&bare).unwrap(),
            serde_json::json!({ "sub": user.id.to_string() })
        );
        let with_email = claims_of(&user, "openid email");
        assert_eq!(with_email.email.as_deref(), Some("ada@example.com"));
        assert_eq!(with_email.email_verified, Some(false));
    }
}
