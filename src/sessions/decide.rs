//! The rotation rule, pure so it is tested without a database, by example
//! and by a property over random sequences of presentations: which presented
//! token rotates, which falls under the grace rule, which is reuse.

use chrono::{DateTime, Duration, Utc};

use super::{RotationPolicy, Session};

/// What to do with a presented refresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The current token: issue token `counter + 1`, valid until `expires_at`.
    Rotate {
        counter: i64,
        expires_at: DateTime<Utc>,
    },
    /// The immediate predecessor, inside the grace window: hand out the current
    /// token again, unchanged.
    Grace,
    /// An older token, or the predecessor after the window: theft is assumed.
    Reuse,
    /// The session ended by its idle or absolute limit.
    Expired,
    /// The session was revoked: by its user (a logout, an OAuth revocation,
    /// `DELETE /auth/sessions/{id}`), by reuse, by a password change or
    /// reset, by the per-user cap, by a first proof of its address (every
    /// reason is in `sessions::logout::reasons`).
    Revoked,
    /// A counter ahead of the session's (a restored backup, say) or below
    /// zero: refused, without treating it as theft. `rotate` answers it too
    /// for a session that does not exist.
    Unknown,
}

/// The rotation rule. `rotate` calls it on an unlocked read, again under the
/// session's row lock when that read's verdict cannot be applied, and a third
/// time under the user's lock too before it punishes reuse. A logout by
/// refresh token (`logout::end_by_refresh_token`) judges the token by it the
/// same way, and introspection (`current_of`) calls a token active only when
/// it says `Rotate`.
pub fn decide(
    session: &Session,
    presented: i64,
    now: DateTime<Utc>,
    policy: &RotationPolicy,
) -> Decision {
    if session.revoked_at.is_some() {
        return Decision::Revoked;
    }
    if presented > session.counter || presented < 0 {
        return Decision::Unknown;
    }
    if now >= session.expires_at {
        return Decision::Expired;
    }
    if presented == session.counter {
        let idle = session.idle_secs.map_or(policy.idle, Duration::seconds);
        let expires_at = (now + idle).min(session.absolute_expires_at);
        return Decision::Rotate {
            counter: session.counter + 1,
            expires_at,
        };
    }
    // The current token has not been used yet: were it used, the counter would
    // have moved on and the presented token would no longer be its predecessor.
    let in_grace = presented == session.counter - 1
        && policy.reuse_interval > Duration::zero()
        && now < session.last_rotated_at + policy.reuse_interval;
    if in_grace {
        Decision::Grace
    } else {
        Decision::Reuse
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn policy() -> RotationPolicy {
        RotationPolicy {
            idle: Duration::days(7),
            absolute: Duration::days(30),
            reuse_interval: Duration::seconds(10),
            max_sessions_per_user: 100,
        }
    }

    fn session(now: DateTime<Utc>, counter: i64) -> Session {
        Session {
            counter,
            ..policy().new_session(Uuid::new_v4(), now, None, None)
        }
    }

    #[test]
    fn the_current_token_rotates_and_the_idle_limit_moves() {
        let t0 = Utc::now();
        let s = session(t0, 3);
        let later = t0 + Duration::days(1);
        assert_eq!(
            decide(&s, 3, later, &policy()),
            Decision::Rotate {
                counter: 4,
                expires_at: later + Duration::days(7)
            }
        );
    }

    #[test]
    fn rotation_never_extends_past_the_absolute_limit() {
        let t0 = Utc::now();
        let mut s = session(t0, 0);
        let late = t0 + Duration::days(29);
        s.expires_at = late + Duration::hours(1);
        match decide(&s, 0, late, &policy()) {
            Decision::Rotate { expires_at, .. } => assert_eq!(expires_at, s.absolute_expires_at),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_predecessor_inside_the_window_gets_grace_and_after_it_is_reuse() {
        let t0 = Utc::now();
        let mut s = session(t0, 5);
        s.last_rotated_at = t0;
        assert_eq!(
            decide(&s, 4, t0 + Duration::seconds(9), &policy()),
            Decision::Grace
        );
        assert_eq!(
            decide(&s, 4, t0 + Duration::seconds(10), &policy()),
            Decision::Reuse
        );
        assert_eq!(
            decide(&s, 3, t0 + Duration::seconds(1), &policy()),
            Decision::Reuse
        );
        let no_grace = RotationPolicy {
            reuse_interval: Duration::zero(),
            ..policy()
        };
        assert_eq!(decide(&s, 4, t0, &no_grace), Decision::Reuse);
    }

    #[test]
    fn expired_revoked_and_future_tokens_are_refused() {
        let t0 = Utc::now();
        let s = session(t0, 2);
        assert_eq!(decide(&s, 2, s.expires_at, &policy()), Decision::Expired);
        assert_eq!(decide(&s, 3, t0, &policy()), Decision::Unknown);
        let mut revoked = s.clone();
        revoked.revoked_at = Some(t0);
        assert_eq!(decide(&revoked, 2, t0, &policy()), Decision::Revoked);
        assert_eq!(decide(&revoked, 0, t0, &policy()), Decision::Revoked);
    }

    /// Property: from any state, applying any sequence of presentations leaves
    /// exactly one current counter, which only grows by one per rotation.
    #[test]
    fn rotation_sequences_keep_a_single_current_token() {
        let t0 = Utc::now();
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..2_000 {
            let mut s = session(t0, 0);
            let mut now = t0;
            for _ in 0..20 {
                now += Duration::milliseconds((next() % 15_000) as i64);
                let presented = s.counter - (next() % 3) as i64;
                let before = s.clone();
                match decide(&s, presented, now, &policy()) {
                    Decision::Rotate {
                        counter,
                        expires_at,
                    } => {
                        assert_eq!(presented, before.counter);
                        assert_eq!(counter, before.counter + 1);
                        assert!(expires_at <= s.absolute_expires_at);
                        s.counter = counter;
                        s.last_rotated_at = now;
                        s.expires_at = expires_at;
                    }
                    Decision::Grace => {
                        assert_eq!(presented, before.counter - 1);
                        assert!(now - before.last_rotated_at < policy().reuse_interval);
                    }
                    Decision::Reuse => {
                        assert!(presented < before.counter);
                        s.revoked_at = Some(now);
                    }
                    Decision::Expired | Decision::Revoked | Decision::Unknown => {}
                }
            }
        }
    }
}
