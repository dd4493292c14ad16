//! `GET /auth/grants` and `DELETE /auth/grants/{client_id}`: the apps the
//! user authorized, and the revocation of one (`oauth::user_grants`).

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::http::ApiError;
use crate::http::error::ErrorBody;
use crate::http::extractors::{AuthenticatedUser, Caller};
use crate::http::state::AppState;
use crate::oauth::user_grants::{self, GrantView};

/// The apps the user authorized, by client id.
#[derive(Serialize, ToSchema)]
struct GrantList {
    grants: Vec<GrantView>,
}

/// The apps the user authorized.
///
/// One entry per client that holds a remembered consent of the user or a
/// live refresh-token family made by the authorization code flow: the
/// client, the scopes consented to and when, and how many live families it
/// holds.
#[utoipa::path(
    get,
    path = "/auth/grants",
    tag = "auth",
    responses(
        (status = 200, description = "The user's grants", body = GrantList),
        (status = 401, description = "`invalid_token`: no valid Bearer token, or its session has ended", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"authd\"`, with `error=\"invalid_token\"` for a bad token"))),
        (status = "5XX", description = "`temporarily_unavailable` (503, with `Retry-After`) or `server_error` (500)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn list_grants(
    state: web::Data<AppState>,
    user: AuthenticatedUser,
) -> Result<HttpResponse, ApiError> {
    let grants = user_grants::list(&state.services, user.sub).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(GrantList { grants }))
}

/// Revokes the user's grant to one app.
///
/// Ends every refresh-token family the client holds for the user (each is
/// listed by the revocation feed) and forgets the user's consent, so the
/// client's next authorization asks for it again. The user's browser session
/// at authd and other apps' grants are left alone.
#[utoipa::path(
    delete,
    path = "/auth/grants/{client_id}",
    tag = "auth",
    params(("client_id" = String, Path, description = "A client id from `GET /auth/grants`")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "`invalid_token`: no valid Bearer token, or its session has ended", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"authd\"`, with `error=\"invalid_token\"` for a bad token"))),
        (status = 404, description = "`not_found`: this user has no grant to that client", body = ErrorBody),
        (status = "5XX", description = "`temporarily_unavailable` (503, with `Retry-After`) or `server_error` (500)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn revoke_grant(
    state: web::Data<AppState>,
    user: AuthenticatedUser,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    if !user_grants::revoke(&state.services, user.sub, &path, &caller.meta).await? {
        return Err(ApiError::NotFound);
    }
    Ok(HttpResponse::NoContent().finish())
}
