//! authd misbehaving (never answering, oversized or endless bodies, a key set
//! with no usable key, answers arriving out of order) and the verifier's
//! background tasks ending with it.

use std::sync::atomic::Ordering;
use std::time::Duration;

use authd_verify::{BuildError, Verifier, VerifyError};
use futures_util::future::join_all;

use crate::helpers::{
    CLIENT_ID, CLIENT_SECRET, FakeAuthd, RawBehaviour, RawServer, TestKey, user_claims, wait_until,
};

const SID: &str = "0190a0d4-7c1e-7b31-9a52-2f6f0c8d9e60";

/// Far longer than the request timeouts these tests set, far shorter than
/// "forever" (or than the 10 s default timeout).
const PROMPTLY: Duration = Duration::from_secs(4);

/// A client with no timeouts at all, as a caller might pass.
fn bare_client() -> reqwest::Client {
    reqwest::Client::new()
}

async fn promptly<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(PROMPTLY, future)
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish within {PROMPTLY:?}"))
}

#[tokio::test]
async fn a_jwks_server_that_never_answers_fails_the_build_after_the_request_timeout() {
    let silent = RawServer::start(RawBehaviour::Silent).await;
    let result = promptly(
        "build",
        Verifier::builder("https://authd.test")
            .jwks_url(&silent.url)
            .http_client(bare_client())
            .request_timeout(Duration::from_millis(300))
            .build(),
    )
    .await;
    assert!(matches!(result, Err(BuildError::Jwks(_))), "{result:?}");
}

#[tokio::test]
async fn an_unknown_kid_does_not_hang_when_the_jwks_refetch_never_answers() {
    let key = TestKey::rs256("k1");
    let authd = FakeAuthd::start(&[&key]).await;
    let verifier = authd
        .builder()
        .http_client(bare_client())
        .request_timeout(Duration::from_millis(300))
        .build()
        .await
        .unwrap();
    let claims = user_claims(&authd.issuer, SID);
    authd.state.jwks_hangs.store(true, Ordering::SeqCst);

    let results = promptly(
        "requests with unknown kids",
        join_all((0..3).map(|i| {
            let verifier = verifier.clone();
            let token = key.header_token(&format!("unknown-{i}"), &claims);
            async move { verifier.verify(&token).await }
        })),
    )
    .await;

    assert!(
        results
            .iter()
            .all(|r| matches!(r, Err(VerifyError::UnknownKey(_)))),
        "{results:?}"
    );
    assert!(verifier.verify(&key.token(&claims)).await.is_ok());
}

#[tokio::test]
async fn a_feed_request_that_never_answers_does_not_stop_later_polls() {
    let key = TestKey::rs256("k1");
    let authd = FakeAuthd::start(&[&key]).await;
    let verifier = authd
        .builder()
        .http_client(bare_client())
        .request_timeout(Duration::from_millis(300))
        .revocation(CLIENT_ID, CLIENT_SECRET)
        .revocation_poll_interval(Duration::from_millis(100))
        .build()
        .await
        .unwrap();
    authd.state.feed_hangs.store(true, Ordering::SeqCst);
    // One poll reached the hanging feed after the switch.
    authd.wait_for_polls(authd.feed_polls(), 1).await;
    let stale = verifier.last_revocation_poll();

    authd.state.feed_hangs.store(false, Ordering::SeqCst);
    wait_until(
        || verifier.last_revocation_poll() > stale,
        "a successful poll after the hung one",
    )
    .await;
}

#[tokio::test]
async fn a_jwks_announcing_a_body_over_the_limit_is_refused_without_reading_it() {
    // 1 GiB announced and never sent: only the Content-Length check ends this
    // before the 10 s request timeout.
    let liar = RawServer::start(RawBehaviour::ClaimsLength(1 << 30)).await;
    let result = promptly(
        "build",
        Verifier::builder("https://authd.test")
            .jwks_url(&liar.url)
            .http_client(bare_client())
            .build(),
    )
    .await;
    match result {
        Err(BuildError::Jwks(message)) => assert!(message.contains("larger than"), "{message}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_feed_page_announcing_a_body_over_the_limit_is_refused_without_reading_it() {
    let key = TestKey::rs256("k1");
    let authd = FakeAuthd::start(&[&key]).await;
    let liar = RawServer::start(RawBehaviour::ClaimsLength(1 << 30)).await;
    let result = promptly(
        "build",
        authd
            .builder()
            .http_client(bare_client())
            .revocation(CLIENT_ID, CLIENT_SECRET)
            .revocation_feed_url(&liar.url)
            .build(),
    )
    .await;
    match result {
        Err(BuildError::Revocation(message)) => {
            assert!(message.contains("larger than"), "{message}")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn an_endless_jwks_body_is_cut_off_at_the_size_limit() {
    let endless = RawServer::start(RawBehaviour::Endless).await;
    let result = promptly(
        "build",
        Verifier::builder("https://authd.test")
            .jwks_url(&endless.url)
            .http_client(bare_client())
            .build(),
    )
    .await;
    match result {
        Err(BuildError::Jwks(message)) => assert!(message.contains("larger than"), "{message}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_jwks_with_no_usable_key_keeps_the_last_good_keys() {
    let key = TestKey::rs256("k1");
    let authd = FakeAuthd::start(&[&key]).await;
    authd.set_cache_control("max-age=1");
    let verifier = authd
        .builder()
        .cache_bounds(Duration::from_secs(1), Duration::from_secs(3600))
        .build()
        .await
        .unwrap();
    // Parses as a JWK Set, but a symmetric key is never taken from one.
    *authd.state.keys.lock().unwrap() = vec![serde_json::json!(
        {"kty": "oct", "kid": "k1", "k": "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}
    )];
    let before = authd.jwks_fetches();
    wait_until(
        || authd.jwks_fetches() >= before + 2,
        "two refreshes of the unusable set",
    )
    .await;

    let token = key.token(&user_claims(&authd.issuer, SID));
    assert!(verifier.verify(&token).await.is_ok());
}

#[tokio::test]
async fn a_jwks_with_no_usable_key_fails_the_build() {
    let authd = FakeAuthd::start(&[]).await;
    let result = authd.builder().build().await;
    match result {
        Err(BuildError::Jwks(message)) => assert!(message.contains("no usable"), "{message}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_slow_background_refresh_cannot_overwrite_the_keys_of_a_later_refetch() {
    let old = TestKey::rs256("old");
    let new = TestKey::eddsa("new");
    let authd = FakeAuthd::start(&[&old]).await;
    authd.set_cache_control("max-age=1");
    let verifier = authd
        .builder()
        .cache_bounds(Duration::from_secs(1), Duration::from_secs(3600))
        .unknown_kid_refetch_interval(Duration::from_secs(3600))
        .build()
        .await
        .unwrap();
    // From now on answers say an hour, so no further refresh interferes.
    authd.set_cache_control("max-age=3600");
    // The background refresh (due 750 ms after the build) sees only the old
    // key and answers 1.5 s late.
    authd
        .state
        .jwks_delays
        .lock()
        .unwrap()
        .push_back(Duration::from_millis(1500));
    wait_until(|| authd.jwks_fetches() >= 2, "the background refresh").await;

    // Meanwhile the new key is published and a token naming it arrives: its
    // refetch must not be overtaken by the slow, older answer.
    authd.publish(&[&old, &new]);
    let token = new.token(&user_claims(&authd.issuer, SID));
    assert!(verifier.verify(&token).await.is_ok());
    assert_eq!(authd.jwks_fetches(), 3);
    // Past the slow answer's arrival, the new key is still known.
    tokio::time::sleep(Duration::from_millis(1700)).await;
    assert!(
        verifier.verify(&token).await.is_ok(),
        "an older key set replaced a newer one"
    );
}

#[tokio::test]
async fn dropping_the_last_verifier_stops_its_background_tasks_at_once() {
    let key = TestKey::rs256("k1");
    let authd = FakeAuthd::start(&[&key]).await;
    authd.set_cache_control("max-age=3600");
    let runtime = tokio::runtime::Handle::current();
    let tasks_before = runtime.metrics().num_alive_tasks();

    // Both tasks would next wake in 45 and 60 minutes.
    let verifier = authd
        .builder()
        .revocation(CLIENT_ID, CLIENT_SECRET)
        .revocation_poll_interval(Duration::from_secs(3600))
        .max_revocation_staleness(Duration::from_secs(7200))
        .build()
        .await
        .unwrap();
    assert!(runtime.metrics().num_alive_tasks() >= tasks_before + 2);
    let clone = verifier.clone();
    drop(verifier);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        runtime.metrics().num_alive_tasks() >= tasks_before + 2,
        "a remaining clone keeps the tasks"
    );

    drop(clone);
    wait_until(
        || runtime.metrics().num_alive_tasks() <= tasks_before,
        "the background tasks to end",
    )
    .await;
}
