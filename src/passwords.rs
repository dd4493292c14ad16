//! Argon2id password hashing off the async workers, on a few threads of its
//! own, with a bounded number of hashes in flight and a bounded queue in front.
//!
//! Why dedicated threads and not `spawn_blocking`: each Argon2id run allocates
//! `m_cost` KiB (19 MiB with the OWASP parameters). On tokio's blocking pool a
//! flood spreads those runs over dozens of threads, and glibc keeps a heap
//! arena per thread that does not shrink: a login flood measured 759 MB of
//! peak resident memory with two hashes in flight. A fixed set of threads
//! bounds that to about one `m_cost` per thread.
//!
//! Each hashing thread keeps its Argon2id memory from one hash to the next
//! and lets it go after a second without work. glibc is told to return large
//! blocks to the system at once (see `main.rs`), so a block allocated per hash
//! was mapped and page-faulted anew every time: that cost about 45% of the
//! hashing rate. Reused, it is faulted in once per burst of logins, and idle
//! memory still goes back to the system.
//!
//! A request that will hash takes its place first ([`Hasher::admit`]): a
//! place is a slot or a seat in the queue, and when there is none the request
//! is refused (503) before it does any other work. A login flood then costs
//! the database only the logins that will be hashed: the others never count
//! their attempt, read the account or write an audit event.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use argon2::password_hash::phc::{Output, ParamsString, Salt};
use argon2::{Algorithm, Argon2, Block, Params, PasswordHash, Version};
use secrecy::ExposeSecret;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tracing::Span;

use crate::config::PasswordSettings;
use crate::domain::Password;

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// Every hashing slot is busy and the queue is full: the caller answers 503.
    #[error("password hashing is saturated")]
    Overloaded,
    #[error("password hashing failed: {0}")]
    Failed(String),
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub ok: bool,
    /// The stored hash used other parameters than the configured ones: the
    /// caller stores this new hash (computed from the same password).
    pub rehash: Option<String>,
}

/// A place taken among the hashes a [`Hasher`] has taken on (running, or
/// waiting for a slot): see [`Hasher::admit`]. It goes back when the last
/// clone is dropped; a hash it runs holds a clone until the hash ends, so a
/// client that disconnects does not free the place while its hash still runs.
#[derive(Clone)]
pub struct Admission {
    _place: Arc<OwnedSemaphorePermit>,
}

/// Hashes and verifies passwords on authd's own hashing threads (see the
/// module comment for why not tokio's blocking pool).
pub struct Hasher {
    params: Params,
    slots: Arc<Semaphore>,
    /// Places: the slots and the queue in front of them
    /// (`password.max_queued_hashes`).
    places: Arc<Semaphore>,
    pool: flume::Sender<Job>,
    waiting: AtomicUsize,
    /// Argon2id runs done for callers (hashes, verifications and rehashes).
    runs: Arc<AtomicU64>,
    /// A hash of a random password with the configured parameters, verified when
    /// the email is unknown so both failures take the same time.
    dummy: String,
}

impl Hasher {
    pub fn new(settings: &PasswordSettings) -> Result<Self, HashError> {
        let params = Params::new(
            settings.argon2_m_cost,
            settings.argon2_t_cost,
            settings.argon2_p_cost,
            None,
        )
        .map_err(|e| HashError::Failed(e.to_string()))?;
        let slots = match settings.max_concurrent_hashes {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let mut random = [0u8; 32];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut random)
            .map_err(|_| HashError::Failed("no randomness".into()))?;
        // Hashed here, on the caller's thread, with memory of its own.
        // Not counted in `runs`, which counts the work done for callers.
        let dummy = hash_password(
            &params,
            &hex(&random),
            &mut fresh_memory(&params),
            &AtomicU64::new(0),
        )?;
        let places = slots
            .saturating_add(settings.max_queued_hashes)
            .min(Semaphore::MAX_PERMITS);
        Ok(Self {
            params,
            slots: Arc::new(Semaphore::new(slots)),
            places: Arc::new(Semaphore::new(places)),
            pool: start_pool(slots)?,
            waiting: AtomicUsize::new(0),
            runs: Arc::new(AtomicU64::new(0)),
            dummy,
        })
    }

    /// Hash requests waiting for a slot right now (admitted requests still
    /// doing their work before the hash are not counted).
    pub fn queue_depth(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Takes a place for the hashes of one request, or refuses it at once
    /// with `Overloaded` when every slot is busy and the queue is full.
    ///
    /// Taken before the request's other work (the throttle's count, the
    /// account's read), so that what cannot be hashed now is refused before it
    /// touches the database; then [`Self::verify_admitted`] and
    /// [`Self::hash_admitted`] run under the place. The place is held until
    /// the admission is dropped: drop it once the hashing is done.
    pub fn admit(&self) -> Result<Admission, HashError> {
        self.places
            .clone()
            .try_acquire_owned()
            .map(|place| Admission {
                _place: Arc::new(place),
            })
            .map_err(|_| HashError::Overloaded)
    }

    /// Argon2id runs done so far for callers: one per hash, one per
    /// verification (against the dummy hash too), one more per rehash. A
    /// verification that fails before hashing (a corrupt stored hash) is not a run.
    pub fn runs(&self) -> u64 {
        self.runs.load(Ordering::Relaxed)
    }

    /// Hashes `password` under a place of its own: `Overloaded` at once when
    /// there is none.
    pub async fn hash(&self, password: &Password) -> Result<String, HashError> {
        let admission = self.admit()?;
        self.hash_admitted(&admission, password).await
    }

    /// Hashes `password` under `admission`'s place.
    pub async fn hash_admitted(
        &self,
        admission: &Admission,
        password: &Password,
    ) -> Result<String, HashError> {
        let params = self.params.clone();
        let password = zeroizing(password.expose());
        let runs = self.runs.clone();
        self.run(admission, move || {
            with_thread_memory(&params, |memory| {
                hash_password(&params, password.expose_secret(), memory, &runs)
            })
        })
        .await
    }

    /// A hash no password is known for (the dummy's: a random password hashed
    /// at start-up and never kept), for an account whose password is
    /// withdrawn: a login with it costs one Argon2id run, like any other, and
    /// no password matches. Costs nothing now.
    pub fn unusable_hash(&self) -> String {
        self.dummy.clone()
    }

    /// Verifies `password` against `stored`, or against the dummy hash when there
    /// is no stored hash (unknown user), so both cases cost one Argon2id run.
    /// Under a place of its own: `Overloaded` at once when there is none.
    pub async fn verify(
        &self,
        password: &Password,
        stored: Option<&str>,
    ) -> Result<Verified, HashError> {
        let admission = self.admit()?;
        self.verify_admitted(&admission, password, stored).await
    }

    /// [`Self::verify`] under `admission`'s place.
    pub async fn verify_admitted(
        &self,
        admission: &Admission,
        password: &Password,
        stored: Option<&str>,
    ) -> Result<Verified, HashError> {
        let known = stored.is_some();
        let stored = stored.unwrap_or(&self.dummy).to_owned();
        let params = self.params.clone();
        let password = zeroizing(password.expose());
        let runs = self.runs.clone();
        self.run(admission, move || {
            let Ok(parsed) = PasswordHash::new(&stored) else {
                // A corrupt stored hash must not crash the request; it fails closed.
                return Ok(Verified {
                    ok: false,
                    rehash: None,
                });
            };
            let ok = verify_password(password.expose_secret(), &parsed, &runs)? && known;
            let outdated = parsed.algorithm != argon2::ARGON2ID_IDENT
                || Params::try_from(&parsed).map_or(true, |p| {
                    p.m_cost() != params.m_cost()
                        || p.t_cost() != params.t_cost()
                        || p.p_cost() != params.p_cost()
                });
            let rehash = if ok && outdated {
                Some(with_thread_memory(&params, |memory| {
                    hash_password(&params, password.expose_secret(), memory, &runs)
                })?)
            } else {
                None
            };
            Ok(Verified { ok, rehash })
        })
        .await
    }

    /// Runs `work` on a hashing thread once a slot is free. The admitted
    /// requests are at most the slots and the queue, so this waits for at
    /// most the queue's hashes ahead of it.
    async fn run<T: Send + 'static>(
        &self,
        admission: &Admission,
        work: impl FnOnce() -> Result<T, HashError> + Send + 'static,
    ) -> Result<T, HashError> {
        let permit = match self.slots.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                // Counted as waiting until it has a slot, even if the
                // request is dropped meanwhile.
                let _waiting = WaitingGuard::enter(&self.waiting);
                self.slots
                    .clone()
                    .acquire_owned()
                    .await
                    .map_err(|_| HashError::Failed("hashing pool closed".into()))?
            }
        };
        let span = Span::current();
        let (done, result) = tokio::sync::oneshot::channel();
        // The slot and the place move into the job: a client that
        // disconnects does not free either while its hash is still running.
        // Holding a slot means one of the pool's threads is free, so the job
        // does not wait in the channel. Both go back before the result is
        // sent, so the caller's next request finds them free.
        let place = admission.clone();
        let job: Job = Box::new(move || {
            let result = span.in_scope(work);
            drop(permit);
            drop(place);
            let _ = done.send(result);
        });
        self.pool
            .send(job)
            .map_err(|_| HashError::Failed("hashing pool stopped".into()))?;
        result
            .await
            .map_err(|_| HashError::Failed("hashing thread ended".into()))?
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// How long a hashing thread keeps its Argon2id memory without work.
const KEEP_MEMORY_IDLE: Duration = Duration::from_secs(1);

/// `threads` threads taking jobs from one channel; they end when the sender is
/// dropped with its `Hasher`. A thread idle for `KEEP_MEMORY_IDLE` releases its
/// hashing memory.
fn start_pool(threads: usize) -> Result<flume::Sender<Job>, HashError> {
    let (sender, receiver) = flume::unbounded::<Job>();
    for i in 0..threads {
        let receiver = receiver.clone();
        std::thread::Builder::new()
            .name(format!("authd-hash-{i}"))
            .spawn(move || {
                lower_priority();
                loop {
                    match receiver.recv_timeout(KEEP_MEMORY_IDLE) {
                        Ok(job) => job(),
                        Err(flume::RecvTimeoutError::Timeout) => release_thread_memory(),
                        Err(flume::RecvTimeoutError::Disconnected) => return,
                    }
                }
            })
            .map_err(|e| HashError::Failed(format!("cannot start a hashing thread: {e}")))?;
    }
    Ok(sender)
}

thread_local! {
    /// A hashing thread's Argon2id memory, kept between hashes.
    static MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Runs `work` with this thread's Argon2id memory, sized for `params`.
fn with_thread_memory<T>(params: &Params, work: impl FnOnce(&mut [Block]) -> T) -> T {
    MEMORY.with(|memory| {
        let mut memory = memory.borrow_mut();
        if memory.len() != params.block_count() {
            *memory = fresh_memory(params);
        }
        work(&mut memory)
    })
}

fn release_thread_memory() {
    MEMORY.with(|memory| *memory.borrow_mut() = Vec::new());
}

fn fresh_memory(params: &Params) -> Vec<Block> {
    vec![Block::new(); params.block_count()]
}

/// Gives the calling hashing thread a lower CPU priority (nice 10): under a login
/// flood, refresh, JWKS and token checks on the HTTP workers run first, and
/// hashing takes the CPU time they leave.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority changes only the scheduling priority; on Linux,
    // `who` 0 with PRIO_PROCESS names the calling thread. A failure leaves the
    // priority unchanged, which is harmless.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, 10);
    }
}

/// One request waiting for a hashing slot.
struct WaitingGuard<'a>(&'a AtomicUsize);

impl<'a> WaitingGuard<'a> {
    fn enter(waiting: &'a AtomicUsize) -> Self {
        waiting.fetch_add(1, Ordering::AcqRel);
        Self(waiting)
    }
}

impl Drop for WaitingGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Characters of a password that the strength estimator reads: its cost grows
/// with length, and a longer password is past guessing by dictionary anyway.
const STRENGTH_PREFIX_CHARS: usize = 64;

/// Why a new password is refused as too easy to guess, or `None` if it is not:
/// zxcvbn's estimate (common-password lists of about 30,000 entries per
/// language, names, keyboard patterns, dates, the user's own email) must reach
/// `min_score` (0 to 4; 2 means more than 10^6 guesses).
pub fn weakness(password: &str, email: &str, min_score: u8) -> Option<String> {
    if min_score == 0 {
        return None;
    }
    let prefix: String = password.chars().take(STRENGTH_PREFIX_CHARS).collect();
    let (local, domain) = email.split_once('@').unwrap_or((email, ""));
    let estimate = zxcvbn::zxcvbn(&prefix, &[email, local, domain]);
    if u8::from(estimate.score()) >= min_score {
        return None;
    }
    let warning = estimate
        .feedback()
        .and_then(|f| f.warning())
        .map(|w| w.to_string())
        .unwrap_or_else(|| "it is too easy to guess".into());
    Some(format!("password is too easy to guess: {warning}"))
}

/// An Argon2id PHC string of `password` under `params` with a fresh salt,
/// computed in `memory`; counted in `runs`.
fn hash_password(
    params: &Params,
    password: &str,
    memory: &mut [Block],
    runs: &AtomicU64,
) -> Result<String, HashError> {
    let failed = |e: &dyn std::fmt::Display| HashError::Failed(e.to_string());
    let mut salt = [0u8; argon2::RECOMMENDED_SALT_LEN];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut salt)
        .map_err(|_| HashError::Failed("no randomness".into()))?;
    let mut output = [0u8; Params::DEFAULT_OUTPUT_LEN];
    runs.fetch_add(1, Ordering::Relaxed);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password_into_with_memory(password.as_bytes(), &salt, &mut output, memory)
        .map_err(|e| failed(&e))?;
    let phc = PasswordHash {
        algorithm: argon2::ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params).map_err(|e| failed(&e))?,
        salt: Some(Salt::new(&salt).map_err(|e| failed(&e))?),
        hash: Some(Output::new(&output).map_err(|e| failed(&e))?),
    };
    Ok(phc.to_string())
}

/// Whether `password` matches the stored hash, computed with the stored
/// algorithm, version and parameters in this thread's memory (or memory of its
/// own when the stored parameters differ from the configured ones). The
/// outputs are compared in constant time (`Output`'s equality). Counted in
/// `runs` when it gets as far as hashing.
fn verify_password(
    password: &str,
    stored: &PasswordHash,
    runs: &AtomicU64,
) -> Result<bool, HashError> {
    let (Some(salt), Some(expected)) = (&stored.salt, &stored.hash) else {
        return Ok(false);
    };
    let Ok(algorithm) = Algorithm::try_from(stored.algorithm.as_str()) else {
        return Ok(false);
    };
    let version = match stored.version.map(Version::try_from) {
        None => Version::default(),
        Some(Ok(v)) => v,
        Some(Err(_)) => return Ok(false),
    };
    let Ok(params) = Params::try_from(stored) else {
        return Ok(false);
    };
    let mut output = vec![0u8; expected.len()];
    let argon = Argon2::new(algorithm, version, params.clone());
    runs.fetch_add(1, Ordering::Relaxed);
    let computed = with_thread_memory(&params, |memory| {
        argon.hash_password_into_with_memory(password.as_bytes(), salt, &mut output, memory)
    });
    if computed.is_err() {
        return Ok(false);
    }
    Ok(Output::new(&output).is_ok_and(|o| o == *expected))
}

/// A copy of the password that is wiped when dropped.
fn zeroizing(s: &str) -> secrecy::SecretString {
    secrecy::SecretString::from(s.to_owned())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::{PasswordHasher, PasswordVerifier};

    fn small() -> Params {
        Params::new(1024, 1, 1, None).unwrap()
    }

    #[test]
    fn hashes_made_with_reused_memory_are_standard_phc_strings_both_ways() {
        let params = small();
        let runs = AtomicU64::new(0);
        let ours = with_thread_memory(&params, |m| {
            hash_password(&params, "hunter2 hunter2", m, &runs)
        })
        .unwrap();
        assert!(ours.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"), "{ours}");
        // The argon2 crate's own verifier accepts ours...
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(argon.verify_password(b"hunter2 hunter2", &parsed).is_ok());
        // ...and ours accepts the crate's, with other parameters too.
        let other = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(2048, 2, 1, None).unwrap(),
        );
        let theirs = other.hash_password(b"hunter2 hunter2").unwrap().to_string();
        let theirs = PasswordHash::new(&theirs).unwrap();
        assert!(verify_password("hunter2 hunter2", &theirs, &runs).unwrap());
        assert!(!verify_password("hunter3 hunter3", &theirs, &runs).unwrap());
        // The same memory serves the next hash: a wrong password still fails.
        assert!(verify_password("hunter2 hunter2", &parsed, &runs).unwrap());
        assert!(!verify_password("Hunter2 hunter2", &parsed, &runs).unwrap());
        let again = with_thread_memory(&params, |m| {
            hash_password(&params, "hunter2 hunter2", m, &runs)
        })
        .unwrap();
        assert_ne!(again, ours, "every hash has a fresh salt");
        assert_eq!(
            runs.load(Ordering::Relaxed),
            6,
            "2 hashes and 4 verifications"
        );
        release_thread_memory();
        MEMORY.with(|m| assert!(m.borrow().is_empty()));
    }

    #[test]
    fn a_stored_hash_with_missing_parts_fails_closed() {
        let params = small();
        let runs = AtomicU64::new(0);
        let full = with_thread_memory(&params, |m| hash_password(&params, "pw pw pw pw", m, &runs))
            .unwrap();
        let mut parsed = PasswordHash::new(&full).unwrap();
        parsed.hash = None;
        assert!(!verify_password("pw pw pw pw", &parsed, &runs).unwrap());
        assert_eq!(
            runs.load(Ordering::Relaxed),
            1,
            "only the hash ran Argon2id"
        );
    }

    #[test]
    fn common_passwords_are_weak_and_passphrases_are_not() {
        for weak in [
            "password",
            "password123",
            "qwerty123",
            "123456789",
            "iloveyou",
            "letmein1",
            "dragon2020",
            "alice2024",
        ] {
            assert!(weakness(weak, "alice@example.com", 2).is_some(), "{weak}");
        }
        for strong in [
            "correct horse battery staple",
            "vX9#qL2!mR7@tB4z",
            "tangerine submarine velvet 42",
        ] {
            assert_eq!(weakness(strong, "alice@example.com", 2), None, "{strong}");
        }
        // The user's own email is a guess too.
        assert!(weakness("alice@example.com", "alice@example.com", 2).is_some());
        assert_eq!(
            weakness("password", "alice@example.com", 0),
            None,
            "0 turns the check off"
        );
        let message = weakness("password123", "alice@example.com", 2).unwrap();
        assert!(!message.contains("password123"), "{message}");
    }
}
