//! Extractors: each parses and checks one thing a handler needs, once, before
//! the handler runs; a refusal is the answer (`ApiError`).
//!
//! - [`Json`]: a bounded JSON body.
//! - [`Caller`]: who is calling (client IP through trusted proxies, user agent).
//! - [`VerifiedUser`]: the Bearer token of a user, signature and claims checked.
//! - [`AuthenticatedUser`]: the same, and its session still live.
//! - [`PresentedRefresh`]: the refresh token from the cookie (Origin checked)
//!   or the body, never both.
//! - [`OAuthForm`]: an OAuth form body with the client's credentials.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header::{self, HeaderMap, X_FORWARDED_FOR};
use actix_web::{FromRequest, HttpRequest, web};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use utoipa::ToSchema;
use uuid::Uuid;

use super::ApiError;
use super::body::{self, Form};
use super::client_auth::{ClientCredentials, client_credentials};
use super::cookies::{check_origin, refresh_cookie};
use super::state::AppState;
use super::tokens::Delivery;
use crate::audit::RequestMeta;
use crate::ids::{SessionId, UserId};
use crate::sessions;
use crate::throttle::InvalidForwardedFor;

type Extracted<T> = Pin<Box<dyn Future<Output = Result<T, ApiError>>>>;

/// Longest user agent kept with a session.
const MAX_USER_AGENT: usize = 512;

fn state_of(req: &HttpRequest) -> Result<web::Data<AppState>, ApiError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("the app state is not registered")))
}

/// What reading a body needs: the state, the payload, the body limit.
type BodyParts = (web::Data<AppState>, web::Payload, usize);

/// The request, and a future of what reading its body needs: the state, the
/// payload, and the body limit (`server.max_body_bytes`).
fn with_body(
    req: &HttpRequest,
    payload: &mut Payload,
) -> (
    HttpRequest,
    impl Future<Output = Result<BodyParts, ApiError>> + 'static,
) {
    let req = req.clone();
    let payload = web::Payload::from_request(&req, payload).into_inner();
    let state = state_of(&req);
    let body = async move {
        let state = state?;
        let payload = payload.map_err(|e| ApiError::InvalidRequest(e.to_string()))?;
        let limit = state.settings().server.max_body_bytes;
        Ok((state, payload, limit))
    };
    (req, body)
}

/// A JSON body of at most `server.max_body_bytes`, `application/json`.
pub struct Json<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = ApiError;
    type Future = Extracted<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let (req, body) = with_body(req, payload);
        Box::pin(async move {
            let (_, payload, limit) = body.await?;
            Ok(Json(body::json(&req, payload, limit).await?))
        })
    }
}

/// The client's address, through trusted proxies only (see
/// [`crate::throttle::client_ip`]): every `X-Forwarded-For` line is read, in
/// order, as one list. From a trusted proxy, a hop that is not an address is
/// refused (400 `invalid_request`); from any other peer the header is ignored.
pub fn client_ip(
    peer: Option<SocketAddr>,
    headers: &HeaderMap,
    trusted: &[IpAddr],
) -> Result<Option<IpAddr>, InvalidForwardedFor> {
    let lines: Vec<&[u8]> = headers
        .get_all(X_FORWARDED_FOR)
        .map(|v| v.as_bytes())
        .collect();
    crate::throttle::client_ip(peer.map(|a| a.ip()), &lines, trusted)
}

/// Who is calling: the client's address and user agent, as recorded with
/// sessions and audit events.
pub struct Caller {
    pub ip: Option<IpAddr>,
    pub meta: RequestMeta,
}

impl Caller {
    /// 400 `invalid_request` when a trusted proxy's `X-Forwarded-For` does not
    /// parse: no limit, session or audit event is charged to a guessed address.
    pub fn of(state: &AppState, req: &HttpRequest) -> Result<Self, ApiError> {
        let ip =
            client_ip(req.peer_addr(), req.headers(), &state.trusted_proxies).map_err(|e| {
                tracing::warn!(error = %e, "request refused: malformed X-Forwarded-For");
                ApiError::InvalidRequest(e.to_string())
            })?;
        let user_agent = req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(MAX_USER_AGENT).collect());
        Ok(Self {
            ip,
            meta: RequestMeta {
                ip: ip.map(|ip| ip.to_string()),
                user_agent,
            },
        })
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(state_of(req).and_then(|state| Caller::of(&state, req)))
    }
}

/// The Bearer token of the `Authorization` header: `Ok(None)` if there is no
/// such header, `Err` if it is there but not a Bearer token.
pub fn bearer(req: &HttpRequest) -> Result<Option<&str>, ApiError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| ApiError::InvalidToken)?;
    let (scheme, token) = value.split_once(' ').ok_or(ApiError::InvalidToken)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(ApiError::InvalidToken);
    }
    Ok(Some(token.trim()))
}

/// A user's access token from authd's own sign-in (not a machine client's,
/// nor one an app obtained for its user), its signature and claims checked,
/// without the database: its session may have ended. Only for a
/// route that checks the session itself (`GET /auth/me`).
#[derive(Debug, Clone, Copy)]
pub struct VerifiedUser {
    pub sub: Uuid,
    pub sid: Uuid,
}

impl VerifiedUser {
    pub fn of(state: &AppState, req: &HttpRequest) -> Result<Self, ApiError> {
        let token = bearer(req)?.ok_or(ApiError::MissingToken)?;
        let svc = &state.services;
        let claims = svc.access.verify(token, svc.now()).map_err(|e| {
            tracing::info!(reason = %e, "access token refused");
            ApiError::InvalidToken
        })?;
        let Some((sub, sid)) = svc.access.first_party_user(&claims) else {
            tracing::info!(client = %claims.client_id, "a client's access token refused on a user endpoint");
            return Err(ApiError::InvalidToken);
        };
        Ok(Self { sub, sid })
    }
}

impl FromRequest for VerifiedUser {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(state_of(req).and_then(|state| Self::of(&state, req)))
    }
}

/// A user's access token whose session is live: authd's own Bearer routes
/// refuse tokens of ended sessions at once, not when they expire.
#[derive(Debug, Clone, Copy)]
pub struct AuthenticatedUser {
    pub sub: Uuid,
    pub sid: Uuid,
}

impl AuthenticatedUser {
    pub async fn of(state: &AppState, req: &HttpRequest) -> Result<Self, ApiError> {
        let token = VerifiedUser::of(state, req)?;
        if !sessions::is_live(&state.services, UserId(token.sub), SessionId(token.sid)).await? {
            tracing::info!(session = %token.sid, "access token of an ended session refused");
            return Err(ApiError::InvalidToken);
        }
        Ok(Self {
            sub: token.sub,
            sid: token.sid,
        })
    }
}

impl FromRequest for AuthenticatedUser {
    type Error = ApiError;
    type Future = Extracted<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = state_of(&req)?;
            Self::of(&state, &req).await
        })
    }
}

/// A refresh token presented in the body (native clients); browsers send the
/// cookie and no body.
#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshBody {
    #[schema(value_type = Option<String>)]
    refresh_token: Option<SecretString>,
}

/// The refresh token of a request and how it came, if it has one: from the
/// cookie (its Origin checked), or from the body (if body delivery is on).
/// Presenting it both ways at once is refused as ambiguous.
pub struct PresentedRefresh(pub Option<(String, Delivery)>);

impl FromRequest for PresentedRefresh {
    type Error = ApiError;
    type Future = Extracted<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let (req, body) = with_body(req, payload);
        Box::pin(async move {
            let (state, payload, limit) = body.await?;
            let body: RefreshBody = body::optional_json(&req, payload, limit)
                .await?
                .unwrap_or_default();
            let cookie = refresh_cookie(&state, &req)?;
            let presented = match (cookie, body.refresh_token) {
                (Some(_), Some(_)) => {
                    return Err(ApiError::InvalidRequest(
                        "present the refresh token either in the cookie or in the body, not both"
                            .into(),
                    ));
                }
                (Some(cookie), None) => {
                    check_origin(&state, &req)?;
                    Some((cookie, Delivery::Cookie))
                }
                (None, Some(token)) => {
                    if !crate::sessions::delivery::body_allowed(&state.services) {
                        return Err(ApiError::InvalidRequest(
                            "refresh tokens in the body are disabled on this server".into(),
                        ));
                    }
                    Some((token.expose_secret().to_owned(), Delivery::Body))
                }
                (None, None) => None,
            };
            Ok(PresentedRefresh(presented))
        })
    }
}

/// An `application/x-www-form-urlencoded` body of the OAuth endpoints, with
/// the client credentials of the request (HTTP Basic or the form's
/// `client_id` and `client_secret`, taken out of the form).
pub struct OAuthForm {
    pub form: Form,
    pub client: ClientCredentials,
}

impl FromRequest for OAuthForm {
    type Error = ApiError;
    type Future = Extracted<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let (req, body) = with_body(req, payload);
        Box::pin(async move {
            let (_, payload, limit) = body.await?;
            let mut form = body::form(&req, payload, limit).await?;
            let (id, secret) = (form.take("client_id")?, form.take("client_secret")?);
            let client = client_credentials(&req, id, secret)?;
            Ok(OAuthForm { form, client })
        })
    }
}
