//! `GET /auth/me`.

use actix_web::http::header;
use actix_web::{HttpResponse, web};

use crate::error::ServiceError;
use crate::http::ApiError;
use crate::http::error::ErrorBody;
use crate::http::extractors::VerifiedUser;
use crate::http::state::AppState;
use crate::store::users::{self, User};

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
pub async fn me(state: web::Data<AppState>, token: VerifiedUser) -> Result<HttpResponse, ApiError> {
    let svc = &state.services;
    // The session check and the user in one query: the hottest Bearer route.
    let mut conn = svc.store.conn().await.map_err(ServiceError::from)?;
    let Some(user) = users::find_by_live_session(&mut conn, token.sid, token.sub, svc.now())
        .await
        .map_err(ServiceError::from)?
    else {
        tracing::info!(session = %token.sid, "access token of an ended session refused");
        return Err(ApiError::InvalidToken);
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(user))
}
