//! Where the verifier's requests may go: https, or http only to loopback
//! unless explicitly allowed; redirects only within the origin asked.

use authd_verify::{BuildError, Verifier};

use crate::helpers::{CLIENT_ID, CLIENT_SECRET, FakeAuthd, TestKey, user_claims};

const SID: &str = "0190a0d4-7c1e-7b31-9a52-2f6f0c8d9e70";

/// A fake authd that calls itself `http://authd.test:PORT`, a name that is
/// not loopback, and a client that reaches it under that name.
async fn authd_named_authd_test(key: &TestKey) -> (FakeAuthd, String, reqwest::Client) {
    let authd = FakeAuthd::start(&[key]).await;
    let issuer = format!("http://authd.test:{}", authd.addr.port());
    *authd.state.issuer.lock().unwrap() = issuer.clone();
    let client = authd.client_for_host("authd.test");
    (authd, issuer, client)
}

fn insecure(result: Result<Verifier, BuildError>) -> String {
    match result {
        Err(BuildError::InsecureTransport(message)) => message,
        other => panic!("expected an insecure-transport refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn an_http_issuer_that_is_not_loopback_is_refused_at_build() {
    let key = TestKey::es256("k1");
    let (authd, issuer, client) = authd_named_authd_test(&key).await;
    let message = insecure(Verifier::builder(&issuer).http_client(client).build().await);
    assert!(
        message.contains("issuer") && message.contains(&issuer),
        "{message}"
    );
    assert!(message.contains("allow_insecure_http"), "{message}");
    assert!(
        authd.state.paths.lock().unwrap().is_empty(),
        "nothing is fetched before the refusal"
    );
}

#[tokio::test]
async fn allow_insecure_http_permits_an_http_issuer_that_is_not_loopback() {
    let key = TestKey::es256("k1");
    let (authd, issuer, client) = authd_named_authd_test(&key).await;
    let verifier = Verifier::builder(&issuer)
        .http_client(client)
        .allow_insecure_http()
        .build()
        .await
        .unwrap();
    let token = key.token(&user_claims(&issuer, SID));
    assert!(verifier.verify(&token).await.is_ok());
    assert_eq!(
        authd
            .state
            .discovery_fetches
            .load(std::sync::atomic::Ordering::SeqCst),
        1
    );
}

#[tokio::test]
async fn http_jwks_and_feed_urls_that_are_not_loopback_are_refused_at_build() {
    let key = TestKey::es256("k1");
    let (authd, _, client) = authd_named_authd_test(&key).await;
    let away = format!("http://authd.test:{}", authd.addr.port());
    let jwks = insecure(
        Verifier::builder("https://authd.test")
            .jwks_url(format!("{away}/.well-known/jwks.json"))
            .http_client(client.clone())
            .build()
            .await,
    );
    assert!(jwks.contains("jwks_url"), "{jwks}");
    let feed = insecure(
        Verifier::builder("https://authd.test")
            .jwks_url(authd.url("/.well-known/jwks.json"))
            .revocation(CLIENT_ID, CLIENT_SECRET)
            .revocation_feed_url(format!("{away}/auth/revocations"))
            .http_client(client.clone())
            .build()
            .await,
    );
    assert!(feed.contains("revocation_feed_url"), "{feed}");
    let discovery = insecure(
        Verifier::builder("https://authd.test")
            .discovery_url(format!("{away}/.well-known/openid-configuration"))
            .http_client(client)
            .build()
            .await,
    );
    assert!(discovery.contains("discovery_url"), "{discovery}");
    assert!(
        authd.state.paths.lock().unwrap().is_empty(),
        "nothing fetched"
    );
}

#[tokio::test]
async fn a_discovered_http_jwks_uri_that_is_not_loopback_is_refused() {
    let key = TestKey::es256("k1");
    let authd = FakeAuthd::start(&[&key]).await;
    let elsewhere = format!(
        "http://authd.test:{}/.well-known/jwks.json",
        authd.addr.port()
    );
    *authd.state.advertised_jwks_uri.lock().unwrap() = Some(elsewhere.clone());
    let client = authd.client_for_host("authd.test");
    let message = insecure(authd.builder().http_client(client).build().await);
    assert!(
        message.contains("jwks_uri") && message.contains(&elsewhere),
        "{message}"
    );
    assert_eq!(authd.jwks_fetches(), 0);
}

#[tokio::test]
async fn a_redirect_within_the_origin_is_followed() {
    let key = TestKey::es256("k1");
    let authd = FakeAuthd::start(&[&key]).await;
    let verifier = authd
        .builder()
        .jwks_url(authd.url("/moved/jwks.json"))
        .build()
        .await
        .unwrap();
    let token = key.token(&user_claims(&authd.issuer, SID));
    assert!(verifier.verify(&token).await.is_ok());
    assert_eq!(authd.jwks_fetches(), 1);
}

/// `first` answers `GET /redirect` with a redirect to `other`'s `path`: on
/// 127.0.0.1 too, another port is another origin.
async fn redirecting_to(other: &FakeAuthd, path: &str) -> FakeAuthd {
    let first = FakeAuthd::start(&[]).await;
    *first.state.redirect_to.lock().unwrap() = other.url(path);
    first
}

#[tokio::test]
async fn a_jwks_redirect_to_another_origin_is_not_followed() {
    let key = TestKey::es256("k1");
    let other = FakeAuthd::start(&[&key]).await;
    let first = redirecting_to(&other, "/.well-known/jwks.json").await;
    let result = Verifier::builder("https://authd.test")
        .jwks_url(first.url("/redirect"))
        .build()
        .await;
    match result {
        Err(BuildError::Jwks(message)) => assert!(message.contains("not followed"), "{message}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(first.state.paths.lock().unwrap().as_slice(), ["redirect"]);
    assert_eq!(other.jwks_fetches(), 0, "the other origin was never asked");
}

#[tokio::test]
async fn a_discovery_redirect_to_another_origin_is_not_followed() {
    let key = TestKey::es256("k1");
    let other = FakeAuthd::start(&[&key]).await;
    let first = redirecting_to(&other, "/.well-known/openid-configuration").await;
    let result = Verifier::builder(&other.issuer)
        .discovery_url(first.url("/redirect"))
        .build()
        .await;
    match result {
        Err(BuildError::Discovery(message)) => {
            assert!(message.contains("not followed"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    assert!(other.state.paths.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_feed_redirect_to_another_origin_is_not_followed() {
    let key = TestKey::es256("k1");
    let other = FakeAuthd::start(&[&key]).await;
    let first = redirecting_to(&other, "/auth/revocations").await;
    let result = other
        .builder()
        .revocation(CLIENT_ID, CLIENT_SECRET)
        .revocation_feed_url(first.url("/redirect"))
        .build()
        .await;
    match result {
        Err(BuildError::Revocation(message)) => {
            assert!(message.contains("not followed"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(other.feed_polls(), 0, "the other origin was never asked");
}

#[tokio::test]
async fn an_answer_from_another_origin_is_refused_even_when_the_client_followed_it() {
    let key = TestKey::es256("k1");
    let other = FakeAuthd::start(&[&key]).await;
    let first = redirecting_to(&other, "/.well-known/jwks.json").await;
    // reqwest's default policy follows up to 10 redirects anywhere.
    let result = Verifier::builder("https://authd.test")
        .jwks_url(first.url("/redirect"))
        .http_client(reqwest::Client::new())
        .build()
        .await;
    match result {
        Err(BuildError::Jwks(message)) => {
            assert!(message.contains("another origin"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(other.jwks_fetches(), 1, "this client did follow");
}
