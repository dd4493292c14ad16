//! Typed identifiers: a user, a session and a client are different things,
//! and functions that take two of them (`(user, session)`) cannot be called
//! with them swapped. Each is stored and serialized as the value it wraps
//! (`sqlx` and `serde` transparent), and displays as it.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A user (`users.id`, an access token's `sub`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, sqlx::Type,
)]
#[serde(transparent)]
#[sqlx(transparent)]
pub struct UserId(pub Uuid);

/// A session (`sessions.id`, an access token's `sid`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, sqlx::Type,
)]
#[serde(transparent)]
#[sqlx(transparent)]
pub struct SessionId(pub Uuid);

/// An OAuth client (`oauth_clients.id`, a token's `client_id`).
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, sqlx::Type,
)]
#[serde(transparent)]
#[sqlx(transparent)]
pub struct ClientId(pub String);

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl ClientId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_serialize_and_display_as_the_value_they_wrap() {
        let uuid = Uuid::new_v4();
        let user = UserId(uuid);
        assert_eq!(user.to_string(), uuid.to_string());
        assert_eq!(
            serde_json::to_value(SessionId(uuid)).unwrap(),
            serde_json::json!(uuid.to_string())
        );
        let client: ClientId = serde_json::from_value(serde_json::json!("reports")).unwrap();
        assert_eq!(client.as_str(), "reports");
        assert_eq!(client.to_string(), "reports");
    }
}
