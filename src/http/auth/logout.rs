//! `POST /auth/logout`, in its three scopes.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::audit::AuditKind;
use crate::http::ApiError;
use crate::http::cookies::clear_refresh_cookie;
use crate::http::error::ErrorBody;
use crate::http::extractors::{AuthenticatedUser, Caller, PresentedRefresh, RefreshBody, bearer};
use crate::http::state::AppState;
use crate::http::tokens::Delivery;
use crate::ids::{SessionId, UserId};
use crate::sessions::logout::{self, reasons};
use crate::sessions::rotate::Holder;

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
    caller: Caller,
    PresentedRefresh(presented): PresentedRefresh,
) -> Result<HttpResponse, ApiError> {
    let query = web::Query::<LogoutQuery>::from_query(req.query_string())
        .map_err(|_| ApiError::InvalidRequest("scope must be local, global or others".into()))?
        .into_inner();
    let svc = &state.services;
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
            let user = AuthenticatedUser::of(&state, &req).await?;
            let scope = if query.scope == Scope::Global {
                logout::Scope::Global
            } else {
                logout::Scope::Others
            };
            logout::end_all(
                svc,
                UserId(user.sub),
                SessionId(user.sid),
                scope,
                &caller.meta,
            )
            .await?;
        }
        // A token that is invalid, expired or already revoked still logs out:
        // the cookie is cleared and there is nothing else to do.
        Scope::Local => match presented {
            Some((token, _)) => {
                if let Some(claims) = svc.refresh.decode(&token) {
                    logout::end_by_refresh_token(
                        svc,
                        claims,
                        Holder::FirstParty,
                        "logout",
                        &caller.meta,
                    )
                    .await?;
                }
            }
            None => {
                if bearer(&req)?.is_some() {
                    let user = AuthenticatedUser::of(&state, &req).await?;
                    logout::end_one(
                        svc,
                        SessionId(user.sid),
                        UserId(user.sub),
                        AuditKind::Logout,
                        reasons::LOGOUT,
                        &caller.meta,
                    )
                    .await?;
                }
            }
        },
    }
    Ok(response.finish())
}
