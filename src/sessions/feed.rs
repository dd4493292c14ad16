//! The revocation feed: what was revoked since a cursor, so services that
//! verify access tokens locally refuse tokens of revoked sessions within one
//! poll interval.
//!
//! # Two kinds of entry
//!
//! A **session entry** names one revoked session by `sid`. A **user entry**
//! says "every session of this user that started before `started_before`";
//! it replaces the session entries of a revocation of every session of a
//! user (global logout, refresh-token reuse), so that ending thousands of
//! sessions is one entry, not thousands. Verifiers refuse a user's token when
//! its `sid` is listed, or when a user entry of its `sub` has a
//! `started_before` later than the token's `auth_time`.
//!
//! Why `auth_time` (the session's start), not `iat`: a refresh racing the
//! revocation (its compare-and-set commits just before the revocation takes
//! the rows) signs a token after the revocation read its clock, so its `iat`
//! may be later than any time the entry could name, though its session ended.
//! Every token of a session carries the session's start, whoever signs it and
//! whenever, so comparing that is exact. The argument, in full:
//!
//! 1. *Every ended session is covered.* The revocation runs under the user's
//!    row lock (`store::users::lock`), which every session start also takes.
//!    Under it, it reads the latest start among the user's sessions (whatever
//!    instance's clock set it) and sets `started_before` to the whole second
//!    after the later of that and its own clock. Every session it ends
//!    started at or before that latest start, so its `auth_time` (the start,
//!    in whole seconds, rounded down) is earlier than `started_before`.
//! 2. *No later session is covered.* A session that starts after the
//!    revocation commits does so under the same lock, and starts no earlier
//!    than the latest `started_before` of the user's stored entries
//!    (`sessions::start`), so its `auth_time` is not earlier than that of any
//!    entry written before it. The price: a login in the same second as a
//!    revocation of every session, or on an instance whose clock is behind,
//!    starts up to a second (plus the skew) in the future.
//! 3. *`until` still bounds the entry.* Every token of an ended session was
//!    signed by the time the revocation committed, give or take the racing
//!    refresh above, so none is valid past the revocation time plus the
//!    access-token lifetime plus `VERIFIER_SKEW_SECS`: the same `until` as a
//!    session entry. After it the entry may be forgotten, and the verifier's
//!    set stays as small as the revocations of one token lifetime.
//!
//! A token without `auth_time` (signed by an authd older than user entries)
//! whose `sub` has an entry is refused: unknown start, assume covered.
//!
//! # Versions
//!
//! Version 1 (no `version` parameter) is the feed before user entries: a
//! session entry for every revoked session, those covered by a user entry
//! included. A verifier that does not know user entries therefore still
//! refuses every revoked token, at the old cost; one that asks for version 2
//! gets user entries and, besides them, session entries only for sessions
//! revoked one by one (a logout, a password change ending the others).
//!
//! # Privacy
//!
//! User entries are keyed by `sub_sha256`, the hex SHA-256 of the user id:
//! a verifier hashes the `sub` of the token it checks, so it needs no user
//! id, and a reader of the feed learns only ids it already holds (a user id
//! is a random UUID: the hash cannot be reversed by trying ids). Only
//! clients with `authd:revocations:sub` get the ids themselves.

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

/// Which feed a reader asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// A session entry for every revoked session.
    V1,
    /// User entries, and session entries for sessions revoked one by one.
    V2,
}

/// The kinds of entry, in the order the feed lists entries of the same time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Session,
    User,
}

/// A position in the feed: a revocation time, a kind, and an id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    at: DateTime<Utc>,
    kind: Kind,
    after: Uuid,
}

impl Cursor {
    /// `<unix nanoseconds>`, `<unix nanoseconds>.<session id>` or
    /// `<unix nanoseconds>.u<user revocation id>`.
    pub fn encode(&self) -> String {
        let nanos = self.at.timestamp_nanos_opt().unwrap_or(i64::MAX);
        match self.kind {
            Kind::Session if self.after.is_nil() => nanos.to_string(),
            Kind::Session => format!("{nanos}.{}", self.after.simple()),
            Kind::User => format!("{nanos}.u{}", self.after.simple()),
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        let (nanos, kind, after) = match text.split_once('.') {
            Some((nanos, id)) => match id.strip_prefix('u') {
                Some(id) => (nanos, Kind::User, Uuid::try_parse(id).ok()?),
                None => (nanos, Kind::Session, Uuid::try_parse(id).ok()?),
            },
            None => (text, Kind::Session, Uuid::nil()),
        };
        if nanos.is_empty() || !nanos.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(Self {
            at: DateTime::from_timestamp_nanos(nanos.parse().ok()?),
            kind,
            after,
        })
    }

    fn start_of(at: DateTime<Utc>) -> Self {
        Self {
            at,
            kind: Kind::Session,
            after: Uuid::nil(),
        }
    }

    /// The last session position at or before this cursor: entries of the
    /// same time sort sessions first, so after a user entry every session
    /// of its time was listed.
    fn sessions_after(&self) -> (DateTime<Utc>, Uuid) {
        match self.kind {
            Kind::Session => (self.at, self.after),
            Kind::User => (self.at, Uuid::max()),
        }
    }

    /// The last user-entry position at or before this cursor.
    fn users_after(&self) -> (DateTime<Utc>, Uuid) {
        match self.kind {
            Kind::Session => (self.at, Uuid::nil()),
            Kind::User => (self.at, self.after),
        }
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

/// Every session of a user that started before `started_before`.
pub struct UserEntry {
    pub sub: Uuid,
    /// The key verifiers look the entry up by: see [`sub_sha256`].
    pub sub_sha256: String,
    /// Whole seconds: tokens whose `auth_time` is earlier are revoked.
    pub started_before: DateTime<Utc>,
    pub revoked_at: DateTime<Utc>,
    /// After this no access token of the covered sessions can still be valid.
    pub until: DateTime<Utc>,
}

/// One answer of the feed.
pub struct Page {
    pub entries: Vec<Entry>,
    /// Always empty in version 1.
    pub users: Vec<UserEntry>,
    /// Where the next poll starts.
    pub next: Cursor,
    /// More entries wait: poll again at once.
    pub more: bool,
}

/// The key of a user entry: the lowercase hex SHA-256 of the user id as it
/// is written in `sub` (hyphenated, lowercase).
pub fn sub_sha256(sub: Uuid) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, sub.to_string().as_bytes());
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// What a revocation of every session of a user, made at `now` by a caller
/// holding the user's lock, covers: the sessions that started before the
/// whole second after the later of `now` and the user's latest session
/// start `latest` (point 1 of the module comment).
pub fn started_before(now: DateTime<Utc>, latest: Option<DateTime<Utc>>) -> DateTime<Utc> {
    let last = latest.map_or(now, |latest| latest.max(now));
    DateTime::from_timestamp(last.timestamp().saturating_add(1), 0).unwrap_or(last)
}

/// What the feed lists since `since` (without it, within the last
/// access-token lifetime), at most [`PAGE`] entries.
pub async fn page(
    svc: &Services,
    since: Option<Cursor>,
    version: Version,
) -> Result<Page, StoreError> {
    let now = svc.now();
    // After `revoked_at + ttl` no token of the session can be accepted anywhere.
    let ttl = svc.access.max_acceptance();
    let floor = Cursor::start_of(now - ttl);
    let start = since.filter(|c| c.at >= floor.at).unwrap_or(floor);
    let limit = i64::try_from(PAGE + 1).unwrap_or(i64::MAX);
    let mut conn = svc.store.conn().await?;
    let (sessions, users) = match version {
        Version::V1 => (
            store::sessions::list_revoked_since(&mut conn, start.sessions_after(), limit).await?,
            Vec::new(),
        ),
        Version::V2 => (
            store::sessions::list_revoked_alone_since(&mut conn, start.sessions_after(), limit)
                .await?,
            store::user_revocations::list_since(&mut conn, start.users_after(), limit).await?,
        ),
    };
    drop(conn);
    let (sessions, users, more) = first_of_both(sessions, users, PAGE);
    let last = [
        sessions.last().map(|s| (s.revoked_at, Kind::Session, s.id)),
        users.last().map(|u| (u.revoked_at, Kind::User, u.id)),
    ]
    .into_iter()
    .flatten()
    .max();
    let next = match last {
        Some((at, kind, after)) if more => Cursor { at, kind, after },
        // The last page: the next poll starts a minute back (see OVERLAP_SECS).
        _ => Cursor::start_of((now - chrono::Duration::seconds(OVERLAP_SECS)).max(floor.at)),
    };
    let entries = sessions
        .into_iter()
        .map(|r| Entry {
            sid: r.id,
            sub: r.user_id,
            revoked_at: r.revoked_at,
            until: r.revoked_at + ttl,
        })
        .collect();
    let users = users
        .into_iter()
        .map(|r| UserEntry {
            sub: r.user_id,
            sub_sha256: sub_sha256(r.user_id),
            started_before: r.started_before,
            revoked_at: r.revoked_at,
            until: r.revoked_at + ttl,
        })
        .collect();
    Ok(Page {
        entries,
        users,
        next,
        more,
    })
}

/// The first `limit` of two lists each sorted by (time, id), in the feed's
/// order (time, then sessions before user entries, then id), each list kept
/// apart; and whether anything was left over.
fn first_of_both(
    mut sessions: Vec<store::sessions::Revocation>,
    mut users: Vec<store::user_revocations::UserRevocation>,
    limit: usize,
) -> (
    Vec<store::sessions::Revocation>,
    Vec<store::user_revocations::UserRevocation>,
    bool,
) {
    let (mut s, mut u) = (0, 0);
    while s + u < limit {
        let next_session = sessions.get(s).map(|r| (r.revoked_at, Kind::Session, r.id));
        let next_user = users.get(u).map(|r| (r.revoked_at, Kind::User, r.id));
        match (next_session, next_user) {
            (Some(a), Some(b)) if a < b => s += 1,
            (Some(_), Some(_)) => u += 1,
            (Some(_), None) => s += 1,
            (None, Some(_)) => u += 1,
            (None, None) => break,
        }
    }
    let more = sessions.len() > s || users.len() > u;
    sessions.truncate(s);
    users.truncate(u);
    (sessions, users, more)
}

#[cfg(test)]
mod tests {
    use super::*;
    use store::sessions::Revocation;
    use store::user_revocations::UserRevocation;

    #[test]
    fn a_cursor_round_trips_and_garbage_is_refused() {
        let at = DateTime::from_timestamp_nanos(1_764_000_000_123_456_789);
        for (kind, after) in [
            (Kind::Session, Uuid::nil()),
            (Kind::Session, Uuid::new_v4()),
            (Kind::User, Uuid::new_v4()),
        ] {
            let cursor = Cursor { at, kind, after };
            assert_eq!(Cursor::parse(&cursor.encode()), Some(cursor));
        }
        for bad in [
            "",
            "-1",
            "12a",
            "1.",
            "1.zz",
            "1.u",
            "1.uzz",
            "99999999999999999999",
            "1 2",
        ] {
            assert_eq!(Cursor::parse(bad), None, "{bad:?}");
        }
    }

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).unwrap()
    }

    #[test]
    fn pages_of_both_kinds_follow_one_order_and_lose_nothing() {
        // Sessions and user entries at times 1..=6, two of them sharing
        // time 3: sessions first, then user entries, as the cursor assumes.
        let id = |n: u128| Uuid::from_u128(n);
        let sessions: Vec<Revocation> = [(1, 1), (3, 2), (3, 3), (6, 4)]
            .into_iter()
            .map(|(t, n)| Revocation {
                id: id(n),
                user_id: Uuid::nil(),
                revoked_at: at(t),
            })
            .collect();
        let users: Vec<UserRevocation> = [(2, 5), (3, 6), (5, 7)]
            .into_iter()
            .map(|(t, n)| UserRevocation {
                id: id(n),
                user_id: Uuid::nil(),
                started_before: at(t),
                revoked_at: at(t),
            })
            .collect();
        let order = [1, 5, 2, 3, 6, 7, 4];
        for limit in 1..=8 {
            // Walk with cursors as the feed does, from the start.
            let mut cursor = Cursor::start_of(at(0));
            let mut seen = Vec::new();
            loop {
                let (after_s, after_u) = (cursor.sessions_after(), cursor.users_after());
                let s: Vec<Revocation> = sessions
                    .iter()
                    .filter(|r| (r.revoked_at, r.id) > after_s)
                    .cloned()
                    .collect();
                let u: Vec<UserRevocation> = users
                    .iter()
                    .filter(|r| (r.revoked_at, r.id) > after_u)
                    .cloned()
                    .collect();
                let (s, u, more) = first_of_both(s, u, limit);
                assert!(s.len() + u.len() <= limit);
                let mut page: Vec<_> = s
                    .iter()
                    .map(|r| (r.revoked_at, Kind::Session, r.id))
                    .chain(u.iter().map(|r| (r.revoked_at, Kind::User, r.id)))
                    .collect();
                page.sort();
                seen.extend(page.iter().map(|p| p.2.as_u128()));
                if !more {
                    break;
                }
                let (at, kind, after) = *page.last().unwrap();
                cursor = Cursor::parse(&Cursor { at, kind, after }.encode()).unwrap();
            }
            assert_eq!(seen, order, "pages of {limit}");
        }
    }

    #[test]
    fn a_user_entry_covers_every_start_up_to_the_later_of_now_and_the_latest() {
        let now = DateTime::from_timestamp(1_000, 400_000_000).unwrap();
        assert_eq!(started_before(now, None), at(1_001));
        // A session started in the same second, and one started "later" by
        // an instance whose clock is ahead, are both covered.
        let same = DateTime::from_timestamp(1_000, 900_000_000).unwrap();
        assert_eq!(started_before(now, Some(same)), at(1_001));
        let ahead = DateTime::from_timestamp(1_003, 1).unwrap();
        assert_eq!(started_before(now, Some(ahead)), at(1_004));
        assert_eq!(started_before(now, Some(at(10))), at(1_001));
    }

    #[test]
    fn the_user_key_is_the_sha256_of_the_sub_as_tokens_write_it() {
        let sub = Uuid::parse_str("0190a0d4-7c1e-7b31-9a52-2f6f0c8d9e10").unwrap();
        // printf %s 0190a0d4-7c1e-7b31-9a52-2f6f0c8d9e10 | sha256sum
        assert_eq!(
            sub_sha256(sub),
            "bd7536dd6b8035ced55f62bd20f7f3f0ca8c2e56198966b16eafec4653e01514"
        );
    }
}
