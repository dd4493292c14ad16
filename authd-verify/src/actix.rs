//! The actix-web extractors: `Authorization: Bearer` in, verified claims out
//! (of a user's token, a machine client's, or either), RFC 6750 401s
//! otherwise; and the ones that demand a scope or a role of them
//! ([`RequireScope`], [`RequireRole`]), 403 otherwise.

use std::future::Future;
use std::marker::PhantomData;
use std::ops::Deref;
use std::pin::Pin;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, dev::Payload, web};

use crate::require::DEFAULT_ROLES_CLAIM;
use crate::{Claims, InsufficientRole, InsufficientScope, Verifier};

/// The verified claims of the request's bearer token, whichever kind it is:
/// a **user's** token (with a `sid`) or a **machine client's**
/// client-credentials token (no `sid`, `sub` is the client id). Use
/// [`AuthenticatedUser`] or [`AuthenticatedClient`] when a route is meant for
/// only one of them; check [`Claims::is_user`] when using this one.
///
/// Extracting it needs a [`Verifier`] in the app data (as
/// `web::Data<Verifier>` or via `App::app_data(verifier)`). On failure the
/// handler is not called and the client gets `401` with
/// `WWW-Authenticate: Bearer error="invalid_token"` (or plain `Bearer` when no
/// token was sent, RFC 6750 section 3.1) and a JSON body; the reason is logged
/// at `info`, never sent. When the verifier's keys or revocation list are
/// past their staleness bound, the client gets `503` instead (the token may
/// be good; it cannot be checked now), logged at `warn`.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Claims);

/// The verified claims of a **user's** access token: one issued to a login
/// session, so it has a `sid`, and `sub` is the user's id.
///
/// A valid machine (client-credentials) token is refused like an invalid
/// one: `401`, `WWW-Authenticate: Bearer error="invalid_token"`, a JSON
/// `invalid_token` body, and the reason logged at `info`. Otherwise as
/// [`Authenticated`].
#[derive(Debug, Clone)]
pub struct AuthenticatedUser(pub Claims);

/// The verified claims of a **machine client's** client-credentials token:
/// no `sid`, and `sub` equals `client_id`.
///
/// A valid user token is refused like an invalid one (`401 invalid_token`,
/// the reason logged at `info`). Otherwise as [`Authenticated`]. Combine with
/// [`require_scope`](Self::require_scope) for what the client may do.
#[derive(Debug, Clone)]
pub struct AuthenticatedClient(pub Claims);

macro_rules! claims_wrapper {
    ($name:ident) => {
        impl Deref for $name {
            type Target = Claims;
            fn deref(&self) -> &Claims {
                &self.0
            }
        }

        impl $name {
            /// `Ok` when the token carries `scope`; otherwise an error that
            /// answers `403` with `WWW-Authenticate: Bearer error="insufficient_scope"`.
            pub fn require_scope(&self, scope: &str) -> Result<(), InsufficientScope> {
                self.0.require_scope(scope)
            }

            /// `Ok` when the token's `roles` claim lists `role`; otherwise
            /// an error that answers `403 insufficient_role`. For roles
            /// under another claim name, `self.require_role_in(claim, role)`.
            pub fn require_role(&self, role: &str) -> Result<(), InsufficientRole> {
                self.0.require_role(role)
            }

            /// The verified claims.
            pub fn into_claims(self) -> Claims {
                self.0
            }
        }
    };
}

claims_wrapper!(Authenticated);
claims_wrapper!(AuthenticatedUser);
claims_wrapper!(AuthenticatedClient);

/// The kind of token a route accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenKind {
    /// A user's token: it has a `sid`.
    User,
    /// A machine client's client-credentials token: it has no `sid`.
    Client,
}

impl std::fmt::Display for TokenKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::User => "a user token (with sid)",
            Self::Client => "a machine client token (without sid)",
        })
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
    /// The token could not be checked: the verifier's keys or revocation list
    /// are past their staleness bound ([`VerifyError::is_unavailable`](crate::VerifyError::is_unavailable)).
    /// 503 `temporarily_unavailable`, so that clients retry later rather than
    /// drop a session that may be good.
    #[error("token not checkable now: {0}")]
    Unavailable(crate::VerifyError),
    /// The token verified but is of the other kind than the route accepts
    /// (a machine token on an [`AuthenticatedUser`] route, or a user token on
    /// an [`AuthenticatedClient`] route). 401 `invalid_token`, like any other
    /// refused token.
    #[error("valid token of the wrong kind: the route needs {expected}")]
    WrongTokenKind {
        /// The kind the route accepts.
        expected: TokenKind,
    },
    /// No `Verifier` in the app data: a bug in the service. 500.
    #[error("no authd_verify::Verifier in the app data")]
    NoVerifier,
    /// The token verified but lacks the scope a [`RequireScope`] route
    /// needs. 403 `insufficient_scope`.
    #[error(transparent)]
    InsufficientScope(InsufficientScope),
    /// The token verified but its user lacks the role a [`RequireRole`]
    /// route needs. 403 `insufficient_role`.
    #[error(transparent)]
    InsufficientRole(InsufficientRole),
}

impl ResponseError for AuthError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::MissingToken | Self::InvalidToken(_) | Self::WrongTokenKind { .. } => {
                StatusCode::UNAUTHORIZED
            }
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::NoVerifier => StatusCode::INTERNAL_SERVER_ERROR,
            Self::InsufficientScope(_) | Self::InsufficientRole(_) => StatusCode::FORBIDDEN,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let (challenge, body) = match self {
            Self::InsufficientScope(e) => return e.error_response(),
            Self::InsufficientRole(e) => return e.error_response(),
            Self::MissingToken => (
                Some("Bearer"),
                r#"{"error":"invalid_token","error_description":"an access token is required"}"#,
            ),
            Self::InvalidToken(_) | Self::WrongTokenKind { .. } => (
                Some(r#"Bearer error="invalid_token""#),
                r#"{"error":"invalid_token","error_description":"the access token is invalid"}"#,
            ),
            Self::Unavailable(_) => (
                None,
                r#"{"error":"temporarily_unavailable","error_description":"access tokens cannot be checked right now"}"#,
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

impl ResponseError for InsufficientRole {
    fn status_code(&self) -> StatusCode {
        StatusCode::FORBIDDEN
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::Forbidden()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(serde_json::json!({
                "error": "insufficient_role",
                "error_description": "the access token's user lacks the role this resource needs",
                "role": self.role,
            }))
    }
}

/// The scope a [`RequireScope`] route demands, named by a type:
///
/// ```
/// struct ReportsRead;
/// impl authd_verify::RequiredScope for ReportsRead {
///     const SCOPE: &'static str = "reports:read";
/// }
/// ```
pub trait RequiredScope {
    /// The scope, one item of the token's `scope`.
    const SCOPE: &'static str;
}

/// The role a [`RequireRole`] route demands, named by a type, and the claim
/// it is read from (`roles` unless authd's `tokens.roles_claim` says
/// otherwise):
///
/// ```
/// struct Admin;
/// impl authd_verify::RequiredRole for Admin {
///     const ROLE: &'static str = "admin";
/// }
/// ```
pub trait RequiredRole {
    /// The role.
    const ROLE: &'static str;
    /// The claim listing the user's roles.
    const CLAIM: &'static str = DEFAULT_ROLES_CLAIM;
}

/// The verified claims of a token of either kind that carries the scope
/// `S` names: otherwise the handler is not called and the client gets `403
/// insufficient_scope` (401 for a token that does not verify, as
/// [`Authenticated`]).
pub struct RequireScope<S: RequiredScope>(pub Claims, PhantomData<S>);

/// The verified claims of a **user's** token whose roles list the one `R`
/// names: otherwise the handler is not called and the client gets `403
/// insufficient_role` (401 for a token that does not verify or a machine
/// client's, as [`AuthenticatedUser`]). Roles are as of the token's issue:
/// a role taken away still shows in the user's tokens until they expire,
/// unless their sessions are ended (the revocation feed then refuses them).
pub struct RequireRole<R: RequiredRole>(pub Claims, PhantomData<R>);

impl<S: RequiredScope> Deref for RequireScope<S> {
    type Target = Claims;
    fn deref(&self) -> &Claims {
        &self.0
    }
}

impl<R: RequiredRole> Deref for RequireRole<R> {
    type Target = Claims;
    fn deref(&self) -> &Claims {
        &self.0
    }
}

impl<S: RequiredScope> std::fmt::Debug for RequireScope<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("RequireScope")
            .field(&S::SCOPE)
            .field(&self.0)
            .finish()
    }
}

impl<R: RequiredRole> std::fmt::Debug for RequireRole<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("RequireRole")
            .field(&R::ROLE)
            .field(&self.0)
            .finish()
    }
}

impl<S: RequiredScope + 'static> FromRequest for RequireScope<S> {
    type Error = AuthError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AuthError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let claims = extract(req, None);
        Box::pin(async move {
            let claims = claims.await?;
            claims.require_scope(S::SCOPE).map_err(|e| {
                tracing::info!(sub = %claims.sub, scope = S::SCOPE, "refused a bearer token: scope missing");
                AuthError::InsufficientScope(e)
            })?;
            Ok(Self(claims, PhantomData))
        })
    }
}

impl<R: RequiredRole + 'static> FromRequest for RequireRole<R> {
    type Error = AuthError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AuthError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let claims = extract(req, Some(TokenKind::User));
        Box::pin(async move {
            let claims = claims.await?;
            claims.require_role_in(R::CLAIM, R::ROLE).map_err(|e| {
                tracing::info!(sub = %claims.sub, role = R::ROLE, "refused a bearer token: role missing");
                AuthError::InsufficientRole(e)
            })?;
            Ok(Self(claims, PhantomData))
        })
    }
}

/// Verifies the request's bearer token and, when `kind` is given, that it is
/// of that kind. Every refusal is logged at `info` with its reason.
fn extract(
    req: &HttpRequest,
    kind: Option<TokenKind>,
) -> impl Future<Output = Result<Claims, AuthError>> + use<> {
    let verifier = req
        .app_data::<web::Data<Verifier>>()
        .map(|data| data.get_ref().clone())
        .or_else(|| req.app_data::<Verifier>().cloned());
    let token = bearer_token(req);
    async move {
        let Some(verifier) = verifier else {
            tracing::error!("authd-verify extractor used without a Verifier in the app data");
            return Err(AuthError::NoVerifier);
        };
        let token = token.ok_or(AuthError::MissingToken)?;
        let claims = match verifier.verify(&token).await {
            Ok(claims) => claims,
            Err(reason) if reason.is_unavailable() => {
                tracing::warn!(%reason, "could not check a bearer token");
                return Err(AuthError::Unavailable(reason));
            }
            Err(reason) => {
                tracing::info!(%reason, "refused a bearer token");
                return Err(AuthError::InvalidToken(reason));
            }
        };
        let actual = if claims.is_user() {
            TokenKind::User
        } else {
            TokenKind::Client
        };
        match kind {
            Some(expected) if expected != actual => {
                tracing::info!(
                    sub = %claims.sub,
                    client_id = %claims.client_id,
                    reason = %format!("the route needs {expected}, the token is {actual}"),
                    "refused a bearer token"
                );
                Err(AuthError::WrongTokenKind { expected })
            }
            _ => Ok(claims),
        }
    }
}

macro_rules! extractor {
    ($name:ident, $kind:expr) => {
        impl FromRequest for $name {
            type Error = AuthError;
            type Future = Pin<Box<dyn Future<Output = Result<Self, AuthError>>>>;

            fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
                let claims = extract(req, $kind);
                Box::pin(async move { claims.await.map($name) })
            }
        }
    };
}

extractor!(Authenticated, None);
extractor!(AuthenticatedUser, Some(TokenKind::User));
extractor!(AuthenticatedClient, Some(TokenKind::Client));

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
