//! The messages' templates: a subject, a text part and an HTML part for each
//! kind, built in (`src/templates/mail/`) and overridable file by file from
//! `templates.dir/mail/` (or the older `email.templates_dir`). HTML templates
//! (`*.html`) escape every variable; an unknown variable is an error, not an
//! empty string.
//!
//! Variables, in every template: `product_name`, `app_url` (`email.link_base`).
//! Per kind:
//!
//! | kind | variables |
//! |---|---|
//! | `verify_email` | `link`, `valid_minutes`, `valid_for` |
//! | `password_reset` | `link`, `code`, `valid_minutes`, `valid_for` |
//! | `password_changed` | `changed_at` |
//! | `email_change_confirm` | `link`, `new_email`, `valid_minutes`, `valid_for` |
//! | `email_change_notice` | `new_email` |
//! | `email_changed` | `new_email`, `sessions_ended` (false when an admin changed it) |
//! | `registration_attempt` | `link` (the app's forgot-password page) |
//! | `otp_code` | `code`, `valid_minutes`, `valid_for` |
//! | `factor_added`, `factor_removed` | `factor` ("an authenticator app"), `changed_at` |
//! | `recovery_code_used` | `used_at`, `codes_left` |
//! | `invitation` | `link` (a password-reset link), `valid_minutes`, `valid_for` |
//!
//! The filter `with_article` puts "a" or "an" before a name as its first
//! letter asks (`{{ product_name | with_article }} account`: "an authd
//! account").
//!
//! `layout.html` (the HTML frame every HTML part extends) and `button.html`
//! (a link as a button, with `link` and `label`) can be overridden too.

use minijinja::Value;

use super::{Engine, Overrides};
use crate::config::ConfigError;
use crate::mail::MailKind;

/// Every built-in template, by the name an override file must have.
const BUILT_IN: &[(&str, &str)] = &[
    ("layout.html", include_str!("mail/layout.html")),
    ("button.html", include_str!("mail/button.html")),
    (
        "verify_email.subject.txt",
        include_str!("mail/verify_email.subject.txt"),
    ),
    ("verify_email.txt", include_str!("mail/verify_email.txt")),
    ("verify_email.html", include_str!("mail/verify_email.html")),
    (
        "password_reset.subject.txt",
        include_str!("mail/password_reset.subject.txt"),
    ),
    (
        "password_reset.txt",
        include_str!("mail/password_reset.txt"),
    ),
    (
        "password_reset.html",
        include_str!("mail/password_reset.html"),
    ),
    (
        "password_changed.subject.txt",
        include_str!("mail/password_changed.subject.txt"),
    ),
    (
        "password_changed.txt",
        include_str!("mail/password_changed.txt"),
    ),
    (
        "password_changed.html",
        include_str!("mail/password_changed.html"),
    ),
    (
        "email_change_confirm.subject.txt",
        include_str!("mail/email_change_confirm.subject.txt"),
    ),
    (
        "email_change_confirm.txt",
        include_str!("mail/email_change_confirm.txt"),
    ),
    (
        "email_change_confirm.html",
        include_str!("mail/email_change_confirm.html"),
    ),
    (
        "email_change_notice.subject.txt",
        include_str!("mail/email_change_notice.subject.txt"),
    ),
    (
        "email_change_notice.txt",
        include_str!("mail/email_change_notice.txt"),
    ),
    (
        "email_change_notice.html",
        include_str!("mail/email_change_notice.html"),
    ),
    (
        "email_changed.subject.txt",
        include_str!("mail/email_changed.subject.txt"),
    ),
    ("email_changed.txt", include_str!("mail/email_changed.txt")),
    (
        "email_changed.html",
        include_str!("mail/email_changed.html"),
    ),
    (
        "registration_attempt.subject.txt",
        include_str!("mail/registration_attempt.subject.txt"),
    ),
    (
        "registration_attempt.txt",
        include_str!("mail/registration_attempt.txt"),
    ),
    (
        "registration_attempt.html",
        include_str!("mail/registration_attempt.html"),
    ),
    (
        "otp_code.subject.txt",
        include_str!("mail/otp_code.subject.txt"),
    ),
    ("otp_code.txt", include_str!("mail/otp_code.txt")),
    ("otp_code.html", include_str!("mail/otp_code.html")),
    (
        "factor_added.subject.txt",
        include_str!("mail/factor_added.subject.txt"),
    ),
    ("factor_added.txt", include_str!("mail/factor_added.txt")),
    ("factor_added.html", include_str!("mail/factor_added.html")),
    (
        "factor_removed.subject.txt",
        include_str!("mail/factor_removed.subject.txt"),
    ),
    (
        "factor_removed.txt",
        include_str!("mail/factor_removed.txt"),
    ),
    (
        "factor_removed.html",
        include_str!("mail/factor_removed.html"),
    ),
    (
        "recovery_code_used.subject.txt",
        include_str!("mail/recovery_code_used.subject.txt"),
    ),
    (
        "recovery_code_used.txt",
        include_str!("mail/recovery_code_used.txt"),
    ),
    (
        "recovery_code_used.html",
        include_str!("mail/recovery_code_used.html"),
    ),
    (
        "invitation.subject.txt",
        include_str!("mail/invitation.subject.txt"),
    ),
    ("invitation.txt", include_str!("mail/invitation.txt")),
    ("invitation.html", include_str!("mail/invitation.html")),
];

/// A message's three parts, rendered.
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

pub struct Templates {
    engine: Engine,
}

impl Templates {
    /// The built-in templates, each replaced by the file of the same name in
    /// `overrides.dir` if there is one. A file authd does not use, a syntax
    /// error, or a template needing a variable its kind does not have stops
    /// start-up.
    pub fn load(overrides: &Overrides<'_>) -> Result<Self, ConfigError> {
        let templates = Self {
            engine: Engine::load(BUILT_IN, overrides)?,
        };
        // Every kind renders with sample values now, not at its first message.
        for kind in MailKind::ALL {
            templates.render(kind, sample(kind)).map_err(|e| {
                ConfigError::invalid(overrides.setting, format!("{}: {e}", kind.as_str()))
            })?;
        }
        Ok(templates)
    }

    /// Renders `kind`'s subject (one line), text and HTML with `vars`.
    pub fn render(&self, kind: MailKind, vars: Value) -> Result<Rendered, minijinja::Error> {
        let part = |suffix: &str| {
            self.engine
                .render(&format!("{}.{suffix}", kind.as_str()), vars.clone())
        };
        let subject = part("subject.txt")?;
        Ok(Rendered {
            subject: subject.split_whitespace().collect::<Vec<_>>().join(" "),
            text: part("txt")?,
            html: part("html")?,
        })
    }
}

/// Values of the right shape for each kind, for the check at start-up.
fn sample(kind: MailKind) -> Value {
    let common = |extra: Value| {
        minijinja::context! {
            product_name => "authd",
            app_url => "https://app.example.com/",
            ..extra
        }
    };
    let link = "https://app.example.com/?action=x&token=t";
    common(match kind {
        MailKind::VerifyEmail => {
            minijinja::context! { link => link, valid_minutes => 30, valid_for => "30 minutes" }
        }
        MailKind::PasswordReset => {
            minijinja::context! { link => link, code => "12345678", valid_minutes => 30, valid_for => "30 minutes" }
        }
        MailKind::PasswordChanged => minijinja::context! { changed_at => "2026-12-01 10:00 UTC" },
        MailKind::EmailChangeConfirm => minijinja::context! {
            link => link, new_email => "new@example.com", valid_minutes => 30, valid_for => "30 minutes"
        },
        MailKind::EmailChangeNotice => minijinja::context! { new_email => "new@example.com" },
        MailKind::EmailChanged => {
            minijinja::context! { new_email => "new@example.com", sessions_ended => true }
        }
        MailKind::RegistrationAttempt => minijinja::context! { link => link },
        MailKind::OtpCode => {
            minijinja::context! { code => "123456", valid_minutes => 10, valid_for => "10 minutes" }
        }
        MailKind::FactorAdded | MailKind::FactorRemoved => minijinja::context! {
            factor => "an authenticator app", changed_at => "2026-12-01 10:00 UTC"
        },
        MailKind::RecoveryCodeUsed => {
            minijinja::context! { used_at => "2026-12-01 10:00 UTC", codes_left => 9 }
        }
        MailKind::Invitation => {
            minijinja::context! { link => link, valid_minutes => 4320, valid_for => "3 days" }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUILT_IN_ONLY: Overrides<'static> = Overrides {
        dir: None,
        setting: "templates.dir",
    };

    fn from(dir: &std::path::Path) -> Overrides<'_> {
        Overrides {
            dir: Some(dir),
            setting: "email.templates_dir",
        }
    }

    #[test]
    fn html_parts_escape_variables_and_text_parts_keep_them() {
        let t = Templates::load(&BUILT_IN_ONLY).unwrap();
        let vars = minijinja::context! {
            product_name => "<b>Acme & Co</b>",
            app_url => "https://app.example.com/",
            new_email => "x\"><script>alert(1)</script>@example.com",
        };
        let r = t.render(MailKind::EmailChangeNotice, vars).unwrap();
        assert!(!r.html.contains("<script>"), "{}", r.html);
        assert!(!r.html.contains("<b>Acme"), "{}", r.html);
        assert!(
            r.html.contains("&lt;b&gt;Acme &amp; Co&lt;&#x2f;b&gt;"),
            "{}",
            r.html
        );
        assert!(r.html.contains("x&quot;&gt;&lt;script&gt;"), "{}", r.html);
        assert!(r.text.contains("<b>Acme & Co</b>"), "{}", r.text);
        assert!(r.subject.contains("<b>Acme & Co</b>"), "{}", r.subject);
    }

    #[test]
    fn the_registration_attempt_says_an_authd_account_and_a_name_with_a_consonant_gets_a() {
        let t = Templates::load(&BUILT_IN_ONLY).unwrap();
        let vars = |name: &str| {
            minijinja::context! {
                product_name => name,
                app_url => "https://app.example.com/",
                link => "https://app.example.com/?action=forgot_password",
            }
        };
        let r = t
            .render(MailKind::RegistrationAttempt, vars("authd"))
            .unwrap();
        assert_eq!(
            r.subject,
            "Someone tried to create an authd account with your address"
        );
        assert!(r.text.contains("create an authd account"), "{}", r.text);
        assert!(r.html.contains("create an authd account"), "{}", r.html);
        let r = t
            .render(MailKind::RegistrationAttempt, vars("Acme"))
            .unwrap();
        assert!(r.subject.contains("an Acme account"), "{}", r.subject);
        let r = t
            .render(MailKind::RegistrationAttempt, vars("Zed"))
            .unwrap();
        assert!(r.subject.contains("create a Zed account"), "{}", r.subject);
    }

    #[test]
    fn every_kind_renders_all_three_parts_and_a_missing_variable_is_an_error() {
        let t = Templates::load(&BUILT_IN_ONLY).unwrap();
        for kind in MailKind::ALL {
            let r = t.render(kind, sample(kind)).unwrap();
            assert!(
                !r.subject.is_empty() && !r.subject.contains('\n'),
                "{kind:?}"
            );
            assert!(r.text.contains("authd"), "{kind:?}");
            assert!(r.html.contains("<html"), "{kind:?}");
        }
        let missing =
            minijinja::context! { product_name => "authd", app_url => "https://a.example/" };
        assert!(t.render(MailKind::PasswordReset, missing).is_err());
    }

    #[test]
    fn a_file_in_templates_dir_replaces_the_built_in_one_and_mistakes_stop_start_up() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("otp_code.subject.txt"),
            "{{ code }} is your {{ product_name }} code",
        )
        .unwrap();
        let t = Templates::load(&from(dir.path())).unwrap();
        let r = t
            .render(MailKind::OtpCode, sample(MailKind::OtpCode))
            .unwrap();
        assert_eq!(r.subject, "123456 is your authd code");
        for (name, source, expected) in [
            ("otp_code.txt", "{{ code ", "otp_code.txt"),
            ("password_changed.txt", "{{ link }}", "password_changed"),
            ("pasword_reset.txt", "typo", "pasword_reset.txt"),
        ] {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join(name), source).unwrap();
            let error = Templates::load(&from(dir.path()))
                .err()
                .unwrap()
                .to_string();
            assert!(
                error.contains("email.templates_dir") && error.contains(expected),
                "{name}: {error}"
            );
        }
    }
}
