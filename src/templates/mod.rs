//! The template engine mail and pages share (minijinja): built-in templates
//! compiled into the binary, each replaceable by an operator's file of the
//! same name, an unknown variable an error rather than an empty string,
//! `*.html` auto-escaped, and every template compiled and rendered with
//! sample values at start-up, so a mistake stops authd before any message or
//! page needs it.
//!
//! Two sets: `mail` (the messages, `templates::mail`) and `pages` (the hosted
//! HTML pages, `templates::pages`). Overrides come from `templates.dir`: its
//! `mail/` and `pages/` subdirectories hold files named as the built-ins. The
//! older `email.templates_dir` still names a directory of mail templates
//! alone; setting both is refused at start-up (`TemplateSettings::mail_dir`).

pub mod mail;
pub mod pages;

use std::path::{Path, PathBuf};

use minijinja::{Environment, UndefinedBehavior};

use crate::config::{ConfigError, Settings};

/// One set of templates: the built-ins with the operator's files over them.
pub struct Engine {
    env: Environment<'static>,
}

/// Where a set's overrides come from, and the setting that names it (for the
/// start-up error).
pub struct Overrides<'a> {
    pub dir: Option<&'a Path>,
    pub setting: &'static str,
}

impl Engine {
    /// `built_in` with each template replaced by the file of the same name in
    /// `overrides.dir`. A file that is not a built-in's name, a file that
    /// cannot be read or a syntax error stops start-up, naming the setting.
    pub fn load(
        built_in: &[(&'static str, &'static str)],
        overrides: &Overrides<'_>,
    ) -> Result<Self, ConfigError> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.add_filter("with_article", with_article);
        let invalid = |name: &str, e: &dyn std::fmt::Display| {
            ConfigError::invalid(overrides.setting, format!("{name}: {e}"))
        };
        let mut sources: Vec<(String, String)> = built_in
            .iter()
            .map(|(name, source)| ((*name).to_owned(), (*source).to_owned()))
            .collect();
        if let Some(dir) = overrides.dir {
            let entries =
                std::fs::read_dir(dir).map_err(|e| invalid(&dir.display().to_string(), &e))?;
            for entry in entries {
                let entry = entry.map_err(|e| invalid(&dir.display().to_string(), &e))?;
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with('.') || !entry.path().is_file() {
                    continue;
                }
                let Some(slot) = sources.iter_mut().find(|(n, _)| *n == name) else {
                    return Err(invalid(
                        &name,
                        &"not a template authd uses (see the built-in names in README.md)",
                    ));
                };
                slot.1 = crate::config::file::read_value(&entry.path())
                    .map_err(|e| invalid(&name, &e))?;
            }
        }
        for (name, source) in sources {
            env.add_template_owned(name.clone(), source)
                .map_err(|e| invalid(&name, &e))?;
        }
        Ok(Self { env })
    }

    /// Renders the template `name` with `vars`.
    pub fn render(&self, name: &str, vars: minijinja::Value) -> Result<String, minijinja::Error> {
        self.env.get_template(name)?.render(vars)
    }
}

/// The operator's directories, from settings.
pub struct OverrideDirs {
    pub mail: Option<PathBuf>,
    /// The setting that named `mail`, for the start-up error.
    pub mail_setting: &'static str,
    pub pages: Option<PathBuf>,
}

impl OverrideDirs {
    /// `templates.dir/mail` and `templates.dir/pages` (each when it exists),
    /// or `email.templates_dir` for mail. Both settings at once, or anything
    /// in `templates.dir` but those two directories, stops start-up.
    pub fn from_settings(settings: &Settings) -> Result<Self, ConfigError> {
        let legacy = settings.email.templates_dir.clone();
        let Some(dir) = settings.templates.dir.clone() else {
            return Ok(Self {
                mail: legacy,
                mail_setting: "email.templates_dir",
                pages: None,
            });
        };
        if legacy.is_some() {
            return Err(ConfigError::invalid(
                "email.templates_dir",
                "templates.dir is set too: move these files to templates.dir/mail/ and unset email.templates_dir",
            ));
        }
        let invalid =
            |e: &dyn std::fmt::Display| ConfigError::invalid("templates.dir", e.to_string());
        for entry in std::fs::read_dir(&dir).map_err(|e| invalid(&e))? {
            let entry = entry.map_err(|e| invalid(&e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.')
                || (entry.path().is_dir() && (name == "mail" || name == "pages"))
            {
                continue;
            }
            return Err(invalid(&format!(
                "{name}: only the directories mail/ and pages/ belong here"
            )));
        }
        let sub = |name: &str| Some(dir.join(name)).filter(|d| d.is_dir());
        Ok(Self {
            mail: sub("mail"),
            mail_setting: "templates.dir",
            pages: sub("pages"),
        })
    }
}

/// `name` after "a" or "an": "an" before a vowel letter ("an authd", "a
/// Example"). Spelling, not sound: a name such as "Uber" may want its own
/// wording in an override.
fn with_article(name: String) -> String {
    let vowel = name
        .chars()
        .next()
        .is_some_and(|c| "aeiouAEIOU".contains(c));
    format!("{} {name}", if vowel { "an" } else { "a" })
}
