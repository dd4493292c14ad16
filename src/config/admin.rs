//! The `[admin]` settings: which roles open the admin API to the users
//! holding them.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::ConfigError;
use crate::clients::Permission;
use crate::domain::Role;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminSettings {
    /// Roles that make their users admins: a role name, and the admin
    /// permissions it grants (`authd:admin:users:read`,
    /// `authd:admin:users:write`, `authd:admin:clients`,
    /// `authd:admin:webhooks`). Empty by default:
    /// no user is an admin until the operator names a role here and gives it
    /// to someone (`authd users roles EMAIL --add R`). Such a user also needs
    /// a second factor, used within `mfa.step_up_max_age_secs`, for every
    /// admin request.
    pub roles: BTreeMap<String, Vec<String>>,
}

impl AdminSettings {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        for (role, permissions) in &self.roles {
            if Role::parse(role).is_err() {
                return Err(ConfigError::invalid(
                    "admin.roles",
                    format!("{role:?} is not a role name (a-z, 0-9, _ : . -, 1 to 64)"),
                ));
            }
            for name in permissions {
                match Permission::parse(name) {
                    Some(p) if p.is_admin() => {}
                    _ => {
                        return Err(ConfigError::invalid(
                            "admin.roles",
                            format!(
                                "role {role:?}: {name:?} is not an admin permission \
                                 (authd:admin:users:read, authd:admin:users:write, authd:admin:clients, \
                                 authd:admin:webhooks)"
                            ),
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// Whether one of `roles` grants `needed`.
    pub fn grants(&self, roles: &[String], needed: Permission) -> bool {
        roles.iter().any(|role| {
            self.roles
                .get(role)
                .is_some_and(|granted| granted.iter().any(|p| p == needed.name()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(role: &str, permissions: &[&str]) -> AdminSettings {
        AdminSettings {
            roles: BTreeMap::from([(
                role.to_owned(),
                permissions.iter().map(|p| (*p).to_owned()).collect(),
            )]),
        }
    }

    #[test]
    fn a_role_grants_only_the_admin_permissions_it_names() {
        let s = settings("support", &["authd:admin:users:read"]);
        assert!(s.validate().is_ok());
        let roles = vec!["support".to_owned()];
        assert!(s.grants(&roles, Permission::AdminUsersRead));
        assert!(!s.grants(&roles, Permission::AdminUsersWrite));
        assert!(!s.grants(&["other".to_owned()], Permission::AdminUsersRead));
        assert!(!AdminSettings::default().grants(&roles, Permission::AdminUsersRead));
    }

    #[test]
    fn start_up_refuses_a_bad_role_or_a_permission_that_is_not_an_admins() {
        for (role, permission) in [
            ("Support", "authd:admin:users:read"),
            ("support", "authd:introspect"),
            ("support", "authd:admin:users"),
            ("support", "orders:read"),
        ] {
            let error = settings(role, &[permission])
                .validate()
                .unwrap_err()
                .to_string();
            assert!(error.contains("admin.roles"), "{error}");
        }
    }
}
