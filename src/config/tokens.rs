//! The `[tokens]` settings: the claims authd adds to a user's access and ID
//! tokens from what operators set on the account (`accounts::roles`,
//! `accounts::app_metadata`).

use serde::Deserialize;

use super::ConfigError;

/// Claims authd itself sets in access or ID tokens (RFC 7519, RFC 9068,
/// OpenID Connect Core): a configured claim may not take one of their names.
const RESERVED: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "nbf",
    "jti",
    "sid",
    "auth_time",
    "client_id",
    "scope",
    "amr",
    "acr",
    "azp",
    "nonce",
    "at_hash",
    "c_hash",
    "email",
    "email_verified",
    "typ",
    "cnf",
];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TokenClaimSettings {
    /// The claim of a user's access and ID tokens (and introspection) that
    /// lists the user's roles, an array of strings; left out when the user
    /// has none. Default `roles`.
    pub roles_claim: String,
    /// The claim that carries the user's `app_metadata` (a JSON object set
    /// by operators), in access and ID tokens and introspection; say
    /// `https://example.com/app_metadata` or `app_metadata`. Unset (the
    /// default): never put in tokens.
    pub app_metadata_claim: Option<String>,
}

impl Default for TokenClaimSettings {
    fn default() -> Self {
        Self {
            roles_claim: "roles".into(),
            app_metadata_claim: None,
        }
    }
}

fn check(setting: &'static str, name: &str) -> Result<(), ConfigError> {
    if name.is_empty() || name.len() > 255 || name.chars().any(char::is_control) {
        return Err(ConfigError::invalid(
            setting,
            "must be 1 to 255 characters, without control characters",
        ));
    }
    if RESERVED.contains(&name) {
        return Err(ConfigError::invalid(
            setting,
            "names a claim authd sets itself; choose another name",
        ));
    }
    Ok(())
}

impl TokenClaimSettings {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        check("tokens.roles_claim", &self.roles_claim)?;
        if let Some(name) = &self.app_metadata_claim {
            check("tokens.app_metadata_claim", name)?;
            if *name == self.roles_claim {
                return Err(ConfigError::invalid(
                    "tokens.app_metadata_claim",
                    "must differ from tokens.roles_claim",
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claim_names_are_checked() {
        assert!(TokenClaimSettings::default().validate().is_ok());
        let with = |roles: &str, meta: Option<&str>| TokenClaimSettings {
            roles_claim: roles.into(),
            app_metadata_claim: meta.map(Into::into),
        };
        assert!(
            with("https://example.com/roles", Some("app_metadata"))
                .validate()
                .is_ok()
        );
        for bad in [
            with("", None),
            with("sub", None),
            with("scope", None),
            with("roles", Some("roles")),
            with("roles", Some("aud")),
            with("roles", Some("")),
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }
}
