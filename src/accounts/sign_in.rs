//! The end every sign-in shares, whatever proved the user (a password, an
//! emailed code, a reset): the session started under the per-user cap, the
//! `login_succeeded` event, the commit, the login metric and the log of the
//! sessions the cap ended. Each flow checks its own proof, settles its own
//! throttle and tokens in the transaction, and then hands it here.
//!
//! A sign-in ends as an outcome ([`SignIn`]), not a session: when the user
//! has a confirmed second factor and none was shown yet, the first proof
//! ends here as a challenge (`factors::challenge`) and no session starts,
//! whichever flow proved it; `accounts::second_factor::verify` comes back
//! here with the second factor among the methods. With `mfa.required`
//! (`factors::policy`), a user without a confirmed factor gets an enrolment
//! challenge instead (`SignIn::EnrolFactor`), and `accounts::enrolment`
//! comes back here with the newly confirmed factor among the methods.

use uuid::Uuid;

use crate::audit::{self, AuditEvent, AuditKind, RequestMeta};
use crate::error::ServiceError;
use crate::factors::{self, Challenge, challenge::Pending, challenge::Purpose};
use crate::services::Services;
use crate::sessions::{self, Methods, Session};
use crate::store::{self, Tx};

/// How a sign-in ended.
///
/// Room is kept for `Consent` (the user is known, and a client asks for
/// scopes not yet granted), added with the flow that produces it.
// One value per sign-in, moved once to its answer: boxing the session
// would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum SignIn {
    /// The user is signed in: the session started.
    Complete(Session),
    /// The proof was right, and the account asks for a second factor before
    /// any session starts: the challenge to answer it with.
    SecondFactor(Challenge),
    /// The proof was right, `mfa.required` is on, and the user has no
    /// second factor: the enrolment challenge to enrol one with
    /// (`accounts::enrolment`), which finishes the sign-in.
    EnrolFactor(Challenge),
}

/// Who signed in, and how: what [`sign_in`] starts a session from.
///
/// `start` says which kind of session the sign-in starts: a refresh-token
/// family (`sessions::start`, the JSON API) or a browser session at authd
/// (`sessions::browser::start`, the hosted login page), with the same tail.
pub(super) struct Proven {
    pub user: Uuid,
    pub start: Start,
    /// What proved the user, kept on the session (its tokens' `amr`).
    pub methods: Methods,
    /// The audit detail of `login_succeeded` (none for a password login).
    pub detail: Option<String>,
    /// What the log line of the sign-in says.
    pub log: &'static str,
}

/// Which session a sign-in starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// A refresh-token family: the JSON API's sign-ins.
    Refresh,
    /// A browser session at authd (the `__Host-authd_session` cookie): the
    /// hosted login page's.
    Browser,
}

impl Start {
    /// As a challenge stores it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Refresh => "refresh",
            Self::Browser => "browser",
        }
    }
}

/// Whether the first proof of `user` settled in `tx` leaves a second factor
/// due: then the account's failed-login counts are NOT cleared by it (a
/// right password must not wipe out the wrong codes counted before it), only
/// by the second factor.
pub(super) async fn clears_failures(tx: &mut Tx<'_>, user: Uuid) -> Result<bool, ServiceError> {
    Ok(!factors::due(tx, user).await?)
}

/// What a sign-in by `methods` still needs before a session starts: the
/// user's second factor (a confirmed one exists), or, under `mfa.required`,
/// a factor enrolled (none exists); nothing once a second factor is among
/// the methods.
async fn still_due(
    svc: &Services,
    tx: &mut Tx<'_>,
    user: Uuid,
    methods: &Methods,
) -> Result<Option<Purpose>, ServiceError> {
    if methods.has_second_factor() {
        return Ok(None);
    }
    if factors::due(tx, user).await? {
        return Ok(Some(Purpose::SignIn));
    }
    Ok(factors::policy::required(svc).then_some(Purpose::Enrol))
}

/// Records the refusal of a disabled account's sign-in (`login_failed`,
/// detail `account_disabled`) and returns it; a failure to record it is the
/// answer instead.
async fn disabled(
    svc: &Services,
    refused: ServiceError,
    proven: &Proven,
    meta: &RequestMeta,
) -> ServiceError {
    let record = async {
        let mut tx = svc.store.begin().await?;
        let event = AuditEvent::new(
            AuditKind::LoginFailed,
            Some(proven.user),
            None,
            meta,
            svc.now(),
        )
        .with_detail("account_disabled");
        audit::record(&mut tx, &event).await?;
        tx.commit().await?;
        Ok::<_, ServiceError>(())
    };
    if let Err(e) = record.await {
        return e;
    }
    svc.metrics
        .logins
        .with_label_values(&["account_disabled"])
        .inc();
    tracing::info!(user = %proven.user, "{}: refused, the account is disabled", proven.log);
    refused
}

/// Starts the session of `proven` in `tx` (which the caller has settled its
/// proof in), audits it and commits; then counts the login and logs the
/// sessions the per-user cap ended.
///
/// A disabled account (`accounts::disable`) is refused first, under the
/// user's lock, with `AccountDisabled`, and `tx` rolled back.
///
/// Unless a second factor is among its methods, a user with a confirmed
/// second factor gets no session: a challenge bound to the user's current
/// credential version (read under the lock the caller holds) is stored in
/// `tx` instead, and the sign-in ends as [`SignIn::SecondFactor`]; under
/// `mfa.required`, a user with none gets an enrolment challenge the same
/// way ([`SignIn::EnrolFactor`]).
pub(super) async fn sign_in(
    svc: &Services,
    mut tx: Tx<'_>,
    proven: Proven,
    meta: &RequestMeta,
) -> Result<SignIn, ServiceError> {
    let user = proven.user;
    let now = svc.now();
    let version = store::users::lock(&mut tx, user)
        .await?
        .ok_or_else(|| ServiceError::internal(anyhow::anyhow!("the user is gone")))?;
    if let Err(refused) = super::disable::refuse_if_disabled(&mut tx, user).await {
        // What the flow settled in `tx` (a code spent, a password reset) is
        // dropped with it: a disabled account changes nothing by signing in.
        drop(tx);
        return Err(disabled(svc, refused, &proven, meta).await);
    }
    if let Some(purpose) = still_due(svc, &mut tx, user, &proven.methods).await? {
        let pending = Pending {
            user,
            credential_version: version,
            start: proven.start.name(),
            methods: &proven.methods,
            detail: proven.detail.as_deref(),
            purpose,
        };
        let challenge = factors::challenge::issue(&mut tx, pending, now).await?;
        tx.commit().await?;
        return Ok(match purpose {
            Purpose::SignIn => {
                svc.metrics
                    .logins
                    .with_label_values(&["mfa_required"])
                    .inc();
                tracing::info!(user = %user, "{}: a second factor is due", proven.log);
                SignIn::SecondFactor(challenge)
            }
            Purpose::Enrol => {
                svc.metrics
                    .logins
                    .with_label_values(&["mfa_enrollment_required"])
                    .inc();
                tracing::info!(user = %user, "{}: mfa.required, a second factor must be enrolled", proven.log);
                SignIn::EnrolFactor(challenge)
            }
        });
    }
    let started = match proven.start {
        Start::Refresh => {
            sessions::start(&mut tx, &svc.policy, user, now, meta, proven.methods).await?
        }
        Start::Browser => {
            sessions::browser::start(&mut tx, svc, user, now, meta, proven.methods).await?
        }
    };
    let session = started.session;
    let mut event = AuditEvent::new(
        AuditKind::LoginSucceeded,
        Some(user),
        Some(session.id),
        meta,
        now,
    );
    if let Some(detail) = &proven.detail {
        event = event.with_detail(detail.as_str());
    }
    audit::record(&mut tx, &event).await?;
    tx.commit().await?;
    svc.metrics.logins.with_label_values(&["ok"]).inc();
    if started.evicted > 0 {
        tracing::info!(user = %user, evicted = started.evicted, "session cap reached: the oldest sessions ended");
        svc.metrics
            .revoked(sessions::logout::reasons::SESSION_LIMIT, started.evicted);
    }
    tracing::info!(user = %user, session = %session.id, "{}", proven.log);
    Ok(SignIn::Complete(session))
}
