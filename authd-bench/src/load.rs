//! The load: users and sessions prepared beforehand, then workers that send
//! one scenario's requests for a warm-up and a measured window, closed-loop
//! (each worker sends its next request when the last one is answered) or
//! open-loop at a fixed rate (latency counted from when a request was due,
//! so a slow server cannot hide its queue).

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::code_flow::CodeFlow;
use crate::mfa::MfaUsers;
pub use crate::mix::Mix;
use crate::record::{OpRecorder, Outcome, Stats};
use crate::requests::{error_kind, register, transport_kind};
use crate::system::{CpuShare, CpuTimes, memory_kb};
use crate::target::Target;

pub use crate::requests::PASSWORD;

/// A load scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// `POST /auth/login` with the prepared users.
    Login,
    /// `POST /auth/refresh`, each session presenting its latest token.
    Refresh,
    /// `GET /auth/me` with Bearer access tokens.
    Verify,
    /// Logins, refreshes and verifications in the `--mix` ratio.
    Mixed,
    /// Full authorizations by the code flow, each from a browser with no
    /// cookie: authorize (PKCE S256), the login page, consent, the code, the
    /// token, userinfo.
    CodeFlow,
    /// The single-sign-on path: authorize with a live browser session, then
    /// the token.
    Sso,
    /// A sign-in with a password and a TOTP code: `POST /auth/login`
    /// (`mfa_required`), then `POST /auth/mfa/verify` (users enrolled before
    /// the run: `mfa`).
    MfaLogin,
    /// Refresh alone, then under logins offered at `--flood-multiple` times
    /// the measured login capacity, with authd's memory.
    LoginFlood,
    /// Refresh alone, then under `POST /auth/password/forgot` offered at
    /// `--forgot-rate`, with the outbox's depth and authd's memory.
    ForgotFlood,
}

impl Scenario {
    pub fn name(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Refresh => "refresh",
            Self::Verify => "verify",
            Self::Mixed => "mixed",
            Self::CodeFlow => "code-flow",
            Self::Sso => "sso",
            Self::MfaLogin => "mfa-login",
            Self::LoginFlood => "login-flood",
            Self::ForgotFlood => "forgot-flood",
        }
    }
}

/// One request kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Login = 0,
    Refresh = 1,
    Verify = 2,
    /// A whole code flow (code-flow).
    Flow = 3,
    /// Authorize with a browser session, then the token (sso).
    Sso = 4,
    /// Login and the second factor (mfa-login).
    MfaLogin = 5,
}

impl Op {
    /// The kinds the mixed scenario sends.
    pub const ALL: [Op; 3] = [Op::Login, Op::Refresh, Op::Verify];
    /// How many kinds there are (one recorder each).
    const COUNT: usize = 6;

    pub fn name(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Refresh => "refresh",
            Self::Verify => "verify",
            Self::Flow => "flow",
            Self::Sso => "sso",
            Self::MfaLogin => "mfa-login",
        }
    }
}

/// How to run a scenario.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Requests in flight at most (workers).
    pub concurrency: usize,
    /// The measured window.
    pub duration: Duration,
    /// Load before the window, not recorded.
    pub warmup: Duration,
    /// Open loop at this many requests per second; `None`: closed loop.
    pub rate: Option<f64>,
    pub mix: Mix,
    /// authd's PID, to sample its memory and CPU time.
    pub server_pid: Option<u32>,
    /// Draw a progress bar on stderr (hidden anyway when stderr is not a terminal).
    pub progress: bool,
}

/// A session's refresh chain: the latest token it was given.
struct Chain {
    refresh: String,
}

/// Users and sessions made before the measured runs, shared by the workers.
pub struct Fixture {
    client: reqwest::Client,
    target: Target,
    emails: Vec<String>,
    chains: Mutex<VecDeque<Chain>>,
    access_tokens: Vec<String>,
    /// The code flow's client and browser sessions, when a code-flow or sso
    /// scenario is to run.
    code_flow: Option<CodeFlow>,
    /// The users enrolled with TOTP, when the mfa-login scenario is to run.
    mfa: Option<MfaUsers>,
}

/// The parts of a token response the tool reads.
#[derive(Deserialize)]
struct TokenBody {
    access_token: String,
    refresh_token: Option<String>,
}

impl Fixture {
    /// Registers `users` users (an existing one is reused: `409 email_taken`
    /// is fine) named after `tag`, and logs in `sessions` sessions spread over
    /// them. Registration and login hash passwords, so this takes a while; it
    /// is not measured.
    pub async fn prepare(
        client: reqwest::Client,
        target: Target,
        tag: &str,
        users: usize,
        sessions: usize,
        parallel: usize,
    ) -> anyhow::Result<Self> {
        let users = users.max(1);
        let emails: Vec<String> = (0..users)
            .map(|i| format!("bench-{tag}-{i}@bench.example"))
            .collect();
        let emails = Arc::new(emails);
        let parallel = parallel.clamp(1, 16);

        let mut tasks = tokio::task::JoinSet::new();
        for w in 0..parallel {
            let (client, target, emails) = (client.clone(), target.clone(), emails.clone());
            tasks.spawn(async move {
                for email in emails.iter().skip(w).step_by(parallel) {
                    register(&client, &target, email).await?;
                }
                Ok::<_, anyhow::Error>(())
            });
        }
        while let Some(done) = tasks.join_next().await {
            done??;
        }

        let mut tasks = tokio::task::JoinSet::new();
        for w in 0..parallel {
            let (client, target, emails) = (client.clone(), target.clone(), emails.clone());
            tasks.spawn(async move {
                let mut made = Vec::new();
                for i in (w..sessions).step_by(parallel) {
                    let email = &emails[i % emails.len()];
                    let response = client
                        .post(target.url("/auth/login"))
                        .json(&json!({ "email": email, "password": PASSWORD, "token_delivery": "body" }))
                        .send()
                        .await
                        .context("login")?;
                    if !response.status().is_success() {
                        bail!("login {email}: {}", error_kind(response).await);
                    }
                    let body: TokenBody = response.json().await.context("token response")?;
                    let refresh = body
                        .refresh_token
                        .context("no refresh_token in the login response")?;
                    made.push((body.access_token, refresh));
                }
                Ok(made)
            });
        }
        let mut access_tokens = Vec::with_capacity(sessions);
        let mut chains = VecDeque::with_capacity(sessions);
        while let Some(done) = tasks.join_next().await {
            for (access, refresh) in done?? {
                access_tokens.push(access);
                chains.push_back(Chain { refresh });
            }
        }
        Ok(Self {
            client,
            target,
            emails: Arc::try_unwrap(emails).unwrap_or_else(|e| (*e).clone()),
            chains: Mutex::new(chains),
            access_tokens,
            code_flow: None,
            mfa: None,
        })
    }

    /// Adds the code flow (its client, and browser sessions if opened) for
    /// the code-flow and sso scenarios.
    pub fn with_code_flow(mut self, code_flow: CodeFlow) -> Self {
        self.code_flow = Some(code_flow);
        self
    }

    /// Adds the users enrolled with TOTP, for the mfa-login scenario.
    pub fn with_mfa(mut self, mfa: MfaUsers) -> Self {
        self.mfa = Some(mfa);
        self
    }

    /// The registered addresses.
    pub fn emails(&self) -> &[String] {
        &self.emails
    }

    /// Access tokens of the prepared sessions (for in-process verification).
    pub fn access_tokens(&self) -> &[String] {
        &self.access_tokens
    }

    pub fn sessions(&self) -> usize {
        self.access_tokens.len()
    }

    pub fn users(&self) -> usize {
        self.emails.len()
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The HTTP client every request of the run goes through.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// The `slot`-th registered address (round robin).
    pub fn email(&self, slot: u64) -> &str {
        &self.emails[(slot % self.emails.len() as u64) as usize]
    }

    async fn send(&self, op: Op, slot: u64) -> Outcome {
        match op {
            Op::Login => self.login(slot).await,
            Op::Refresh => self.refresh().await,
            Op::Verify => self.verify(slot).await,
            Op::Flow => match &self.code_flow {
                Some(flow) => flow.full(self.email(slot)).await.map(drop),
                None => Err("no code-flow client".into()),
            },
            Op::Sso => match &self.code_flow {
                Some(flow) => flow.sso(slot).await,
                None => Err("no code-flow client".into()),
            },
            Op::MfaLogin => match &self.mfa {
                Some(mfa) => mfa.sign_in().await,
                None => Err("no users enrolled with TOTP".into()),
            },
        }
    }

    /// Logs in the `slot`-th user (round robin) and reads the whole answer.
    pub async fn login(&self, slot: u64) -> Outcome {
        let email = &self.emails[(slot % self.emails.len() as u64) as usize];
        let response = self
            .client
            .post(self.target.url("/auth/login"))
            .json(&json!({ "email": email, "password": PASSWORD, "token_delivery": "body" }))
            .send()
            .await
            .map_err(|e| transport_kind(&e))?;
        if !response.status().is_success() {
            return Err(error_kind(response).await);
        }
        response.bytes().await.map_err(|e| transport_kind(&e))?;
        Ok(())
    }

    /// Takes a session no other worker holds, presents its latest token and
    /// keeps the new one: the chain of a real client.
    async fn refresh(&self) -> Outcome {
        let chain = self
            .chains
            .lock()
            .map_err(|_| "internal: poisoned lock".to_owned())?
            .pop_front();
        let Some(mut chain) = chain else {
            return Err("no free session (raise --sessions)".into());
        };
        let result = self.rotate(&mut chain).await;
        if let Ok(mut chains) = self.chains.lock() {
            chains.push_back(chain);
        }
        result
    }

    async fn rotate(&self, chain: &mut Chain) -> Outcome {
        let response = self
            .client
            .post(self.target.url("/auth/refresh"))
            .json(&json!({ "refresh_token": chain.refresh }))
            .send()
            .await
            .map_err(|e| transport_kind(&e))?;
        if !response.status().is_success() {
            return Err(error_kind(response).await);
        }
        let body: TokenBody = response
            .json()
            .await
            .map_err(|_| "bad token response".to_owned())?;
        chain.refresh = body
            .refresh_token
            .ok_or_else(|| "token response without refresh_token".to_owned())?;
        Ok(())
    }

    async fn verify(&self, slot: u64) -> Outcome {
        let token = &self.access_tokens[(slot % self.access_tokens.len() as u64) as usize];
        let response = self
            .client
            .get(self.target.url("/auth/me"))
            .bearer_auth(token)
            .send()
            .await
            .map_err(|e| transport_kind(&e))?;
        if !response.status().is_success() {
            return Err(error_kind(response).await);
        }
        response.bytes().await.map_err(|e| transport_kind(&e))?;
        Ok(())
    }
}

/// The figures of one scenario.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScenarioReport {
    pub scenario: Scenario,
    /// `closed-loop` or `open-loop`.
    pub mode: String,
    /// The requested rate of an open-loop run, per second.
    pub target_rate: Option<f64>,
    pub concurrency: usize,
    pub warmup_secs: f64,
    /// The measured window as it really lasted (until the last answer).
    pub duration_secs: f64,
    /// Every request of the window.
    pub total: Stats,
    /// By request kind (one entry, or three for `mixed`). A code-flow entry
    /// (`flow`) is a whole authorization, an sso entry one authorization
    /// and its token.
    pub operations: BTreeMap<String, Stats>,
    /// Cores kept busy during the window, by whom.
    pub cpu: Option<CpuShare>,
    /// authd's largest resident size sampled during the window, kB.
    pub server_peak_rss_kb: Option<u64>,
}

/// Runs `scenario` against the prepared fixture.
pub async fn run(
    fixture: Arc<Fixture>,
    scenario: Scenario,
    options: &LoadOptions,
) -> anyhow::Result<ScenarioReport> {
    let concurrency = options.concurrency.max(1);
    if matches!(scenario, Scenario::Refresh | Scenario::Mixed) && fixture.sessions() < concurrency {
        bail!(
            "{} sessions for {} workers: each refreshing worker needs a session of its own (raise --sessions)",
            fixture.sessions(),
            concurrency
        );
    }
    if matches!(scenario, Scenario::Verify | Scenario::Mixed) && fixture.sessions() == 0 {
        bail!("verify needs at least one session (--sessions)");
    }
    if scenario == Scenario::MfaLogin && fixture.mfa.is_none() {
        bail!("mfa-login needs users enrolled with TOTP (Fixture::with_mfa)");
    }
    let flows = fixture.code_flow.as_ref();
    if scenario == Scenario::CodeFlow && flows.is_none() {
        bail!(
            "code-flow needs a registered client (--database-url, or --client-id and --client-secret)"
        );
    }
    if scenario == Scenario::Sso && flows.is_none_or(|f| f.browsers() == 0) {
        bail!("sso needs a registered client and browser sessions opened before the run");
    }
    if let Some(rate) = options.rate
        && !(rate.is_finite() && rate > 0.0)
    {
        bail!("--rate must be a positive number of requests per second");
    }
    let ops: Vec<Op> = match scenario {
        Scenario::Login => vec![Op::Login],
        Scenario::Refresh => vec![Op::Refresh],
        Scenario::Verify => vec![Op::Verify],
        Scenario::Mixed => Op::ALL.to_vec(),
        Scenario::CodeFlow => vec![Op::Flow],
        Scenario::Sso => vec![Op::Sso],
        Scenario::MfaLogin => vec![Op::MfaLogin],
        Scenario::LoginFlood => bail!("login-flood is run by flood::run, not load::run"),
        Scenario::ForgotFlood => bail!("forgot-flood is run by forgot::run, not load::run"),
    };
    let only = ops[0];
    let start = Instant::now();
    let measure_from = start + options.warmup;
    let end = measure_from + options.duration;
    let slots = Arc::new(AtomicU64::new(0));
    let answered = Arc::new(AtomicU64::new(0));

    let bar = progress_bar(scenario, options);
    let done = Arc::new(AtomicBool::new(false));
    let ticker = {
        let (bar, done, answered) = (bar.clone(), done.clone(), answered.clone());
        let pid = options.server_pid;
        tokio::spawn(async move {
            let mut peak: Option<u64> = None;
            let mut last = (Instant::now(), 0u64);
            while !done.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(50)).await;
                let now = Instant::now();
                if now >= measure_from
                    && let Some(kb) = pid.and_then(|pid| memory_kb(pid, "VmRSS"))
                {
                    peak = Some(peak.map_or(kb, |p| p.max(kb)));
                }
                bar.set_position(now.duration_since(start).as_millis() as u64);
                if now.duration_since(last.0) >= Duration::from_millis(500) {
                    let n = answered.load(Ordering::Relaxed);
                    let rate = (n - last.1) as f64 / now.duration_since(last.0).as_secs_f64();
                    let phase = if now < measure_from {
                        "warm-up"
                    } else {
                        "measuring"
                    };
                    bar.set_message(format!("{phase}: {n} answered, {rate:.0}/s"));
                    last = (now, n);
                }
            }
            peak
        })
    };

    let mut cpu_before = None;
    let cpu_probe = {
        let pid = options.server_pid;
        tokio::spawn(async move {
            tokio::time::sleep_until(measure_from.into()).await;
            CpuTimes::read(pid)
        })
    };
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (fixture, slots, answered) = (fixture.clone(), slots.clone(), answered.clone());
        let (rate, mix) = (options.rate, options.mix);
        workers.spawn(async move {
            let mut recorders: [OpRecorder; Op::COUNT] = Default::default();
            loop {
                let slot = slots.fetch_add(1, Ordering::Relaxed);
                let sent_at = match rate {
                    Some(rate) => {
                        let due = start + Duration::from_secs_f64(slot as f64 / rate);
                        if due >= end {
                            break;
                        }
                        tokio::time::sleep_until(due.into()).await;
                        due
                    }
                    None => {
                        let now = Instant::now();
                        if now >= end {
                            break;
                        }
                        now
                    }
                };
                let op = if scenario == Scenario::Mixed {
                    mix.pick(slot)
                } else {
                    only
                };
                let outcome = fixture.send(op, slot).await;
                answered.fetch_add(1, Ordering::Relaxed);
                if sent_at >= measure_from {
                    recorders[op as usize].record(sent_at.elapsed(), outcome);
                }
            }
            (recorders, Instant::now())
        });
    }
    let mut merged: [OpRecorder; Op::COUNT] = Default::default();
    let mut last_answer = end;
    while let Some(result) = workers.join_next().await {
        let (recorders, finished) = result.context("a load worker panicked")?;
        for (into, from) in merged.iter_mut().zip(recorders.iter()) {
            into.merge(from);
        }
        last_answer = last_answer.max(finished);
    }
    let cpu_after = CpuTimes::read(options.server_pid);
    if let Ok(before) = cpu_probe.await {
        cpu_before = before;
    }
    done.store(true, Ordering::Relaxed);
    let peak = ticker.await.ok().flatten();
    bar.finish_and_clear();

    let elapsed = last_answer.duration_since(measure_from);
    let mut total = OpRecorder::default();
    let mut operations = BTreeMap::new();
    for op in ops {
        let recorder = &merged[op as usize];
        total.merge(recorder);
        operations.insert(op.name().to_owned(), recorder.stats(elapsed));
    }
    Ok(ScenarioReport {
        scenario,
        mode: if options.rate.is_some() {
            "open-loop".into()
        } else {
            "closed-loop".into()
        },
        target_rate: options.rate,
        concurrency,
        warmup_secs: options.warmup.as_secs_f64(),
        duration_secs: elapsed.as_secs_f64(),
        total: total.stats(elapsed),
        operations,
        cpu: match (cpu_before, cpu_after) {
            (Some(b), Some(a)) => Some(CpuShare::between(b, a, elapsed)),
            _ => None,
        },
        server_peak_rss_kb: peak,
    })
}

fn progress_bar(scenario: Scenario, options: &LoadOptions) -> ProgressBar {
    if !options.progress {
        return ProgressBar::hidden();
    }
    let total = (options.warmup + options.duration).as_millis() as u64;
    let bar = ProgressBar::new(total.max(1));
    bar.set_style(
        ProgressStyle::with_template("{prefix:>8} [{bar:30}] {elapsed:>3} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_prefix(scenario.name());
    bar
}
