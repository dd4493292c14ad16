//! Rotating a presented refresh token: the one place a token is spent.
//!
//! # Why this is safe under concurrency
//!
//! Two requests may present the same token at once (two tabs, a retried
//! request, an attacker racing the owner). Exactly one of them may rotate it;
//! the other must see the rotation and be judged by the grace rule or as reuse.
//!
//! 1. **The common case takes no lock.** The session is read unlocked and
//!    `decide` rules on that read. A `Rotate` verdict is applied as a
//!    compare-and-set: `UPDATE ... WHERE counter = <the counter read> AND
//!    revoked_at IS NULL`. Everything `decide` reads changes only with the
//!    counter (rotation sets `last_rotated_at` and `expires_at` with it,
//!    counters only grow) or with `revoked_at`, which the statement checks
//!    too. So one row updated means the verdict still held when it was
//!    applied; of two racing presentations, the database lets one update win
//!    and the other finds zero rows.
//! 2. **Everything else runs in a locked transaction.** A lost race, the
//!    grace rule and refusals go to a transaction that locks the session's
//!    row (`FOR UPDATE` on PostgreSQL; SQLite's `BEGIN IMMEDIATE` holds the
//!    database's write lock), reads it again and lets `decide` rule on the
//!    row as it is then. Presentations of one session queue on that lock,
//!    each seeing what the previous one committed; on PostgreSQL other
//!    sessions of the same user do not wait (on SQLite every writer waits
//!    its turn anyway).
//! 3. **Reuse is judged again, and punished, in one transaction.** Every
//!    change to several sessions of a user locks the user's row first, so a
//!    reuse detection, a global logout and a password change on one user
//!    queue instead of deadlocking on session rows taken in different
//!    orders. So on a verdict of reuse the session's lock is let go, and a
//!    new transaction locks the user, then the session, rules again (counters
//!    only grow: the verdict stands unless the session was revoked meanwhile),
//!    revokes every session of the user and records the audit event: the
//!    verdict, the revocation and its audit event commit together or not at
//!    all (`punish_reuse`).
//! 4. **Time comes from the caller** (`now`), read before any lock; waiting
//!    for a lock only makes the verdict stricter (a grace window can close,
//!    never reopen).
//!
//! The races are tested on both stores. `tests/api/stress.rs`
//! (`racing_refreshes_never_spend_a_token_twice_and_leave_one_current_token_per_family`)
//! presents each of twenty sessions' current token ten times at once, round
//! after round, and checks each was spent into exactly one token. In
//! `tests/api/refresh.rs`,
//! `the_grace_window_returns_the_same_token_to_twenty_concurrent_requests`
//! sees one rotation for twenty presentations at once, and
//! `many_devices_replaying_old_tokens_at_once_revoke_everything_without_errors`
//! races reuse against logouts. `tests/api/atomicity.rs` fails the reuse's
//! audit event and finds nothing revoked (point 3). No test stops a request
//! between the two statements of point 1: `tests/api/crash.rs` kills authd
//! under refresh load (both stores) and `tests/api/faults.rs` breaks its
//! PostgreSQL connections under load, wherever the requests are.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Decision, RotationPolicy, Session, SessionKind, decide, reuse};
use crate::audit::RequestMeta;
use crate::factors;
use crate::oidc::backchannel::{self, Ended};
use crate::services::Services;
use crate::store::{self, Store, StoreError};
use crate::tokens::refresh::{key_id_of, log_prefix};

/// The outcome of presenting refresh token `counter` of a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// A new current token; the session as it is now.
    Rotated(Session),
    /// The grace rule: the session unchanged, its current token to hand out again.
    Grace(Session),
    /// A rotated token again: every session of the user is revoked.
    Reused {
        user_id: Uuid,
        session_id: Uuid,
        revoked: u64,
    },
    /// Expired, revoked or unknown.
    Refused(Decision),
    /// A session the presenter does not hold (another client's family, a
    /// client family at the first-party endpoint, a browser session): left
    /// untouched. `first_party`: the session is a first-party family.
    NotHeld { first_party: bool },
}

/// Who presents a refresh token: authd's first-party client (`/auth/refresh`,
/// and `/oauth/token` without client authentication), or an authenticated
/// registered client at `/oauth/token`. A family is refreshed only by its
/// holder: a first-party family by the first party, a client family by its
/// client; a browser session by nobody.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder<'a> {
    FirstParty,
    Client(&'a str),
}

impl Holder<'_> {
    /// Whether `session` is this holder's: what a refresh, and a revocation
    /// (`oauth::revocation`), asks before anything else.
    pub fn holds(self, session: &Session) -> bool {
        session.kind == SessionKind::Refresh
            && match (self, session.client_id.as_deref()) {
                (Self::FirstParty, None) => true,
                (Self::Client(client), Some(owner)) => client == owner,
                _ => false,
            }
    }

    fn refuse(session: &Session) -> Rotation {
        Rotation::NotHeld {
            first_party: session.kind == SessionKind::Refresh && session.client_id.is_none(),
        }
    }
}

/// What presenting a refresh token gave (see [`exchange_as`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)] // one per refresh, moved once: boxing buys nothing
pub enum Exchange {
    /// The session whose current token is to be delivered.
    Delivered(Session),
    /// Forged, expired, revoked, unknown or reused.
    Refused,
    /// A session the presenter does not hold; nothing was spent.
    /// `first_party`: it is a first-party family.
    NotHeld { first_party: bool },
}

/// Applies the rotation rule to a presented refresh token, for `/auth/refresh`
/// and the OAuth token endpoint alike: the session whose current token is to
/// be delivered (rotated, or handed out again under the grace rule), or
/// `None` when the token is refused (forged, expired, revoked, unknown or
/// reused; reuse has revoked every session of the user by then). A token of a
/// retired key is as good as one of the current key; the token delivered next
/// is made by the current key.
pub async fn exchange(
    svc: &Services,
    token: &str,
    meta: &RequestMeta,
) -> Result<Option<Session>, StoreError> {
    Ok(
        match exchange_as(svc, token, Holder::FirstParty, meta).await? {
            Exchange::Delivered(session) => Some(session),
            Exchange::Refused | Exchange::NotHeld { .. } => None,
        },
    )
}

/// [`exchange`] for `holder`: a session it does not hold is refused before
/// anything is judged or spent (a client family at `/auth/refresh`, another
/// client's family at `/oauth/token`).
pub async fn exchange_as(
    svc: &Services,
    token: &str,
    holder: Holder<'_>,
    meta: &RequestMeta,
) -> Result<Exchange, StoreError> {
    let refreshes = &svc.metrics.refreshes;
    let Some(claims) = svc.refresh.decode(token) else {
        // The key id shows an operator a token of a key no longer in the ring.
        tracing::info!(
            token = log_prefix(token),
            key = ?key_id_of(token),
            "refresh with a token authd did not make"
        );
        refreshes.with_label_values(&["refused"]).inc();
        return Ok(Exchange::Refused);
    };
    if below_policy(svc, claims.session, holder).await? {
        tracing::info!(session = %claims.session, "refresh refused: mfa.required, and the session signed in without a second factor");
        refreshes.with_label_values(&["refused"]).inc();
        return Ok(Exchange::Refused);
    }
    let rotation = rotate_held(
        &svc.store,
        claims.session,
        claims.counter,
        svc.now(),
        &svc.policy,
        meta,
        holder,
        Some(svc),
    )
    .await?;
    match rotation {
        Rotation::Rotated(session) => {
            refreshes.with_label_values(&["rotated"]).inc();
            Ok(Exchange::Delivered(session))
        }
        Rotation::Grace(session) => {
            refreshes.with_label_values(&["grace"]).inc();
            tracing::info!(session = %session.id, "grace: the current refresh token handed out again");
            Ok(Exchange::Delivered(session))
        }
        Rotation::NotHeld { first_party } => {
            tracing::info!(session = %claims.session, ?holder, "refresh of a session its presenter does not hold");
            refreshes.with_label_values(&["refused"]).inc();
            Ok(Exchange::NotHeld { first_party })
        }
        Rotation::Reused {
            user_id,
            session_id,
            revoked,
        } => {
            reuse::detected(svc, user_id, session_id, revoked, "refresh");
            Ok(Exchange::Refused)
        }
        Rotation::Refused(decision) => {
            tracing::info!(session = %claims.session, ?decision, "refresh refused");
            refreshes.with_label_values(&["refused"]).inc();
            Ok(Exchange::Refused)
        }
    }
}

/// Whether session `id`, held by `holder`, signed in below the policy
/// `mfa.required` (`factors::policy`): without a second factor while the
/// policy is on. Its refresh is refused before anything is judged or spent;
/// the session is left as it is (a logout with its token still ends it). Read
/// only while the policy is on: how a session signed in never changes.
async fn below_policy(svc: &Services, id: Uuid, holder: Holder<'_>) -> Result<bool, StoreError> {
    if !factors::policy::required(svc) {
        return Ok(false);
    }
    let mut conn = svc.store.conn().await?;
    let session = store::sessions::find(&mut conn, id).await?;
    Ok(session.is_some_and(|s| holder.holds(&s) && !factors::policy::allows(svc, &s.auth_methods)))
}

/// Presents token `presented` of a first-party session `id` at `now` (see
/// the module comment for why this is safe under concurrency).
pub async fn rotate(
    store: &Store,
    id: Uuid,
    presented: i64,
    now: DateTime<Utc>,
    policy: &RotationPolicy,
    meta: &RequestMeta,
) -> Result<Rotation, StoreError> {
    rotate_held(
        store,
        id,
        presented,
        now,
        policy,
        meta,
        Holder::FirstParty,
        None,
    )
    .await
}

/// [`rotate`] for `holder`. Whom a session belongs to never changes, so the
/// first read decides it once. A reuse it finds tells the clients the user
/// signed in to through `tell` (`oidc::backchannel`); [`rotate`], the
/// rotation alone (the benchmark's), tells none.
#[tracing::instrument(skip_all, fields(session = %id, presented))]
#[allow(clippy::too_many_arguments)]
pub async fn rotate_held(
    store: &Store,
    id: Uuid,
    presented: i64,
    now: DateTime<Utc>,
    policy: &RotationPolicy,
    meta: &RequestMeta,
    holder: Holder<'_>,
    tell: Option<&Services>,
) -> Result<Rotation, StoreError> {
    // One connection throughout, so going on to the locked transaction does
    // not queue for the pool again.
    let mut conn = store.write_conn().await?;
    let Some(seen) = store::sessions::find(&mut conn, id).await? else {
        return Ok(Rotation::Refused(Decision::Unknown));
    };
    if !holder.holds(&seen) {
        return Ok(Holder::refuse(&seen));
    }
    if let Decision::Rotate {
        counter,
        expires_at,
    } = decide(&seen, presented, now, policy)
        && store::sessions::set_current_if(&mut conn, id, seen.counter, counter, now, expires_at)
            .await?
    {
        return Ok(Rotation::Rotated(seen.rotated(counter, now, expires_at)));
    }

    let mut tx = conn.begin().await?;
    let Some(session) = store::sessions::lock(&mut tx, id).await? else {
        return Ok(Rotation::Refused(Decision::Unknown));
    };
    let outcome = match decide(&session, presented, now, policy) {
        Decision::Rotate {
            counter,
            expires_at,
        } => {
            store::sessions::set_current(&mut tx, id, counter, now, expires_at).await?;
            Rotation::Rotated(session.rotated(counter, now, expires_at))
        }
        Decision::Grace => Rotation::Grace(session),
        Decision::Reuse => {
            // The user's lock comes before any session's (see the module
            // comment): let this one go, then judge again under both.
            tx.rollback().await?;
            return punish_reuse(
                &mut conn,
                session.user_id,
                id,
                presented,
                now,
                policy,
                meta,
                tell,
            )
            .await;
        }
        refused => Rotation::Refused(refused),
    };
    tx.commit().await?;
    Ok(outcome)
}

/// The reuse verdict again, under the user's lock and then the session's, and
/// the revocation of every session of the user with its audit event: one
/// transaction. Counters only grow, so a verdict of reuse stays true unless
/// the session was revoked meanwhile (then there is nothing left to do).
#[allow(clippy::too_many_arguments)]
async fn punish_reuse(
    conn: &mut store::Conn,
    user: Uuid,
    id: Uuid,
    presented: i64,
    now: DateTime<Utc>,
    policy: &RotationPolicy,
    meta: &RequestMeta,
    tell: Option<&Services>,
) -> Result<Rotation, StoreError> {
    let mut tx = conn.begin().await?;
    store::users::lock(&mut tx, user).await?;
    let Some(session) = store::sessions::lock(&mut tx, id).await? else {
        return Ok(Rotation::Refused(Decision::Unknown));
    };
    let verdict = decide(&session, presented, now, policy);
    if verdict != Decision::Reuse {
        return Ok(Rotation::Refused(verdict));
    }
    if let Some(svc) = tell {
        backchannel::ended(svc, &mut tx, Ended::User { user, keep: None }).await?;
    }
    let revoked =
        reuse::revoke_every_session(&mut tx, &session, presented, "refresh", meta, now).await?;
    tx.commit().await?;
    Ok(Rotation::Reused {
        user_id: user,
        session_id: id,
        revoked,
    })
}
