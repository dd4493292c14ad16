//! The revocation feed: sessions revoked since a cursor, so services that
//! verify access tokens locally refuse those of revoked sessions within one
//! poll interval.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::services::Services;
use crate::store::{self, StoreError};

/// How far back from now a feed answer's cursor points, so that a revocation
/// whose transaction commits after a poll, with a `revoked_at` before it, is
/// still listed by the next poll. It bounds the time from reading the clock to
/// committing (lock and statement timeouts are 5 s) plus clock skew between
/// instances, with room to spare. Entries of the last minute are repeated;
/// clients keep a set.
const OVERLAP_SECS: i64 = 60;
/// Entries per answer; `more: true` asks the client to poll again at once.
pub const PAGE: usize = 1000;

/// A position in the feed: a revocation time and a session id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    at: DateTime<Utc>,
    after: Uuid,
}

impl Cursor {
    /// `<unix nanoseconds>` or `<unix nanoseconds>.<session id>`.
    pub fn encode(&self) -> String {
        let nanos = self.at.timestamp_nanos_opt().unwrap_or(i64::MAX);
        if self.after.is_nil() {
            nanos.to_string()
        } else {
            format!("{nanos}.{}", self.after.simple())
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        let (nanos, after) = match text.split_once('.') {
            Some((nanos, id)) => (nanos, Uuid::try_parse(id).ok()?),
            None => (text, Uuid::nil()),
        };
        if nanos.is_empty() || !nanos.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(Self {
            at: DateTime::from_timestamp_nanos(nanos.parse().ok()?),
            after,
        })
    }
}

/// One revoked session.
pub struct Entry {
    pub sid: Uuid,
    pub sub: Uuid,
    pub revoked_at: DateTime<Utc>,
    /// After this no access token of the session can still be valid.
    pub until: DateTime<Utc>,
}

/// One answer of the feed.
pub struct Page {
    pub entries: Vec<Entry>,
    /// Where the next poll starts.
    pub next: Cursor,
    /// More entries wait: poll again at once.
    pub more: bool,
}

/// The sessions revoked since `since` (without it, within the last
/// access-token lifetime), at most [`PAGE`].
pub async fn page(svc: &Services, since: Option<Cursor>) -> Result<Page, StoreError> {
    let now = svc.now();
    // After `revoked_at + ttl` no token of the session can be accepted anywhere.
    let ttl = svc.access.max_acceptance();
    let floor = Cursor {
        at: now - ttl,
        after: Uuid::nil(),
    };
    let start = since.filter(|c| c.at >= floor.at).unwrap_or(floor);
    let limit = i64::try_from(PAGE + 1).unwrap_or(i64::MAX);
    let mut conn = svc.store.conn().await?;
    let mut rows =
        store::sessions::list_revoked_since(&mut conn, (start.at, start.after), limit).await?;
    let more = rows.len() > PAGE;
    rows.truncate(PAGE);
    let next = match rows.last() {
        Some(last) if more => Cursor {
            at: last.revoked_at,
            after: last.id,
        },
        // The last page: the next poll starts a minute back (see OVERLAP_SECS).
        _ => Cursor {
            at: (now - chrono::Duration::seconds(OVERLAP_SECS)).max(floor.at),
            after: Uuid::nil(),
        },
    };
    let entries = rows
        .into_iter()
        .map(|r| Entry {
            sid: r.id,
            sub: r.user_id,
            revoked_at: r.revoked_at,
            until: r.revoked_at + ttl,
        })
        .collect();
    Ok(Page {
        entries,
        next,
        more,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips_and_garbage_is_refused() {
        let at = DateTime::from_timestamp_nanos(1_764_000_000_123_456_789);
        for after in [Uuid::nil(), Uuid::new_v4()] {
            let cursor = Cursor { at, after };
            assert_eq!(Cursor::parse(&cursor.encode()), Some(cursor));
        }
        for bad in ["", "-1", "12a", "1.", "1.zz", "99999999999999999999", "1 2"] {
            assert_eq!(Cursor::parse(bad), None, "{bad:?}");
        }
    }
}
