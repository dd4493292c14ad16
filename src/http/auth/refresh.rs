//! `POST /auth/refresh`.

use actix_web::{HttpResponse, web};

use crate::http::ApiError;
use crate::http::cookies::clear_refresh_cookie;
use crate::http::error::ErrorBody;
use crate::http::extractors::{Caller, PresentedRefresh, RefreshBody};
use crate::http::state::AppState;
use crate::http::tokens::{Delivery, TokenResponse, token_response};
use crate::sessions::rotate;

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
                ("Set-Cookie" = String, description = "The refresh token when it travels by cookie: `__Host-authd_refresh` by default, HttpOnly, Secure, SameSite=Strict, Path=/, no Domain (see the `refresh_cookie` security scheme)"),
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
    caller: Caller,
    PresentedRefresh(presented): PresentedRefresh,
) -> Result<HttpResponse, ApiError> {
    let svc = &state.services;
    if let Err(retry_after_secs) = state.refresh_limit.check(caller.ip, svc.now()) {
        return Err(ApiError::TooManyRequests { retry_after_secs });
    }
    let Some((token, delivery)) = presented else {
        tracing::info!("refresh without a token");
        return Err(ApiError::InvalidGrant { clear_cookie: None });
    };
    match rotate::exchange(svc, &token, &caller.meta).await? {
        Some(session) => token_response(&state, &session, delivery).await,
        None => Err(ApiError::InvalidGrant {
            clear_cookie: (delivery == Delivery::Cookie)
                .then(|| Box::new(clear_refresh_cookie(&state))),
        }),
    }
}
