//! In-process verification in a microservice: `authd_verify::Verifier` next
//! to a bare `jsonwebtoken::decode` with the same key, per algorithm. The
//! issue's target is the verifier within 20% of the bare decode.
//!
//! The verifier reads its keys from a JWKS served on 127.0.0.1 by a tiny
//! server below (HS256 uses a shared secret and no JWKS), exactly as it reads
//! authd's; after that, verification makes no request.

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::hint::black_box;
use std::time::Instant;

use authd_verify::Verifier;
use criterion::{Criterion, criterion_group, criterion_main};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use secrecy::ExposeSecret;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uuid::Uuid;

/// The claims a service would decode a token into with bare `jsonwebtoken`.
#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct ServiceClaims {
    iss: String,
    sub: String,
    aud: String,
    exp: i64,
    iat: i64,
    jti: String,
    sid: Option<String>,
    client_id: String,
    scope: Option<String>,
}

/// Serves `jwks` on a port of 127.0.0.1 until the runtime ends; returns its URL.
async fn serve_jwks(jwks: String) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1");
    let url = format!(
        "http://{}/.well-known/jwks.json",
        listener.local_addr().expect("bound")
    );
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let jwks = jwks.clone();
            tokio::spawn(async move {
                // Read the request head; its content does not matter.
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                     cache-control: public, max-age=300\r\ncontent-length: {}\r\n\
                     connection: close\r\n\r\n{jwks}",
                    jwks.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    url
}

fn in_process_verify(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut group = c.benchmark_group("in_process_verify");
    for alg in support::ALGORITHMS {
        let name = authd::keys::alg_name(alg);
        let (keys, material) = support::key_set(alg);
        let kid = keys.signer().kid.clone();
        let token = support::access_tokens(keys.clone())
            .issue(
                Uuid::new_v4(),
                Uuid::new_v4(),
                chrono::Utc::now(),
                vec!["pwd".to_owned()],
                serde_json::Map::new(),
                chrono::Utc::now(),
            )
            .expect("signs")
            .token;

        // The same key for both: the secret, or the published JWK.
        let builder = Verifier::builder(support::ISSUER).audience(support::AUDIENCE);
        let (verifier, bare_key) = if alg == Algorithm::HS256 {
            let secret = material.expose_secret().as_bytes();
            let builder = builder.without_jwks().hs256_secret(&kid, secret);
            (
                runtime.block_on(builder.build()),
                DecodingKey::from_secret(secret),
            )
        } else {
            let set: JwkSet = serde_json::from_str(keys.jwks_json()).expect("a JWK Set");
            let jwk = set.find(&kid).expect("the key is published");
            let key = DecodingKey::from_jwk(jwk).expect("a usable JWK");
            let verifier = runtime.block_on(async {
                let url = serve_jwks(keys.jwks_json().to_owned()).await;
                builder.jwks_url(url).build().await
            });
            (verifier, key)
        };
        let verifier = verifier.expect("the verifier starts");
        let claims = runtime
            .block_on(verifier.verify(&token))
            .expect("the verifier accepts authd's token");
        assert_eq!(claims.iss, support::ISSUER);

        let mut validation = Validation::new(alg);
        validation.set_issuer(&[support::ISSUER]);
        validation.set_audience(&[support::AUDIENCE]);
        jsonwebtoken::decode::<ServiceClaims>(&token, &bare_key, &validation)
            .expect("bare decode accepts authd's token");

        group.bench_function(format!("{name}/jsonwebtoken_decode"), |b| {
            b.iter(|| {
                jsonwebtoken::decode::<ServiceClaims>(black_box(&token), &bare_key, &validation)
                    .expect("valid")
            })
        });
        // One `block_on` per batch, not per token, so the runtime's own cost
        // stays out of the figure as it would in a service already running.
        group.bench_function(format!("{name}/authd_verify"), |b| {
            b.iter_custom(|iters| {
                runtime.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        black_box(verifier.verify(black_box(&token)).await.expect("valid"));
                    }
                    start.elapsed()
                })
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = support::criterion();
    targets = in_process_verify
}
criterion_main!(benches);
