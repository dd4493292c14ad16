//! The OAuth 2.0 endpoints, for clients that speak OAuth: the token endpoint
//! (RFC 6749: `refresh_token` and `client_credentials` grants), revocation
//! (RFC 7009) and introspection (RFC 7662). They call the same services as
//! `/auth/*`: a refresh token rotates, and a session ends, the same way.

pub mod introspect;
pub mod revoke;
pub mod token;

pub use introspect::introspect;
pub use revoke::revoke;
pub use token::token;

use utoipa::ToSchema;

use crate::http::ApiError;
use crate::http::body::Form;

/// The parameters of `POST /oauth/revoke` (RFC 7009) and `POST
/// /oauth/introspect` (RFC 7662), form-encoded.
#[derive(ToSchema)]
pub struct TokenQuery {
    /// A refresh token or an access token.
    token: String,
    /// `access_token` or `refresh_token`; authd recognises the kind by itself.
    token_type_hint: Option<String>,
    /// A registered client's id (with `client_secret`), when it does not use HTTP Basic.
    #[allow(dead_code)] // documented here; `OAuthForm` takes it out of the form
    client_id: Option<String>,
    /// A registered client's secret, when it does not use HTTP Basic.
    #[allow(dead_code)] // documented here; `OAuthForm` takes it out of the form
    client_secret: Option<String>,
}

impl TokenQuery {
    fn from_form(mut form: Form) -> Result<Self, ApiError> {
        Ok(Self {
            token: form.require("token")?,
            token_type_hint: form.take("token_type_hint"),
            client_id: None,
            client_secret: None,
        })
    }
}
