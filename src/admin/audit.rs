//! The admin API's read of a user's audit events (`GET
//! /admin/users/{id}/audit`): keyset pages, newest first, by time then row
//! id. Events outlive their user, so an id without an account is an empty
//! list, not a refusal.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::AdminError;
use crate::services::Services;
use crate::store::{self, audit::AuditRecord};

/// Events per page unless asked otherwise.
pub const DEFAULT_LIMIT: i64 = 50;
/// The most events one page holds; a larger limit is refused.
pub const MAX_LIMIT: i64 = 200;

/// Where a page resumes: just after this event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    at: DateTime<Utc>,
    id: i64,
}

impl Cursor {
    /// `<time in unix nanoseconds>.<row id>`: opaque to callers.
    pub fn encode(&self) -> String {
        let nanos = self.at.timestamp_nanos_opt().unwrap_or(i64::MAX);
        format!("{nanos}.{}", self.id)
    }

    pub fn parse(text: &str) -> Option<Self> {
        let (nanos, id) = text.split_once('.')?;
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(nanos) || !digits(id) {
            return None;
        }
        Some(Self {
            at: DateTime::from_timestamp_nanos(nanos.parse().ok()?),
            id: id.parse().ok()?,
        })
    }
}

/// One page of a user's events.
pub struct AuditPage {
    pub events: Vec<AuditRecord>,
    /// The cursor of the next page; present exactly when more follow.
    pub next_cursor: Option<String>,
}

/// A page of the events of `user`: `limit` 1 to [`MAX_LIMIT`] (refused
/// outside, never clamped), from the `next_cursor` of the previous page.
pub async fn list(
    svc: &Services,
    user: Uuid,
    cursor: Option<&str>,
    limit: Option<i64>,
) -> Result<AuditPage, AdminError> {
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(AdminError::InvalidQuery(format!(
            "limit must be 1 to {MAX_LIMIT}; page with the cursor"
        )));
    }
    let after =
        match cursor {
            Some(text) => Some(Cursor::parse(text).ok_or_else(|| {
                AdminError::InvalidQuery("cursor is not one this API gave".into())
            })?),
            None => None,
        };
    let mut conn = svc.store.conn().await?;
    let mut rows =
        store::audit::list_of_user_page(&mut conn, user, after.map(|c| (c.at, c.id)), limit + 1)
            .await?;
    let page_len = usize::try_from(limit).unwrap_or(usize::MAX);
    let more = rows.len() > page_len;
    rows.truncate(page_len);
    let next_cursor = match rows.last() {
        Some(last) if more => Some(
            Cursor {
                at: last.record.created_at,
                id: last.id,
            }
            .encode(),
        ),
        _ => None,
    };
    Ok(AuditPage {
        events: rows.into_iter().map(|r| r.record).collect(),
        next_cursor,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips_and_garbage_is_refused() {
        let cursor = Cursor {
            at: DateTime::from_timestamp_nanos(1_764_000_000_123_456_789),
            id: 42,
        };
        assert_eq!(Cursor::parse(&cursor.encode()), Some(cursor));
        for bad in [
            "",
            "1",
            "1.",
            ".1",
            "-1.2",
            "1.-2",
            "1.x",
            "99999999999999999999.1",
        ] {
            assert_eq!(Cursor::parse(bad), None, "{bad:?}");
        }
    }
}
