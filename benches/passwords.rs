//! Argon2id with the configured parameters (the OWASP defaults of
//! `config/default.toml`): through authd's `Hasher`, as login and
//! registration use it (a hop to its hashing threads included), and the
//! bare `argon2` crate with the same parameters, the raw rate on one core.

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::time::Duration;

use argon2::{Algorithm, Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier, Version};
use authd::config::{Settings, Sources};
use authd::domain::Password;
use authd::passwords::Hasher;
use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use secrecy::SecretString;

const PASSWORD: &str = "correct horse battery staple";

fn argon2id(c: &mut Criterion) {
    let settings = Settings::load(&Sources::default()).expect("defaults load");
    let p = &settings.password;
    let params =
        Params::new(p.argon2_m_cost, p.argon2_t_cost, p.argon2_p_cost, None).expect("params");
    eprintln!(
        "argon2id: m_cost={} KiB, t_cost={}, p_cost={}",
        p.argon2_m_cost, p.argon2_t_cost, p.argon2_p_cost
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let hasher = Hasher::new(p).expect("hasher");
    let password = Password::parse_existing(SecretString::from(PASSWORD), p.max_length)
        .expect("password fits");
    let stored = runtime.block_on(hasher.hash(&password)).expect("hashes");

    let mut group = c.benchmark_group("argon2id");
    // About 25 to 50 ms per run: ten samples of one run each are enough.
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    group.bench_function("hash", |b| {
        b.iter(|| runtime.block_on(hasher.hash(black_box(&password))))
    });
    group.bench_function("verify", |b| {
        b.iter(|| {
            let verified = runtime
                .block_on(hasher.verify(black_box(&password), Some(&stored)))
                .expect("verifies");
            assert!(verified.ok && verified.rehash.is_none());
        })
    });
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    group.bench_function("hash_raw", |b| {
        b.iter(|| {
            argon2
                .hash_password(black_box(PASSWORD.as_bytes()))
                .expect("hashes")
                .to_string()
        })
    });
    let parsed = PasswordHash::new(&stored).expect("a PHC string");
    group.bench_function("verify_raw", |b| {
        b.iter(|| {
            Argon2::default()
                .verify_password(black_box(PASSWORD.as_bytes()), &parsed)
                .expect("matches")
        })
    });
    group.finish();
}

criterion_group!(benches, argon2id);
criterion_main!(benches);
