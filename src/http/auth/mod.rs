//! The `/auth` endpoints, one file per endpoint: each handler extracts,
//! calls one service function, and shapes the answer.

pub mod audit;
pub mod login;
pub mod logout;
pub mod me;
pub mod password;
pub mod refresh;
pub mod register;
pub mod sessions;

pub use audit::list_audit;
pub use login::login;
pub use logout::logout;
pub use me::me;
pub use password::change_password;
pub use refresh::refresh;
pub use register::register;
pub use sessions::{list_sessions, revoke_session};

use secrecy::SecretString;
use serde::Deserialize;
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
