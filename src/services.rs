//! The parts every service works with, built once at start-up and shared by
//! all workers: settings, the store, the clock, the password hasher, the token
//! makers, the rotation policy, the login throttle, the metrics and the mailer.
//!
//! Services are plain functions in `accounts`, `sessions` and `clients` that
//! take `&Services`; `http` holds one inside its `AppState`.

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
}

impl Services {
    /// The time every rule of a request is judged at.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }
}
