//! The admin API's reads of users: the list (`GET /admin/users`) and one user
//! (`GET /admin/users/{id}`).
//!
//! The list is keyset pages in the order (created_at, id), ascending: a total
//! order no change to other rows can reshuffle, so a walk from the first page
//! with each answer's cursor lists every user that exists throughout exactly
//! once (a user created during the walk sorts after the pages already read
//! and is listed too; a deleted one is not). A page never holds fewer users
//! than asked unless it is the last: `has_more` says so explicitly, and the
//! next cursor comes with it. A limit over [`MAX_LIMIT`] is refused, never
//! clamped, and the exact total (which reads every user the filter keeps) is
//! counted only when asked for.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::AdminError;
use crate::domain::Email;
use crate::factors;
use crate::services::Services;
use crate::store::{self, users::User, users::UserFilter};

/// Users per page unless asked otherwise.
pub const DEFAULT_LIMIT: i64 = 50;
/// The most users one page holds; a larger limit is refused.
pub const MAX_LIMIT: i64 = 200;

/// Where a page resumes: just after this user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    created_at: DateTime<Utc>,
    id: Uuid,
}

impl Cursor {
    /// `<creation in unix nanoseconds>.<user id>`: opaque to callers, the
    /// style of the session list's cursor.
    pub fn encode(&self) -> String {
        let nanos = self.created_at.timestamp_nanos_opt().unwrap_or(i64::MAX);
        format!("{nanos}.{}", self.id.simple())
    }

    pub fn parse(text: &str) -> Option<Self> {
        let (nanos, id) = text.split_once('.')?;
        if nanos.is_empty() || !nanos.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(Self {
            created_at: DateTime::from_timestamp_nanos(nanos.parse().ok()?),
            id: Uuid::try_parse(id).ok()?,
        })
    }
}

/// What a list request asks for, as the caller gave it.
#[derive(Debug, Clone, Default)]
pub struct ListRequest {
    /// 1 to [`MAX_LIMIT`]; [`DEFAULT_LIMIT`] without it.
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Count every user the filter keeps (`count=exact`).
    pub exact_total: bool,
    /// Addresses starting with this (compared as stored: lowercase).
    pub email_prefix: Option<String>,
    pub verified: Option<bool>,
    pub has_second_factor: Option<bool>,
    /// Disabled accounts only (`true`), or enabled ones only (`false`).
    pub disabled: Option<bool>,
    /// Created at or after this.
    pub created_after: Option<DateTime<Utc>>,
    /// Created strictly before this.
    pub created_before: Option<DateTime<Utc>>,
}

/// One page of users.
#[derive(Debug)]
pub struct UserPage {
    pub users: Vec<User>,
    /// More users follow: ask again with `next_cursor`.
    pub has_more: bool,
    /// The cursor of the next page; present exactly when `has_more`.
    pub next_cursor: Option<String>,
    /// Every user the filter keeps; only when asked for.
    pub total: Option<i64>,
}

/// `%`, `_` and the escape itself are literal in a prefix.
fn like_prefix(prefix: &str) -> String {
    let mut pattern = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// The filter and page bounds of `req`, checked: a limit outside 1 to
/// [`MAX_LIMIT`], a cursor not made by [`Cursor::encode`] or an over-long
/// prefix is `InvalidQuery`.
fn checked(req: &ListRequest) -> Result<(UserFilter, Option<Cursor>, i64), AdminError> {
    let limit = req.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(AdminError::InvalidQuery(format!(
            "limit must be 1 to {MAX_LIMIT}; page through larger lists with the cursor"
        )));
    }
    let cursor =
        match req.cursor.as_deref() {
            Some(text) => Some(Cursor::parse(text).ok_or_else(|| {
                AdminError::InvalidQuery("cursor is not one this API gave".into())
            })?),
            None => None,
        };
    let email_like = match req.email_prefix.as_deref() {
        Some(prefix) if prefix.len() > Email::MAX_LEN => {
            return Err(AdminError::InvalidQuery(format!(
                "email_prefix is at most {} bytes",
                Email::MAX_LEN
            )));
        }
        Some(prefix) => Some(like_prefix(&prefix.trim().to_lowercase())),
        None => None,
    };
    let filter = UserFilter {
        email_like,
        verified: req.verified,
        has_second_factor: req.has_second_factor,
        created_from: req.created_after,
        created_before: req.created_before,
        disabled: req.disabled,
    };
    Ok((filter, cursor, limit))
}

/// A page of the users `req` keeps, and their exact total if asked for.
pub async fn list(svc: &Services, req: &ListRequest) -> Result<UserPage, AdminError> {
    let (filter, cursor, limit) = checked(req)?;
    let mut conn = svc.store.conn().await?;
    let mut users = store::users::list_page(
        &mut conn,
        &filter,
        cursor.map(|c| (c.created_at, c.id)),
        limit + 1,
    )
    .await?;
    let page_len = usize::try_from(limit).unwrap_or(usize::MAX);
    let has_more = users.len() > page_len;
    users.truncate(page_len);
    let next_cursor = match users.last() {
        Some(last) if has_more => Some(
            Cursor {
                created_at: last.created_at,
                id: last.id,
            }
            .encode(),
        ),
        _ => None,
    };
    let total = match req.exact_total {
        true => Some(store::users::count(&mut conn, &filter).await?),
        false => None,
    };
    Ok(UserPage {
        users,
        has_more,
        next_cursor,
        total,
    })
}

/// One user as the admin API shows it.
pub struct UserDetail {
    pub user: User,
    pub factors: factors::Status,
    /// Live sessions of every kind and holder.
    pub live_sessions: i64,
}

/// The user `id`, its second factors and how many live sessions it has.
pub async fn get(svc: &Services, id: Uuid) -> Result<UserDetail, AdminError> {
    let mut conn = svc.store.conn().await?;
    let user = store::users::find(&mut conn, id)
        .await?
        .ok_or(AdminError::NoSuchUser)?;
    let live_sessions = store::sessions::count_live(&mut conn, id, svc.now()).await?;
    drop(conn);
    let factors = factors::status(svc, id).await?;
    Ok(UserDetail {
        user,
        factors,
        live_sessions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips_and_garbage_is_refused() {
        let cursor = Cursor {
            created_at: DateTime::from_timestamp_nanos(1_764_000_000_123_456_789),
            id: Uuid::new_v4(),
        };
        assert_eq!(Cursor::parse(&cursor.encode()), Some(cursor));
        let id = Uuid::new_v4().simple().to_string();
        for bad in [
            String::new(),
            "1".into(),
            format!(".{id}"),
            format!("-1.{id}"),
            format!("99999999999999999999.{id}"),
            "1.zz".into(),
        ] {
            assert_eq!(Cursor::parse(&bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_prefix_matches_its_wildcards_literally() {
        assert_eq!(like_prefix("a_b%c\\"), "a\\_b\\%c\\\\%");
    }

    #[test]
    fn a_limit_out_of_bounds_is_refused_not_clamped() {
        for limit in [0, -1, MAX_LIMIT + 1] {
            let req = ListRequest {
                limit: Some(limit),
                ..ListRequest::default()
            };
            assert!(matches!(checked(&req), Err(AdminError::InvalidQuery(_))));
        }
        let req = ListRequest {
            limit: Some(MAX_LIMIT),
            ..ListRequest::default()
        };
        assert!(checked(&req).is_ok());
    }
}
