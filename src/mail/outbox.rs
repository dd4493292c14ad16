//! Queueing: a message is rendered, composed, sealed (`seal`: the database
//! never holds its link or code in clear) and stored in the outbox inside the
//! caller's transaction, so it exists exactly when the change it belongs to
//! (the token it carries) does. The sender delivers it after the commit.

use std::time::Duration;

use lettre::Message;
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use minijinja::Value;
use secrecy::ExposeSecret;
use uuid::Uuid;

use super::{Mail, MailKind, Mailer};
use crate::domain::{Email, InputError};
use crate::error::ServiceError;
use crate::services::Services;
use crate::store::{self, AsDb};
use crate::tokens::address::address_hash;

/// Queues `mail` for `to` on `db`, the caller's transaction: a rollback
/// queues nothing. `user` is the account it concerns, if any (an audit event
/// names it if the message is given up). Returns the message's id. Call
/// `svc.mail.wake()` after the commit for delivery without waiting for the
/// sender's next poll.
pub async fn queue(
    svc: &Services,
    db: &mut impl AsDb,
    user: Option<Uuid>,
    to: &Email,
    mail: &Mail,
) -> Result<Uuid, ServiceError> {
    let kind = mail.kind();
    let id = Uuid::now_v7();
    let now = svc.now();
    let rendered = svc
        .mail
        .templates
        .render(kind, variables(&svc.mail, mail))
        .map_err(ServiceError::internal)?;
    let address: lettre::Address = to.as_str().parse().map_err(|_| InputError::InvalidEmail)?;
    let message = Message::builder()
        .message_id(Some(format!(
            "<{}@{}>",
            id.simple(),
            svc.mail.from.email.domain()
        )))
        .date(now.into())
        .from(svc.mail.from.clone())
        .to(Mailbox::new(None, address))
        .subject(rendered.subject)
        .multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(rendered.text),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(rendered.html),
                ),
        )
        .map_err(ServiceError::internal)?;
    let text = String::from_utf8(message.formatted()).map_err(ServiceError::internal)?;
    let sealed =
        super::seal::seal(&svc.refresh, id, to.as_str(), &text).map_err(ServiceError::internal)?;
    store::outbox::insert(
        db,
        &store::outbox::NewMessage {
            id,
            kind: kind.as_str(),
            user_id: user,
            recipient_hash: &address_hash(&svc.refresh, to.as_str()),
            sealed_key_id: i32::from(sealed.key_id),
            sealed_nonce: &sealed.nonce,
            sealed: &sealed.text,
            created_at: now,
        },
    )
    .await?;
    svc.metrics
        .mail
        .queued
        .with_label_values(&[kind.as_str()])
        .inc();
    tracing::info!(
        mail.id = %id,
        mail.kind = kind.as_str(),
        mail.to_domain = super::domain_of(to.as_str()),
        "mail queued"
    );
    Ok(id)
}

/// The link a message carries: `email.link_base` with `action` and `token`.
fn link(base: &str, action: &str, token: &str) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("action", action)
        .append_pair("token", token)
        .finish();
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}{query}")
}

/// A link to one of the app's pages that needs no token.
fn page(base: &str, action: &str) -> String {
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}action={action}")
}

/// A lifetime as a reader says it: "30 minutes", "1 hour", "24 hours", "7 days".
fn human(d: &Duration) -> String {
    let minutes = minutes(d);
    let (n, unit) = if minutes.is_multiple_of(24 * 60) && minutes >= 48 * 60 {
        (minutes / (24 * 60), "day")
    } else if minutes.is_multiple_of(60) && minutes >= 60 {
        (minutes / 60, "hour")
    } else {
        (minutes, "minute")
    };
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

fn minutes(d: &Duration) -> u64 {
    d.as_secs().div_ceil(60)
}

/// A moment as the notices show it.
fn when(at: &chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// The template variables of `mail` (see `templates` for the list).
fn variables(mailer: &Mailer, mail: &Mail) -> Value {
    let action = mail.kind().as_str();
    let base = &mailer.link_base;
    let extra = match mail {
        Mail::VerifyEmail { token, valid_for } => minijinja::context! {
            link => link(base, action, token.expose_secret()),
            valid_minutes => minutes(valid_for),
            valid_for => human(valid_for),
        },
        Mail::PasswordReset {
            token,
            code,
            valid_for,
        } => minijinja::context! {
            link => link(base, action, token.expose_secret()),
            code => code.expose_secret(),
            valid_minutes => minutes(valid_for),
            valid_for => human(valid_for),
        },
        Mail::PasswordChanged { at } => minijinja::context! {
            changed_at => when(at),
        },
        Mail::EmailChangeConfirm {
            token,
            new_email,
            valid_for,
        } => minijinja::context! {
            link => link(base, action, token.expose_secret()),
            new_email => new_email.as_str(),
            valid_minutes => minutes(valid_for),
            valid_for => human(valid_for),
        },
        Mail::EmailChangeNotice { new_email } => {
            minijinja::context! { new_email => new_email.as_str() }
        }
        Mail::EmailChanged {
            new_email,
            sessions_ended,
        } => {
            minijinja::context! { new_email => new_email.as_str(), sessions_ended => *sessions_ended }
        }
        Mail::RegistrationAttempt => minijinja::context! {
            link => page(base, "forgot_password"),
        },
        Mail::OtpCode { code, valid_for } => minijinja::context! {
            code => code.expose_secret(),
            valid_minutes => minutes(valid_for),
            valid_for => human(valid_for),
        },
        Mail::FactorAdded { factor, at } | Mail::FactorRemoved { factor, at } => {
            minijinja::context! { factor => *factor, changed_at => when(at) }
        }
        Mail::RecoveryCodeUsed { at, left } => minijinja::context! {
            used_at => when(at),
            codes_left => left,
        },
        // The reset page takes it: it is a reset link.
        Mail::Invitation { token, valid_for } => minijinja::context! {
            link => link(base, MailKind::PasswordReset.as_str(), token.expose_secret()),
            valid_minutes => minutes(valid_for),
            valid_for => human(valid_for),
        },
    };
    minijinja::context! {
        product_name => mailer.product_name.as_str(),
        app_url => base.as_str(),
        ..extra
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_read_as_people_say_them() {
        let secs = |s| human(&Duration::from_secs(s));
        assert_eq!(secs(600), "10 minutes");
        assert_eq!(secs(1800), "30 minutes");
        assert_eq!(secs(60), "1 minute");
        assert_eq!(secs(3600), "1 hour");
        assert_eq!(secs(5400), "90 minutes");
        assert_eq!(secs(86_400), "24 hours");
        assert_eq!(secs(7 * 86_400), "7 days");
        assert_eq!(secs(30), "1 minute");
    }

    #[test]
    fn links_add_action_and_token_to_the_base() {
        assert_eq!(
            link("https://app.example.com/account", "password_reset", "a+b/c"),
            "https://app.example.com/account?action=password_reset&token=a%2Bb%2Fc"
        );
        assert_eq!(
            link("https://app.example.com/?lang=fr", "verify_email", "t"),
            "https://app.example.com/?lang=fr&action=verify_email&token=t"
        );
    }
}
