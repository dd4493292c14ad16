//! What the benchmarks share: signing keys built the way authd builds them
//! from configuration, and Criterion settings short enough for a 2-core machine.

use std::sync::Arc;
use std::time::Duration;

use authd::keys::{KeyMaterial, KeySet, generate, key_from_material};
use authd::tokens::AccessTokens;
use criterion::Criterion;
use jsonwebtoken::Algorithm;
use secrecy::{ExposeSecret, SecretString};

/// The algorithms authd signs with, in the order the reports list them.
pub const ALGORITHMS: [Algorithm; 4] = [
    Algorithm::HS256,
    Algorithm::RS256,
    Algorithm::ES256,
    Algorithm::EdDSA,
];

pub const ISSUER: &str = "https://auth.example.com";
pub const AUDIENCE: &str = "authd";

/// One second of warm-up and three of measurement per benchmark; the
/// command line (`--warm-up-time`, `--measurement-time`) still overrides.
pub fn criterion() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

/// A fresh key for `alg` and the material it was made from (PKCS#8 PEM, or
/// the HS256 secret), as `authd keys generate` would print it.
pub fn key_set(alg: Algorithm) -> (Arc<KeySet>, SecretString) {
    let material = generate(alg).expect("key generation");
    let bytes = material.expose_secret().as_bytes();
    let source = match alg {
        Algorithm::HS256 => KeyMaterial::Secret(bytes),
        _ => KeyMaterial::PrivatePem(bytes),
    };
    let kid = format!("bench-{}", authd::keys::alg_name(alg));
    let key = key_from_material(&kid, alg, source, "bench key").expect("usable key");
    let keys = KeySet::new(vec![key], None).expect("key set");
    (Arc::new(keys), material)
}

/// authd's access-token signer and verifier over `keys`, with the default
/// audience, client id and 15-minute lifetime.
pub fn access_tokens(keys: Arc<KeySet>) -> AccessTokens {
    AccessTokens::new(keys, ISSUER, AUDIENCE, "authd", 900)
}
