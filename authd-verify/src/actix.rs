//! The actix-web extractor: `Authorization: Bearer` in, verified claims out,
//! RFC 6750 401s otherwise.

use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, dev::Payload, web};

use crate::{Claims, Verifier};

/// The verified claims of the request's bearer token.
///
/// Extracting it needs a [`Verifier`] in the app data (as
/// `web::Data<Verifier>` or via `App::app_data(verifier)`). On failure the
/// handler is not called and the client gets `401` with
/// `WWW-Authenticate: Bearer error="invalid_token"` (or plain `Bearer` when no
/// token was sent, RFC 6750 section 3.1) and a JSON body; the reason is logged
/// at `info`, never sent.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Claims);

impl Deref for Authenticated {
    type Target = Claims;
    fn deref(&self) -> &Claims {
        &self.0
    }
}

impl Authenticated {
    /// `Ok` when the token carries `scope`; otherwise an error that answers
    /// `403` with `WWW-Authenticate: Bearer error="insufficient_scope"`.
    pub fn require_scope(&self, scope: &str) -> Result<(), InsufficientScope> {
        if self.has_scope(scope) {
            Ok(())
        } else {
            Err(InsufficientScope {
                scope: scope.to_owned(),
            })
        }
    }
}

/// Why the extractor refused a request.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No `Authorization: Bearer` header. 401 without an error attribute.
    #[error("no bearer token")]
    MissingToken,
    /// The token did not verify. 401 `invalid_token`.
    #[error("invalid token: {0}")]
    InvalidToken(crate::VerifyError),
    /// No `Verifier` in the app data: a bug in the service. 500.
    #[error("no authd_verify::Verifier in the app data")]
    NoVerifier,
}

impl ResponseError for AuthError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::MissingToken | Self::InvalidToken(_) => StatusCode::UNAUTHORIZED,
            Self::NoVerifier => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let (challenge, body) = match self {
            Self::MissingToken => (
                Some("Bearer"),
                r#"{"error":"invalid_token","error_description":"an access token is required"}"#,
            ),
            Self::InvalidToken(_) => (
                Some(r#"Bearer error="invalid_token""#),
                r#"{"error":"invalid_token","error_description":"the access token is invalid"}"#,
            ),
            Self::NoVerifier => (None, r#"{"error":"server_error"}"#),
        };
        let mut response = HttpResponse::build(self.status_code());
        if let Some(challenge) = challenge {
            response.insert_header((
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            ));
        }
        response
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .content_type("application/json")
            .body(body)
    }
}

/// A token without a scope a route needs: `403 insufficient_scope`.
#[derive(Debug, thiserror::Error)]
#[error("token lacks scope {scope:?}")]
pub struct InsufficientScope {
    /// The scope that was required.
    pub scope: String,
}

impl ResponseError for InsufficientScope {
    fn status_code(&self) -> StatusCode {
        StatusCode::FORBIDDEN
    }

    fn error_response(&self) -> HttpResponse {
        let challenge = format!(
            r#"Bearer error="insufficient_scope", scope="{}""#,
            self.scope.replace(['"', '\\'], "")
        );
        HttpResponse::Forbidden()
            .insert_header((header::WWW_AUTHENTICATE, challenge))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(serde_json::json!({
                "error": "insufficient_scope",
                "error_description": "the access token does not grant the scope this resource needs",
                "scope": self.scope,
            }))
    }
}

impl FromRequest for Authenticated {
    type Error = AuthError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AuthError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let verifier = req
            .app_data::<web::Data<Verifier>>()
            .map(|data| data.get_ref().clone())
            .or_else(|| req.app_data::<Verifier>().cloned());
        let token = bearer_token(req);
        Box::pin(async move {
            let Some(verifier) = verifier else {
                tracing::error!("Authenticated extractor used without a Verifier in the app data");
                return Err(AuthError::NoVerifier);
            };
            let token = token.ok_or(AuthError::MissingToken)?;
            match verifier.verify(&token).await {
                Ok(claims) => Ok(Authenticated(claims)),
                Err(reason) => {
                    tracing::info!(%reason, "refused a bearer token");
                    Err(AuthError::InvalidToken(reason))
                }
            }
        })
    }
}

/// The token of `Authorization: Bearer <token>` (scheme case-insensitive).
/// `None` when there is no such header, which RFC 6750 answers without an
/// error code; an empty token is passed on and refused as malformed.
fn bearer_token(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}
