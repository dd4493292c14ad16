//! `GET /auth/revocations`: the revocation feed, for registered clients with
//! `authd:revocations` (which clients may read it, and see `sub`, is
//! `oauth::permissions::feed_reader`).

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::ApiError;
use super::client_auth::{ClientCredentials, basic_credentials};
use super::error::ErrorBody;
use super::state::AppState;
use super::tokens::token_headers;
use crate::oauth::permissions;
use crate::sessions::feed::{self, Cursor, Version};

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FeedQuery {
    /// The `cursor` of the previous answer; without it, everything revoked
    /// within the last access-token lifetime.
    #[param(pattern = r"^[0-9]{1,18}(\.u?[0-9a-f]{32})?$")]
    since: Option<String>,
    /// `2` for user entries (`users`); `1`, the default, lists every revoked
    /// session one by one, for readers that do not know user entries.
    #[param(minimum = 1, maximum = 2)]
    version: Option<u8>,
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

/// Every session of a user that started before `started_before` (version 2).
#[derive(Serialize, ToSchema)]
pub struct UserFeedEntry {
    /// The lowercase hex SHA-256 of the user id as tokens write it in `sub`:
    /// hash a token's `sub` to look it up.
    sub_sha256: String,
    /// The user id itself; only for clients with `authd:revocations:sub`.
    #[serde(skip_serializing_if = "Option::is_none")]
    sub: Option<Uuid>,
    /// Unix seconds: a token of this user whose `auth_time` (its session's
    /// start) is earlier, or that has no `auth_time`, is revoked.
    started_before: i64,
    /// When the sessions were revoked (Unix seconds).
    revoked_at: i64,
    /// After this (Unix seconds) no access token of those sessions can still
    /// be valid: the entry may be forgotten.
    until: i64,
}

/// What was revoked since the cursor. Entries near the end of the previous
/// answer may be repeated: keep a set.
#[derive(Serialize, ToSchema)]
pub struct Feed {
    /// Revoked sessions. In version 2, only those not covered by a user entry.
    revocations: Vec<FeedEntry>,
    /// Version 2 only: revocations of every session of a user at once.
    #[serde(skip_serializing_if = "Option::is_none")]
    users: Option<Vec<UserFeedEntry>>,
    /// Pass as `since` on the next poll.
    cursor: String,
    /// More entries wait: poll again at once with the new cursor.
    more: bool,
}

const BAD_QUERY: &str =
    "the parameters are since (a cursor from an earlier answer) and version (1 or 2)";

/// The revocation feed, for registered clients with `authd:revocations`.
///
/// What was revoked since the cursor (without one, within the last
/// access-token lifetime), so that services verifying access tokens locally
/// refuse tokens of revoked sessions within one poll interval. With
/// `version=2`, a revocation of every session of a user (global logout,
/// refresh-token reuse) is one entry in `users`, however many sessions it
/// ended; without it, each of those sessions is listed in `revocations`.
/// `sub` is included only for clients with `authd:revocations:sub`.
#[utoipa::path(
    get,
    path = "/auth/revocations",
    tag = "oauth",
    params(FeedQuery),
    responses(
        (status = 200, description = "What was revoked", body = Feed,
            headers(("Cache-Control" = String, description = "`no-store`"))),
        (status = 400, description = "`invalid_request`: a malformed cursor, a version other than 1 or 2, or an unknown parameter", body = ErrorBody),
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
        Some((id, secret)) => ClientCredentials::Secret {
            id,
            secret,
            basic: true,
        },
        None => ClientCredentials::None,
    };
    let with_sub = permissions::feed_reader(&state.services, credentials)
        .await?
        .with_sub;
    let query = web::Query::<FeedQuery>::from_query(req.query_string())
        .map_err(|_| ApiError::InvalidRequest(BAD_QUERY.into()))?;
    let version = match query.version {
        None | Some(1) => Version::V1,
        Some(2) => Version::V2,
        Some(_) => return Err(ApiError::InvalidRequest(BAD_QUERY.into())),
    };
    let since = match query.since.as_deref() {
        Some(text) => {
            Some(Cursor::parse(text).ok_or_else(|| ApiError::InvalidRequest(BAD_QUERY.into()))?)
        }
        None => None,
    };
    let page = feed::page(&state.services, since, version).await?;
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
    let users = (version == Version::V2).then(|| {
        page.users
            .into_iter()
            .map(|u| UserFeedEntry {
                sub_sha256: u.sub_sha256,
                sub: with_sub.then_some(u.sub),
                started_before: u.started_before.timestamp(),
                revoked_at: u.revoked_at.timestamp(),
                until: u.until.timestamp(),
            })
            .collect()
    });
    Ok(token_headers(HttpResponse::Ok()).json(Feed {
        revocations,
        users,
        cursor: page.next.encode(),
        more: page.more,
    }))
}
