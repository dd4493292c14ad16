//! The per-request work of authd that involves no database: signing and
//! verifying access tokens per algorithm, deriving and checking refresh
//! tokens, hashing a client secret, and the rotation decision.

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::hint::black_box;

use authd::sessions::{Decision, RotationPolicy, Session, decide};
use authd::tokens::refresh::{RefreshClaims, RefreshKey, RefreshTokens};
use chrono::{Duration, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

/// `access_token/sign/<alg>` and `access_token/verify/<alg>`: a user token
/// issued and checked by `authd::tokens::AccessTokens`, as login, refresh
/// and the protected endpoints do.
fn access_tokens(c: &mut Criterion) {
    let mut group = c.benchmark_group("access_token");
    for alg in support::ALGORITHMS {
        let name = authd::keys::alg_name(alg);
        let (keys, _) = support::key_set(alg);
        let tokens = support::access_tokens(keys);
        let (user, session, now) = (Uuid::new_v4(), Uuid::new_v4(), Utc::now());
        group.bench_function(format!("sign/{name}"), |b| {
            b.iter(|| {
                tokens
                    .issue(
                        black_box(user),
                        black_box(session),
                        now,
                        vec!["pwd".to_owned()],
                        serde_json::Map::new(),
                        now,
                    )
                    .expect("signs")
            })
        });
        let token = tokens
            .issue(
                user,
                session,
                now,
                vec!["pwd".to_owned()],
                serde_json::Map::new(),
                now,
            )
            .expect("signs")
            .token;
        group.bench_function(format!("verify/{name}"), |b| {
            b.iter(|| tokens.verify(black_box(&token), now).expect("valid"))
        });
    }
    group.finish();
}

/// `refresh_token/encode` (every login and rotation) and
/// `refresh_token/decode` (every refresh, before any query), plus a forged
/// token, which must cost no more than a valid one; `decode_retired`, the same
/// token checked by a ring in which its key is one of four retired keys (a
/// rotation under way), and `decode_unknown_key`, a token naming a key the
/// ring does not hold; and `client_secret/hash` (every client-credentials
/// request).
fn refresh_tokens(c: &mut Criterion) {
    let codec = RefreshTokens::new(&SecretString::from(
        "a bench refresh key of at least 32 bytes".to_owned(),
    ));
    let claims = RefreshClaims {
        session: Uuid::new_v4(),
        counter: 41,
    };
    let token = codec.encode(claims);
    let mut forged = token.expose_secret().to_owned().into_bytes();
    forged[40] = if forged[40] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).expect("base64url is ASCII");
    assert_eq!(codec.decode(&forged), None, "the forged token is refused");

    let mut group = c.benchmark_group("refresh_token");
    group.bench_function("encode", |b| b.iter(|| codec.encode(black_box(claims))));
    group.bench_function("decode", |b| {
        b.iter(|| {
            codec
                .decode(black_box(token.expose_secret()))
                .expect("valid")
        })
    });
    group.bench_function("decode_forged", |b| {
        b.iter(|| codec.decode(black_box(&forged)))
    });
    let key = |id: u8, secret: &str| RefreshKey::new(id, &SecretString::from(secret.to_owned()));
    let ring = RefreshTokens::ring(
        key(5, "the current key of a ring, at least 32 bytes"),
        [
            key(1, "a bench refresh key of at least 32 bytes"),
            key(2, "a retired key number two, 32 bytes or more"),
            key(3, "a retired key number three, 32 bytes or more"),
            key(4, "a retired key number four, 32 bytes or more"),
        ],
    )
    .expect("distinct ids");
    let mut unknown = token.expose_secret().to_owned().into_bytes();
    unknown[0] = b'C'; // first byte 9, a key the ring does not hold
    let unknown = String::from_utf8(unknown).expect("base64url is ASCII");
    assert_eq!(ring.decode(&unknown), None, "an unknown key id is refused");
    group.bench_function("decode_retired", |b| {
        b.iter(|| {
            ring.decode(black_box(token.expose_secret()))
                .expect("valid under the retired key")
        })
    });
    group.bench_function("decode_unknown_key", |b| {
        b.iter(|| ring.decode(black_box(&unknown)))
    });
    group.finish();

    let (_, secret) = authd::clients::generate("bench", "", Utc::now()).expect("client");
    c.bench_function("client_secret/hash", |b| {
        b.iter(|| authd::clients::hash_secret(black_box(secret.expose_secret())))
    });
}

/// `rotation_decision/<outcome>`: `authd::sessions::decide` for a session
/// and presented counter that lead to each of its six outcomes.
fn rotation_decision(c: &mut Criterion) {
    let settings =
        authd::config::Settings::load(&authd::config::Sources::default()).expect("defaults load");
    let secs = |s: u64| Duration::seconds(i64::try_from(s).expect("small"));
    let policy = RotationPolicy {
        idle: secs(settings.refresh.idle_ttl_secs),
        absolute: secs(settings.refresh.absolute_ttl_secs),
        reuse_interval: secs(settings.refresh.reuse_interval_secs),
        max_sessions_per_user: settings.refresh.max_sessions_per_user,
    };
    let now = Utc::now();
    let (expires_at, absolute_expires_at) = policy.new_session_expiry(now - Duration::hours(1));
    let session = Session {
        id: Uuid::new_v4(),
        user_id: Uuid::new_v4(),
        counter: 7,
        created_at: now - Duration::hours(1),
        last_rotated_at: now - Duration::seconds(2),
        expires_at,
        absolute_expires_at,
        revoked_at: None,
        revoked_reason: None,
        user_agent: None,
        ip: None,
        auth_methods: authd::sessions::Methods::one(authd::sessions::Method::Password),
        kind: authd::sessions::SessionKind::Refresh,
        client_id: None,
        scope: None,
        browser_session_id: None,
        auth_time: None,
        idle_secs: None,
    };
    let revoked = Session {
        revoked_at: Some(now - Duration::minutes(1)),
        revoked_reason: Some("logout".into()),
        ..session.clone()
    };
    let later = now + Duration::days(8);
    let cases = [
        ("rotate", &session, 7, now),
        ("grace", &session, 6, now),
        ("reuse", &session, 5, now),
        ("expired", &session, 7, later),
        ("revoked", &revoked, 7, now),
        ("unknown", &session, 8, now),
    ];
    let mut group = c.benchmark_group("rotation_decision");
    for (outcome, session, presented, at) in cases {
        let decision = decide(session, presented, at, &policy);
        let expected = match outcome {
            "rotate" => matches!(decision, Decision::Rotate { counter: 8, .. }),
            "grace" => decision == Decision::Grace,
            "reuse" => decision == Decision::Reuse,
            "expired" => decision == Decision::Expired,
            "revoked" => decision == Decision::Revoked,
            _ => decision == Decision::Unknown,
        };
        assert!(expected, "{outcome}: got {decision:?}");
        group.bench_function(outcome, |b| {
            b.iter(|| decide(black_box(session), black_box(presented), at, &policy))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = support::criterion();
    targets = access_tokens, refresh_tokens, rotation_decision
}
criterion_main!(benches);
