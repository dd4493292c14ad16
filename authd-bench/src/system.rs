//! What the machine is and what ran on it: cores, CPU time of authd, of this
//! tool and of everything else (the database) during a scenario, and authd's
//! resident memory, all read from /proc.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Clock ticks per second of /proc's CPU times (USER_HZ, 100 on Linux).
const TICKS_PER_SEC: f64 = 100.0;

/// The machine the run happened on.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Machine {
    /// Cores this process may use.
    pub cores: usize,
    pub cpu_model: String,
    /// What shares those cores: filled in by the caller (authd, the database,
    /// this tool).
    pub shared_with: String,
}

impl Machine {
    pub fn detect(shared_with: impl Into<String>) -> Self {
        let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|info| {
                info.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split_once(':'))
                    .map(|(_, m)| m.trim().to_owned())
            })
            .unwrap_or_else(|| "unknown".into());
        Self {
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu_model,
            shared_with: shared_with.into(),
        }
    }
}

/// A field of /proc/PID/status in kB (`VmRSS`: resident now; `VmHWM`: peak).
pub fn memory_kb(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status
        .lines()
        .find(|l| l.strip_prefix(field).is_some_and(|r| r.starts_with(':')))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// CPU ticks: the whole machine's busy and total, this process's, authd's.
#[derive(Debug, Clone, Copy)]
pub struct CpuTimes {
    busy: u64,
    me: u64,
    server: Option<u64>,
    /// Every process named `postgres` (the server and its backends).
    postgres: u64,
}

impl CpuTimes {
    pub fn read(server_pid: Option<u32>) -> Option<Self> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let cpu: Vec<u64> = stat
            .lines()
            .next()?
            .split_whitespace()
            .skip(1)
            .filter_map(|v| v.parse().ok())
            .collect();
        // user nice system idle iowait irq softirq steal (guest time is
        // already counted in user).
        let total: u64 = cpu.iter().take(8).sum();
        let idle = cpu.get(3).copied().unwrap_or(0) + cpu.get(4).copied().unwrap_or(0);
        Some(Self {
            busy: total.saturating_sub(idle),
            me: process_ticks("self")?,
            server: server_pid.and_then(|pid| process_ticks(&pid.to_string())),
            postgres: postgres_ticks(),
        })
    }
}

/// CPU ticks of every process whose command is `postgres`. A backend that
/// exits between two readings takes its ticks with it, so this can only
/// under-count; the remainder then shows as `other`.
fn postgres_ticks() -> u64 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
        })
        .filter_map(|e| {
            let pid = e.file_name().to_str()?.to_owned();
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
            (comm.trim_end() == "postgres")
                .then(|| process_ticks(&pid))
                .flatten()
        })
        .sum()
}

/// CPU seconds (user and system) this process has used so far.
pub fn own_cpu_seconds() -> Option<f64> {
    process_ticks("self").map(|t| t as f64 / TICKS_PER_SEC)
}

/// utime + stime of a process, in ticks.
fn process_ticks(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields start after the
    // last ')'. utime and stime are fields 14 and 15, i.e. 11 and 12 from here.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// Average cores kept busy during a scenario, by whom.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CpuShare {
    /// The whole machine.
    pub machine: f64,
    /// authd (when its PID was given).
    pub authd: Option<f64>,
    /// This tool: the load generator itself.
    pub bench: f64,
    /// PostgreSQL's processes on this machine (0 with SQLite, whose work
    /// is authd's own).
    pub postgres: f64,
    /// Everything else on the machine: whatever else was running.
    pub other: f64,
}

impl CpuShare {
    pub fn between(before: CpuTimes, after: CpuTimes, wall: Duration) -> Self {
        let secs = wall.as_secs_f64().max(1e-9);
        let cores = |ticks: u64| ticks as f64 / TICKS_PER_SEC / secs;
        // /proc/stat counts every core in USER_HZ ticks as well.
        let machine = cores(after.busy.saturating_sub(before.busy));
        let bench = cores(after.me.saturating_sub(before.me));
        let authd = match (before.server, after.server) {
            (Some(b), Some(a)) => Some(cores(a.saturating_sub(b))),
            _ => None,
        };
        let postgres = cores(after.postgres.saturating_sub(before.postgres));
        let other = (machine - bench - authd.unwrap_or(0.0) - postgres).max(0.0);
        Self {
            machine,
            authd,
            bench,
            postgres,
            other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_memory_and_cpu_times() {
        let pid = std::process::id();
        assert!(memory_kb(pid, "VmRSS").is_some_and(|kb| kb > 0));
        assert!(memory_kb(pid, "VmHWM").is_some_and(|kb| kb > 0));
        assert!(memory_kb(pid, "VmRS").is_none(), "prefixes do not match");
        let before = CpuTimes::read(Some(pid)).unwrap();
        // Spin until the kernel has charged this process a tick (10 ms), however
        // busy the machine is, and /proc/stat has counted one too: its per-core
        // counters are sampled on their own, so they can lag the process's.
        let spin = std::time::Instant::now();
        let after = loop {
            std::hint::black_box((0..10_000u64).sum::<u64>());
            let now = CpuTimes::read(Some(pid)).unwrap();
            if now.me > before.me && now.server > before.server && now.busy > before.busy {
                break now;
            }
            assert!(
                spin.elapsed() < Duration::from_secs(30),
                "no CPU time charged"
            );
        };
        let share = CpuShare::between(before, after, spin.elapsed());
        assert!(share.bench > 0.0, "{share:?}");
        assert!(share.authd.is_some_and(|a| a > 0.0), "{share:?}");
        assert!(share.machine > 0.0 && share.other >= 0.0, "{share:?}");
    }
}
