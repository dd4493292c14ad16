//! Refresh load: how fast authd rotates refresh tokens, and against what limits.
//!
//! Four modes, each printing one line of figures:
//!
//! - `http BASE --clients N`: closed loop, N clients each rotating their own
//!   session in a chain as fast as answers come (maximum throughput).
//! - `http BASE --rate R`: open loop, R refreshes/s offered on schedule whatever
//!   the answers do; latency is counted from when each request was due, so a
//!   stalled server is not hidden (no coordinated omission).
//! - `raw-sql --chains N`: the rotation SQL alone (`Store::rotate`, same database,
//!   same pool size as authd from the same configuration), no HTTP, no signing.
//! - `raw-sign --threads N`: access-token signing alone with the configured key.
//!
//! `raw-sql` and `raw-sign` read authd's configuration (`--config FILE` and
//! `AUTHD__*`), so they use the database and key the server uses.
//!
//!   cargo run --release --example refresh_load -- http http://127.0.0.1:8080 --rate 1000 --seconds 10
//!
//! `scripts/refresh-load.sh` starts a server (SQLite or a fresh PostgreSQL
//! database) with a chosen signing algorithm and runs every mode against it.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use authd::config::{Settings, Sources};
use authd::sessions::RotationPolicy;
use authd::store::{NewUser, RequestMeta, Rotation};
use chrono::Utc;
use serde_json::{Value, json};
use uuid::Uuid;

const PASSWORD: &str = "correct horse battery staple";

#[derive(Default)]
struct Opts {
    base: String,
    clients: usize,
    rate: f64,
    seconds: f64,
    chains: usize,
    threads: usize,
    config: Option<std::path::PathBuf>,
}

fn parse(args: &[String]) -> Opts {
    let mut o = Opts {
        base: "http://127.0.0.1:8080".into(),
        clients: 8,
        seconds: 10.0,
        chains: 32,
        threads: 1,
        ..Opts::default()
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = || it.next().cloned().unwrap_or_default();
        match a.as_str() {
            "--clients" => o.clients = val().parse().expect("--clients N"),
            "--rate" => o.rate = val().parse().expect("--rate R"),
            "--seconds" => o.seconds = val().parse().expect("--seconds S"),
            "--chains" => o.chains = val().parse().expect("--chains N"),
            "--threads" => o.threads = val().parse().expect("--threads N"),
            "--config" => o.config = Some(val().into()),
            base => o.base = base.trim_end_matches('/').to_owned(),
        }
    }
    o
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let d = sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1];
    d.as_secs_f64() * 1000.0
}

fn report(what: &str, mut lat: Vec<Duration>, elapsed: f64, errors: &BTreeMap<String, u64>) {
    lat.sort();
    println!(
        "| {what} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {} |",
        lat.len() as f64 / elapsed,
        percentile(&lat, 0.50),
        percentile(&lat, 0.90),
        percentile(&lat, 0.99),
        percentile(&lat, 1.0),
        if errors.is_empty() {
            "0".to_owned()
        } else {
            format!("{errors:?}")
        }
    );
}

fn settings(o: &Opts) -> Settings {
    Settings::load(&Sources::from_process(o.config.clone()).expect("sources")).expect("settings")
}

async fn post(client: &reqwest::Client, url: &str, body: Value) -> Result<(u16, Value), String> {
    let r = client
        .post(url)
        .json(&body)
        .send()
        .await
        .map_err(|e| format!("transport: {e}"))?;
    let status = r.status().as_u16();
    Ok((status, r.json().await.unwrap_or(Value::Null)))
}

/// Logs one user in `n` times: `n` sessions, each with its refresh token.
async fn sessions(client: &reqwest::Client, base: &str, n: usize) -> Vec<String> {
    let email = format!("refresh-{}@example.com", Uuid::new_v4().simple());
    let (status, body) = post(
        client,
        &format!("{base}/auth/register"),
        json!({ "email": email, "password": PASSWORD }),
    )
    .await
    .expect("register");
    assert_eq!(status, 201, "register: {body}");
    let login = json!({ "email": email, "password": PASSWORD, "token_delivery": "body" });
    let mut tokens = Vec::new();
    for _ in 0..n {
        let (status, body) = post(client, &format!("{base}/auth/login"), login.clone())
            .await
            .expect("login");
        assert_eq!(status, 200, "login: {body}");
        tokens.push(body["refresh_token"].as_str().expect("token").to_owned());
    }
    tokens
}

/// Rotates `token` once; its successor, or the kind of error.
async fn rotate(client: &reqwest::Client, url: &str, token: &str) -> Result<String, String> {
    match post(client, url, json!({ "refresh_token": token })).await? {
        (200, body) => body["refresh_token"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| "200 without refresh_token".to_owned()),
        (status, body) => Err(format!("{status} {}", body["error"].as_str().unwrap_or(""))),
    }
}

type Errors = Arc<Mutex<BTreeMap<String, u64>>>;

fn count(errors: &Errors, kind: String) {
    *errors.lock().unwrap().entry(kind).or_default() += 1;
}

async fn http_closed(o: &Opts, client: reqwest::Client) {
    let url = format!("{}/auth/refresh", o.base);
    let tokens = sessions(&client, &o.base, o.clients).await;
    let stop = Arc::new(AtomicBool::new(false));
    let errors = Errors::default();
    let started = Instant::now();
    let tasks: Vec<_> = tokens
        .into_iter()
        .map(|mut token| {
            let (client, url, stop, errors) =
                (client.clone(), url.clone(), stop.clone(), errors.clone());
            tokio::spawn(async move {
                let mut lat = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    match rotate(&client, &url, &token).await {
                        Ok(next) => {
                            lat.push(t.elapsed());
                            token = next;
                        }
                        Err(kind) => {
                            count(&errors, kind);
                            return lat; // the chain is broken
                        }
                    }
                }
                lat
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs_f64(o.seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.expect("client"));
    }
    let errors = errors.lock().unwrap().clone();
    report(
        &format!("HTTP closed loop, {} clients", o.clients),
        lat,
        elapsed,
        &errors,
    );
}

async fn http_open(o: &Opts, client: reqwest::Client) {
    let url: Arc<str> = format!("{}/auth/refresh", o.base).into();
    // Enough chains that one is always idle when a request is due: a chain
    // is busy for one round trip; 100 ms of latency per chain is far past the target p99.
    let chains = ((o.rate * 0.1) as usize).clamp(16, 2000);
    let idle = Arc::new(Mutex::new(VecDeque::from(
        sessions(&client, &o.base, chains).await,
    )));
    let errors = Errors::default();
    let lat = Arc::new(Mutex::new(Vec::new()));
    let interval = Duration::from_secs_f64(1.0 / o.rate);
    let total = (o.rate * o.seconds) as u64;
    let started = Instant::now();
    let mut inflight = Vec::new();
    for i in 0..total {
        let due = started + interval * i as u32;
        tokio::time::sleep_until(due.into()).await;
        let Some(token) = idle.lock().unwrap().pop_front() else {
            count(&errors, "no idle chain".into());
            continue;
        };
        let (client, url, idle, errors, lat) = (
            client.clone(),
            url.clone(),
            idle.clone(),
            errors.clone(),
            lat.clone(),
        );
        inflight.push(tokio::spawn(async move {
            match rotate(&client, &url, &token).await {
                Ok(next) => {
                    lat.lock().unwrap().push(due.elapsed());
                    idle.lock().unwrap().push_back(next);
                }
                Err(kind) => count(&errors, kind),
            }
        }));
        if inflight.len() > 4096 {
            inflight.retain(|t: &tokio::task::JoinHandle<()>| !t.is_finished());
        }
    }
    for t in inflight {
        let _ = t.await;
    }
    let elapsed = o.seconds;
    let lat = std::mem::take(&mut *lat.lock().unwrap());
    let errors = errors.lock().unwrap().clone();
    report(
        &format!("HTTP open loop, {:.0}/s offered", o.rate),
        lat,
        elapsed,
        &errors,
    );
}

async fn raw_sql(o: &Opts) {
    let settings = settings(o);
    let store = authd::store::connect(&settings.database)
        .await
        .expect("connect");
    let now = Utc::now();
    let user = Uuid::now_v7();
    store
        .create_user(NewUser {
            id: user,
            email: &format!("raw-{}@example.com", user.simple()),
            password_hash: "not a hash: raw rotation benchmark",
            now,
        })
        .await
        .expect("user");
    let policy = RotationPolicy::from_settings(&settings.refresh);
    let mut ids = Vec::new();
    for _ in 0..o.chains {
        let s = policy.new_session(
            user,
            now,
            Some("refresh_load".into()),
            Some("127.0.0.1".into()),
        );
        store.create_session(&s).await.expect("session");
        ids.push(s.id);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = ids
        .into_iter()
        .map(|id| {
            let (store, stop, errors) = (store.clone(), stop.clone(), errors.clone());
            tokio::spawn(async move {
                let meta = RequestMeta {
                    ip: Some("127.0.0.1".into()),
                    user_agent: Some("refresh_load".into()),
                };
                let mut counter = 0;
                let mut lat = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    match store.rotate(id, counter, Utc::now(), &policy, &meta).await {
                        Ok(Rotation::Rotated(s)) => {
                            lat.push(t.elapsed());
                            counter = s.counter;
                        }
                        _ => {
                            errors.fetch_add(1, Ordering::Relaxed);
                            break;
                        }
                    }
                }
                lat
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs_f64(o.seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.expect("chain"));
    }
    let mut e = BTreeMap::new();
    let n = errors.load(Ordering::Relaxed);
    if n > 0 {
        e.insert("not rotated".to_owned(), n);
    }
    report(
        &format!(
            "raw rotation SQL, {} chains, pool {}",
            o.chains, settings.database.max_connections
        ),
        lat,
        elapsed,
        &e,
    );
}

fn raw_sign(o: &Opts) {
    let settings = settings(o);
    let keys = Arc::new(authd::keys::KeySet::load(&settings).expect("keys"));
    let alg = authd::keys::alg_name(keys.signer().alg);
    let access = Arc::new(authd::tokens::AccessTokens::new(
        keys,
        settings.issuer(),
        &settings.jwt.audience,
        &settings.jwt.client_id,
        settings.jwt.access_ttl_secs,
    ));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let threads: Vec<_> = (0..o.threads)
        .map(|_| {
            let (access, stop) = (access.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut n = 0u64;
                let (user, session) = (Uuid::new_v4(), Uuid::new_v4());
                while !stop.load(Ordering::Relaxed) {
                    access.issue(user, session, Utc::now()).expect("sign");
                    n += 1;
                }
                n
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(o.seconds));
    stop.store(true, Ordering::Relaxed);
    let n: u64 = threads.into_iter().map(|t| t.join().expect("signer")).sum();
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "| raw {alg} signing, {} threads | {:.0} | | | | | 0 |",
        o.threads,
        n as f64 / elapsed
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(mode) = args.first().cloned() else {
        eprintln!("usage: refresh_load http|raw-sql|raw-sign [options]");
        std::process::exit(2);
    };
    let o = parse(&args[1..]);
    if mode == "raw-sign" {
        return raw_sign(&o);
    }
    // One thread for the load generator: it shares the machine with authd
    // and the database, and must not take more than its share.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        match mode.as_str() {
            "raw-sql" => raw_sql(&o).await,
            "http" => {
                let host = o.base.split("://").nth(1).unwrap_or("");
                assert!(
                    host.starts_with("127.") || host.starts_with("localhost"),
                    "refresh load only ever targets the loopback interface"
                );
                let client = reqwest::Client::builder()
                    .pool_max_idle_per_host(4096)
                    .timeout(Duration::from_secs(30))
                    .build()
                    .expect("client");
                if o.rate > 0.0 {
                    http_open(&o, client).await
                } else {
                    http_closed(&o, client).await
                }
            }
            other => panic!("unknown mode {other}"),
        }
    });
}
