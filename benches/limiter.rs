//! The in-memory per-client limit (`authd::throttle::RateLimiter`) that every
//! refresh and registration checks: one check for a client it already tracks,
//! with 1 and 100,000 clients tracked, and for a client it has never seen
//! while 100,000 are tracked (a flood of distinct addresses).

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use authd::throttle::RateLimiter;
use chrono::Utc;
use criterion::{Criterion, criterion_group, criterion_main};

/// The most clients the limiter tracks.
const FULL: u32 = 100_000;

fn client(n: u32) -> Option<IpAddr> {
    Some(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + n)))
}

/// `rate_limiter/known_client/<tracked>` and
/// `rate_limiter/new_client/100000`. The limit is never reached, so each
/// check counts (the refused path does the same lookup).
fn rate_limiter(c: &mut Criterion) {
    let mut group = c.benchmark_group("rate_limiter");
    let now = Utc::now();
    for tracked in [1, FULL] {
        let limiter = RateLimiter::new(u32::MAX, 60);
        for n in 0..tracked {
            limiter.check(client(n), now).unwrap();
        }
        // The most recently seen client, so that new clients in the next
        // benchmark cannot push it out first.
        let known = client(tracked - 1);
        group.bench_function(format!("known_client/{tracked}"), |b| {
            b.iter(|| limiter.check(black_box(known), now))
        });
        if tracked == FULL {
            let mut next = FULL;
            group.bench_function(format!("new_client/{tracked}"), |b| {
                b.iter(|| {
                    next = next.wrapping_add(1);
                    limiter.check(black_box(client(next)), now)
                })
            });
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    // As the other benches (benches/support): 1 s of warm-up, 3 s measured.
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = rate_limiter
}
criterion_main!(benches);
