//! What the pages that offer a passkey share: the one script they load
//! (`/assets/passkeys.js`, static, served like the stylesheet), a ceremony
//! begun for a page ([`Offer`]: its id for a hidden field, its options as
//! JSON for the form's `data-options`), and the authenticator's answer read
//! back from a form's `credential` field. The ceremonies and their checks
//! are `factors::passkey`'s and the sign-ins' (`accounts::passkey_sign_in`,
//! `accounts::second_factor`); a page only carries them.

use actix_web::HttpResponse;
use actix_web::http::header;
use secrecy::ExposeSecret;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::form::PageForm;
use crate::audit::RequestMeta;
use crate::factors::challenge::{self, Challenge};
use crate::factors::passkey::Ceremony;
use crate::services::Services;

const SCRIPT: &str = include_str!("passkeys.js");

/// `GET /assets/passkeys.js`. Cacheable for an hour, like the stylesheet.
pub async fn script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(SCRIPT)
}

/// A ceremony a page offers: the id its form posts back, and the options
/// (`{"publicKey": {...}}` as JSON) the script hands to
/// `navigator.credentials`.
pub(super) struct Offer {
    pub ceremony: String,
    pub options: String,
}

impl Offer {
    /// `None` (logged) if the options do not serialize, which they always do.
    pub fn of<T: Serialize>(c: Ceremony<T>) -> Option<Self> {
        match serde_json::to_string(&c.options) {
            Ok(options) => Some(Self {
                ceremony: c.id.expose_secret().to_owned(),
                options,
            }),
            Err(e) => {
                tracing::error!(error = %e, "a passkey ceremony's options did not serialize");
                None
            }
        }
    }
}

/// A passwordless sign-in for the login page, when passkeys are on; none
/// (logged) when the service refuses one (too many tries from this client):
/// the page still offers its forms.
pub(super) async fn sign_in_offer(svc: &Services, meta: &RequestMeta) -> Option<Offer> {
    svc.webauthn.as_ref()?;
    match crate::accounts::passkey_sign_in::start_in_browser(svc, meta).await {
        Ok(c) => Offer::of(c),
        Err(e) => {
            tracing::info!(error = %e, "no passkey offered on the login page");
            None
        }
    }
}

/// A passkey answering the sign-in challenge `token` of a page's second
/// step, when passkeys are on and the user has one (`offered`: the
/// challenge lists `passkey`, or `None` when the page no longer knows).
pub(super) async fn second_factor_offer(
    svc: &Services,
    token: &str,
    offered: Option<bool>,
    meta: &RequestMeta,
) -> Option<Offer> {
    svc.webauthn.as_ref()?;
    if offered == Some(false) {
        return None;
    }
    match crate::accounts::second_factor::passkey_options_in_browser(svc, token, meta).await {
        Ok(c) => Offer::of(c),
        Err(e) => {
            tracing::info!(error = %e, "no passkey offered on the second step");
            None
        }
    }
}

/// Whether `challenge` can be answered with a passkey.
pub(super) fn lists_passkey(challenge: &Challenge) -> bool {
    challenge.factors.contains(&challenge::PASSKEY)
}

/// The authenticator's answer in the form's `credential` field (taken out),
/// as webauthn-rs reads it, or `None` when the field is empty or not one.
pub(super) fn credential<T: DeserializeOwned>(fields: &mut PageForm) -> Option<T> {
    let raw = fields.take("credential")?;
    if raw.is_empty() {
        return None;
    }
    serde_json::from_str(&raw)
        .inspect_err(|e| tracing::info!(error = %e, "a passkey answer that does not parse"))
        .ok()
}
