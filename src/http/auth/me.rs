//! `GET /auth/me`.

use actix_web::http::header;
use actix_web::{HttpResponse, web};

use crate::accounts;
use crate::error::ServiceError;
use crate::http::ApiError;
use crate::http::error::ErrorBody;
use crate::http::extractors::VerifiedUser;
use crate::http::state::AppState;
use crate::store::users::User;

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
    let user = accounts::user_of_live_session(&state.services, token.sub, token.sid)
        .await
        .inspect_err(|e| {
            if matches!(e, ServiceError::SessionEnded) {
                tracing::info!(session = %token.sid, "access token of an ended session refused");
            }
        })?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(user))
}
