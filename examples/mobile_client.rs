//! A native client of authd, written the way a mobile or desktop app should be.
//!
//! It logs in with body delivery, keeps its tokens in a state file only its user
//! can read (the stand-in for the platform's secure storage), refreshes shortly
//! before the access token expires, retries a refresh whose answer was lost with
//! the same refresh token, and logs out. A forgotten password is reset with
//! the code the reset email carries (an app cannot rely on opening the link).
//!
//!   cargo run --example mobile_client -- --state app.json login --email ada@example.com
//!       (the password from `--password` or, kept out of shell history, `AUTHD_PASSWORD`)
//!   cargo run --example mobile_client -- --state app.json call [/auth/me]
//!   cargo run --example mobile_client -- --state app.json logout
//!   cargo run --example mobile_client -- forgot --email ada@example.com
//!   cargo run --example mobile_client -- --state app.json reset --email ada@example.com --code 12345678
//!       (the new password from `--new-password` or `AUTHD_NEW_PASSWORD`)
//!
//! `--base-url` (or `AUTHD_URL`) names the server, http://127.0.0.1:8080 by default.
//!
//! Exit codes: 0 done; 1 failed (server unreachable, an unexpected answer; the
//! tokens are kept); 2 usage; 3 signed out (the session has ended: log in again).
//!
//! Why a lost refresh answer is retried with the same token: authd rotates the
//! token as soon as it accepts it, so a client whose answer was lost holds a
//! spent token. Presented again within `refresh.reuse_interval_secs` (10 s) of the
//! rotation, authd's grace rule answers with the new token it had sent, and the
//! client carries on. Presented later, it counts as reuse of a stolen token and
//! signs the user out everywhere; so every retry starts within 8 s of the first
//! attempt, and past that the client stops and reports the failure.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::{Parser, Subcommand};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, WWW_AUTHENTICATE};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The exit code that means "signed out: log in again".
const SIGNED_OUT: u8 = 3;
/// Every refresh attempt starts this soon after the first, inside authd's
/// 10-second grace window with room for the request's own travel.
const REFRESH_BUDGET: Duration = Duration::from_secs(8);
const REFRESH_ATTEMPTS: u32 = 5;
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(3);
const FIRST_BACKOFF: Duration = Duration::from_millis(200);

#[derive(Parser)]
#[command(about = "A native client of authd: log in, call protected endpoints, log out")]
struct Cli {
    /// authd's base URL.
    #[arg(
        long,
        env = "AUTHD_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    base_url: String,
    /// Where the tokens are kept (created with mode 0600).
    #[arg(
        long,
        env = "AUTHD_STATE",
        default_value = "authd-session.json",
        global = true
    )]
    state: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Log in and store the tokens.
    Login {
        #[arg(long)]
        email: String,
        /// Better given as AUTHD_PASSWORD, so it stays out of shell history.
        #[arg(long, env = "AUTHD_PASSWORD", hide_env_values = true)]
        password: String,
    },
    /// Call a protected endpoint with the stored access token, refreshing it
    /// when needed.
    Call {
        #[arg(default_value = "/auth/me")]
        path: String,
        /// Refresh first when the access token expires within this many seconds.
        #[arg(long, default_value_t = 60)]
        refresh_margin_secs: u64,
    },
    /// End the session and delete the stored tokens.
    Logout,
    /// Ask for a password-reset email (the answer is the same for every address).
    Forgot {
        #[arg(long)]
        email: String,
    },
    /// Set a new password with the code of the reset email. Every session of
    /// the account ends: the stored tokens are deleted (or replaced, when the
    /// server signs in on reset).
    Reset {
        #[arg(long)]
        email: String,
        #[arg(long)]
        code: String,
        /// Better given as AUTHD_NEW_PASSWORD, so it stays out of shell history.
        #[arg(long, env = "AUTHD_NEW_PASSWORD", hide_env_values = true)]
        new_password: String,
    },
}

/// What the state file holds. No `Debug`: it would print the tokens.
#[derive(Serialize, Deserialize)]
struct Stored {
    refresh_token: String,
    access_token: String,
    /// Unix seconds, by this device's clock.
    access_expires_at: u64,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: u64,
    refresh_token: String,
}

enum Failure {
    /// The session has ended; the stored tokens are worthless.
    SignedOut(String),
    Other(String),
}

type Outcome<T> = Result<T, Failure>;

struct Client {
    http: reqwest::Client,
    base_url: String,
    state: PathBuf,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let http = match reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(2))
        .build()
    {
        Ok(http) => http,
        Err(e) => {
            eprintln!("error: HTTP client: {e}");
            return ExitCode::FAILURE;
        }
    };
    let client = Client {
        http,
        base_url: cli.base_url.trim_end_matches('/').to_owned(),
        state: cli.state,
    };
    let outcome = match cli.command {
        Command::Login { email, password } => client.login(&email, &password).await,
        Command::Call {
            path,
            refresh_margin_secs,
        } => client.call(&path, refresh_margin_secs).await,
        Command::Logout => client.logout().await,
        Command::Forgot { email } => client.forgot(&email).await,
        Command::Reset {
            email,
            code,
            new_password,
        } => client.reset(&email, &code, &new_password).await,
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::SignedOut(why)) => {
            eprintln!("signed out: {why}; log in again");
            ExitCode::from(SIGNED_OUT)
        }
        Err(Failure::Other(why)) => {
            eprintln!("error: {why}");
            ExitCode::FAILURE
        }
    }
}

impl Client {
    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    async fn login(&self, email: &str, password: &str) -> Outcome<()> {
        let sent_at = unix_now();
        let reply = exchange(self.http.post(self.url("/auth/login")).json(&json!({
            "email": email, "password": password, "token_delivery": "body",
        })))
        .await
        .map_err(|e| Failure::Other(format!("login: {e}")))?;
        if reply.status != StatusCode::OK {
            return Err(Failure::Other(format!(
                "login refused: {}",
                reply.describe()
            )));
        }
        let tokens = reply.tokens()?;
        self.store(&tokens, sent_at)?;
        println!(
            "signed in as {email}; refresh token {} stored in {} (access token valid {} s)",
            prefix(&tokens.refresh_token),
            self.state.display(),
            tokens.expires_in
        );
        Ok(())
    }

    async fn call(&self, path: &str, margin_secs: u64) -> Outcome<()> {
        let mut stored = self.load()?;
        let left = stored.access_expires_at.saturating_sub(unix_now());
        if left <= margin_secs {
            eprintln!("access token expires in {left} s: refreshing");
            stored = self.refresh(&stored).await?;
        }
        let mut reply = self.get(path, &stored.access_token).await?;
        if reply.status == StatusCode::UNAUTHORIZED && reply.is_invalid_token() {
            // Expired by the server's clock, or its key was rotated: one refresh,
            // one retry. A refresh answered `invalid_grant` means signed out.
            eprintln!("authd refused the access token: refreshing");
            stored = self.refresh(&stored).await?;
            reply = self.get(path, &stored.access_token).await?;
        }
        if !reply.status.is_success() {
            return Err(Failure::Other(format!("{path}: {}", reply.describe())));
        }
        println!("{}", reply.status);
        match serde_json::to_string_pretty(&reply.body) {
            Ok(pretty) if !reply.body.is_null() => println!("{pretty}"),
            _ => {}
        }
        Ok(())
    }

    async fn get(&self, path: &str, access: &str) -> Outcome<Reply> {
        exchange(self.http.get(self.url(path)).bearer_auth(access))
            .await
            .map_err(|e| Failure::Other(format!("{path}: {e}")))
    }

    /// Rotates the refresh token and stores the new pair before anything else
    /// happens, so a crash cannot leave the file holding a spent token.
    async fn refresh(&self, stored: &Stored) -> Outcome<Stored> {
        let sent_at = unix_now();
        let reply = self
            .post_retrying("/auth/refresh", &stored.refresh_token)
            .await?;
        match reply.status {
            StatusCode::OK => {
                let tokens = reply.tokens()?;
                let fresh = self.store(&tokens, sent_at)?;
                eprintln!(
                    "refreshed: refresh token {} replaces {}",
                    prefix(&fresh.refresh_token),
                    prefix(&stored.refresh_token)
                );
                Ok(fresh)
            }
            StatusCode::UNAUTHORIZED if reply.error() == "invalid_grant" => {
                self.forget()?;
                Err(Failure::SignedOut(
                    "authd refused the refresh token (logged out, expired or revoked); \
                     the stored tokens are deleted"
                        .into(),
                ))
            }
            _ => Err(Failure::Other(format!("refresh: {}", reply.describe()))),
        }
    }

    async fn logout(&self) -> Outcome<()> {
        let stored = self.load()?;
        let reply = self
            .post_retrying("/auth/logout", &stored.refresh_token)
            .await?;
        match reply.status {
            StatusCode::NO_CONTENT => {
                self.forget()?;
                println!("logged out; the stored tokens are deleted");
                Ok(())
            }
            // Already over: a retried logout whose first answer was lost lands here too.
            StatusCode::UNAUTHORIZED if reply.error() == "invalid_grant" => {
                self.forget()?;
                println!("the session had already ended; the stored tokens are deleted");
                Ok(())
            }
            _ => Err(Failure::Other(format!("logout: {}", reply.describe()))),
        }
    }

    async fn forgot(&self, email: &str) -> Outcome<()> {
        let reply = exchange(
            self.http
                .post(self.url("/auth/password/forgot"))
                .json(&json!({ "email": email })),
        )
        .await
        .map_err(|e| Failure::Other(format!("forgot: {e}")))?;
        if reply.status != StatusCode::ACCEPTED {
            return Err(Failure::Other(format!("forgot: {}", reply.describe())));
        }
        println!("if {email} has an account, a reset code is on its way to it");
        Ok(())
    }

    async fn reset(&self, email: &str, code: &str, new_password: &str) -> Outcome<()> {
        let sent_at = unix_now();
        let reply = exchange(self.http.post(self.url("/auth/password/reset")).json(&json!({
            "email": email, "code": code, "new_password": new_password, "token_delivery": "body",
        })))
        .await
        .map_err(|e| Failure::Other(format!("reset: {e}")))?;
        match reply.status {
            // Every session of the account ended, this device's too.
            StatusCode::NO_CONTENT => {
                self.forget()?;
                println!("password reset; log in with the new password");
                Ok(())
            }
            // The server signs in on reset (`accounts.reset_signs_in`).
            StatusCode::OK => {
                self.store(&reply.tokens()?, sent_at)?;
                println!("password reset; signed in as {email}");
                Ok(())
            }
            _ => Err(Failure::Other(format!(
                "reset refused: {}",
                reply.describe()
            ))),
        }
    }

    /// Posts `{refresh_token}` to `path`. When no answer comes back (the
    /// connection broke, a timeout) or authd is briefly unavailable, it posts
    /// the SAME token again after a short backoff, every attempt starting within
    /// `REFRESH_BUDGET` of the first: inside the grace window the server answers
    /// with the token it sent in the lost answer.
    async fn post_retrying(&self, path: &str, refresh_token: &str) -> Outcome<Reply> {
        let started = Instant::now();
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 1;
        loop {
            let left = REFRESH_BUDGET.saturating_sub(started.elapsed());
            let request = self
                .http
                .post(self.url(path))
                .json(&json!({ "refresh_token": refresh_token }))
                .timeout(left.clamp(Duration::from_millis(100), ATTEMPT_TIMEOUT));
            let why = match exchange(request).await {
                Ok(reply) if !is_transient(reply.status) => return Ok(reply),
                Ok(reply) => reply.describe(),
                Err(e) => format!("no answer: {e}"),
            };
            if attempt >= REFRESH_ATTEMPTS || started.elapsed() + backoff >= REFRESH_BUDGET {
                return Err(Failure::Other(format!(
                    "{path} failed {attempt} times ({why}); the tokens are kept"
                )));
            }
            eprintln!(
                "{path} attempt {attempt}: {why}; retrying with the same refresh token in {} ms",
                backoff.as_millis()
            );
            tokio::time::sleep(backoff).await;
            backoff *= 2;
            attempt += 1;
        }
    }

    fn load(&self) -> Outcome<Stored> {
        let text = match std::fs::read_to_string(&self.state) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Failure::SignedOut(format!(
                    "no session stored in {}",
                    self.state.display()
                )));
            }
            Err(e) => return Err(Failure::Other(format!("{}: {e}", self.state.display()))),
        };
        serde_json::from_str(&text)
            .map_err(|e| Failure::Other(format!("{}: not a state file: {e}", self.state.display())))
    }

    fn store(&self, tokens: &TokenResponse, sent_at: u64) -> Outcome<Stored> {
        let stored = Stored {
            refresh_token: tokens.refresh_token.clone(),
            access_token: tokens.access_token.clone(),
            // From when the request left: errs on the early side.
            access_expires_at: sent_at + tokens.expires_in,
        };
        let text = serde_json::to_vec_pretty(&stored)
            .map_err(|e| Failure::Other(format!("state: {e}")))?;
        write_private(&self.state, &text)
            .map_err(|e| Failure::Other(format!("{}: {e}", self.state.display())))?;
        Ok(stored)
    }

    fn forget(&self) -> Outcome<()> {
        match std::fs::remove_file(&self.state) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Failure::Other(format!("{}: {e}", self.state.display()))),
        }
    }
}

/// Writes `contents` to `path` atomically (a temporary file renamed over it),
/// readable by the owner only: a reader sees the old pair or the new one.
fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(".tmp");
    let temporary = path.with_file_name(name);
    let _ = std::fs::remove_file(&temporary);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&temporary)?;
    file.write_all(contents)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&temporary, path)
}

/// A whole answer: a transport failure while reading the body counts as no
/// answer at all.
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

async fn exchange(request: reqwest::RequestBuilder) -> Result<Reply, reqwest::Error> {
    let response = request.send().await?;
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await?;
    Ok(Reply {
        status,
        headers,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
    })
}

impl Reply {
    fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or("")
    }

    fn is_invalid_token(&self) -> bool {
        self.error() == "invalid_token"
            || self
                .headers
                .get(WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.contains(r#"error="invalid_token""#))
    }

    fn describe(&self) -> String {
        match self.body["error_description"].as_str() {
            Some(text) => format!("{} {} ({text})", self.status, self.error()),
            None => self.status.to_string(),
        }
    }

    fn tokens(&self) -> Outcome<TokenResponse> {
        serde_json::from_value(self.body.clone()).map_err(|e| {
            Failure::Other(format!(
                "the token response lacks a field ({e}); is body delivery allowed?"
            ))
        })
    }
}

/// Answers after which the same token may be sent again: authd spent nothing,
/// or a proxy in front of it lost its answer.
fn is_transient(status: StatusCode) -> bool {
    matches!(
        status,
        StatusCode::BAD_GATEWAY | StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT
    )
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// What may be printed of a token: its first 6 characters.
fn prefix(token: &str) -> String {
    format!("{}…", token.chars().take(6).collect::<String>())
}
