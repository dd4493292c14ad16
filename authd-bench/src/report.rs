//! The whole run: machine, settings, each scenario's figures, the limits
//! measured alongside, authd's figures as ratios of them, and what could not
//! be measured; printed as a table or as JSON.

use std::fmt::Write;

use serde::{Deserialize, Serialize};

use crate::flood::FloodReport;
use crate::forgot::ForgotFloodReport;
use crate::limits::{Argon2Params, Rate, RotationRate};
use crate::load::{Mix, Scenario, ScenarioReport};
use crate::system::Machine;

/// Everything one invocation measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub tool: String,
    /// UTC, RFC 3339.
    pub started_at: String,
    pub target: String,
    /// A label for the run, such as the store (`sqlite`, `postgres`).
    pub label: Option<String>,
    pub machine: Machine,
    pub settings: RunSettings,
    pub memory: Option<Memory>,
    pub scenarios: Vec<ScenarioReport>,
    /// The login-flood scenario, when it ran (absent from older reports).
    #[serde(default)]
    pub login_flood: Option<FloodReport>,
    /// The forgot-flood scenario, when it ran (absent from older reports).
    #[serde(default)]
    pub forgot_flood: Option<ForgotFloodReport>,
    pub limits: Limits,
    pub ratios: Vec<Ratio>,
    /// What could not be measured, and why.
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunSettings {
    pub concurrency: usize,
    pub duration_secs: f64,
    pub warmup_secs: f64,
    pub rate: Option<f64>,
    pub capacity_fraction: Option<f64>,
    pub users: usize,
    pub sessions: usize,
    pub mix: Mix,
    /// The server's signing algorithm, read from its tokens.
    pub alg: Option<String>,
}

/// authd's resident memory, kB.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Memory {
    /// Before any load.
    pub idle_rss_kb: Option<u64>,
    /// The largest sample during the closed-loop login scenario.
    pub login_peak_rss_kb: Option<u64>,
    /// The kernel's high-water mark at the end of the run (`VmHWM`).
    pub peak_hwm_kb: Option<u64>,
}

/// The limits measured on this machine.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Limits {
    pub argon2_params: Option<Argon2Params>,
    /// Argon2id hashes per second on every core.
    pub argon2: Option<Rate>,
    /// `sessions::rotate` straight to the database, same pool size.
    pub rotation_sql: Option<RotationRate>,
    pub signing_alg: Option<String>,
    pub signing_key: Option<String>,
    pub signing_one_core: Option<Rate>,
    pub signing_all_cores: Option<Rate>,
    pub verify_key: Option<String>,
    /// Bare `jsonwebtoken::decode`, one thread and every core.
    pub decode_one_core: Option<Rate>,
    pub decode_all_cores: Option<Rate>,
    /// `authd_verify::Verifier::verify`, one thread.
    pub authd_verify_one_core: Option<Rate>,
}

fn threads(n: usize) -> String {
    if n == 1 {
        "1 thread".into()
    } else {
        format!("{n} threads")
    }
}

/// A figure of authd (or of `authd-verify`) as a share of a limit.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ratio {
    pub scenario: String,
    pub figure: String,
    pub value: f64,
    pub limit: String,
    pub limit_value: f64,
    /// `value / limit_value`: the ratio, on the machine as it was.
    pub ratio: f64,
    /// The same with both sides per core they really had: authd's figure
    /// per core authd used, the limit per CPU-second of the measurement.
    /// Steadier than `ratio` when other programs share the cores.
    pub per_core_ratio: Option<f64>,
}

impl Report {
    /// The closed-loop run of `scenario` (its capacity), if it ran.
    pub fn capacity_run(&self, scenario: Scenario) -> Option<&ScenarioReport> {
        self.scenarios
            .iter()
            .find(|s| s.scenario == scenario && s.mode == "closed-loop")
            .or_else(|| self.scenarios.iter().find(|s| s.scenario == scenario))
    }

    /// Fills `ratios` from the scenarios and limits.
    pub fn compute_ratios(&mut self) {
        let mut ratios = Vec::new();
        let mut push = |scenario: &str,
                        figure: &str,
                        (value, value_cores): (f64, Option<f64>),
                        limit: String,
                        limit_rate: &Rate| {
            let limit_value = limit_rate.per_sec;
            if limit_value > 0.0 {
                let per_core_ratio = match (value_cores, limit_rate.per_cpu_second()) {
                    (Some(cores), Some(per_cpu)) if cores > 0.0 => Some(value / cores / per_cpu),
                    _ => None,
                };
                ratios.push(Ratio {
                    scenario: scenario.into(),
                    figure: figure.into(),
                    value,
                    limit,
                    limit_value,
                    ratio: value / limit_value,
                    per_core_ratio,
                });
            }
        };
        // authd's throughput and the cores it used for it.
        let figure =
            |run: &ScenarioReport| (run.total.throughput, run.cpu.as_ref().and_then(|c| c.authd));
        let l = &self.limits;
        if let (Some(run), Some(rate)) = (self.capacity_run(Scenario::Login), &l.argon2) {
            let p = l.argon2_params.unwrap_or_default();
            push(
                "login",
                "logins/s",
                figure(run),
                format!(
                    "Argon2id m={} t={} p={} hashes/s, {}",
                    p.m_cost,
                    p.t_cost,
                    p.p_cost,
                    threads(rate.threads)
                ),
                rate,
            );
        }
        if let (Some(run), Some(rate)) = (self.capacity_run(Scenario::CodeFlow), &l.argon2) {
            let p = l.argon2_params.unwrap_or_default();
            push(
                "code-flow",
                "full authorizations/s",
                figure(run),
                format!(
                    "Argon2id m={} t={} p={} hashes/s, {}",
                    p.m_cost,
                    p.t_cost,
                    p.p_cost,
                    threads(rate.threads)
                ),
                rate,
            );
        }
        if let Some(run) = self.capacity_run(Scenario::Refresh) {
            if let Some(sql) = &l.rotation_sql {
                push(
                    "refresh",
                    "refreshes/s",
                    figure(run),
                    format!("rotation SQL/s, {} connections", sql.rate.threads),
                    &sql.rate,
                );
            }
            let alg = l.signing_alg.clone().unwrap_or_default();
            if let Some(sign) = &l.signing_all_cores {
                push(
                    "refresh",
                    "refreshes/s",
                    figure(run),
                    format!("{alg} signatures/s, {}", threads(sign.threads)),
                    sign,
                );
            }
        }
        if let (Some(run), Some(decode)) =
            (self.capacity_run(Scenario::Verify), &l.decode_all_cores)
        {
            push(
                "verify",
                "GET /auth/me/s",
                figure(run),
                format!("bare jsonwebtoken::decode/s, {}", threads(decode.threads)),
                decode,
            );
        }
        if let (Some(verifier), Some(decode)) = (&l.authd_verify_one_core, &l.decode_one_core) {
            push(
                "verify",
                "authd-verify/s (1 thread)",
                (verifier.per_sec, None),
                "bare jsonwebtoken::decode/s, 1 thread".into(),
                decode,
            );
        }
        // One scenario's throughput against another's of the same run.
        let between = |(scenario, figure): (Scenario, &str), (base, limit): (Scenario, &str)| {
            let (run, base_run) = (self.capacity_run(scenario)?, self.capacity_run(base)?);
            let limit_value = base_run.total.throughput;
            if limit_value <= 0.0 {
                return None;
            }
            let value = run.total.throughput;
            let cores = |r: &ScenarioReport| r.cpu.as_ref().and_then(|c| c.authd);
            let per_core_ratio = match (cores(run), cores(base_run)) {
                (Some(a), Some(b)) if a > 0.0 && b > 0.0 => Some(value / a / (limit_value / b)),
                _ => None,
            };
            Some(Ratio {
                scenario: scenario.name().into(),
                figure: figure.into(),
                value,
                limit: limit.into(),
                limit_value,
                ratio: value / limit_value,
                per_core_ratio,
            })
        };
        ratios.extend(between(
            (Scenario::CodeFlow, "full authorizations/s"),
            (Scenario::Login, "POST /auth/login/s, same run"),
        ));
        ratios.extend(between(
            (Scenario::MfaLogin, "sign-ins with password and TOTP/s"),
            (Scenario::Login, "POST /auth/login/s, same run"),
        ));
        ratios.extend(between(
            (Scenario::Sso, "single sign-ons/s"),
            (Scenario::CodeFlow, "full authorizations/s, same run"),
        ));
        self.ratios = ratios;
    }

    /// The human-readable report.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let m = &self.machine;
        let _ = writeln!(
            out,
            "authd-bench against {}{}",
            self.target,
            self.label
                .as_ref()
                .map(|l| format!(" ({l})"))
                .unwrap_or_default()
        );
        let _ = writeln!(
            out,
            "machine: {} cores ({}), shared by {}",
            m.cores, m.cpu_model, m.shared_with
        );
        let s = &self.settings;
        let _ = writeln!(
            out,
            "settings: {} workers, {:.0} s warm-up + {:.0} s per scenario, {} users, {} sessions, mix {}:{}:{}, signing {}",
            s.concurrency,
            s.warmup_secs,
            s.duration_secs,
            s.users,
            s.sessions,
            s.mix.login,
            s.mix.refresh,
            s.mix.verify,
            s.alg.as_deref().unwrap_or("?")
        );
        let _ = writeln!(
            out,
            "cores: average cores busy in each window: authd / authd-bench / PostgreSQL / anything else"
        );
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{:<9} {:<9} {:<16} {:>9} {:>10} {:>8} {:>8} {:>8} {:>8}  {:<26} errors",
            "scenario",
            "request",
            "mode",
            "requests",
            "ok/s",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "max ms",
            "cores authd/bench/pg/other"
        );
        for run in &self.scenarios {
            let mode = match run.target_rate {
                Some(rate) => format!("open @ {rate:.0}/s"),
                None => format!("closed, {}", run.concurrency),
            };
            let cpu = run
                .cpu
                .as_ref()
                .map(|c| {
                    format!(
                        "{}/{:.2}/{:.2}/{:.2}",
                        c.authd.map_or("?".into(), |a| format!("{a:.2}")),
                        c.bench,
                        c.postgres,
                        c.other
                    )
                })
                .unwrap_or_else(|| "?".into());
            let mut rows: Vec<(&str, &crate::record::Stats)> = Vec::new();
            if run.operations.len() > 1 {
                rows.push(("all", &run.total));
            }
            rows.extend(run.operations.iter().map(|(k, v)| (k.as_str(), v)));
            for (i, (request, st)) in rows.into_iter().enumerate() {
                let errors = if st.errors.is_empty() {
                    "0".to_owned()
                } else {
                    st.errors
                        .iter()
                        .map(|(k, n)| format!("{n} × {k}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                let first = i == 0;
                let _ = writeln!(
                    out,
                    "{:<9} {:<9} {:<16} {:>9} {:>10.1} {:>8.2} {:>8.2} {:>8.2} {:>8.2}  {:<26} {}",
                    if first { run.scenario.name() } else { "" },
                    request,
                    if first { mode.as_str() } else { "" },
                    st.requests,
                    st.throughput,
                    st.latency_ms.p50,
                    st.latency_ms.p90,
                    st.latency_ms.p99,
                    st.latency_ms.max,
                    if first { cpu.as_str() } else { "" },
                    errors
                );
            }
        }
        if let Some(flood) = &self.login_flood {
            let _ = writeln!(out);
            out.push_str(&flood.table());
        }
        if let Some(flood) = &self.forgot_flood {
            let _ = writeln!(out);
            out.push_str(&flood.table());
        }
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "limits measured on this machine, same run (server idle):"
        );
        let l = &self.limits;
        let rate = |r: &Option<Rate>| {
            r.as_ref().map(|r| {
                let cpu = r
                    .cpu_cores
                    .map(|c| format!(", {c:.2} cores had, {:.1}/CPU-s", r.per_sec / c.max(1e-9)))
                    .unwrap_or_default();
                format!("{:>10.1}/s  ({}{cpu})", r.per_sec, threads(r.threads))
            })
        };
        let mut limit = |name: String, value: Option<String>| {
            if let Some(value) = value {
                let _ = writeln!(out, "  {name:<48} {value}");
            }
        };
        if let Some(p) = l.argon2_params {
            limit(
                format!("Argon2id m={} t={} p={}", p.m_cost, p.t_cost, p.p_cost),
                rate(&l.argon2),
            );
        }
        limit(
            "rotation SQL (sessions::rotate, no HTTP, no signing)".into(),
            l.rotation_sql.as_ref().map(|r| {
                let latency = r
                    .latency_ms
                    .as_ref()
                    .map(|l| format!(", p50 {:.2} ms, p99 {:.2} ms", l.p50, l.p99))
                    .unwrap_or_default();
                format!(
                    "{:>10.1}/s  ({} connections, {} failed{latency})",
                    r.rate.per_sec, r.rate.threads, r.errors
                )
            }),
        );
        let alg = l.signing_alg.clone().unwrap_or_default();
        limit(format!("{alg} signing, 1 core"), rate(&l.signing_one_core));
        limit(
            format!("{alg} signing, all cores"),
            rate(&l.signing_all_cores),
        );
        limit(
            format!("{alg} bare jsonwebtoken::decode, 1 core"),
            rate(&l.decode_one_core),
        );
        limit(
            format!("{alg} bare jsonwebtoken::decode, all cores"),
            rate(&l.decode_all_cores),
        );
        limit(
            format!("{alg} authd-verify, 1 core"),
            rate(&l.authd_verify_one_core),
        );
        if !self.ratios.is_empty() {
            let _ = writeln!(out);
            let _ = writeln!(
                out,
                "authd's figures as a share of those limits (per core: both sides divided by the cores they really had):"
            );
            for r in &self.ratios {
                let _ = writeln!(
                    out,
                    "  {:<9} {:>10.1} {:<26} / {:>10.1} {:<46} = {:>6.1}%   per core {}",
                    r.scenario,
                    r.value,
                    r.figure,
                    r.limit_value,
                    r.limit,
                    r.ratio * 100.0,
                    r.per_core_ratio
                        .map_or("-".into(), |p| format!("{:.1}%", p * 100.0))
                );
            }
        }
        if let Some(mem) = &self.memory {
            let mb = |kb: Option<u64>| {
                kb.map_or("?".into(), |kb| format!("{:.1} MB", kb as f64 / 1024.0))
            };
            let _ = writeln!(out);
            let _ = writeln!(
                out,
                "authd resident memory: idle {}, peak during the login scenario {}, high-water mark {}",
                mb(mem.idle_rss_kb),
                mb(mem.login_peak_rss_kb),
                mb(mem.peak_hwm_kb)
            );
        }
        if !self.notes.is_empty() {
            let _ = writeln!(out);
            for note in &self.notes {
                let _ = writeln!(out, "note: {note}");
            }
        }
        out
    }
}
