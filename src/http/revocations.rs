//! `GET /auth/revocations`: the revocation feed, for registered clients with
//! `authd:revocations`.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::ApiError;
use super::client_auth::{ClientCredentials, basic_credentials, require_permitted_client};
use super::error::ErrorBody;
use super::state::AppState;
use super::tokens::token_headers;
use crate::clients::permissions;
use crate::sessions::feed::{self, Cursor};

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FeedQuery {
    /// The `cursor` of the previous answer; without it, every session revoked
    /// within the last access-token lifetime.
    since: Option<String>,
}

/// One revoked session.
#[derive(Serialize, ToSchema)]
pub struct FeedEntry {
    /// The session: the `sid` claim of its access tokens.
    sid: Uuid,
    /// Its user; only for clients with `authd:revocations:sub`.
    #[serde(skip_serializing_if = "Option::is_none")]
    sub: Option<Uuid>,
    /// When it was revoked (Unix seconds).
    revoked_at: i64,
    /// After this (Unix seconds) no access token of the session can still be
    /// valid: the entry may be forgotten.
    until: i64,
}

/// Sessions revoked since the cursor. Entries near the end of the previous
/// answer may be repeated: keep a set.
#[derive(Serialize, ToSchema)]
pub struct Feed {
    revocations: Vec<FeedEntry>,
    /// Pass as `since` on the next poll.
    cursor: String,
    /// More entries wait: poll again at once with the new cursor.
    more: bool,
}

/// The revocation feed, for registered clients with `authd:revocations`.
///
/// The sessions revoked since the cursor (without one, within the last
/// access-token lifetime), so that services verifying access tokens locally
/// refuse those of revoked sessions within one poll interval.
#[utoipa::path(
    get,
    path = "/auth/revocations",
    tag = "oauth",
    params(FeedQuery),
    responses(
        (status = 200, description = "Revoked sessions", body = Feed,
            headers(("Cache-Control" = String, description = "`no-store`"))),
        (status = 400, description = "`invalid_request`: a malformed cursor or an unknown parameter", body = ErrorBody),
        (status = 401, description = "`invalid_client`: no or wrong client credentials (HTTP Basic)", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Basic realm=\"authd\"`"))),
        (status = 403, description = "`insufficient_scope`: the client has neither `authd:revocations` nor `authd:revocations:sub`", body = ErrorBody),
        (status = "5XX", description = "`temporarily_unavailable` (503, with `Retry-After`) or `server_error` (500)", body = ErrorBody),
    ),
    security(("client_basic" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn revocations(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let credentials = match basic_credentials(&req)? {
        Some((id, secret)) => ClientCredentials::Secret { id, secret },
        None => ClientCredentials::None,
    };
    let client = require_permitted_client(
        &state,
        credentials,
        &[permissions::REVOCATIONS, permissions::REVOCATIONS_SUB],
    )
    .await?;
    let with_sub = client.may(permissions::REVOCATIONS_SUB);
    let query = web::Query::<FeedQuery>::from_query(req.query_string())
        .map_err(|_| ApiError::InvalidRequest("the only parameter is since".into()))?;
    let since = match query.since.as_deref() {
        Some(text) => Some(Cursor::parse(text).ok_or_else(|| {
            ApiError::InvalidRequest("since must be a cursor from an earlier answer".into())
        })?),
        None => None,
    };
    let page = feed::page(&state.services, since).await?;
    let revocations = page
        .entries
        .into_iter()
        .map(|e| FeedEntry {
            sid: e.sid,
            sub: with_sub.then_some(e.sub),
            revoked_at: e.revoked_at.timestamp(),
            until: e.until.timestamp(),
        })
        .collect();
    Ok(token_headers(HttpResponse::Ok()).json(Feed {
        revocations,
        cursor: page.next.encode(),
        more: page.more,
    }))
}
