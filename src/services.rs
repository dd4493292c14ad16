//! The parts every service works with, built once at start-up
//! (`app::build_services`) and shared by all workers: settings, the store, the
//! clock, the password hasher, the token makers, the rotation policy, the
//! login throttle, the metrics, the mailer and the runner of work after the
//! answer.
//!
//! Services are plain functions in `accounts`, `sessions`, `mail` and
//! `cleanup` that take `&Services` (those of `clients` and `audit` need only
//! the store or the caller's transaction). One `Arc<Services>` is shared by
//! `http`'s `AppState`, the mail sender, the cleanup sweep and the tasks that
//! run after the answer.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::background::Background;
use crate::clock::Clock;
use crate::config::Settings;
use crate::mail::Mailer;
use crate::metrics::Metrics;
use crate::passwords::Hasher;
use crate::sessions::RotationPolicy;
use crate::store::Store;
use crate::throttle::{ClientLimits, LoginThrottle};
use crate::tokens::AccessTokens;
use crate::tokens::refresh::RefreshTokens;

pub struct Services {
    pub settings: Settings,
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub hasher: Hasher,
    pub access: AccessTokens,
    pub refresh: RefreshTokens,
    pub policy: RotationPolicy,
    pub throttle: LoginThrottle,
    /// The in-memory per-client limits of the code and hashing endpoints.
    pub client_limits: ClientLimits,
    pub metrics: Metrics,
    /// Templates, delivery and limits of email (`crate::mail`).
    pub mail: Mailer,
    /// Work done after the answer (`crate::background`).
    pub background: Background,
    /// Passkeys' relying party (`crate::factors::webauthn`); none when
    /// passkeys are off.
    pub webauthn: Option<webauthn_rs::prelude::Webauthn>,
}

impl Services {
    /// The time every rule of a request is judged at.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }
}
