//! The `/auth` endpoints: register, login, refresh, logout, me, sessions.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::ApiError;
use super::error::ErrorBody;
use super::request::{self, check_origin, clear_refresh_cookie, set_refresh_cookie};
use crate::domain::{Email, Password};
use crate::passwords::weakness;
use crate::refresh::{RefreshClaims, log_prefix};
use crate::sessions::{Decision, Session, SessionView, decide};
use crate::startup::AppState;
use crate::store::{AuditEvent, AuditKind, NewUser, RequestMeta, Rotation, User, reasons};
use crate::throttle::Keys;

/// An email and password, for registration and login.
#[derive(Deserialize, ToSchema)]
pub struct Credentials {
    #[schema(example = "ada@example.com")]
    email: String,
    #[schema(value_type = String, format = Password)]
    password: SecretString,
    /// `cookie` (default, browsers) or `body` (native clients).
    #[serde(default)]
    token_delivery: Delivery,
}

/// How the refresh token travels. Browsers get it only in an HttpOnly cookie;
/// native clients ask for it in the body with `"token_delivery": "body"` at login,
/// and present it in the body afterwards (which keeps body delivery).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Delivery {
    #[default]
    Cookie,
    Body,
}

/// A refresh token presented in the body (native clients); browsers send the
/// cookie and no body.
#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshBody {
    #[schema(value_type = Option<String>)]
    refresh_token: Option<SecretString>,
}

/// RFC 6749 section 5.1.
#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    /// A JWT (RFC 9068, `typ: at+jwt`).
    access_token: String,
    #[schema(example = "Bearer")]
    token_type: &'static str,
    /// Seconds until the access token expires.
    expires_in: i64,
    /// Only with `token_delivery: body`; browsers get it in the cookie.
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    /// Seconds until the refresh token (the session) expires, unless rotated.
    refresh_expires_in: i64,
}

pub(super) fn now(state: &AppState) -> chrono::DateTime<chrono::Utc> {
    state.clock.now()
}

pub(super) async fn audit(state: &AppState, event: AuditEvent) {
    // An audit write failing must not fail the request it describes; it is logged.
    if let Err(e) = state.store.record_audit(&event).await {
        tracing::error!(error = %e, kind = event.kind.as_str(), "could not record audit event");
    }
}

pub(super) fn event(
    kind: AuditKind,
    user: Option<Uuid>,
    session: Option<Uuid>,
    meta: &RequestMeta,
    state: &AppState,
) -> AuditEvent {
    AuditEvent {
        user_id: user,
        kind,
        session_id: session,
        meta: meta.clone(),
        detail: None,
        at: now(state),
    }
}

/// Creates an account.
///
/// The password must be long enough and hard to guess; the new user is not
/// logged in.
#[utoipa::path(
    post,
    path = "/auth/register",
    tag = "auth",
    request_body(content = Credentials, description = "`token_delivery` is ignored"),
    responses(
        (status = 201, description = "The new user", body = User,
            headers(("Location" = String, description = "`/auth/me`"))),
        (status = 400, description = "`invalid_request` (a malformed body or email, a password too short or too long) or `weak_password`", body = ErrorBody),
        (status = 409, description = "`email_taken`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: the body is over `server.max_body_bytes`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: the body is not `application/json`", body = ErrorBody),
        (status = 429, description = "`too_many_requests`: too many registrations from this client", body = ErrorBody, headers(("Retry-After" = i64, description = "Seconds to wait"))),
        (status = "5XX", description = "`temporarily_unavailable` (503, with `Retry-After`) or `server_error` (500)", body = ErrorBody),
    ),
    security(())
)]
#[tracing::instrument(skip_all)]
pub async fn register(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    if let Err(retry_after_secs) = state
        .register_limit
        .check(request::client_ip(&state, &req), now(&state))
    {
        return Err(ApiError::TooManyRequests { retry_after_secs });
    }
    let input: Credentials =
        request::json(&req, body, state.settings.server.max_body_bytes).await?;
    let email = Email::parse(&input.email)?;
    let p = &state.settings.password;
    let password = Password::parse_new(input.password, p.min_length, p.max_bytes)?;
    if let Some(why) = weakness(password.expose(), email.as_str(), p.min_strength) {
        return Err(ApiError::WeakPassword(why));
    }
    let hash = state.hasher.hash(&password).await?;
    let user = state
        .store
        .create_user(NewUser {
            id: Uuid::new_v4(),
            email: email.as_str(),
            password_hash: &hash,
            now: now(&state),
        })
        .await?;
    tracing::info!(user = %user.id, "registered");
    audit(
        &state,
        event(
            AuditKind::Registered,
            Some(user.id),
            None,
            &request::meta(&state, &req),
            &state,
        ),
    )
    .await;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, "/auth/me"))
        .json(user))
}

/// Logs in with an email and password.
///
/// Answers an access token and starts a session whose refresh token comes in
/// the cookie (default) or in the body (`"token_delivery": "body"`).
#[utoipa::path(
    post,
    path = "/auth/login",
    tag = "auth",
    request_body = Credentials,
    responses(
        (status = 200, description = "Logged in", body = TokenResponse, headers(
                ("Set-Cookie" = String, description = "The refresh token (HttpOnly, Secure, SameSite) when it travels by cookie"),
                ("Cache-Control" = String, description = "`no-store`"),
            )),
        (status = 400, description = "`invalid_request`: a malformed body, or body delivery disabled", body = ErrorBody),
        (status = 401, description = "`invalid_credentials`: wrong email or password (never says which)", body = ErrorBody),
        (status = 403, description = "`invalid_origin`: cookie delivery requested from an origin not allowed", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: the body is over `server.max_body_bytes`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: the body is not `application/json`", body = ErrorBody),
        (status = 429, description = "`too_many_requests`: too many failed logins for this account or client", body = ErrorBody, headers(("Retry-After" = i64, description = "Seconds to wait"))),
        (status = "5XX", description = "`temporarily_unavailable` (503, with `Retry-After`) or `server_error` (500)", body = ErrorBody),
    ),
    security(())
)]
#[tracing::instrument(skip_all)]
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let input: Credentials =
        request::json(&req, body, state.settings.server.max_body_bytes).await?;
    let delivery = input.token_delivery;
    if delivery == Delivery::Cookie {
        check_origin(&state, &req)?;
    } else if !state.settings.refresh.allow_body_delivery {
        return Err(ApiError::InvalidRequest(
            "token_delivery \"body\" is disabled on this server".into(),
        ));
    }
    let email = Email::parse(&input.email)?;
    let password = Password::parse_existing(input.password, state.settings.password.max_bytes)?;
    let meta = request::meta(&state, &req);
    let keys = Keys::new(email.as_str(), meta.ip.as_deref());
    if let Err(retry_after_secs) = state
        .throttle
        .check(state.store.as_ref(), &keys, now(&state))
        .await?
    {
        // Refused before any hashing: a locked-out attacker costs no Argon2id run.
        tracing::info!(retry_after_secs, "login refused: locked out");
        state
            .metrics
            .logins
            .with_label_values(&["locked_out"])
            .inc();
        return Err(ApiError::TooManyRequests { retry_after_secs });
    }

    let stored = state.store.find_credentials(email.as_str()).await?;
    let verified = state
        .hasher
        .verify(&password, stored.as_ref().map(|c| c.password_hash.as_str()))
        .await?;
    let user_id = match (&stored, verified.ok) {
        (Some(c), true) => c.id,
        _ => {
            tracing::info!(known_user = stored.is_some(), "login failed");
            state.metrics.logins.with_label_values(&["failed"]).inc();
            state
                .throttle
                .failed(state.store.as_ref(), &keys, now(&state))
                .await?;
            audit(
                &state,
                event(
                    AuditKind::LoginFailed,
                    stored.map(|c| c.id),
                    None,
                    &meta,
                    &state,
                ),
            )
            .await;
            return Err(ApiError::InvalidCredentials);
        }
    };
    state.metrics.logins.with_label_values(&["ok"]).inc();
    state
        .throttle
        .succeeded(state.store.as_ref(), &keys)
        .await?;
    if let Some(rehash) = verified.rehash {
        state
            .store
            .update_password_hash(user_id, &rehash, now(&state))
            .await?;
        tracing::info!(user = %user_id, "password re-hashed with the current parameters");
    }

    let session = state.policy.new_session(
        user_id,
        now(&state),
        meta.user_agent.clone(),
        meta.ip.clone(),
    );
    state.store.create_session(&session).await?;
    tracing::info!(user = %user_id, session = %session.id, "login");
    audit(
        &state,
        event(
            AuditKind::LoginSucceeded,
            Some(user_id),
            Some(session.id),
            &meta,
            &state,
        ),
    )
    .await;
    token_response(&state, &session, delivery)
}

/// Issues an access token for `session` and delivers its current refresh token.
pub(super) fn token_response(
    state: &AppState,
    session: &Session,
    delivery: Delivery,
) -> Result<HttpResponse, ApiError> {
    let now = now(state);
    let access = state
        .access
        .issue(session.user_id, session.id, now)
        .map_err(ApiError::internal)?;
    let refresh = state.refresh.encode(RefreshClaims {
        session: session.id,
        counter: session.counter,
    });
    let refresh_expires_in = (session.expires_at - now).num_seconds().max(0);
    let mut response = super::token_headers(HttpResponse::Ok());
    let body_token = match delivery {
        Delivery::Cookie => {
            response.cookie(set_refresh_cookie(
                state,
                refresh.expose_secret().to_owned(),
                refresh_expires_in,
            ));
            None
        }
        Delivery::Body => Some(refresh.expose_secret().to_owned()),
    };
    Ok(response.json(TokenResponse {
        access_token: access.token,
        token_type: "Bearer",
        expires_in: access.expires_in,
        refresh_token: body_token,
        refresh_expires_in,
    }))
}

/// The refresh token of a request and how it came. Presenting it both ways
/// at once is refused as ambiguous.
async fn presented_refresh_token(
    state: &AppState,
    req: &HttpRequest,
    body: web::Payload,
) -> Result<Option<(String, Delivery)>, ApiError> {
    let body: RefreshBody = request::optional_json(req, body, state.settings.server.max_body_bytes)
        .await?
        .unwrap_or_default();
    let cookie = request::refresh_cookie(state, req)?;
    match (cookie, body.refresh_token) {
        (Some(_), Some(_)) => Err(ApiError::InvalidRequest(
            "present the refresh token either in the cookie or in the body, not both".into(),
        )),
        (Some(cookie), None) => {
            check_origin(state, req)?;
            Ok(Some((cookie, Delivery::Cookie)))
        }
        (None, Some(token)) => {
            if !state.settings.refresh.allow_body_delivery {
                return Err(ApiError::InvalidRequest(
                    "refresh tokens in the body are disabled on this server".into(),
                ));
            }
            Ok(Some((token.expose_secret().to_owned(), Delivery::Body)))
        }
        (None, None) => Ok(None),
    }
}

/// Rotates the presented refresh token.
///
/// Answers a new access token and a new refresh token, delivered the way the
/// old one came. Presenting a rotated token again revokes every session of the
/// user.
#[utoipa::path(
    post,
    path = "/auth/refresh",
    tag = "auth",
    request_body(content = Option<RefreshBody>, description = "Native clients: the refresh token. Browsers: no body, the cookie"),
    responses(
        (status = 200, description = "Rotated", body = TokenResponse, headers(
                ("Set-Cookie" = String, description = "The refresh token (HttpOnly, Secure, SameSite) when it travels by cookie"),
                ("Cache-Control" = String, description = "`no-store`"),
            )),
        (status = 400, description = "`invalid_request`: a malformed body, the token both in the cookie and the body, or body delivery disabled", body = ErrorBody),
        (status = 401, description = "`invalid_grant`: the refresh token is missing, invalid, expired, revoked or reused (reuse revokes every session of the user)", body = ErrorBody),
        (status = 403, description = "`invalid_origin`: the cookie sent from an origin not allowed", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: the body is over `server.max_body_bytes`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: the body is not `application/json`", body = ErrorBody),
        (status = 429, description = "`too_many_requests`: too many refreshes from this client", body = ErrorBody, headers(("Retry-After" = i64, description = "Seconds to wait"))),
        (status = "5XX", description = "`temporarily_unavailable` (503, with `Retry-After`) or `server_error` (500)", body = ErrorBody),
    ),
    security(("refresh_cookie" = []), ())
)]
#[tracing::instrument(skip_all)]
pub async fn refresh(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    if let Err(retry_after_secs) = state
        .refresh_limit
        .check(request::client_ip(&state, &req), now(&state))
    {
        return Err(ApiError::TooManyRequests { retry_after_secs });
    }
    let (token, delivery) = match presented_refresh_token(&state, &req, body).await? {
        Some(t) => t,
        None => {
            tracing::info!("refresh without a token");
            return Err(ApiError::InvalidGrant { clear_cookie: None });
        }
    };
    let meta = request::meta(&state, &req);
    match exchange_refresh_token(&state, &token, &meta).await? {
        Some(session) => token_response(&state, &session, delivery),
        None => Err(ApiError::InvalidGrant {
            clear_cookie: (delivery == Delivery::Cookie)
                .then(|| Box::new(clear_refresh_cookie(&state))),
        }),
    }
}

/// Applies the rotation rule to a presented refresh token, for `/auth/refresh`
/// and the OAuth token endpoint alike: the session whose current token is to
/// be delivered (rotated, or handed out again under the grace rule), or `None`
/// when the token is refused (forged, expired, revoked, unknown or reused;
/// reuse has revoked every session of the user by then).
pub(super) async fn exchange_refresh_token(
    state: &AppState,
    token: &str,
    meta: &RequestMeta,
) -> Result<Option<Session>, ApiError> {
    let Some(claims) = state.refresh.decode(token) else {
        tracing::info!(
            token = log_prefix(token),
            "refresh with a token authd did not make"
        );
        state
            .metrics
            .refreshes
            .with_label_values(&["refused"])
            .inc();
        return Ok(None);
    };
    let rotation = state
        .store
        .rotate(
            claims.session,
            claims.counter,
            now(state),
            &state.policy,
            meta,
        )
        .await?;
    match rotation {
        Rotation::Rotated(session) => {
            state
                .metrics
                .refreshes
                .with_label_values(&["rotated"])
                .inc();
            Ok(Some(session))
        }
        Rotation::Grace(session) => {
            state.metrics.refreshes.with_label_values(&["grace"]).inc();
            tracing::info!(session = %session.id, "grace: the current refresh token handed out again");
            Ok(Some(session))
        }
        Rotation::Reused {
            user_id,
            session_id,
            revoked,
        } => {
            reuse_detected(state, user_id, session_id, revoked, "refresh");
            Ok(None)
        }
        Rotation::Refused(decision) => {
            tracing::info!(session = %claims.session, ?decision, "refresh refused");
            state
                .metrics
                .refreshes
                .with_label_values(&["refused"])
                .inc();
            Ok(None)
        }
    }
}

#[derive(Deserialize, Default, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LogoutQuery {
    /// Which sessions end (default `local`).
    #[serde(default)]
    #[param(inline)]
    scope: Scope,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// The session of the presented refresh token (or of the Bearer token).
    #[default]
    Local,
    /// Every session of the user (Bearer required).
    Global,
    /// Every session of the user but the current one (Bearer required).
    Others,
}

/// Logs out.
///
/// Ends the current session (`scope=local`, by refresh token or Bearer token),
/// every session of the user (`global`) or every other one (`others`); the
/// last two need the Bearer token. Logging out without a valid token still
/// answers 204 and clears the cookie.
#[utoipa::path(
    post,
    path = "/auth/logout",
    tag = "auth",
    params(LogoutQuery),
    request_body(content = Option<RefreshBody>, description = "Native clients: the refresh token of the session to end"),
    responses(
        (status = 204, description = "Logged out; the refresh cookie is cleared if it was sent (always for `global`)"),
        (status = 400, description = "`invalid_request`: an unknown `scope`, a malformed body, or the token both in the cookie and the body", body = ErrorBody),
        (status = 401, description = "`invalid_token`: no valid Bearer token, or its session has ended", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"authd\"`, with `error=\"invalid_token\"` for a bad token"))),
        (status = 403, description = "`invalid_origin`: the cookie sent from an origin not allowed", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: the body is over `server.max_body_bytes`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: the body is not `application/json`", body = ErrorBody),
        (status = "5XX", description = "`temporarily_unavailable` (503, with `Retry-After`) or `server_error` (500)", body = ErrorBody),
    ),
    security(("refresh_cookie" = []), ("bearer" = []), ())
)]
#[tracing::instrument(skip_all)]
pub async fn logout(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let query = web::Query::<LogoutQuery>::from_query(req.query_string())
        .map_err(|_| ApiError::InvalidRequest("scope must be local, global or others".into()))?
        .into_inner();
    let presented = presented_refresh_token(&state, &req, body).await?;
    let meta = request::meta(&state, &req);
    let now = now(&state);
    let mut response = HttpResponse::NoContent();
    response.insert_header((header::CACHE_CONTROL, "no-store"));
    if presented
        .as_ref()
        .is_some_and(|(_, d)| *d == Delivery::Cookie)
        || query.scope == Scope::Global
    {
        response.cookie(clear_refresh_cookie(&state));
    }
    match query.scope {
        Scope::Global | Scope::Others => {
            let auth = authenticate(&state, &req).await?;
            let (keep, reason) = if query.scope == Scope::Global {
                (None, reasons::LOGOUT_GLOBAL)
            } else {
                (Some(auth.sid), reasons::LOGOUT_OTHERS)
            };
            let mut e = event(
                AuditKind::Logout,
                Some(auth.sub),
                Some(auth.sid),
                &meta,
                &state,
            );
            e.detail = Some(reason.to_owned());
            let revoked = state
                .store
                .revoke_user_sessions(auth.sub, keep, reason, now, Some(&e))
                .await?;
            tracing::info!(user = %auth.sub, revoked, scope = ?query.scope, "logout");
            state.metrics.revoked(reason, revoked);
        }
        Scope::Local => {
            // A token that is invalid, expired or already revoked still logs out:
            // the cookie is cleared and there is nothing else to do.
            let target = match &presented {
                Some((token, _)) => match state.refresh.decode(token) {
                    Some(claims) => local_logout_target(&state, claims, now, &meta).await?,
                    None => None,
                },
                None => match request::bearer(&req)? {
                    Some(_) => {
                        let auth = authenticate(&state, &req).await?;
                        Some((auth.sid, auth.sub))
                    }
                    None => None,
                },
            };
            if let Some((session, user)) = target {
                end_session(&state, session, user, &meta).await?;
            }
        }
    }
    Ok(response.finish())
}

/// Logs out one session of `user`, if it is live: revoked, counted, audited.
pub(super) async fn end_session(
    state: &AppState,
    session: Uuid,
    user: Uuid,
    meta: &RequestMeta,
) -> Result<(), ApiError> {
    if state
        .store
        .revoke_session(session, user, reasons::LOGOUT, now(state))
        .await?
    {
        tracing::info!(user = %user, session = %session, "logout");
        state.metrics.revoked(reasons::LOGOUT, 1);
        audit(
            state,
            event(AuditKind::Logout, Some(user), Some(session), meta, state),
        )
        .await;
    }
    Ok(())
}

/// The session a refresh token may log out: only its current token, or its
/// predecessor inside the grace window. An older token is reuse, as on
/// `/auth/refresh`: every session of the user is revoked.
pub(super) async fn local_logout_target(
    state: &AppState,
    claims: RefreshClaims,
    now: chrono::DateTime<chrono::Utc>,
    meta: &RequestMeta,
) -> Result<Option<(Uuid, Uuid)>, ApiError> {
    let Some(session) = state.store.find_session(claims.session).await? else {
        return Ok(None);
    };
    match decide(&session, claims.counter, now, &state.policy) {
        Decision::Rotate { .. } | Decision::Grace => Ok(Some((session.id, session.user_id))),
        Decision::Reuse => {
            let mut e = event(
                AuditKind::RefreshReuseDetected,
                Some(session.user_id),
                Some(session.id),
                meta,
                state,
            );
            e.detail = Some(format!(
                "token {} presented at logout, current {}",
                claims.counter, session.counter
            ));
            let revoked = state
                .store
                .revoke_user_sessions(
                    session.user_id,
                    None,
                    reasons::REUSE_DETECTED,
                    now,
                    Some(&e),
                )
                .await?;
            reuse_detected(state, session.user_id, session.id, revoked, "logout");
            Ok(None)
        }
        Decision::Expired | Decision::Revoked | Decision::Unknown => Ok(None),
    }
}

/// Logs and counts a detected reuse, wherever the rotated token was presented.
fn reuse_detected(state: &AppState, user: Uuid, session: Uuid, revoked: u64, presented_at: &str) {
    tracing::warn!(user = %user, session = %session, revoked, presented_at, "refresh token reuse: every session of the user revoked");
    state
        .metrics
        .refreshes
        .with_label_values(&["reuse_detected"])
        .inc();
    state.metrics.revoked(reasons::REUSE_DETECTED, revoked);
}

/// The user and session of an accepted Bearer token.
#[derive(Debug, Clone, Copy)]
pub struct UserToken {
    pub sub: Uuid,
    pub sid: Uuid,
}

/// Verifies the Bearer token, that it is a user's (not a machine client's),
/// and that its session is still live: authd's own endpoints refuse tokens of
/// revoked sessions at once.
pub async fn authenticate(state: &AppState, req: &HttpRequest) -> Result<UserToken, ApiError> {
    let auth = verify_bearer(state, req)?;
    if !session_is_live(state, auth.sub, auth.sid, now(state)).await? {
        tracing::info!(session = %auth.sid, "access token of an ended session refused");
        return Err(ApiError::InvalidToken);
    }
    Ok(auth)
}

/// The user and session of the Bearer token, checked without the database:
/// the caller must still check that the session is live.
fn verify_bearer(state: &AppState, req: &HttpRequest) -> Result<UserToken, ApiError> {
    let token = request::bearer(req)?.ok_or(ApiError::MissingToken)?;
    let claims = state.access.verify(token, now(state)).map_err(|e| {
        tracing::info!(reason = %e, "access token refused");
        ApiError::InvalidToken
    })?;
    let Some((sub, sid)) = claims.user_session() else {
        tracing::info!(client = %claims.client_id, "a client's access token refused on a user endpoint");
        return Err(ApiError::InvalidToken);
    };
    Ok(UserToken { sub, sid })
}

/// Whether session `sid` of user `sub` is neither revoked nor expired.
pub(super) async fn session_is_live(
    state: &AppState,
    sub: Uuid,
    sid: Uuid,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<bool, ApiError> {
    Ok(state
        .store
        .find_session(sid)
        .await?
        .is_some_and(|s| s.user_id == sub && s.is_active(now)))
}

/// The user of the Bearer token.
#[utoipa::path(
    get,
    path = "/auth/me",
    tag = "auth",
    responses(
        (status = 200, description = "The user", body = User),
        (status = 401, description = "`invalid_token`: no valid Bearer token, or its session has ended", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"authd\"`, with `error=\"invalid_token\"` for a bad token"))),
        (status = "5XX", description = "`temporarily_unavailable` (503, with `Retry-After`) or `server_error` (500)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn me(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let auth = verify_bearer(&state, &req)?;
    // The session check and the user in one query: the hottest Bearer route.
    let Some(user) = state
        .store
        .find_live_session_user(auth.sid, auth.sub, now(&state))
        .await?
    else {
        tracing::info!(session = %auth.sid, "access token of an ended session refused");
        return Err(ApiError::InvalidToken);
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(user))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    #[schema(value_type = String, format = Password)]
    current_password: SecretString,
    #[schema(value_type = String, format = Password)]
    new_password: SecretString,
}

/// Changes the password.
///
/// Changes the password of the Bearer token's user, given the current one, and
/// revokes every other session of the user (ASVS 7.4.3); the current one stays.
#[utoipa::path(
    post,
    path = "/auth/password",
    tag = "auth",
    request_body = PasswordChange,
    responses(
        (status = 204, description = "Changed; every other session of the user is revoked"),
        (status = 400, description = "`invalid_request` (a malformed body, a new password too short or too long) or `weak_password`", body = ErrorBody),
        (status = 401, description = "`invalid_token` (no valid Bearer token) or `invalid_credentials` (a wrong current password)", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: the body is over `server.max_body_bytes`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: the body is not `application/json`", body = ErrorBody),
        (status = "5XX", description = "`temporarily_unavailable` (503, with `Retry-After`) or `server_error` (500)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn change_password(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let auth = authenticate(&state, &req).await?;
    let input: PasswordChange =
        request::json(&req, body, state.settings.server.max_body_bytes).await?;
    let p = &state.settings.password;
    let current = Password::parse_existing(input.current_password, p.max_bytes)?;
    let new = Password::parse_new(input.new_password, p.min_length, p.max_bytes)?;
    let user = state
        .store
        .find_user(auth.sub)
        .await?
        .ok_or(ApiError::InvalidToken)?;
    let stored = state.store.find_credentials(&user.email).await?;
    let verified = state
        .hasher
        .verify(&current, stored.as_ref().map(|c| c.password_hash.as_str()))
        .await?;
    let meta = request::meta(&state, &req);
    if !verified.ok {
        tracing::info!(user = %auth.sub, "password change with a wrong current password");
        let mut e = event(
            AuditKind::LoginFailed,
            Some(auth.sub),
            Some(auth.sid),
            &meta,
            &state,
        );
        e.detail = Some("wrong current password at password change".into());
        audit(&state, e).await;
        return Err(ApiError::InvalidCredentials);
    }
    if let Some(why) = weakness(new.expose(), &user.email, p.min_strength) {
        return Err(ApiError::WeakPassword(why));
    }
    let hash = state.hasher.hash(&new).await?;
    let now = now(&state);
    state
        .store
        .update_password_hash(auth.sub, &hash, now)
        .await?;
    let e = event(
        AuditKind::PasswordChanged,
        Some(auth.sub),
        Some(auth.sid),
        &meta,
        &state,
    );
    let revoked = state
        .store
        .revoke_user_sessions(
            auth.sub,
            Some(auth.sid),
            reasons::PASSWORD_CHANGED,
            now,
            Some(&e),
        )
        .await?;
    tracing::info!(user = %auth.sub, revoked, "password changed; other sessions revoked");
    state.metrics.revoked(reasons::PASSWORD_CHANGED, revoked);
    Ok(HttpResponse::NoContent()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// How many events, newest first: 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
}

/// The user's own audit events, newest first.
#[derive(Serialize, ToSchema)]
struct AuditList {
    events: Vec<crate::store::AuditRecord>,
}

/// The user's own audit events, newest first.
#[utoipa::path(
    get,
    path = "/auth/audit",
    tag = "auth",
    params(AuditQuery),
    responses(
        (status = 200, description = "The events", body = AuditList),
        (status = 400, description = "`invalid_request`: `limit` is not a number from 1 to 200", body = ErrorBody),
        (status = 401, description = "`invalid_token`: no valid Bearer token, or its session has ended", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"authd\"`, with `error=\"invalid_token\"` for a bad token"))),
        (status = "5XX", description = "`temporarily_unavailable` (503, with `Retry-After`) or `server_error` (500)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn list_audit(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let auth = authenticate(&state, &req).await?;
    let query = web::Query::<AuditQuery>::from_query(req.query_string())
        .map_err(|_| ApiError::InvalidRequest("limit must be a number from 1 to 200".into()))?;
    let limit = query.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::InvalidRequest(
            "limit must be a number from 1 to 200".into(),
        ));
    }
    let events = state.store.list_audit(auth.sub, limit).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(AuditList { events }))
}

/// The user's active sessions.
#[derive(Serialize, ToSchema)]
struct SessionList {
    sessions: Vec<SessionView>,
}

/// The user's active sessions.
///
/// `current` marks the Bearer token's own.
#[utoipa::path(
    get,
    path = "/auth/sessions",
    tag = "auth",
    responses(
        (status = 200, description = "The sessions", body = SessionList),
        (status = 401, description = "`invalid_token`: no valid Bearer token, or its session has ended", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"authd\"`, with `error=\"invalid_token\"` for a bad token"))),
        (status = "5XX", description = "`temporarily_unavailable` (503, with `Retry-After`) or `server_error` (500)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn list_sessions(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let auth = authenticate(&state, &req).await?;
    let sessions = state
        .store
        .list_active_sessions(auth.sub, now(&state))
        .await?;
    let sessions = sessions
        .iter()
        .map(|s| SessionView::new(s, auth.sid))
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(SessionList { sessions }))
}

/// Ends one of the user's own sessions.
#[utoipa::path(
    delete,
    path = "/auth/sessions/{id}",
    tag = "auth",
    params(("id" = Uuid, Path, description = "A session id from `GET /auth/sessions`")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "`invalid_token`: no valid Bearer token, or its session has ended", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"authd\"`, with `error=\"invalid_token\"` for a bad token"))),
        (status = 404, description = "`not_found`: no such active session of this user (a malformed id too)", body = ErrorBody),
        (status = "5XX", description = "`temporarily_unavailable` (503, with `Retry-After`) or `server_error` (500)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn revoke_session(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let auth = authenticate(&state, &req).await?;
    // Another user's session and a malformed id look the same: not found.
    let id = Uuid::parse_str(&path).map_err(|_| ApiError::NotFound)?;
    if !state
        .store
        .revoke_session(id, auth.sub, reasons::REVOKED_BY_USER, now(&state))
        .await?
    {
        return Err(ApiError::NotFound);
    }
    tracing::info!(user = %auth.sub, session = %id, "session revoked by its user");
    state.metrics.revoked(reasons::REVOKED_BY_USER, 1);
    audit(
        &state,
        event(
            AuditKind::SessionRevoked,
            Some(auth.sub),
            Some(id),
            &request::meta(&state, &req),
            &state,
        ),
    )
    .await;
    Ok(HttpResponse::NoContent().finish())
}
