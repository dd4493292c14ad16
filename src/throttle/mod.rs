//! Abuse limits: failed logins counted per account and per client IP in the
//! database (`login`), per-client request limits in memory (`limiter`), and
//! who the client is (`client_ip`).

mod client_ip;
mod limiter;
mod login;

pub use client_ip::{InvalidForwardedFor, client_ip, client_key};
pub use limiter::RateLimiter;
pub use login::{Keys, LoginThrottle, Reservation, lockout};
