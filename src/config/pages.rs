//! The `[pages]` settings (how authd's hosted HTML pages look: the product's
//! name, a logo, colours) and `[templates]` (where operators' templates are).

use std::path::PathBuf;

use serde::Deserialize;

use super::ConfigError;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageSettings {
    /// The name in every page's title and heading; empty: `email.product_name`.
    pub product_name: String,
    /// An image shown above every page's heading: an absolute `https://` URL
    /// (its origin is added to the pages' `img-src`), a path on authd's
    /// origin (`/...`), or a `data:image/...` URL. Empty: no logo.
    pub logo_url: String,
    /// The colour of buttons and links, and of the text on buttons, as CSS
    /// hex colours (`#2563eb`).
    pub accent_color: String,
    pub accent_text_color: String,
    /// The page's background and text colours.
    pub background_color: String,
    pub text_color: String,
}

impl Default for PageSettings {
    fn default() -> Self {
        Self {
            product_name: String::new(),
            logo_url: String::new(),
            accent_color: "#2563eb".into(),
            accent_text_color: "#ffffff".into(),
            background_color: "#f8fafc".into(),
            text_color: "#0f172a".into(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateSettings {
    /// A directory with `mail/` and `pages/` subdirectories whose files
    /// replace the built-in templates of the same name. Unset: the built-in
    /// ones (or `email.templates_dir` for mail, the older setting).
    pub dir: Option<PathBuf>,
}

impl PageSettings {
    /// The origin a logo is loaded from when it is on another host
    /// (`https://cdn.example.com`), for the pages' `img-src`.
    pub fn logo_origin(&self) -> Option<String> {
        let url = self.logo_url.trim();
        url.starts_with("https://")
            .then(|| super::normalize_origin(url))
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        for (setting, colour) in [
            ("pages.accent_color", &self.accent_color),
            ("pages.accent_text_color", &self.accent_text_color),
            ("pages.background_color", &self.background_color),
            ("pages.text_color", &self.text_color),
        ] {
            if !is_hex_colour(colour) {
                return Err(ConfigError::invalid(
                    setting,
                    "must be a CSS hex colour such as #2563eb",
                ));
            }
        }
        let logo = self.logo_url.trim();
        let https_host = logo
            .strip_prefix("https://")
            .is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/'));
        let local_path = logo.starts_with('/') && !logo.starts_with("//");
        let data = logo.starts_with("data:image/");
        let quoted = logo.contains(['"', '\'', '<', '>', ' ', '\\']);
        if !logo.is_empty() && (quoted || !(https_host || local_path || data)) {
            return Err(ConfigError::invalid(
                "pages.logo_url",
                "must be an https:// URL, a path on authd's origin (/logo.svg) or a data:image/ URL",
            ));
        }
        if self.product_name.contains(['\r', '\n']) {
            return Err(ConfigError::invalid(
                "pages.product_name",
                "must be one line",
            ));
        }
        Ok(())
    }
}

/// `#rgb` or `#rrggbb`: safe inside the stylesheet authd writes.
fn is_hex_colour(s: &str) -> bool {
    s.strip_prefix('#').is_some_and(|hex| {
        (hex.len() == 3 || hex.len() == 6) && hex.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

#[cfg(test)]
mod tests {
    use crate::config::load::tests::load;

    #[test]
    fn page_settings_are_checked_naming_the_setting() {
        let s = load(&[]).unwrap();
        assert_eq!(s.pages.logo_origin(), None);
        for (var, value, setting) in [
            (
                "AUTHD__PAGES__ACCENT_COLOR",
                "red;}body{",
                "pages.accent_color",
            ),
            ("AUTHD__PAGES__TEXT_COLOR", "#12345", "pages.text_color"),
            (
                "AUTHD__PAGES__LOGO_URL",
                "http://cdn.example.com/l.png",
                "pages.logo_url",
            ),
            (
                "AUTHD__PAGES__LOGO_URL",
                "javascript:alert(1)",
                "pages.logo_url",
            ),
            (
                "AUTHD__PAGES__LOGO_URL",
                "//cdn.example.com/l.png",
                "pages.logo_url",
            ),
        ] {
            let error = load(&[(var, value)]).err().unwrap().to_string();
            assert!(error.contains(setting), "{value}: {error}");
        }
        let s = load(&[("AUTHD__PAGES__LOGO_URL", "https://CDN.example.com/l.png")]).unwrap();
        assert_eq!(
            s.pages.logo_origin().as_deref(),
            Some("https://cdn.example.com")
        );
        assert!(load(&[("AUTHD__PAGES__LOGO_URL", "/static/logo.svg")]).is_ok());
    }
}
