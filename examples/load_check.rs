//! Load check: does a login flood slow down refresh?
//!
//! Against a running authd (loopback only), it measures refresh latency with no
//! other load, then the raw login capacity (Argon2id-bound), then refresh
//! latency again while logins arrive at ten times that capacity, and prints the
//! figures and their ratios. With `--pid`, it also reads the server's resident
//! memory (idle, and its peak during the flood) from /proc.
//!
//!   cargo run --release --example load_check -- http://127.0.0.1:8080 [--seconds 10] [--pid PID]
//!
//! `scripts/load-check.sh` starts a server and runs this against it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";
const REFRESHERS: usize = 8;

struct Args {
    base: String,
    seconds: u64,
    pid: Option<u32>,
}

fn args() -> Args {
    let mut args = std::env::args().skip(1);
    let mut parsed = Args {
        base: "http://127.0.0.1:8080".into(),
        seconds: 10,
        pid: None,
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seconds" => {
                parsed.seconds = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--seconds N")
            }
            "--pid" => parsed.pid = args.next().and_then(|v| v.parse().ok()),
            base => parsed.base = base.trim_end_matches('/').to_owned(),
        }
    }
    let host = parsed.base.split("://").nth(1).unwrap_or("");
    assert!(
        host.starts_with("127.") || host.starts_with("localhost") || host.starts_with("[::1]"),
        "load checks only ever target the loopback interface"
    );
    parsed
}

/// kB of resident memory: `VmRSS` now, or `VmHWM` (the peak).
fn memory_kb(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

async fn post(client: &reqwest::Client, url: String, body: Value) -> (u16, Value) {
    match client.post(url).json(&body).send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            (status, r.json().await.unwrap_or(Value::Null))
        }
        Err(_) => (0, Value::Null),
    }
}

/// Refresh latencies of REFRESHERS clients rotating their own families in a loop.
async fn refresh_phase(
    client: &reqwest::Client,
    base: &str,
    tokens: &mut [String],
    seconds: u64,
) -> (Vec<Duration>, u64) {
    let stop = Arc::new(AtomicBool::new(false));
    let errors = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for token in tokens.iter() {
        let (client, base, stop, errors, mut token) = (
            client.clone(),
            base.to_owned(),
            stop.clone(),
            errors.clone(),
            token.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let started = Instant::now();
                let (status, body) = post(
                    &client,
                    format!("{base}/auth/refresh"),
                    json!({ "refresh_token": token }),
                )
                .await;
                if status == 200 {
                    latencies.push(started.elapsed());
                    token = body["refresh_token"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned();
                } else {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
            (latencies, token)
        }));
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for (i, task) in tasks.into_iter().enumerate() {
        let (latencies, token) = task.await.expect("refresher");
        all.extend(latencies);
        tokens[i] = token;
    }
    all.sort();
    (all, errors.load(Ordering::Relaxed))
}

#[tokio::main]
async fn main() {
    let args = args();
    let base = args.base.as_str();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let idle_kb = args.pid.and_then(|pid| memory_kb(pid, "VmRSS:"));

    let email = format!("load-{}@example.com", uuid::Uuid::new_v4().simple());
    let (status, body) = post(
        &client,
        format!("{base}/auth/register"),
        json!({ "email": email, "password": PASSWORD }),
    )
    .await;
    assert_eq!(status, 201, "register: {body}");
    let login = json!({ "email": email, "password": PASSWORD, "token_delivery": "body" });
    let mut tokens = Vec::new();
    for _ in 0..REFRESHERS {
        let (status, body) = post(&client, format!("{base}/auth/login"), login.clone()).await;
        assert_eq!(status, 200, "login: {body}");
        tokens.push(body["refresh_token"].as_str().unwrap().to_owned());
    }

    // 1. Refresh alone.
    let (baseline, baseline_errors) = refresh_phase(&client, base, &mut tokens, args.seconds).await;

    // 2. Login capacity: as many concurrent logins as the server has cores and
    //    then some, closed loop, for a few seconds.
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let capacity_window = Duration::from_secs(args.seconds.clamp(2, 5));
    let ok = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut loops = Vec::new();
    for _ in 0..cores * 2 {
        let (client, url, body, ok) = (
            client.clone(),
            format!("{base}/auth/login"),
            login.clone(),
            ok.clone(),
        );
        loops.push(tokio::spawn(async move {
            while started.elapsed() < capacity_window {
                if post(&client, url.clone(), body.clone()).await.0 == 200 {
                    ok.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for l in loops {
        let _ = l.await;
    }
    let capacity = ok.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();

    // 3. Refresh again, under an open-loop login flood at ten times capacity.
    let flood_rate = (capacity * 10.0).max(1.0);
    let outcomes: Arc<std::sync::Mutex<std::collections::BTreeMap<u16, u64>>> = Arc::default();
    let flooding = Arc::new(AtomicBool::new(true));
    let flood = {
        let (client, url, body, outcomes, flooding) = (
            client.clone(),
            format!("{base}/auth/login"),
            login.clone(),
            outcomes.clone(),
            flooding.clone(),
        );
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / flood_rate));
            let mut inflight = Vec::new();
            while flooding.load(Ordering::Relaxed) {
                ticker.tick().await;
                let (client, url, body, outcomes) =
                    (client.clone(), url.clone(), body.clone(), outcomes.clone());
                inflight.push(tokio::spawn(async move {
                    let status = post(&client, url, body).await.0;
                    *outcomes.lock().unwrap().entry(status).or_default() += 1;
                }));
            }
            for task in inflight {
                let _ = task.await;
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await; // let the flood build up
    let (flooded, flooded_errors) = refresh_phase(&client, base, &mut tokens, args.seconds).await;
    flooding.store(false, Ordering::Relaxed);
    let _ = flood.await;
    let peak_kb = args.pid.and_then(|pid| memory_kb(pid, "VmHWM:"));

    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let rate = |n: usize| n as f64 / args.seconds as f64;
    println!(
        "authd load check against {base}, {} s per phase, {REFRESHERS} refresh clients",
        args.seconds
    );
    println!();
    println!("| phase | refreshes/s | p50 ms | p90 ms | p99 ms | max ms | errors |");
    println!("|---|---|---|---|---|---|---|");
    for (name, lat, errors) in [
        ("refresh alone", &baseline, baseline_errors),
        ("refresh under login flood", &flooded, flooded_errors),
    ] {
        println!(
            "| {name} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {errors} |",
            rate(lat.len()),
            ms(percentile(lat, 0.50)),
            ms(percentile(lat, 0.90)),
            ms(percentile(lat, 0.99)),
            ms(lat.last().copied().unwrap_or_default()),
        );
    }
    println!();
    println!(
        "login capacity (closed loop, {} clients): {capacity:.1} logins/s",
        cores * 2
    );
    println!(
        "login flood: {flood_rate:.0} logins/s offered (10x capacity); answers by status: {:?}",
        outcomes.lock().unwrap()
    );
    let p99 = |l: &[Duration]| ms(percentile(l, 0.99));
    println!(
        "refresh p99 under flood / alone: {:.2}x; throughput under flood / alone: {:.2}x",
        p99(&flooded) / p99(&baseline).max(f64::EPSILON),
        flooded.len() as f64 / baseline.len().max(1) as f64
    );
    if let (Some(idle), Some(peak)) = (idle_kb, peak_kb) {
        println!(
            "server memory: idle {:.1} MB resident, peak {:.1} MB (VmHWM) by the end of the flood",
            idle as f64 / 1024.0,
            peak as f64 / 1024.0
        );
    }
}
