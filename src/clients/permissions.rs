//! What a caller may do at authd: one typed set of permissions, shared by
//! registered clients (held as scopes with the reserved prefix `authd:`) and,
//! later, by users' admin roles. A permission is checked by authd's endpoints
//! and never granted in an access token: a service's feed credentials cannot
//! mint a token.

/// Scopes starting with this are authd's permissions, never token scopes.
pub const PREFIX: &str = "authd:";

/// Every permission a caller of authd can hold. The stored form
/// ([`Permission::name`]) is part of the API: clients hold it in their scopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// `authd:introspect`: `POST /oauth/introspect`.
    Introspect,
    /// `authd:revocations`: `GET /auth/revocations`, entries keyed by session
    /// id (and, for user entries, by a hash of the user id).
    Revocations,
    /// `authd:revocations:sub`: `GET /auth/revocations` with user ids (`sub`)
    /// in the entries.
    RevocationsSub,
    /// `authd:admin:users:read`: the admin API's reads of users (`GET
    /// /admin/users...`).
    AdminUsersRead,
    /// `authd:admin:users:write`: the admin API's changes to users (ending
    /// their sessions, ...). It does not imply the reads.
    AdminUsersWrite,
    /// `authd:admin:clients`: the admin API's management of clients.
    AdminClients,
    /// `authd:admin:webhooks`: the admin API's management of webhook
    /// endpoints and their secrets (`/admin/webhooks`).
    AdminWebhooks,
}

impl Permission {
    /// Every permission there is.
    pub const ALL: &[Permission] = &[
        Self::Introspect,
        Self::Revocations,
        Self::RevocationsSub,
        Self::AdminUsersRead,
        Self::AdminUsersWrite,
        Self::AdminClients,
        Self::AdminWebhooks,
    ];

    /// The stored form, a scope in authd's namespace.
    pub fn name(self) -> &'static str {
        match self {
            Self::Introspect => "authd:introspect",
            Self::Revocations => "authd:revocations",
            Self::RevocationsSub => "authd:revocations:sub",
            Self::AdminUsersRead => "authd:admin:users:read",
            Self::AdminUsersWrite => "authd:admin:users:write",
            Self::AdminClients => "authd:admin:clients",
            Self::AdminWebhooks => "authd:admin:webhooks",
        }
    }

    /// Whether it is one of the admin API's, which a role may grant
    /// (`admin.roles`).
    pub fn is_admin(self) -> bool {
        matches!(
            self,
            Self::AdminUsersRead | Self::AdminUsersWrite | Self::AdminClients | Self::AdminWebhooks
        )
    }

    /// The permission a stored scope names; `None` for any other scope,
    /// including a misspelt one in authd's namespace.
    pub fn parse(scope: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|p| p.name() == scope)
    }
}

impl std::fmt::Display for Permission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Whether `scope` is in authd's reserved namespace.
pub fn is_reserved(scope: &str) -> bool {
    scope.starts_with(PREFIX)
}

/// The names of every permission, for messages: `authd:introspect, ...`.
pub fn all_names() -> String {
    Permission::ALL
        .iter()
        .map(|p| p.name())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_permission_parses_back_from_its_name_in_the_reserved_namespace() {
        for &p in Permission::ALL {
            assert_eq!(Permission::parse(p.name()), Some(p));
            assert!(is_reserved(p.name()), "{p}");
        }
        assert_eq!(Permission::parse("authd:admin"), None);
        assert_eq!(Permission::parse("authd:admin:users"), None);
        assert_eq!(Permission::parse("read"), None);
    }
}
