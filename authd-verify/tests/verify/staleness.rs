//! The bounds on stale state: keys kept while every refresh fails, and a
//! revocation list no poll has refreshed. Both fail closed, and recover when
//! authd answers again. The bounds are made small here; no assertion is timed.

use std::sync::atomic::Ordering;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{App, HttpResponse, test, web};
use authd_verify::{AuthenticatedUser, BuildError, Claims, Verifier, VerifyError};

use crate::helpers::{CLIENT_ID, CLIENT_SECRET, FakeAuthd, TestKey, service_claims, user_claims};

const SID: &str = "0190a0d4-7c1e-7b31-9a52-2f6f0c8d9e80";

/// Verifies `token` every 20 ms until `wanted` holds of the result, for up to
/// 15 s; panics otherwise.
async fn until_verify(
    verifier: &Verifier,
    token: &str,
    what: &str,
    wanted: impl Fn(&Result<Claims, VerifyError>) -> bool,
) {
    let mut last = None;
    for _ in 0..750 {
        let result = verifier.verify(token).await;
        if wanted(&result) {
            return;
        }
        last = Some(result);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}; last result {last:?}");
}

#[tokio::test]
async fn keys_past_their_lifetime_plus_the_bound_are_refused_until_a_refresh_succeeds() {
    let key = TestKey::rs256("k1");
    let authd = FakeAuthd::start(&[&key]).await;
    authd.set_cache_control("max-age=1");
    let verifier = authd
        .builder()
        .cache_bounds(Duration::from_secs(1), Duration::from_secs(3600))
        .max_key_staleness(Duration::from_millis(500))
        .build()
        .await
        .unwrap();
    let token = key.token(&user_claims(&authd.issuer, SID));
    assert!(verifier.verify(&token).await.is_ok());

    authd.state.jwks_fails.store(true, Ordering::SeqCst);
    until_verify(&verifier, &token, "stale keys", |r| {
        r == &Err(VerifyError::StaleKeys)
    })
    .await;
    let fetches = authd.jwks_fetches();
    assert!(fetches >= 2, "refreshes were tried and failed");

    authd.state.jwks_fails.store(false, Ordering::SeqCst);
    until_verify(&verifier, &token, "recovery", Result::is_ok).await;
}

#[tokio::test]
async fn a_revocation_list_past_its_bound_refuses_user_tokens_until_a_poll_succeeds() {
    let key = TestKey::rs256("k1");
    let authd = FakeAuthd::start(&[&key]).await;
    let verifier = authd
        .builder()
        .revocation(CLIENT_ID, CLIENT_SECRET)
        .revocation_poll_interval(Duration::from_millis(100))
        .max_revocation_staleness(Duration::from_millis(500))
        .build()
        .await
        .unwrap();
    let user = key.token(&user_claims(&authd.issuer, SID));
    let service = key.token(&service_claims(&authd.issuer, "a"));
    assert!(verifier.verify(&user).await.is_ok());

    authd.state.feed_fails.store(true, Ordering::SeqCst);
    until_verify(&verifier, &user, "a stale list", |r| {
        r == &Err(VerifyError::StaleRevocations)
    })
    .await;
    assert!(
        verifier.verify(&service).await.is_ok(),
        "tokens the feed never lists are not affected"
    );

    authd.state.feed_fails.store(false, Ordering::SeqCst);
    until_verify(&verifier, &user, "recovery", Result::is_ok).await;
}

#[tokio::test]
async fn the_extractor_answers_503_when_the_revocation_list_is_stale() {
    let key = TestKey::rs256("k1");
    let authd = FakeAuthd::start(&[&key]).await;
    let verifier = authd
        .builder()
        .revocation(CLIENT_ID, CLIENT_SECRET)
        .revocation_poll_interval(Duration::from_millis(100))
        .max_revocation_staleness(Duration::from_millis(300))
        .build()
        .await
        .unwrap();
    let user = key.token(&user_claims(&authd.issuer, SID));
    authd.state.feed_fails.store(true, Ordering::SeqCst);
    until_verify(&verifier, &user, "a stale list", |r| {
        r == &Err(VerifyError::StaleRevocations)
    })
    .await;

    async fn hello(user: AuthenticatedUser) -> HttpResponse {
        HttpResponse::Ok().body(user.sub.clone())
    }
    let app = test::init_service(
        App::new()
            .app_data(web::Data::new(verifier))
            .route("/hello", web::get().to(hello)),
    )
    .await;
    let request = test::TestRequest::get()
        .uri("/hello")
        .insert_header(("Authorization", format!("Bearer {user}")))
        .to_request();
    let response = test::call_service(&app, request).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.headers().get("WWW-Authenticate").is_none());
    let body: serde_json::Value = test::read_body_json(response).await;
    assert_eq!(body["error"], "temporarily_unavailable");
}

#[tokio::test]
async fn a_revocation_bound_not_above_the_poll_interval_fails_the_build() {
    let authd = FakeAuthd::start(&[&TestKey::eddsa("k")]).await;
    let result = authd
        .builder()
        .revocation(CLIENT_ID, CLIENT_SECRET)
        .revocation_poll_interval(Duration::from_secs(60))
        .build()
        .await;
    match result {
        Err(BuildError::Config(message)) => {
            assert!(message.contains("max_revocation_staleness"), "{message}")
        }
        other => panic!("{other:?}"),
    }
}
