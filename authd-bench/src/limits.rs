//! The limits that bound each scenario, measured on this machine in the same
//! run: Argon2id hashes with the server's parameters, the rotation statements
//! sent straight to the database, access-token signing, and bare
//! `jsonwebtoken::decode` next to `authd-verify`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use authd::config::{Settings, Sources};
use authd::keys::{KeyMaterial, KeySet, alg_name, key_from_material};
use authd::tokens::AccessTokens;
use authd_verify::Verifier;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::record::{Latency, OpRecorder};

/// A measured rate.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Rate {
    /// Operations per second.
    pub per_sec: f64,
    /// Threads (or database connections) that ran them.
    pub threads: usize,
    pub operations: u64,
    pub seconds: f64,
    /// Cores this process really had during the measurement (its CPU time
    /// over the wall time): below `threads` when other programs took CPU.
    /// `None` where the work happens elsewhere (the database).
    #[serde(default)]
    pub cpu_cores: Option<f64>,
}

impl Rate {
    /// Operations per second of CPU time: the rate on cores of its own,
    /// whatever else ran.
    pub fn per_cpu_second(&self) -> Option<f64> {
        self.cpu_cores
            .filter(|c| *c > 0.0)
            .map(|c| self.per_sec / c)
    }
}

/// Runs `op` on `threads` OS threads for `duration` and counts the calls.
pub fn on_threads(threads: usize, duration: Duration, op: impl Fn() + Sync) -> Rate {
    let threads = threads.max(1);
    let count = AtomicU64::new(0);
    let cpu_before = crate::system::own_cpu_seconds();
    let start = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                let mut n = 0;
                while start.elapsed() < duration {
                    op();
                    n += 1;
                }
                count.fetch_add(n, Ordering::Relaxed);
            });
        }
    });
    let seconds = start.elapsed().as_secs_f64();
    let cpu_cores = match (cpu_before, crate::system::own_cpu_seconds()) {
        (Some(before), Some(after)) => Some((after - before) / seconds),
        _ => None,
    };
    let operations = count.into_inner();
    Rate {
        per_sec: operations as f64 / seconds,
        threads,
        operations,
        seconds,
        cpu_cores,
    }
}

/// Argon2id parameters (m in KiB, t iterations, p lanes).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Argon2Params {
    pub m_cost: u32,
    pub t_cost: u32,
    pub p_cost: u32,
}

impl Default for Argon2Params {
    /// authd's defaults (OWASP).
    fn default() -> Self {
        Self {
            m_cost: 19_456,
            t_cost: 2,
            p_cost: 1,
        }
    }
}

/// Argon2id hashes per second on `threads` threads: what a login costs
/// (verifying a password computes one hash).
pub fn argon2_rate(
    params: Argon2Params,
    threads: usize,
    duration: Duration,
) -> anyhow::Result<Rate> {
    let params = argon2::Params::new(params.m_cost, params.t_cost, params.p_cost, Some(32))
        .map_err(|e| anyhow::anyhow!("argon2 parameters: {e}"))?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    Ok(on_threads(threads, duration, || {
        let mut out = [0u8; 32];
        // A fixed salt is fine here: only the time of the computation matters.
        let _ = argon.hash_password_into(
            super::load::PASSWORD.as_bytes(),
            b"authd-bench-salt",
            &mut out,
        );
        std::hint::black_box(out);
    }))
}

/// Access tokens signed per second with `access`'s signing key.
pub fn signing_rate(access: &AccessTokens, threads: usize, duration: Duration) -> Rate {
    let (user, session) = (Uuid::new_v4(), Uuid::new_v4());
    on_threads(threads, duration, || {
        let _ = std::hint::black_box(access.issue(
            user,
            session,
            chrono::Utc::now(),
            vec!["pwd".to_owned()],
            serde_json::Map::new(),
            chrono::Utc::now(),
        ));
    })
}

/// An access-token signer with the server's key when the configuration names
/// it, else with a fresh key of the same algorithm (signing costs the same).
pub fn signer(
    settings: Option<&Settings>,
    alg: Algorithm,
    issuer: &str,
) -> anyhow::Result<(AccessTokens, String)> {
    let (keys, source) = match settings {
        Some(s) if !s.jwt.keys.is_empty() => (
            KeySet::load(s).context("the configured JWT keys")?,
            "the server's configured key".to_owned(),
        ),
        _ => {
            let secret = authd::keys::generate(alg).context("generating a key")?;
            let material = if alg == Algorithm::HS256 {
                KeyMaterial::Secret(secret.expose_secret().as_bytes())
            } else {
                KeyMaterial::PrivatePem(secret.expose_secret().as_bytes())
            };
            let key = key_from_material("bench", alg, material, "bench key")?;
            (
                KeySet::new(vec![key], None)?,
                format!(
                    "a fresh {} key (the server's is not readable)",
                    alg_name(alg)
                ),
            )
        }
    };
    Ok((
        AccessTokens::new(Arc::new(keys), issuer, "authd", "authd", 900),
        source,
    ))
}

/// The claims a service typically decodes with bare `jsonwebtoken`.
#[derive(Deserialize)]
#[allow(dead_code)] // Deserialized for the cost of it; not read.
struct BareClaims {
    sub: String,
    exp: i64,
    iat: i64,
    jti: String,
    sid: Option<String>,
    client_id: String,
}

/// How to verify the server's tokens here: its key and issuer.
pub struct VerifyKey {
    pub alg: Algorithm,
    pub kid: String,
    pub issuer: String,
    pub audience: String,
    pub decoding: DecodingKey,
    /// An `authd-verify` verifier for the same key.
    pub verifier: Verifier,
    /// Where the key came from.
    pub source: String,
}

impl VerifyKey {
    /// Reads the key of `sample` (a token of the server): the published JWK
    /// for asymmetric algorithms, `hs256_secret` for HS256. `None` for HS256
    /// without the secret.
    pub async fn discover(
        client: &reqwest::Client,
        target: &crate::target::Target,
        sample: &str,
        hs256_secret: Option<Vec<u8>>,
        audience: &str,
    ) -> anyhow::Result<Option<Self>> {
        let header = jsonwebtoken::decode_header(sample).context("the header of a token")?;
        let kid = header.kid.context("the server's token has no kid")?;
        let issuer = target.issuer(client).await?;
        // The verifier is timed against the target the bench was pointed at,
        // over whatever scheme the load itself uses: its transport is the
        // operator's choice, as for the rest of the run.
        let builder = Verifier::builder(issuer.clone())
            .audience(audience)
            .allow_insecure_http();
        let (decoding, verifier, source) = if header.alg == Algorithm::HS256 {
            let Some(secret) = hs256_secret else {
                return Ok(None);
            };
            let verifier = builder
                .without_jwks()
                .hs256_secret(kid.clone(), secret.clone())
                .build()
                .await?;
            (
                DecodingKey::from_secret(&secret),
                verifier,
                "the HS256 secret of the configuration".to_owned(),
            )
        } else {
            let jwks_url = target.url("/.well-known/jwks.json");
            let jwks: jsonwebtoken::jwk::JwkSet = client
                .get(&jwks_url)
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            let jwk = jwks
                .find(&kid)
                .context("the token's kid is not in the JWKS")?;
            let verifier = builder.jwks_url(jwks_url).build().await?;
            (
                DecodingKey::from_jwk(jwk)?,
                verifier,
                "the server's published JWK".to_owned(),
            )
        };
        Ok(Some(Self {
            alg: header.alg,
            kid,
            issuer,
            audience: audience.to_owned(),
            decoding,
            verifier,
            source,
        }))
    }

    /// `jsonwebtoken::decode` with the same checks a service would ask for:
    /// the algorithm, signature, `exp`, `iss` and `aud`.
    pub fn validation(&self) -> Validation {
        let mut validation = Validation::new(self.alg);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation
    }

    /// Bare `jsonwebtoken::decode` of `tokens`, round robin, on `threads`.
    pub fn decode_rate(
        &self,
        tokens: &[String],
        threads: usize,
        duration: Duration,
    ) -> anyhow::Result<Rate> {
        let validation = self.validation();
        for token in tokens {
            jsonwebtoken::decode::<BareClaims>(token, &self.decoding, &validation)
                .context("bare jsonwebtoken::decode refused a token of the server")?;
        }
        let next = AtomicU64::new(0);
        Ok(on_threads(threads, duration, || {
            let i = next.fetch_add(1, Ordering::Relaxed) as usize % tokens.len();
            let _ = std::hint::black_box(jsonwebtoken::decode::<BareClaims>(
                &tokens[i],
                &self.decoding,
                &validation,
            ));
        }))
    }

    /// Bare `jsonwebtoken::decode` and `authd-verify`'s `Verifier::verify`
    /// on one thread each, over the same tokens, in alternating slices
    /// (ten of each) so that a change in the machine's other load weighs on
    /// both alike. Returns (bare decode, authd-verify).
    pub async fn compare_one_core(
        &self,
        tokens: &[String],
        duration: Duration,
    ) -> anyhow::Result<(Rate, Rate)> {
        const SLICES: u32 = 10;
        let validation = self.validation();
        for token in tokens {
            jsonwebtoken::decode::<BareClaims>(token, &self.decoding, &validation)
                .context("bare jsonwebtoken::decode refused a token of the server")?;
            self.verifier
                .verify(token)
                .await
                .context("authd-verify refused a token of the server")?;
        }
        let slice = duration / SLICES;
        let (mut decoded, mut decode_time) = (0u64, Duration::ZERO);
        let (mut verified, mut verify_time) = (0u64, Duration::ZERO);
        for _ in 0..SLICES {
            let start = Instant::now();
            while start.elapsed() < slice {
                let token = &tokens[decoded as usize % tokens.len()];
                let _ = std::hint::black_box(jsonwebtoken::decode::<BareClaims>(
                    token,
                    &self.decoding,
                    &validation,
                ));
                decoded += 1;
            }
            decode_time += start.elapsed();
            // verify() completes without waiting once the key is cached, so
            // this loop keeps its thread busy as the one above does.
            let start = Instant::now();
            while start.elapsed() < slice {
                let token = &tokens[verified as usize % tokens.len()];
                let _ = std::hint::black_box(self.verifier.verify(token).await);
                verified += 1;
            }
            verify_time += start.elapsed();
        }
        let rate = |operations: u64, time: Duration| Rate {
            per_sec: operations as f64 / time.as_secs_f64(),
            threads: 1,
            operations,
            seconds: time.as_secs_f64(),
            cpu_cores: None,
        };
        Ok((rate(decoded, decode_time), rate(verified, verify_time)))
    }
}

/// The raw rotation rate, how long one rotation took, and what went wrong
/// during it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RotationRate {
    pub rate: Rate,
    /// Rotations that did not rotate (refused, or a database error).
    pub errors: u64,
    /// Time per rotation, from the call to its answer (absent from reports
    /// written before it was measured).
    #[serde(default)]
    pub latency_ms: Option<Latency>,
}

/// One rotation of a chain's session: `true` when it rotated.
pub type RotateOnce = Pin<Box<dyn Future<Output = bool> + Send>>;

/// A chain: each call rotates its session once, presenting the latest
/// counter, and keeps the new one.
pub type Chain = Box<dyn FnMut() -> RotateOnce + Send>;

/// `chains` sessions, for a user of their own, on the server's database over
/// a pool of `chains` connections, each with the call that rotates it through
/// authd's own store (`sessions::rotate`, the transaction `/auth/refresh` runs,
/// without HTTP and without signing). Every call into authd's store and
/// session code in this tool is here.
/// The rotation itself, `authd::sessions::rotate::rotate`, with authd's own
/// store: the same SQL and the same transaction as a refresh, without HTTP
/// or signing.
async fn rotation_chains(database_url: &str, chains: u32) -> anyhow::Result<Vec<Chain>> {
    use authd::sessions::rotate::{Rotation, rotate};
    let defaults = Settings::load(&Sources::default()).context("authd's default settings")?;
    let mut db = defaults.database.clone();
    db.url = database_url.to_owned().into();
    db.max_connections = chains;
    let store = Arc::new(
        authd::store::Store::connect(&db)
            .await
            .context("connecting to the database")?,
    );
    let mut policy = authd::sessions::RotationPolicy::from_settings(&defaults.refresh);
    // Every chain is a session of the one bench user: none may end by the cap.
    policy.max_sessions_per_user = policy.max_sessions_per_user.max(chains);
    let now = chrono::Utc::now();
    let meta = authd::audit::RequestMeta {
        ip: Some("127.0.0.1".into()),
        user_agent: Some("authd-bench".into()),
    };
    let mut tx = store.begin().await?;
    let user = authd::store::users::insert(
        &mut tx,
        authd::store::users::NewUser {
            id: Uuid::new_v4(),
            email: &format!("bench-rotation-{}@bench.example", Uuid::new_v4().simple()),
            password_hash: "not a hash: this user never logs in",
            now,
        },
    )
    .await?;
    let mut ids = Vec::new();
    for _ in 0..chains {
        ids.push(
            authd::sessions::start(
                &mut tx,
                &policy,
                user.id,
                now,
                &meta,
                authd::sessions::Methods::one(authd::sessions::Method::Password),
            )
            .await?
            .session
            .id,
        );
    }
    tx.commit().await?;
    let mut out: Vec<Chain> = Vec::new();
    for id in ids {
        let (store, meta) = (store.clone(), meta.clone());
        let counter = Arc::new(AtomicI64::new(0));
        out.push(Box::new(move || {
            let (store, meta, counter) = (store.clone(), meta.clone(), counter.clone());
            Box::pin(async move {
                let presented = counter.load(Ordering::Relaxed);
                match rotate(&store, id, presented, chrono::Utc::now(), &policy, &meta).await {
                    Ok(Rotation::Rotated(session)) => {
                        counter.store(session.counter, Ordering::Relaxed);
                        true
                    }
                    _ => false,
                }
            })
        }));
    }
    Ok(out)
}

/// The rotation statements sent straight to the database (see
/// [`rotation_chains`]): `connections` chains at once over a pool of
/// `connections`, for a warm-up and then `duration`, each rotating its
/// session as soon as the last rotation answered.
pub async fn rotation_rate(
    database_url: &str,
    connections: u32,
    warmup: Duration,
    duration: Duration,
) -> anyhow::Result<RotationRate> {
    crate::target::check_database_url(database_url)?;
    let connections = connections.max(1);
    let chains = rotation_chains(database_url, connections).await?;
    let start = Instant::now();
    let measure_from = start + warmup;
    let end = measure_from + duration;
    let mut tasks = tokio::task::JoinSet::new();
    for mut rotate in chains {
        tasks.spawn(async move {
            let mut recorder = OpRecorder::default();
            loop {
                let began = Instant::now();
                if began >= end {
                    break;
                }
                let rotated = rotate().await;
                if began >= measure_from {
                    let outcome = if rotated {
                        Ok(())
                    } else {
                        Err("not rotated".to_owned())
                    };
                    recorder.record(began.elapsed(), outcome);
                }
            }
            recorder
        });
    }
    let mut merged = OpRecorder::default();
    while let Some(done) = tasks.join_next().await {
        merged.merge(&done?);
    }
    let elapsed = measure_from.elapsed();
    let stats = merged.stats(elapsed);
    if stats.ok == 0 {
        bail!("no rotation succeeded ({} failed)", stats.error_count());
    }
    Ok(RotationRate {
        rate: Rate {
            per_sec: stats.throughput,
            threads: connections as usize,
            operations: stats.ok,
            seconds: elapsed.as_secs_f64(),
            cpu_cores: None,
        },
        errors: stats.error_count(),
        latency_ms: Some(stats.latency_ms),
    })
}

/// The HS256 secret with `kid` in the configuration, if any.
pub fn hs256_secret(settings: &Settings, kid: &str) -> anyhow::Result<Option<Vec<u8>>> {
    let Some(key) = settings.jwt.keys.iter().find(|k| k.kid == kid) else {
        return Ok(None);
    };
    if let Some(secret) = &key.secret {
        return Ok(Some(secret.expose_secret().as_bytes().to_vec()));
    }
    if let Some(path) = &key.secret_file {
        let mut bytes = std::fs::read(path).with_context(|| format!("{}", path.display()))?;
        while bytes.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            bytes.pop();
        }
        return Ok(Some(bytes));
    }
    Ok(None)
}
