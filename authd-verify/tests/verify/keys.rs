//! The JWKS cache: Cache-Control, background refresh, failures, rotation and
//! the rate limit on unknown kids.

use std::sync::atomic::Ordering;
use std::time::Duration;

use authd_verify::{BuildError, VerifyError};
use futures_util::future::join_all;

use crate::helpers::{FakeAuthd, TestKey, user_claims, wait_until};

const SID: &str = "0190a0d4-7c1e-7b31-9a52-2f6f0c8d9e30";

#[tokio::test]
async fn the_jwks_is_fetched_once_while_its_max_age_lasts() {
    let key = TestKey::rs256("k1");
    let authd = FakeAuthd::start(&[&key]).await;
    let verifier = authd.verifier().await;
    let token = key.token(&user_claims(&authd.issuer, SID));

    for _ in 0..50 {
        verifier.verify(&token).await.unwrap();
    }

    assert_eq!(authd.jwks_fetches(), 1);
    assert_eq!(authd.state.discovery_fetches.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_short_max_age_makes_the_verifier_refresh_in_the_background() {
    let key = TestKey::rs256("k1");
    let authd = FakeAuthd::start(&[&key]).await;
    authd.set_cache_control("public, max-age=1");
    let _verifier = authd
        .builder()
        .cache_bounds(Duration::from_secs(1), Duration::from_secs(3600))
        .build()
        .await
        .unwrap();

    // No verification happens: only the background task can fetch again.
    wait_until(|| authd.jwks_fetches() >= 3, "two background refreshes").await;
}

#[tokio::test]
async fn a_keys_rotation_published_by_a_background_refresh_is_picked_up_without_a_refetch() {
    let old = TestKey::rs256("old");
    let new = TestKey::es256("new");
    let authd = FakeAuthd::start(&[&old]).await;
    authd.set_cache_control("max-age=1");
    let verifier = authd
        .builder()
        .cache_bounds(Duration::from_secs(1), Duration::from_secs(3600))
        .unknown_kid_refetch_interval(Duration::from_secs(3600))
        .build()
        .await
        .unwrap();
    // Spend the one unknown-kid refetch of the hour, so that only the
    // background refresh can bring the new key.
    let claims = user_claims(&authd.issuer, SID);
    assert!(
        verifier
            .verify(&old.header_token("spent", &claims))
            .await
            .is_err()
    );
    authd.publish(&[&new]);
    let before = authd.jwks_fetches();
    wait_until(|| authd.jwks_fetches() > before, "a background refresh").await;

    let token = new.token(&claims);
    // Once refreshed, the new key is known; the old one is gone.
    wait_until_ok(&verifier, &token).await;
    let old_token = old.token(&user_claims(&authd.issuer, SID));
    assert!(matches!(
        verifier.verify(&old_token).await,
        Err(VerifyError::UnknownKey(_))
    ));
}

async fn wait_until_ok(verifier: &authd_verify::Verifier, token: &str) {
    for _ in 0..250 {
        if verifier.verify(token).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("token never accepted");
}

#[tokio::test]
async fn a_failed_refresh_keeps_serving_the_last_good_keys() {
    let key = TestKey::rs256("k1");
    let authd = FakeAuthd::start(&[&key]).await;
    authd.set_cache_control("max-age=1");
    let verifier = authd
        .builder()
        .cache_bounds(Duration::from_secs(1), Duration::from_secs(3600))
        .build()
        .await
        .unwrap();
    authd.state.jwks_fails.store(true, Ordering::SeqCst);
    let before = authd.jwks_fetches();

    wait_until(
        || authd.jwks_fetches() >= before + 2,
        "two failed refreshes",
    )
    .await;

    let token = key.token(&user_claims(&authd.issuer, SID));
    assert!(verifier.verify(&token).await.is_ok());
}

#[tokio::test]
async fn a_flood_of_bogus_kids_makes_at_most_one_jwks_fetch_per_interval() {
    let key = TestKey::rs256("k1");
    let authd = FakeAuthd::start(&[&key]).await;
    let verifier = authd.verifier().await;
    let claims = user_claims(&authd.issuer, SID);
    let bogus: Vec<String> = (0..300)
        .map(|i| TestKey::header_token(&key, &format!("bogus-{i}"), &claims))
        .collect();

    let results = join_all(bogus.iter().map(|t| {
        let verifier = verifier.clone();
        async move { verifier.verify(t).await }
    }))
    .await;

    assert!(
        results
            .iter()
            .all(|r| matches!(r, Err(VerifyError::UnknownKey(_))))
    );
    assert_eq!(
        authd.jwks_fetches(),
        2,
        "the start-up fetch and one refetch"
    );
    // The good key still works meanwhile.
    assert!(verifier.verify(&key.token(&claims)).await.is_ok());
}

#[tokio::test]
async fn an_unknown_kid_refetches_again_once_the_interval_has_passed() {
    let key = TestKey::rs256("k1");
    let authd = FakeAuthd::start(&[&key]).await;
    let verifier = authd
        .builder()
        .unknown_kid_refetch_interval(Duration::from_secs(3))
        .build()
        .await
        .unwrap();
    let claims = user_claims(&authd.issuer, SID);
    let bogus = TestKey::header_token(&key, "bogus", &claims);

    assert!(verifier.verify(&bogus).await.is_err());
    assert!(verifier.verify(&bogus).await.is_err());
    assert_eq!(authd.jwks_fetches(), 2);
    tokio::time::sleep(Duration::from_millis(3100)).await;
    assert!(verifier.verify(&bogus).await.is_err());
    assert_eq!(authd.jwks_fetches(), 3);
}

#[tokio::test]
async fn a_token_with_a_new_kid_is_accepted_after_one_shared_refetch() {
    let old = TestKey::rs256("2026-01");
    let new = TestKey::eddsa("2026-02");
    let authd = FakeAuthd::start(&[&old]).await;
    let verifier = authd.verifier().await;
    authd.publish(&[&old, &new]);
    let token = new.token(&user_claims(&authd.issuer, SID));

    let results = join_all((0..50).map(|_| {
        let verifier = verifier.clone();
        let token = token.clone();
        async move { verifier.verify(&token).await }
    }))
    .await;

    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(authd.jwks_fetches(), 2, "one refetch served every request");
    assert!(
        verifier
            .verify(&old.token(&user_claims(&authd.issuer, SID)))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_discovery_document_naming_another_issuer_fails_the_build() {
    let authd = FakeAuthd::start(&[&TestKey::eddsa("k")]).await;
    *authd.state.issuer.lock().unwrap() = "https://elsewhere.example".into();
    let result = authd.builder().build().await;
    assert!(
        matches!(result, Err(BuildError::Discovery(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_configured_jwks_url_skips_discovery() {
    let key = TestKey::eddsa("k");
    let authd = FakeAuthd::start(&[&key]).await;
    let verifier = authd
        .builder()
        .jwks_url(format!("{}/.well-known/jwks.json", authd.issuer))
        .build()
        .await
        .unwrap();
    assert!(
        verifier
            .verify(&key.token(&user_claims(&authd.issuer, SID)))
            .await
            .is_ok()
    );
    assert_eq!(authd.state.discovery_fetches.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn an_unreachable_jwks_fails_the_build() {
    let authd = FakeAuthd::start(&[]).await;
    authd.state.jwks_fails.store(true, Ordering::SeqCst);
    let result = authd.builder().build().await;
    assert!(matches!(result, Err(BuildError::Jwks(_))), "{result:?}");
}
