//! The hosted pages' templates, built in (`src/templates/pages/`) and
//! overridable file by file from `templates.dir/pages/`, and the stylesheet
//! (`authd.css`, itself a template filled with the `[pages]` colours once at
//! start-up). HTML is auto-escaped; an unknown variable is an error.
//!
//! Variables, in every page: `product_name`, `logo_url` (empty: none). Per
//! page:
//!
//! | page | variables |
//! |---|---|
//! | `account.html` | (none) |
//! | `verify_email.html`, `email_change_confirm.html` | `token`, `csrf_token`, `error` |
//! | `password_reset.html` | `token`, `csrf_token`, `error`, `min_length`, `max_length` |
//! | `forgot_password.html` | `csrf_token`, `error` |
//! | `done.html` | `heading`, `message` |
//! | `logout_confirm.html` | `csrf`, `client_id`, `client_name`, `post_logout_redirect_uri`, `state` (each empty when absent) |
//! | `error.html` | `heading`, `message`, `code`, `back` (a URL, or empty) |
//! | `login.html` | `request`, `csrf_token`, `client_name`, `email` (from `login_hint`, or empty), `error`, `code_sign_in` (whether to offer the code form), `code_csrf_token`, `code_error` (the code form's, or empty), `passkey` (whether to offer a passkey), `passkey_csrf`, `passkey_ceremony`, `passkey_options` (JSON, for `data-options`) |
//! | `login_code.html` | `request`, `csrf_token`, `client_name`, `email` (the address the code was asked for), `digits`, `valid_minutes`, `error`, `error_code` (both empty for none) |
//! | `login_mfa.html` | `request`, `challenge`, `csrf_token`, `client_name`, `error`, `passkey`, `passkey_ceremony`, `passkey_options` |
//! | `login_mfa_enrol.html` | `request`, `challenge`, `csrf_token`, `client_name`, `secret`, `otpauth_uri`, `error` (`mfa.required`: a factor enrolled at sign-in) |
//! | `login_recovery_codes.html` | `client_name`, `recovery_codes` (a list), `next` (where the flow goes on) |
//! | `consent.html` | `request`, `csrf_token`, `client_name`, `scopes` (a list of sentences) |
//! | `security.html` | `totp`, `totp_pending`, `has_factor` (booleans), `recovery_codes_left`, `totp_csrf`, `remove_csrf`, `codes_csrf`, `passkeys_on` (whether passkeys are on), `passkeys` (a list of `id`, `name`, `created`, `last_used`: dates, `last_used` empty for never), `passkey_csrf`, `rename_passkey_csrf`, `remove_passkey_csrf`, `notice`, `error` (both empty for none) |
//! | `security_sign_in.html` | `csrf_token`, `email`, `notice` (why a sign-in is asked for, or empty), `error`, `passkey`, `passkey_csrf`, `passkey_ceremony`, `passkey_options` |
//! | `security_sign_in_mfa.html` | `challenge`, `csrf_token`, `error`, `passkey`, `passkey_ceremony`, `passkey_options` |
//! | `security_sign_in_enrol.html` | `challenge`, `csrf_token`, `secret`, `qr` (a data: URI, or empty), `error` |
//! | `security_totp.html` | `qr` (a `data:` URI of the QR code, or empty), `secret` (base32, or empty after a wrong code), `csrf_token`, `start_csrf`, `error` |
//! | `security_recovery_codes.html` | `codes` (a list), `enrolled` (what a first factor's confirmation says, or empty) |
//! | `security_passkey.html` | `csrf_token`, `ceremony`, `options` (JSON, for `data-options`) |
//!
//! A page that offers a passkey also has `passkeys_js` (true): `layout.html`
//! then loads `/assets/passkeys.js`, the one script the pages' policy allows
//! there.
//!
//! `layout.html` (the frame every page extends) and `form_error.html` (a
//! form's error, `error` empty for none) can be overridden too.

use minijinja::Value;

use super::{Engine, Overrides};
use crate::config::{ConfigError, Settings};

const BUILT_IN: &[(&str, &str)] = &[
    ("layout.html", include_str!("pages/layout.html")),
    ("form_error.html", include_str!("pages/form_error.html")),
    ("account.html", include_str!("pages/account.html")),
    ("verify_email.html", include_str!("pages/verify_email.html")),
    (
        "email_change_confirm.html",
        include_str!("pages/email_change_confirm.html"),
    ),
    (
        "password_reset.html",
        include_str!("pages/password_reset.html"),
    ),
    (
        "forgot_password.html",
        include_str!("pages/forgot_password.html"),
    ),
    ("done.html", include_str!("pages/done.html")),
    (
        "logout_confirm.html",
        include_str!("pages/logout_confirm.html"),
    ),
    ("error.html", include_str!("pages/error.html")),
    ("login.html", include_str!("pages/login.html")),
    ("login_code.html", include_str!("pages/login_code.html")),
    ("login_mfa.html", include_str!("pages/login_mfa.html")),
    (
        "login_mfa_enrol.html",
        include_str!("pages/login_mfa_enrol.html"),
    ),
    (
        "login_recovery_codes.html",
        include_str!("pages/login_recovery_codes.html"),
    ),
    ("consent.html", include_str!("pages/consent.html")),
    ("security.html", include_str!("pages/security.html")),
    (
        "security_sign_in.html",
        include_str!("pages/security_sign_in.html"),
    ),
    (
        "security_sign_in_mfa.html",
        include_str!("pages/security_sign_in_mfa.html"),
    ),
    (
        "security_sign_in_enrol.html",
        include_str!("pages/security_sign_in_enrol.html"),
    ),
    (
        "security_totp.html",
        include_str!("pages/security_totp.html"),
    ),
    (
        "security_recovery_codes.html",
        include_str!("pages/security_recovery_codes.html"),
    ),
    (
        "security_passkey.html",
        include_str!("pages/security_passkey.html"),
    ),
    ("authd.css", include_str!("pages/authd.css")),
];

/// The page templates, with the branding every page is filled with and the
/// stylesheet rendered once.
pub struct Pages {
    engine: Engine,
    branding: Value,
    stylesheet: String,
}

impl Pages {
    /// The built-ins, with the operator's files over them; each page is
    /// rendered with sample values now, so a mistake stops start-up.
    pub fn load(settings: &Settings) -> Result<Self, ConfigError> {
        let dirs = super::OverrideDirs::from_settings(settings)?;
        let overrides = Overrides {
            dir: dirs.pages.as_deref(),
            setting: "templates.dir",
        };
        let p = &settings.pages;
        let product_name = match p.product_name.trim() {
            "" => settings.email.product_name.clone(),
            name => name.to_owned(),
        };
        let engine = Engine::load(BUILT_IN, &overrides)?;
        let invalid = |name: &str, e: &dyn std::fmt::Display| {
            ConfigError::invalid(overrides.setting, format!("pages/{name}: {e}"))
        };
        let stylesheet = engine
            .render(
                "authd.css",
                minijinja::context! {
                    accent_color => &p.accent_color,
                    accent_text_color => &p.accent_text_color,
                    background_color => &p.background_color,
                    text_color => &p.text_color,
                },
            )
            .map_err(|e| invalid("authd.css", &e))?;
        let pages = Self {
            engine,
            branding: minijinja::context! {
                product_name => product_name,
                logo_url => p.logo_url.trim(),
            },
            stylesheet,
        };
        for (name, vars) in samples() {
            pages.render(name, vars).map_err(|e| invalid(name, &e))?;
        }
        Ok(pages)
    }

    /// Renders the page `name` with `vars` and the branding.
    pub fn render(&self, name: &str, vars: Value) -> Result<String, minijinja::Error> {
        let vars = minijinja::context! { ..vars, ..self.branding.clone() };
        self.engine.render(name, vars)
    }

    /// `/assets/authd.css`, with the configured colours.
    pub fn stylesheet(&self) -> &str {
        &self.stylesheet
    }
}

/// Every page with values of the right shape, for the check at start-up.
fn samples() -> Vec<(&'static str, Value)> {
    let form = |extra: Value| {
        minijinja::context! { token => "t", csrf_token => "c", error => "", ..extra }
    };
    vec![
        ("account.html", minijinja::context! {}),
        ("verify_email.html", form(minijinja::context! {})),
        ("email_change_confirm.html", form(minijinja::context! {})),
        (
            "password_reset.html",
            form(minijinja::context! { min_length => 12, max_length => 128 }),
        ),
        (
            "forgot_password.html",
            minijinja::context! { csrf_token => "c", error => "" },
        ),
        (
            "done.html",
            minijinja::context! { heading => "Done", message => "It is done." },
        ),
        (
            "logout_confirm.html",
            minijinja::context! {
                csrf => "c",
                client_id => "c",
                client_name => "App",
                post_logout_redirect_uri => "https://app.example/",
                state => "s",
            },
        ),
        (
            "error.html",
            minijinja::context! {
                heading => "This link cannot be used",
                message => "It expired.",
                code => "invalid_account_token",
                back => "",
            },
        ),
        (
            "login.html",
            minijinja::context! {
                request => "r", csrf_token => "c", client_name => "App",
                email => "a@example.com", error => "", code_sign_in => true,
                code_csrf_token => "c", code_error => "", passkey => true,
                passkey_csrf => "c", passkey_ceremony => "p", passkey_options => "{}",
            },
        ),
        (
            "login_code.html",
            minijinja::context! {
                request => "r", csrf_token => "c", client_name => "App",
                email => "a@example.com", digits => 8, valid_minutes => 10,
                error => "", error_code => "",
            },
        ),
        (
            "login_mfa.html",
            minijinja::context! {
                request => "r", challenge => "ch", csrf_token => "c", client_name => "App",
                error => "", passkey => true, passkey_ceremony => "p", passkey_options => "{}",
            },
        ),
        (
            "login_mfa_enrol.html",
            minijinja::context! {
                request => "r", challenge => "ch", csrf_token => "c", client_name => "App",
                secret => "JBSWY3DP", otpauth_uri => "otpauth://totp/x", error => "",
            },
        ),
        (
            "login_recovery_codes.html",
            minijinja::context! {
                client_name => "App", recovery_codes => vec!["abcde-12345"],
                next => "/consent?request=r",
            },
        ),
        (
            "consent.html",
            minijinja::context! {
                request => "r", csrf_token => "c", client_name => "App",
                scopes => vec!["See your email address"],
            },
        ),
        (
            "security.html",
            minijinja::context! {
                totp => true, totp_pending => false, recovery_codes_left => 10,
                totp_csrf => "c", remove_csrf => "c", codes_csrf => "c",
                has_factor => true, passkeys_on => true, passkey_csrf => "c",
                rename_passkey_csrf => "c", remove_passkey_csrf => "c",
                passkeys => vec![minijinja::context! {
                    id => "i", name => "Passkey", created => "2026-01-01", last_used => "",
                }],
                notice => "", error => "",
            },
        ),
        (
            "security_sign_in.html",
            minijinja::context! {
                csrf_token => "c", email => "", notice => "", error => "", passkey => true,
                passkey_csrf => "c", passkey_ceremony => "p", passkey_options => "{}",
            },
        ),
        (
            "security_sign_in_mfa.html",
            minijinja::context! {
                challenge => "ch", csrf_token => "c", error => "", passkey => true,
                passkey_ceremony => "p", passkey_options => "{}",
            },
        ),
        (
            "security_sign_in_enrol.html",
            minijinja::context! {
                challenge => "ch", csrf_token => "c", secret => "JBSWY3DP",
                qr => "data:image/svg+xml;base64,", error => "",
            },
        ),
        (
            "security_totp.html",
            minijinja::context! {
                qr => "data:image/svg+xml;base64,", secret => "JBSWY3DP",
                csrf_token => "c", start_csrf => "c", error => "",
            },
        ),
        (
            "security_recovery_codes.html",
            minijinja::context! { codes => vec!["abcd-efgh"], enrolled => "Set up." },
        ),
        (
            "security_passkey.html",
            minijinja::context! { csrf_token => "c", ceremony => "p", options => "{}" },
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Sources;

    fn load(env: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        Settings::load(&Sources {
            file: None,
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        })
    }

    #[test]
    fn pages_escape_variables_and_carry_the_branding() {
        let settings = load(&[
            ("AUTHD__PAGES__PRODUCT_NAME", "<b>Acme</b>"),
            ("AUTHD__PAGES__ACCENT_COLOR", "#abcdef"),
        ])
        .unwrap();
        let pages = Pages::load(&settings).unwrap();
        let html = pages
            .render(
                "verify_email.html",
                minijinja::context! { token => "\"><script>", csrf_token => "c", error => "" },
            )
            .unwrap();
        assert!(!html.contains("<script>"), "{html}");
        assert!(!html.contains("<b>Acme"), "{html}");
        assert!(html.contains("&lt;b&gt;Acme"), "{html}");
        assert!(pages.stylesheet().contains("--accent: #abcdef"));
        let missing = pages.render("password_reset.html", minijinja::context! { token => "t" });
        assert!(missing.is_err(), "strict: a missing variable is an error");
    }

    #[test]
    fn a_page_override_replaces_the_built_in_and_mistakes_stop_start_up() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("pages")).unwrap();
        std::fs::write(
            dir.path().join("pages/done.html"),
            "<p>{{ product_name }}: {{ heading }}</p>",
        )
        .unwrap();
        let mut settings = load(&[]).unwrap();
        settings.templates.dir = Some(dir.path().to_owned());
        let pages = Pages::load(&settings).unwrap();
        let html = pages
            .render(
                "done.html",
                minijinja::context! { heading => "Yes", message => "" },
            )
            .unwrap();
        assert_eq!(html, "<p>authd: Yes</p>");
        for (name, source) in [
            ("pages/error.html", "{{ nonsense }}"),
            ("pages/account.html", "{% if %}"),
            ("pages/acount.html", "typo"),
            ("stray.html", "not in a subdirectory"),
        ] {
            let dir = tempfile::tempdir().unwrap();
            std::fs::create_dir(dir.path().join("pages")).unwrap();
            std::fs::write(dir.path().join(name), source).unwrap();
            settings.templates.dir = Some(dir.path().to_owned());
            let error = Pages::load(&settings).err().unwrap().to_string();
            assert!(error.contains("templates.dir"), "{name}: {error}");
        }
    }

    #[test]
    fn the_old_mail_setting_and_the_new_one_together_stop_start_up() {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = load(&[]).unwrap();
        settings.templates.dir = Some(dir.path().to_owned());
        settings.email.templates_dir = Some(dir.path().to_owned());
        let error = Pages::load(&settings).err().unwrap().to_string();
        assert!(error.contains("email.templates_dir"), "{error}");
        assert!(error.contains("templates.dir/mail"), "{error}");
    }
}
