//! `GET` and `POST /oauth/userinfo` (OpenID Connect Core 1.0 section 5.3):
//! the Bearer token in the `Authorization` header only (RFC 6750 section
//! 2.1; a body is not read); refusals with `WWW-Authenticate` (RFC 6750
//! section 3).

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};

use crate::http::ApiError;
use crate::http::error::ErrorBody;
use crate::http::extractors::bearer;
use crate::http::state::AppState;
use crate::oidc::userinfo::{self, UserInfo, UserInfoError};

/// The claims about the user of an access token granted the `openid` scope.
#[utoipa::path(
    get,
    path = "/oauth/userinfo",
    tag = "oauth",
    responses(
        (status = 200, description = "`sub`, and `email` and `email_verified` with the `email` scope", body = UserInfo),
        (status = 401, description = "`invalid_token`: no valid Bearer token of a user, or its session has ended", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"authd\"`, with `error=\"invalid_token\"` for a bad token"))),
        (status = 403, description = "`insufficient_scope`: the token was not granted `openid`", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"authd\", error=\"insufficient_scope\", scope=\"openid\"`"))),
        (status = "5XX", description = "`temporarily_unavailable` (503, with `Retry-After`) or `server_error` (500)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn get(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    answer(&state, &req).await
}

/// The same as `GET`, for clients that POST (the body is not read).
#[utoipa::path(
    post,
    path = "/oauth/userinfo",
    tag = "oauth",
    responses(
        (status = 200, description = "`sub`, and `email` and `email_verified` with the `email` scope", body = UserInfo),
        (status = 401, description = "`invalid_token`: no valid Bearer token of a user, or its session has ended", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"authd\"`, with `error=\"invalid_token\"` for a bad token"))),
        (status = 403, description = "`insufficient_scope`: the token was not granted `openid`", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"authd\", error=\"insufficient_scope\", scope=\"openid\"`"))),
        (status = "5XX", description = "`temporarily_unavailable` (503, with `Retry-After`) or `server_error` (500)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn post(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    answer(&state, &req).await
}

async fn answer(state: &AppState, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    let token = bearer(req)?.ok_or(ApiError::MissingToken)?;
    match userinfo::userinfo(&state.services, token).await {
        Ok(claims) => Ok(HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(claims)),
        Err(UserInfoError::InvalidToken) => Err(ApiError::InvalidToken),
        Err(UserInfoError::InsufficientScope) => Ok(insufficient_scope()),
        Err(UserInfoError::Service(e)) => Err(e.into()),
    }
}

/// 403 `insufficient_scope` naming the scope needed (RFC 6750 section 3.1).
fn insufficient_scope() -> HttpResponse {
    let mut response = ApiError::InsufficientScope("openid").error_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(
            r#"Bearer realm="authd", error="insufficient_scope", scope="openid""#,
        ),
    );
    response
}
