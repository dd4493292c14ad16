//! Local verification of authd access tokens
//! for Rust microservices.
//!
//! A [`Verifier`] is built once from authd's issuer URL. It reads
//! `{issuer}/.well-known/openid-configuration`, fetches the JWKS it names and
//! then verifies each token without calling authd:
//!
//! - **Keys** are cached for the `Cache-Control: max-age` authd sends (bounded
//!   by [`VerifierBuilder::cache_bounds`]) and refreshed in the background at
//!   three quarters of that; if a refresh fails (including an answer with no
//!   usable key), the last good keys stay in use, but only for
//!   [`VerifierBuilder::max_key_staleness`] (24 h by default) past their cache
//!   lifetime: then every token they would verify is refused with
//!   [`VerifyError::StaleKeys`] until a refresh succeeds. Fetches run one at a time,
//!   so an older answer never replaces a newer one. A token with an unknown
//!   `kid` causes at most one refetch per
//!   [`VerifierBuilder::unknown_kid_refetch_interval`] (30 s by default), shared
//!   by all requests waiting on it: a key rotation costs no failures, and a
//!   flood of made-up kids costs authd one request per interval.
//! - **Algorithms** are pinned to keys: each JWK verifies only under its own
//!   `alg` (or the one its `kty`/`crv` imply), and a token whose header names
//!   another algorithm is refused. `alg: none`, `crit` and symmetric keys in
//!   the JWKS are refused; `jku`, `x5u`, `jwk` and `x5c` headers are ignored.
//!   HS256 works with a shared secret configured by kid
//!   ([`VerifierBuilder::hs256_secret`]).
//! - **Claims**: `typ` must be `at+jwt` (RFC 9068), `iss` the issuer, `aud`
//!   must contain the audience, `exp`, `nbf` and `iat` must hold within the
//!   leeway (30 s by default, [`VerifierBuilder::leeway`]); `sub`, `client_id`,
//!   `iat` and `jti` must be present. Unknown claims are kept, not refused.
//! - **Revocation** (optional, [`VerifierBuilder::revocation`]): the verifier
//!   polls authd's revocation feed every 5 s (configurable) with a registered
//!   client's credentials (holding the permission `authd:revocations`) and
//!   refuses tokens whose `sid` was revoked, or whose user had every session
//!   revoked (a global logout, a detected refresh-token reuse: one feed entry
//!   that covers tokens whose `auth_time`, their session's start, is
//!   earlier; it asks for feed version 2, so authd must know it). The
//!   worst-case delay from a revocation in authd to its refusal here is one
//!   poll interval plus the duration of one feed request (5 s + a few ms by
//!   default); polls start at a fixed cadence. A failed poll keeps the last
//!   list, is logged and retried at the next tick;
//!   [`Verifier::last_revocation_poll`] tells how fresh the list is. Once no
//!   poll has succeeded for [`VerifierBuilder::max_revocation_staleness`]
//!   (60 s by default), user tokens are refused with
//!   [`VerifyError::StaleRevocations`] until one does. A
//!   revoked session is remembered until its `until` plus the leeway, as
//!   long as its tokens could still be accepted here.
//! - **Requests to authd** go over `https` only: the issuer and every URL
//!   configured or discovered must be `https`, or `http` to a loopback host
//!   (`localhost`, `127.0.0.0/8`, `[::1]`), unless
//!   [`VerifierBuilder::allow_insecure_http`]; `build` refuses any other with
//!   [`BuildError::InsecureTransport`]. Redirects are followed only within the
//!   origin (scheme, host, port) of the request ([`redirect_policy`]), so never
//!   to another host or port, nor from https to http, and an answer that comes
//!   from another origin is refused whatever the client followed.
//! - **Requests to authd** are also bounded by this crate, whatever the HTTP
//!   client's own timeouts: each one (discovery, JWKS, one feed page) gets
//!   [`VerifierBuilder::request_timeout`] (10 s by default) to complete, and
//!   bodies are refused once they exceed a size limit (by `Content-Length`,
//!   else while streaming). The background tasks stop as soon as the last
//!   clone of the [`Verifier`] is dropped.
//!
//! # Users and machine clients
//!
//! authd issues two kinds of access token: a **user's** (with a session,
//! `sid`; `sub` is the user's UUID) and a **machine client's**, from the
//! client-credentials grant (no `sid`; `sub` is the client id). The
//! extractors [`AuthenticatedUser`] and [`AuthenticatedClient`] accept only
//! their kind and answer the other like an invalid token (401
//! `invalid_token`); [`Authenticated`] accepts either, so a handler using it
//! must not assume a user. With [`Verifier::verify`], check
//! [`Claims::is_user`].
//!
//! Failures come back as a [`VerifyError`] naming the reason, for logs: tell
//! clients only that the token is invalid.
//!
//! The checks themselves are the pure functions of [`validation`]; authd
//! verifies the tokens presented to it with the same ones.
//!
//! # Use
//!
//! ```no_run
//! use std::time::Duration;
//! use actix_web::{App, HttpResponse, HttpServer, get, web};
//! use authd_verify::{AuthenticatedClient, AuthenticatedUser, InsufficientScope, Verifier};
//!
//! // A user's route: machine tokens get 401.
//! #[get("/hello")]
//! async fn hello(user: AuthenticatedUser) -> HttpResponse {
//!     HttpResponse::Ok().body(format!("hello {}", user.sub))
//! }
//!
//! // A service-to-service route: user tokens get 401, missing scope 403.
//! #[get("/reports")]
//! async fn reports(client: AuthenticatedClient) -> Result<HttpResponse, InsufficientScope> {
//!     client.require_scope("reports:read")?;
//!     Ok(HttpResponse::Ok().body("the reports"))
//! }
//!
//! #[actix_web::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let verifier = Verifier::builder("https://auth.example.com")
//!         .audience("authd")
//!         .leeway(Duration::from_secs(30))
//!         // optional: near-instant revocation through the feed
//!         .revocation("client_0f3a", "the client secret")
//!         .build()
//!         .await?;
//!
//!     // Outside actix-web: verify a bearer token directly.
//!     # let token = "";
//!     match verifier.verify(token).await {
//!         Ok(claims) => println!("{} with scopes {:?}", claims.sub, claims.scope),
//!         Err(reason) => eprintln!("refused: {reason}"),
//!     }
//!
//!     let data = web::Data::new(verifier);
//!     HttpServer::new(move || App::new().app_data(data.clone()).service(hello).service(reports))
//!         .bind(("127.0.0.1", 8081))?
//!         .run()
//!         .await?;
//!     Ok(())
//! }
//! ```
//!
//! The extractors live behind the default `actix` feature; without it the
//! crate has no actix-web dependency.

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![warn(missing_docs)]

#[cfg(feature = "actix")]
mod actix;
mod builder;
mod claims;
mod discovery;
mod error;
mod http;
mod keys;
mod require;
mod revocation;
pub mod validation;
mod verifier;

#[cfg(feature = "actix")]
pub use actix::{
    AuthError, Authenticated, AuthenticatedClient, AuthenticatedUser, RequireRole, RequireScope,
    RequiredRole, RequiredScope, TokenKind,
};
pub use builder::VerifierBuilder;
pub use claims::Claims;
pub use error::{BuildError, VerifyError};
pub use http::redirect_policy;
pub use require::{DEFAULT_ROLES_CLAIM, InsufficientRole, InsufficientScope};
pub use validation::MAX_TOKEN_BYTES;
pub use verifier::{
    DEFAULT_LEEWAY, DEFAULT_MAX_CACHE, DEFAULT_MAX_KEY_STALENESS, DEFAULT_MAX_REVOCATION_STALENESS,
    DEFAULT_MIN_CACHE, DEFAULT_REQUEST_TIMEOUT, DEFAULT_REVOCATION_POLL,
    DEFAULT_UNKNOWN_KID_INTERVAL, MIN_HS256_SECRET_BYTES, Verifier,
};
