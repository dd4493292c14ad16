//! Listing a user's live sessions: whole (for tests and tools) or by pages
//! for `GET /auth/sessions`, newest first.
//!
//! Pages are keyset pages: the order is (start time, session id), both
//! descending, a total order that no change to other rows can reshuffle, and
//! a page's cursor is the position of its last session. The next page is
//! "the sessions after that position", so each live session is listed once,
//! whatever starts or ends between two requests: a session that ends is no
//! longer listed, and one that starts sorts before the first page.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::Session;
use crate::services::Services;
use crate::store::{self, StoreError};

/// Sessions per page unless asked otherwise.
pub const DEFAULT_PAGE: i64 = 50;
/// The most sessions a page holds.
pub const MAX_PAGE: i64 = 100;

/// Where a page of sessions resumes: just after this session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageCursor {
    created_at: DateTime<Utc>,
    id: Uuid,
}

impl PageCursor {
    /// `<start in unix nanoseconds>.<session id>`: opaque to clients.
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

/// One page of sessions, and where the next one starts if there is one.
pub struct SessionPage {
    pub sessions: Vec<Session>,
    pub next: Option<PageCursor>,
}

/// The user's live sessions after `after` (from the newest without it), at
/// most `limit` (1 to [`MAX_PAGE`], clamped).
pub async fn page(
    svc: &Services,
    user: Uuid,
    after: Option<PageCursor>,
    limit: i64,
) -> Result<SessionPage, StoreError> {
    let limit = limit.clamp(1, MAX_PAGE);
    let mut conn = svc.store.conn().await?;
    let mut sessions = store::sessions::list_live_page(
        &mut conn,
        user,
        svc.now(),
        after.map(|c| (c.created_at, c.id)),
        limit + 1,
    )
    .await?;
    let more = sessions.len() > usize::try_from(limit).unwrap_or(usize::MAX);
    sessions.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let next = match sessions.last() {
        Some(last) if more => Some(PageCursor {
            created_at: last.created_at,
            id: last.id,
        }),
        _ => None,
    };
    Ok(SessionPage { sessions, next })
}

/// The user's live sessions, newest first, all of them.
pub async fn list_live(svc: &Services, user: Uuid) -> Result<Vec<Session>, StoreError> {
    let mut conn = svc.store.conn().await?;
    store::sessions::list_live(&mut conn, user, svc.now()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_cursor_round_trips_and_garbage_is_refused() {
        let cursor = PageCursor {
            created_at: DateTime::from_timestamp_nanos(1_764_000_000_123_456_789),
            id: Uuid::new_v4(),
        };
        assert_eq!(PageCursor::parse(&cursor.encode()), Some(cursor));
        let id = Uuid::new_v4().simple().to_string();
        let bad = [
            String::new(),
            "1".into(),
            "1.".into(),
            format!(".{id}"),
            format!("-1.{id}"),
            format!("99999999999999999999.{id}"),
            format!("1 .{id}"),
            "1.zz".into(),
        ];
        for bad in bad {
            assert_eq!(PageCursor::parse(&bad), None, "{bad:?}");
        }
    }
}
