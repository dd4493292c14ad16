//! The `[webauthn]` settings: the relying party passkeys are registered to.
//!
//! Unset, they follow `server.issuer`: the relying-party id is the issuer's
//! host and the one allowed origin the issuer's origin. An issuer WebAuthn
//! cannot serve (plain http to a host other than localhost, or an IP
//! address: browsers refuse both) then leaves passkeys off, with a warning
//! at start-up, rather than stopping a development server. Set explicitly,
//! every rule is checked and a broken value stops start-up, naming the
//! setting.

use serde::Deserialize;
use webauthn_rs::prelude::Url;

use super::{ConfigError, Settings};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebauthnSettings {
    /// The relying-party id passkeys are bound to: a domain name, the host
    /// of every origin or a registrable suffix of it (`example.com` serves
    /// `https://auth.example.com`). Default: the issuer's host. Changing it
    /// later orphans every registered passkey.
    pub rp_id: Option<String>,
    /// The name authenticators show. Default `email.product_name`.
    pub rp_name: Option<String>,
    /// The origins a ceremony may come from (the pages and SPAs that call
    /// `navigator.credentials`): https, or http to localhost only. Default:
    /// the issuer's origin.
    #[serde(deserialize_with = "super::string_or_list")]
    pub origins: Vec<String>,
}

/// The relying party as checked: what `factors::webauthn` builds from.
#[derive(Debug, Clone)]
pub struct RelyingParty {
    pub rp_id: String,
    pub rp_name: String,
    pub origins: Vec<Url>,
}

impl WebauthnSettings {
    fn explicit(&self) -> bool {
        self.rp_id.is_some() || !self.origins.is_empty()
    }
}

impl Settings {
    /// The relying party passkeys use, or none when passkeys are off (the
    /// settings are unset and the issuer cannot serve as one; see the
    /// module's doc). A set but broken value is an error naming it.
    pub fn relying_party(&self) -> Result<Option<RelyingParty>, ConfigError> {
        let w = &self.webauthn;
        let checked = check(self, w);
        match checked {
            Ok(rp) => Ok(Some(rp)),
            Err(e) if w.explicit() => Err(e),
            Err(_) => Ok(None),
        }
    }
}

fn check(settings: &Settings, w: &WebauthnSettings) -> Result<RelyingParty, ConfigError> {
    let origins: Vec<String> = if w.origins.is_empty() {
        vec![settings.issuer().to_owned()]
    } else {
        w.origins.clone()
    };
    let origins = origins
        .iter()
        .map(|o| origin(o))
        .collect::<Result<Vec<Url>, ConfigError>>()?;
    let rp_id = match &w.rp_id {
        Some(id) => id.trim().to_ascii_lowercase(),
        None => origins
            .first()
            .and_then(Url::host_str)
            .unwrap_or_default()
            .to_owned(),
    };
    let setting = "webauthn.rp_id";
    if rp_id.is_empty() || rp_id.contains(['/', ':', '?', '#', ' ']) {
        return Err(ConfigError::invalid(
            setting,
            "must be a domain name such as example.com (no scheme, port or path)",
        ));
    }
    if rp_id.parse::<std::net::IpAddr>().is_ok() {
        return Err(ConfigError::invalid(
            setting,
            "must be a domain name: WebAuthn has no relying party at an IP address (use localhost in development)",
        ));
    }
    if rp_id != "localhost" && !rp_id.contains('.') {
        return Err(ConfigError::invalid(
            setting,
            format!("{rp_id:?} is a top-level domain, not a registrable domain"),
        ));
    }
    for o in &origins {
        let host = o.host_str().unwrap_or_default();
        if !(host == rp_id || host.ends_with(&format!(".{rp_id}"))) {
            return Err(ConfigError::invalid(
                setting,
                format!(
                    "must be the host of every origin or a suffix of it, and {o} is not under {rp_id:?}"
                ),
            ));
        }
    }
    let rp_name = w
        .rp_name
        .clone()
        .unwrap_or_else(|| settings.email.product_name.clone());
    if rp_name.trim().is_empty() {
        return Err(ConfigError::invalid(
            "webauthn.rp_name",
            "must not be empty",
        ));
    }
    Ok(RelyingParty {
        rp_id,
        rp_name,
        origins,
    })
}

/// One origin: https, or http to localhost or 127.0.0.1, without a path.
fn origin(value: &str) -> Result<Url, ConfigError> {
    let setting = "webauthn.origins";
    let bad = |why: &str| ConfigError::invalid(setting, format!("{value:?} {why}"));
    let url = Url::parse(value.trim())
        .map_err(|_| bad("is not an origin like https://auth.example.com"))?;
    let host = url.host_str().unwrap_or_default();
    let local = host == "localhost" || host == "127.0.0.1";
    match url.scheme() {
        "https" => {}
        "http" if local => {}
        _ => return Err(bad("must be https (plain http only to localhost)")),
    }
    if host.is_empty()
        || !matches!(url.path(), "" | "/")
        || url.query().is_some()
        || url.fragment().is_some()
    {
        return Err(bad("must be an origin, without a path, query or fragment"));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(issuer: &str, w: WebauthnSettings) -> Settings {
        let mut s = crate::config::load::tests::load(&[]).unwrap();
        s.server.issuer = issuer.into();
        s.webauthn = w;
        s
    }

    fn set(rp_id: Option<&str>, origins: &[&str]) -> WebauthnSettings {
        WebauthnSettings {
            rp_id: rp_id.map(str::to_owned),
            rp_name: None,
            origins: origins.iter().map(|o| (*o).to_owned()).collect(),
        }
    }

    #[test]
    fn unset_it_follows_the_issuer_or_is_off() {
        let rp = settings("https://auth.example.com", WebauthnSettings::default())
            .relying_party()
            .unwrap()
            .unwrap();
        assert_eq!(rp.rp_id, "auth.example.com");
        assert_eq!(rp.origins[0].as_str(), "https://auth.example.com/");
        for issuer in ["http://authd.test", "http://127.0.0.1:8080"] {
            let off = settings(issuer, WebauthnSettings::default()).relying_party();
            assert!(off.unwrap().is_none(), "{issuer}");
        }
        let local = settings("http://localhost:8080", WebauthnSettings::default());
        assert_eq!(local.relying_party().unwrap().unwrap().rp_id, "localhost");
    }

    #[test]
    fn set_values_are_checked_and_named() {
        let issuer = "https://auth.example.com";
        let ok = set(
            Some("example.com"),
            &["https://auth.example.com", "https://app.example.com"],
        );
        assert!(settings(issuer, ok).relying_party().unwrap().is_some());
        let refused = [
            (
                set(Some("other.com"), &["https://auth.example.com"]),
                "webauthn.rp_id",
            ),
            (
                set(Some("xample.com"), &["https://auth.example.com"]),
                "webauthn.rp_id",
            ),
            (
                set(Some("com"), &["https://auth.example.com"]),
                "webauthn.rp_id",
            ),
            (
                set(Some("127.0.0.1"), &["http://127.0.0.1"]),
                "webauthn.rp_id",
            ),
            (set(Some("https://example.com"), &[]), "webauthn.rp_id"),
            (set(None, &["http://auth.example.com"]), "webauthn.origins"),
            (
                set(None, &["https://auth.example.com/login"]),
                "webauthn.origins",
            ),
            (set(None, &["auth.example.com"]), "webauthn.origins"),
        ];
        for (w, setting) in refused {
            let error = settings(issuer, w.clone())
                .relying_party()
                .unwrap_err()
                .to_string();
            assert!(error.contains(setting), "{w:?}: {error}");
        }
        let local = set(Some("localhost"), &["http://localhost:3000"]);
        assert!(settings(issuer, local).relying_party().unwrap().is_some());
    }
}
