//! Abuse limits: failed logins counted per account and per client IP in the
//! database (`login`), per-client request limits in memory (`limiter`, and
//! the services' own in `clients`), and who the client is (`client_ip`).

mod client_ip;
mod clients;
mod limiter;
mod login;

pub use client_ip::{InvalidForwardedFor, client_bucket, client_ip, client_key};
pub use clients::ClientLimits;
pub use limiter::RateLimiter;
pub use login::{Keys, LoginThrottle, Reservation, lockout};
