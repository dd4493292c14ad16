//! The mixed scenario's ratio of logins, refreshes and verifications, and the
//! order in which a cycle of it sends them.

use serde::{Deserialize, Serialize};

use crate::load::Op;

/// Requests of each kind per cycle of the mixed scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mix {
    pub login: u32,
    pub refresh: u32,
    pub verify: u32,
}

impl Default for Mix {
    fn default() -> Self {
        Self {
            login: 1,
            refresh: 10,
            verify: 100,
        }
    }
}

impl std::str::FromStr for Mix {
    type Err = String;
    /// `LOGIN:REFRESH:VERIFY`, such as `1:10:100`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<u32> = s
            .split(':')
            .map(|p| p.trim().parse::<u32>())
            .collect::<Result<_, _>>()
            .map_err(|_| format!("{s:?}: expected LOGIN:REFRESH:VERIFY such as 1:10:100"))?;
        match parts[..] {
            [login, refresh, verify] if login + refresh + verify > 0 => Ok(Self {
                login,
                refresh,
                verify,
            }),
            _ => Err(format!(
                "{s:?}: expected three counts, not all zero, such as 1:10:100"
            )),
        }
    }
}

impl Mix {
    fn total(self) -> u64 {
        u64::from(self.login) + u64::from(self.refresh) + u64::from(self.verify)
    }

    /// The request kind of the `slot`-th request: the cycle is scattered by a
    /// multiplication modulo its length (a permutation, 7919 being prime), so
    /// refreshes do not come in bursts.
    pub fn pick(self, slot: u64) -> Op {
        let total = self.total();
        let scattered = if total.is_multiple_of(7919) {
            slot % total
        } else {
            slot.wrapping_mul(7919) % total
        };
        if scattered < u64::from(self.login) {
            Op::Login
        } else if scattered < u64::from(self.login) + u64::from(self.refresh) {
            Op::Refresh
        } else {
            Op::Verify
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mix_keeps_its_ratio_and_scatters_the_kinds() {
        let mix: Mix = "1:10:100".parse().unwrap();
        let mut counts = [0u32; 3];
        let mut longest_refresh_run = 0;
        let mut run = 0;
        for slot in 0..111 * 10 {
            let op = mix.pick(slot);
            counts[op as usize] += 1;
            run = if op == Op::Refresh { run + 1 } else { 0 };
            longest_refresh_run = longest_refresh_run.max(run);
        }
        assert_eq!(counts, [10, 100, 1000]);
        assert!(longest_refresh_run < 5, "{longest_refresh_run}");
        assert!("1:2".parse::<Mix>().is_err());
        assert!("0:0:0".parse::<Mix>().is_err());
        assert!("a:b:c".parse::<Mix>().is_err());
    }
}
