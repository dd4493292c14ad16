//! What a route may demand of verified claims beyond their validity: a
//! scope ([`Claims::require_scope`]) or a role ([`Claims::require_role`]).
//! The refusals answer `403` through the actix extractors
//! (`RequireScope`, `RequireRole`) or a handler's `?`.

use serde_json::Value;

use crate::Claims;

/// The claim authd puts a user's roles in unless its operator set
/// `tokens.roles_claim` to another name.
pub const DEFAULT_ROLES_CLAIM: &str = "roles";

/// A token without a scope a route needs: `403 insufficient_scope`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("token lacks scope {scope:?}")]
pub struct InsufficientScope {
    /// The scope that was required.
    pub scope: String,
}

/// A token whose user lacks a role a route needs (or a machine client's
/// token, which has no roles): `403 insufficient_role`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("token lacks role {role:?}")]
pub struct InsufficientRole {
    /// The role that was required.
    pub role: String,
}

impl Claims {
    /// The user's roles under `claim` (authd's `tokens.roles_claim`), in
    /// the token's order; none when the claim is absent or not an array of
    /// strings (authd leaves it out for a user without roles). Roles are as
    /// of the token's issue: a change reaches the user's next token.
    pub fn roles_in<'a>(&'a self, claim: &str) -> impl Iterator<Item = &'a str> + use<'a> {
        let items = match self.raw.get(claim) {
            Some(Value::Array(items)) => items.as_slice(),
            _ => &[],
        };
        items.iter().filter_map(Value::as_str)
    }

    /// The user's roles under the default claim, `roles`.
    pub fn roles(&self) -> impl Iterator<Item = &str> {
        self.roles_in(DEFAULT_ROLES_CLAIM)
    }

    /// Whether the roles under `claim` list `role` (exact match).
    pub fn has_role_in(&self, claim: &str, role: &str) -> bool {
        self.roles_in(claim).any(|r| r == role)
    }

    /// Whether the roles under the default claim, `roles`, list `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.has_role_in(DEFAULT_ROLES_CLAIM, role)
    }

    /// `Ok` when [`has_role`](Self::has_role); otherwise the refusal (`403`
    /// through actix-web).
    pub fn require_role(&self, role: &str) -> Result<(), InsufficientRole> {
        self.require_role_in(DEFAULT_ROLES_CLAIM, role)
    }

    /// `Ok` when [`has_role_in`](Self::has_role_in); otherwise the refusal.
    pub fn require_role_in(&self, claim: &str, role: &str) -> Result<(), InsufficientRole> {
        if self.has_role_in(claim, role) {
            Ok(())
        } else {
            Err(InsufficientRole {
                role: role.to_owned(),
            })
        }
    }

    /// `Ok` when [`has_scope`](Self::has_scope); otherwise the refusal
    /// (`403 insufficient_scope` through actix-web).
    pub fn require_scope(&self, scope: &str) -> Result<(), InsufficientScope> {
        if self.has_scope(scope) {
            Ok(())
        } else {
            Err(InsufficientScope {
                scope: scope.to_owned(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Map, json};

    use super::*;

    fn claims(extra: Value) -> Claims {
        let mut raw = Map::new();
        if let Value::Object(extra) = extra {
            raw.extend(extra);
        }
        Claims {
            sub: "u-1".into(),
            sid: Some("s-1".into()),
            client_id: "authd".into(),
            scope: raw.get("scope").and_then(Value::as_str).map(str::to_owned),
            iss: "https://auth.example.com".into(),
            exp: 2,
            iat: 1,
            nbf: None,
            auth_time: Some(1),
            amr: vec!["pwd".into()],
            acr: Some("1".into()),
            jti: "j-1".into(),
            raw,
        }
    }

    #[test]
    fn roles_are_read_from_the_default_claim() {
        let c = claims(json!({ "roles": ["admin", "billing:read"] }));
        assert_eq!(c.roles().collect::<Vec<_>>(), ["admin", "billing:read"]);
        assert!(c.has_role("admin"));
        assert!(!c.has_role("adm"), "exact match only");
        assert!(!c.has_role("Admin"));
        assert_eq!(c.require_role("admin"), Ok(()));
        assert_eq!(
            c.require_role("support"),
            Err(InsufficientRole {
                role: "support".into()
            })
        );
    }

    #[test]
    fn roles_under_another_claim_are_read_only_there() {
        let c = claims(json!({ "https://example.com/roles": ["admin"] }));
        assert!(c.has_role_in("https://example.com/roles", "admin"));
        assert!(
            c.require_role_in("https://example.com/roles", "admin")
                .is_ok()
        );
        assert!(!c.has_role("admin"), "not under the default name");
        assert!(c.require_role("admin").is_err());
    }

    #[test]
    fn no_roles_or_a_malformed_claim_grant_nothing() {
        for extra in [
            json!({}),
            json!({ "roles": "admin" }),
            json!({ "roles": { "admin": true } }),
            json!({ "roles": [1, null, ["admin"]] }),
        ] {
            let c = claims(extra.clone());
            assert!(!c.has_role("admin"), "{extra}");
            assert_eq!(c.roles().count(), 0, "{extra}");
        }
        // Strings among other values still count.
        assert!(claims(json!({ "roles": [1, "admin"] })).has_role("admin"));
    }

    #[test]
    fn scopes_are_required_by_exact_item() {
        let c = claims(json!({ "scope": "reports:read orders" }));
        assert!(c.require_scope("orders").is_ok());
        assert!(c.require_scope("reports:read").is_ok());
        assert_eq!(
            c.require_scope("reports"),
            Err(InsufficientScope {
                scope: "reports".into()
            })
        );
        assert!(claims(json!({})).require_scope("orders").is_err());
    }
}
