//! The mfa-login scenario: a sign-in with a password and a TOTP code (`POST
//! /auth/login`, answered `mfa_required`, then `POST /auth/mfa/verify` with
//! the current code), to set against `login` (the password alone) of the
//! same run.
//!
//! Its users are registered and enrolled with TOTP before the run, through
//! the API (not measured); the tool computes their codes itself. authd
//! accepts a code of the current 30 s step or the one before, and each step
//! once per factor (the step before is left alone in the last 2 s of a
//! step, when authd could take it as two steps old). Enrolment confirms
//! with the code of the step before,
//! so a user signs in once more within the step it was enrolled in, twice
//! in the next (the step before, then the current one) and once a step
//! after that.
//! A user is held by one worker at a time (two sign-ins of one user in
//! flight could spend its steps out of order), and one with no step left
//! waits in the queue: when every user is spent, a sign-in fails with "no
//! TOTP step left (raise --mfa-users)", counted as an error, never a wait.
//! `--mfa-users` N therefore serves at least N sign-ins within any one step:
//! at ~150 sign-ins/s, the default 1,200 covers scripts/bench.sh's
//! closed-loop window and its open-loop repeat at 80% (1 s warm-up and 3 s
//! each, ~1,100 sign-ins); a run of more than 30 s needs about 30 s times
//! the rate. Enrolling costs two password hashes a user (registration and
//! the login before enrolment), before the run.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use serde::Deserialize;
use serde_json::json;
use totp_rs::{Algorithm, Secret, TOTP};

use crate::record::Outcome;
use crate::requests::{PASSWORD, error_kind, register, transport_kind};
use crate::target::Target;

/// The TOTP step, in seconds (authd's, RFC 6238's default).
const STEP_SECS: u64 = 30;
/// In the last seconds of a step the step before is not used: authd could
/// be in the next step by the time the code arrives, and take it as two
/// steps old.
const MARGIN_SECS: u64 = 2;

/// A user with a confirmed TOTP factor, and the last step the tool spent.
struct MfaUser {
    email: String,
    totp: TOTP,
    last_step: Option<u64>,
}

impl MfaUser {
    /// The step to use at `now` (the one before the current one, then the
    /// current one), if one is left.
    fn free_step(&self, now: Now) -> Option<u64> {
        let Now { current, late } = now;
        let earliest = if late {
            current
        } else {
            current.saturating_sub(1)
        };
        match self.last_step {
            None => Some(earliest),
            Some(last) if last < earliest => Some(earliest),
            Some(last) if last < current => Some(current),
            Some(_) => None,
        }
    }
}

/// The enrolled users, each held by one worker at a time.
pub struct MfaUsers {
    client: reqwest::Client,
    target: Target,
    free: Mutex<VecDeque<MfaUser>>,
    count: usize,
}

#[derive(Deserialize)]
struct Access {
    access_token: String,
}

#[derive(Deserialize)]
struct Enrolment {
    secret: String,
}

#[derive(Deserialize)]
struct Required {
    mfa_challenge: String,
}

/// The current step, and whether it is in its last [`MARGIN_SECS`].
#[derive(Debug, Clone, Copy)]
struct Now {
    current: u64,
    late: bool,
}

fn now() -> Now {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    Now {
        current: secs / STEP_SECS,
        late: secs % STEP_SECS >= STEP_SECS - MARGIN_SECS,
    }
}

impl MfaUsers {
    /// Registers `users` users named after `tag` and enrols each with TOTP
    /// (register, log in, start, confirm with the first code), `parallel` at
    /// a time. Not measured.
    pub async fn prepare(
        client: reqwest::Client,
        target: Target,
        tag: &str,
        users: usize,
        parallel: usize,
    ) -> anyhow::Result<Self> {
        let users = users.max(1);
        let parallel = parallel.clamp(1, 16);
        let emails: Arc<Vec<String>> = Arc::new(
            (0..users)
                .map(|i| format!("bench-mfa-{tag}-{i}@bench.example"))
                .collect(),
        );
        let mut tasks = tokio::task::JoinSet::new();
        for w in 0..parallel {
            let (client, target, emails) = (client.clone(), target.clone(), emails.clone());
            tasks.spawn(async move {
                let mut made = Vec::new();
                for email in emails.iter().skip(w).step_by(parallel) {
                    made.push(enrol(&client, &target, email).await?);
                }
                Ok::<_, anyhow::Error>(made)
            });
        }
        let mut free = VecDeque::with_capacity(users);
        while let Some(done) = tasks.join_next().await {
            free.extend(done??);
        }
        Ok(Self {
            client,
            target,
            count: free.len(),
            free: Mutex::new(free),
        })
    }

    pub fn users(&self) -> usize {
        self.count
    }

    /// Takes a user with a step left, and the step.
    fn take(&self) -> Result<(MfaUser, u64), String> {
        let current = now();
        let mut free = self
            .free
            .lock()
            .map_err(|_| "internal: poisoned lock".to_owned())?;
        let at = free
            .iter()
            .position(|u| u.free_step(current).is_some())
            .ok_or_else(|| "no TOTP step left (raise --mfa-users)".to_owned())?;
        let user = free.remove(at).ok_or("internal: no user")?;
        let step = user.free_step(current).ok_or("internal: no step")?;
        Ok((user, step))
    }

    /// One sign-in with the password and a code: `mfa_required`, then the
    /// verification, the whole answer read.
    pub async fn sign_in(&self) -> Outcome {
        let (mut user, step) = self.take()?;
        let result = self.both_steps(&user, step).await;
        // The step is spent even if the sign-in failed after sending it.
        user.last_step = Some(step);
        if let Ok(mut free) = self.free.lock() {
            free.push_back(user);
        }
        result
    }

    async fn both_steps(&self, user: &MfaUser, step: u64) -> Outcome {
        let response = self
            .client
            .post(self.target.url("/auth/login"))
            .json(&json!({ "email": user.email, "password": PASSWORD, "token_delivery": "body" }))
            .send()
            .await
            .map_err(|e| transport_kind(&e))?;
        if response.status().as_u16() != 401 {
            return Err(format!("login: {} (not mfa_required)", response.status()));
        }
        let required: Required = response
            .json()
            .await
            .map_err(|_| "login: not an mfa_required answer".to_owned())?;
        let code = user.totp.generate(step * STEP_SECS);
        let response = self
            .client
            .post(self.target.url("/auth/mfa/verify"))
            .json(&json!({
                "challenge": required.mfa_challenge,
                "code": code,
                "token_delivery": "body",
            }))
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

/// Registers `email` (an existing one is reused only if it has no factor
/// yet), logs in, enrols and confirms TOTP.
async fn enrol(client: &reqwest::Client, target: &Target, email: &str) -> anyhow::Result<MfaUser> {
    register(client, target, email).await?;
    let response = client
        .post(target.url("/auth/login"))
        .json(&json!({ "email": email, "password": PASSWORD, "token_delivery": "body" }))
        .send()
        .await
        .context("login")?;
    if !response.status().is_success() {
        bail!(
            "login {email} before enrolment (a user of an earlier run with --tag?): {}",
            error_kind(response).await
        );
    }
    let access: Access = response.json().await.context("token response")?;
    let response = client
        .post(target.url("/auth/mfa/totp"))
        .bearer_auth(&access.access_token)
        .json(&json!({}))
        .send()
        .await
        .context("start TOTP")?;
    if !response.status().is_success() {
        bail!("start TOTP {email}: {}", error_kind(response).await);
    }
    let enrolment: Enrolment = response.json().await.context("TOTP enrolment")?;
    let bytes = Secret::Encoded(enrolment.secret)
        .to_bytes()
        .map_err(|e| anyhow::anyhow!("TOTP secret: {e:?}"))?;
    let totp = TOTP::new(Algorithm::SHA1, 6, 0, STEP_SECS, bytes)
        .map_err(|e| anyhow::anyhow!("TOTP: {e:?}"))?;
    // Confirmed with the code of the step before (authd accepts it), so the
    // user has the current step left for the run; tried once more if the
    // step moved on meanwhile.
    let mut tries = 0;
    loop {
        let user = MfaUser {
            email: email.to_owned(),
            totp: totp.clone(),
            last_step: None,
        };
        let step = user.free_step(now()).unwrap_or_default();
        let response = client
            .post(target.url("/auth/mfa/totp/confirm"))
            .bearer_auth(&access.access_token)
            .json(&json!({ "code": totp.generate(step * STEP_SECS) }))
            .send()
            .await
            .context("confirm TOTP")?;
        if response.status().is_success() {
            return Ok(MfaUser {
                last_step: Some(step),
                ..user
            });
        }
        tries += 1;
        if tries == 2 {
            bail!("confirm TOTP {email}: {}", error_kind(response).await);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_signs_in_twice_in_its_first_step_then_once_a_step() {
        let mut user = MfaUser {
            email: String::new(),
            totp: TOTP::new(Algorithm::SHA1, 6, 0, STEP_SECS, vec![7; 20]).unwrap(),
            last_step: Some(8),
        };
        let at = |current, late| Now { current, late };
        assert_eq!(user.free_step(at(10, false)), Some(9));
        // Late in step 10, only step 10.
        assert_eq!(user.free_step(at(10, true)), Some(10));
        user.last_step = Some(9);
        assert_eq!(user.free_step(at(10, false)), Some(10));
        user.last_step = Some(10);
        assert_eq!(user.free_step(at(10, false)), None);
        assert_eq!(user.free_step(at(11, false)), Some(11));
    }
}
