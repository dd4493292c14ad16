//! The OAuth 2.0 endpoints, for clients that speak OAuth: the token endpoint
//! (RFC 6749: `refresh_token` and `client_credentials` grants), revocation
//! (RFC 7009) and introspection (RFC 7662). They call the same services as
//! `/auth/*`: a refresh token rotates, and a session ends, the same way.

pub mod authorize;
pub mod introspect;
pub mod par;
pub mod revoke;
pub mod token;
pub mod userinfo;

pub use introspect::introspect;
pub use revoke::revoke;
pub use token::token;

use utoipa::ToSchema;

use crate::http::ApiError;
use crate::http::body::Form;

/// The parameters of `POST /oauth/revoke` (RFC 7009) and `POST
/// /oauth/introspect` (RFC 7662), form-encoded. The client authenticates with
/// HTTP Basic or with `client_id` and `client_secret` form fields (see the
/// `client_basic` security scheme), never both.
#[derive(ToSchema)]
pub struct TokenQuery {
    /// A refresh token or an access token.
    #[schema(min_length = 1)]
    token: String,
    /// `access_token` or `refresh_token`; authd recognises the kind by itself.
    token_type_hint: Option<String>,
}

impl TokenQuery {
    fn from_form(mut form: Form) -> Result<Self, ApiError> {
        Ok(Self {
            token: form.require("token")?,
            token_type_hint: form.take("token_type_hint")?,
        })
    }
}
