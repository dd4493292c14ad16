//! The `/auth` endpoints, one file per endpoint: each handler extracts,
//! calls one service function, and shapes the answer.

pub mod audit;
pub mod email_change;
pub mod email_change_confirm;
pub mod email_verify;
pub mod email_verify_resend;
pub mod grants;
pub mod login;
pub mod logout;
pub mod me;
pub mod mfa;
pub mod mfa_enroll;
pub mod mfa_passkey;
pub mod mfa_verify;
pub mod otp_start;
pub mod otp_verify;
pub mod passkey_sign_in;
pub mod passkeys;
pub mod password;
pub mod password_forgot;
pub mod password_reset;
pub mod refresh;
pub mod register;
pub mod sessions;

pub use audit::list_audit;
pub use email_change::change_email;
pub use email_change_confirm::confirm_email_change;
pub use email_verify::verify_email;
pub use email_verify_resend::resend_verification;
pub use grants::{list_grants, revoke_grant};
pub use login::login;
pub use logout::logout;
pub use me::me;
pub use mfa_passkey::mfa_passkey;
pub use mfa_verify::mfa_verify;
pub use otp_start::otp_start;
pub use otp_verify::otp_verify;
pub use password::change_password;
pub use password_forgot::forgot_password;
pub use password_reset::reset_password;
pub use refresh::refresh;
pub use register::register;
pub use sessions::{list_sessions, revoke_session};

use actix_web::HttpResponse;
use actix_web::http::header;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::tokens::Delivery;

/// An email and password, for login. The password's `maxLength` is set from
/// `password.max_length` when the document is built (`http::openapi`).
#[derive(Deserialize, ToSchema)]
pub struct Credentials {
    /// An address with a dotted domain; quoted local parts and IP-literal
    /// domains are refused. Compared without regard to case.
    #[schema(example = "ada@example.com", format = Email, max_length = 254)]
    email: String,
    #[schema(value_type = String, format = Password)]
    password: SecretString,
    /// `cookie` (default, browsers) or `body` (native clients).
    #[serde(default)]
    token_delivery: Delivery,
}

/// An email and a new password, for registration. Other fields are ignored.
/// The password's bounds are set from `password.min_length` and
/// `password.max_length` when the document is built (`http::openapi`).
#[derive(Deserialize, ToSchema)]
pub struct NewAccount {
    /// An address with a dotted domain; quoted local parts and IP-literal
    /// domains are refused. Compared without regard to case.
    #[schema(example = "ada@example.com", format = Email, max_length = 254)]
    email: String,
    #[schema(value_type = String, format = Password)]
    password: SecretString,
}

/// The answer of a request whose outcome must not say whether the address has
/// an account (forgot-password, resending a link, a login code,
/// enumeration-safe registration): always 202 with this body.
#[derive(Serialize, ToSchema)]
pub struct Accepted {
    /// Always `accepted`: if an account can use it, an email is on its way.
    #[schema(example = "accepted")]
    status: &'static str,
}

impl Accepted {
    /// `202 Accepted`, `Cache-Control: no-store`, `{"status": "accepted"}`.
    pub fn response() -> HttpResponse {
        HttpResponse::Accepted()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(Accepted { status: "accepted" })
    }
}

/// An email address, for the requests that send a message to it.
#[derive(Deserialize, ToSchema)]
pub struct EmailAddress {
    /// An address with a dotted domain. Compared without regard to case.
    #[schema(example = "ada@example.com", format = Email, max_length = 254)]
    email: String,
}

/// The token of a link that proves an address, and optionally the account's
/// password: when the link is the address's first proof, a password not given
/// here is withdrawn (account pre-hijacking).
#[derive(Deserialize, ToSchema)]
pub struct LinkProof {
    /// 43 characters, base64url.
    #[schema(value_type = String, min_length = 1, max_length = 256)]
    token: SecretString,
    /// The account's current password, to keep it. Checked like a login's
    /// (a wrong one is 401 and counts as a failed login).
    #[schema(value_type = Option<String>, format = Password)]
    #[serde(default)]
    password: Option<SecretString>,
}

impl LinkProof {
    /// The password, parsed as an existing one (`password.max_length`).
    fn password(
        &mut self,
        svc: &crate::services::Services,
    ) -> Result<Option<crate::domain::Password>, crate::domain::InputError> {
        self.password
            .take()
            .map(|p| crate::domain::Password::parse_existing(p, svc.settings.password.max_length))
            .transpose()
    }
}
