//! The revocation feed: polling, `more`, forgetting, failures, and user
//! entries (every session of a user that started before a time).

use std::sync::atomic::Ordering;
use std::time::Duration;

use authd_verify::{BuildError, Verifier, VerifyError};

use crate::helpers::{
    CLIENT_ID, CLIENT_SECRET, FakeAuthd, TestKey, now, service_claims, user_claims, wait_until,
};

const SID: &str = "0190a0d4-7c1e-7b31-9a52-2f6f0c8d9e40";
/// The `sub` of `user_claims`.
const SUB: &str = "0190a0d4-7c1e-7b31-9a52-2f6f0c8d9e10";
const OTHER_SID: &str = "0190a0d4-7c1e-7b31-9a52-2f6f0c8d9e41";

async fn with_revocation(authd: &FakeAuthd, interval: Duration) -> Verifier {
    authd
        .builder()
        .revocation(CLIENT_ID, CLIENT_SECRET)
        .revocation_poll_interval(interval)
        // Far beyond these tests: staleness has tests of its own.
        .max_revocation_staleness(interval.max(Duration::from_secs(60)) * 2)
        .build()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_revoked_session_is_refused_after_the_next_poll() {
    let key = TestKey::rs256("k1");
    let authd = FakeAuthd::start(&[&key]).await;
    let verifier = with_revocation(&authd, Duration::from_millis(100)).await;
    let token = key.token(&user_claims(&authd.issuer, SID));
    let other = key.token(&user_claims(&authd.issuer, OTHER_SID));
    let service = key.token(&service_claims(&authd.issuer, "a"));
    assert!(verifier.verify(&token).await.is_ok());
    let first_poll = verifier.last_revocation_poll().unwrap();

    authd.revoke(SID, now() + 900);
    authd.wait_for_polls(authd.feed_polls(), 2).await;

    assert_eq!(verifier.verify(&token).await, Err(VerifyError::Revoked));
    assert!(
        verifier.verify(&other).await.is_ok(),
        "other sessions are untouched"
    );
    assert!(
        verifier.verify(&service).await.is_ok(),
        "tokens without sid are untouched"
    );
    assert!(verifier.last_revocation_poll().unwrap() > first_poll);
    assert_eq!(verifier.revoked_sessions(), 1);
}

#[tokio::test]
async fn the_feed_is_followed_while_more_is_true_and_the_cursor_sent_back() {
    let key = TestKey::rs256("k1");
    let authd = FakeAuthd::start(&[&key]).await;
    authd.state.page_size.store(2, Ordering::SeqCst);
    let sids: Vec<String> = (0..5)
        .map(|i| format!("0190a0d4-0000-7000-8000-00000000000{i}"))
        .collect();
    for sid in &sids {
        authd.revoke(sid, now() + 900);
    }

    // One minute apart: only the start-up poll runs during this test.
    let verifier = with_revocation(&authd, Duration::from_secs(60)).await;

    for sid in &sids {
        let token = key.token(&user_claims(&authd.issuer, sid));
        assert_eq!(
            verifier.verify(&token).await,
            Err(VerifyError::Revoked),
            "{sid}"
        );
    }
    let cursors = authd.state.feed_cursors.lock().unwrap().clone();
    assert_eq!(cursors, [None, Some("2".to_owned()), Some("4".to_owned())]);
    assert_eq!(verifier.revoked_sessions(), 5);
}

#[tokio::test]
async fn later_polls_ask_only_for_what_is_new_since_the_cursor() {
    let key = TestKey::rs256("k1");
    let authd = FakeAuthd::start(&[&key]).await;
    authd.revoke(SID, now() + 900);
    let _verifier = with_revocation(&authd, Duration::from_millis(100)).await;
    wait_until(
        || authd.state.feed_cursors.lock().unwrap().len() >= 2,
        "a second poll",
    )
    .await;
    let cursors = authd.state.feed_cursors.lock().unwrap().clone();
    assert_eq!(cursors[0], None);
    assert_eq!(cursors[1].as_deref(), Some("1"));
}

#[tokio::test]
async fn entries_past_their_until_plus_the_leeway_are_forgotten() {
    let key = TestKey::rs256("k1");
    let authd = FakeAuthd::start(&[&key]).await;
    // The default leeway is 30 s.
    authd.revoke(SID, now() - 31);
    authd.revoke(OTHER_SID, now() + 900);
    let verifier = with_revocation(&authd, Duration::from_secs(60)).await;
    assert_eq!(verifier.revoked_sessions(), 1);
    let token = key.token(&user_claims(&authd.issuer, OTHER_SID));
    assert_eq!(verifier.verify(&token).await, Err(VerifyError::Revoked));
}

#[tokio::test]
async fn a_failed_poll_keeps_the_last_state_and_is_retried() {
    let key = TestKey::rs256("k1");
    let authd = FakeAuthd::start(&[&key]).await;
    authd.revoke(SID, now() + 900);
    let verifier = with_revocation(&authd, Duration::from_millis(100)).await;
    let token = key.token(&user_claims(&authd.issuer, SID));
    authd.state.feed_fails.store(true, Ordering::SeqCst);
    authd.wait_for_polls(authd.feed_polls(), 2).await;
    let stale = verifier.last_revocation_poll().unwrap();

    authd.wait_for_polls(authd.feed_polls(), 2).await;
    assert_eq!(
        verifier.verify(&token).await,
        Err(VerifyError::Revoked),
        "state kept"
    );
    assert_eq!(
        verifier.last_revocation_poll(),
        Some(stale),
        "no success while failing"
    );

    authd.state.feed_fails.store(false, Ordering::SeqCst);
    wait_until(
        || verifier.last_revocation_poll() > Some(stale),
        "a successful poll after recovery",
    )
    .await;
}

#[tokio::test]
async fn wrong_client_credentials_fail_the_build() {
    let authd = FakeAuthd::start(&[&TestKey::eddsa("k")]).await;
    let result = authd.builder().revocation(CLIENT_ID, "wrong").build().await;
    assert!(
        matches!(result, Err(BuildError::Revocation(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn without_revocation_the_feed_is_never_polled() {
    let key = TestKey::eddsa("k");
    let authd = FakeAuthd::start(&[&key]).await;
    authd.revoke(SID, now() + 900);
    let verifier = authd.verifier().await;
    let token = key.token(&user_claims(&authd.issuer, SID));
    assert!(verifier.verify(&token).await.is_ok());
    assert_eq!(authd.feed_polls(), 0);
    assert_eq!(verifier.last_revocation_poll(), None);
}

#[tokio::test]
async fn a_revoked_session_stays_refused_while_the_leeway_still_accepts_its_tokens() {
    let key = TestKey::rs256("k1");
    let authd = FakeAuthd::start(&[&key]).await;
    // authd's `until` has just passed: by authd's clock no token of the
    // session is valid any more. This verifier's leeway of 5 minutes still
    // accepts one that expired 70 s ago, so it must still know the session.
    authd.revoke(SID, now() - 10);
    let verifier = authd
        .builder()
        .leeway(Duration::from_secs(300))
        .revocation(CLIENT_ID, CLIENT_SECRET)
        .revocation_poll_interval(Duration::from_secs(60))
        .max_revocation_staleness(Duration::from_secs(120))
        .build()
        .await
        .unwrap();
    let mut claims = user_claims(&authd.issuer, SID);
    claims["exp"] = serde_json::json!(now() - 70);
    claims["iat"] = serde_json::json!(now() - 970);
    let token = key.token(&claims);
    let unrevoked = key.token(&user_claims(&authd.issuer, OTHER_SID));

    assert_eq!(verifier.verify(&token).await, Err(VerifyError::Revoked));
    assert!(verifier.verify(&unrevoked).await.is_ok());
    assert_eq!(verifier.revoked_sessions(), 1);
}

/// A token of `SUB` in session `sid`, which started at `auth_time` (none:
/// a token of an authd older than the claim).
fn user_token(key: &TestKey, issuer: &str, sid: &str, auth_time: Option<i64>) -> String {
    let mut claims = user_claims(issuer, sid);
    if let Some(t) = auth_time {
        claims["auth_time"] = serde_json::json!(t);
    }
    key.token(&claims)
}

#[tokio::test]
async fn a_user_entry_refuses_the_sessions_of_its_user_that_started_before_it_and_no_others() {
    let key = TestKey::rs256("k1");
    let authd = FakeAuthd::start(&[&key]).await;
    let t = now() - 100;
    authd.revoke_user(SUB, t, now() + 900);
    let verifier = with_revocation(&authd, Duration::from_secs(60)).await;
    let issuer = &authd.issuer;

    // Sessions that started before `started_before`, whatever their `iat`:
    // a token refreshed after the revocation still carries its old start.
    for auth_time in [t - 1, t - 3_600] {
        let token = user_token(&key, issuer, SID, Some(auth_time));
        assert_eq!(
            verifier.verify(&token).await,
            Err(VerifyError::Revoked),
            "started at {auth_time}, before {t}"
        );
    }
    // No start known: assume covered.
    let legacy = user_token(&key, issuer, SID, None);
    assert_eq!(verifier.verify(&legacy).await, Err(VerifyError::Revoked));
    // Sessions started since: untouched, from the entry's second on.
    for auth_time in [t, t + 1] {
        let token = user_token(&key, issuer, OTHER_SID, Some(auth_time));
        assert!(
            verifier.verify(&token).await.is_ok(),
            "started at {auth_time}"
        );
    }
    // Another user, and a service token, are untouched.
    let mut other = user_claims(issuer, SID);
    other["sub"] = serde_json::json!("0190a0d4-7c1e-7b31-9a52-2f6f0c8d9e99");
    other["auth_time"] = serde_json::json!(t - 1);
    assert!(verifier.verify(&key.token(&other)).await.is_ok());
    let service = key.token(&service_claims(issuer, "a"));
    assert!(verifier.verify(&service).await.is_ok());

    assert_eq!(verifier.revoked_users(), 1);
    assert_eq!(verifier.revoked_sessions(), 0);
    // The verifier asked for the feed version that has user entries.
    let versions = authd.state.feed_versions.lock().unwrap().clone();
    assert!(!versions.is_empty());
    assert!(
        versions.iter().all(|v| v.as_deref() == Some("2")),
        "{versions:?}"
    );
}

#[tokio::test]
async fn a_later_user_entry_of_the_same_user_widens_what_is_refused() {
    let key = TestKey::rs256("k1");
    let authd = FakeAuthd::start(&[&key]).await;
    let t = now() - 100;
    authd.revoke_user(SUB, t, now() + 900);
    let verifier = with_revocation(&authd, Duration::from_millis(100)).await;
    let between = user_token(&key, &authd.issuer, SID, Some(t + 10));
    assert!(verifier.verify(&between).await.is_ok());

    authd.revoke_user(SUB, t + 20, now() + 900);
    authd.wait_for_polls(authd.feed_polls(), 2).await;
    assert_eq!(verifier.verify(&between).await, Err(VerifyError::Revoked));
    let after = user_token(&key, &authd.issuer, OTHER_SID, Some(t + 20));
    assert!(verifier.verify(&after).await.is_ok());
    assert_eq!(verifier.revoked_users(), 1, "one entry per user");
}

#[tokio::test]
async fn user_entries_past_their_until_plus_the_leeway_are_forgotten() {
    let key = TestKey::rs256("k1");
    let authd = FakeAuthd::start(&[&key]).await;
    // The default leeway is 30 s.
    authd.revoke_user(SUB, now(), now() - 31);
    authd.revoke_user("0190a0d4-7c1e-7b31-9a52-2f6f0c8d9e99", now(), now() + 900);
    let verifier = with_revocation(&authd, Duration::from_secs(60)).await;
    assert_eq!(verifier.revoked_users(), 1);
    let token = user_token(&key, &authd.issuer, SID, Some(now() - 10));
    assert!(verifier.verify(&token).await.is_ok());
}
