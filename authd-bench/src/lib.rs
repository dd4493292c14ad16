//! authd-bench: a load generator for a running authd, and the measurements
//! of the machine's own limits that its figures are compared with.
//!
//! - [`target`]: the URL under load, loopback only.
//! - [`load`]: users and sessions, the scenarios, closed and open loop.
//! - [`code_flow`]: the code-flow and sso scenarios' browser and client:
//!   the authorization code flow through the hosted pages, and single sign-on.
//! - [`flood`]: the login-flood scenario (refresh alone and under a flood),
//!   and the open-loop offer both floods use.
//! - [`forgot`]: the forgot-flood scenario (refresh alone and under a flood of
//!   `POST /auth/password/forgot`, with the outbox's depth).
//! - [`mail_metrics`]: the mail metrics read from `/metrics`, and when the
//!   outbox has drained.
//! - [`mfa`]: the mfa-login scenario's users, enrolled with TOTP, and its
//!   sign-in with a password and a code.
//! - [`mix`]: the mixed scenario's ratio of request kinds.
//! - [`record`]: latency histograms and errors by kind.
//! - [`requests`]: what the scenarios' requests share: the users' password,
//!   registering one, the error kind of a refused or failed request.
//! - [`limits`]: Argon2id, rotation SQL, signing and decoding rates.
//! - [`system`]: cores, CPU time by process, resident memory.
//! - [`report`]: the whole run, its ratios, the table and the JSON.
//! - [`chart`]: the SVG latency chart.

pub mod chart;
pub mod code_flow;
pub mod flood;
pub mod forgot;
pub mod limits;
pub mod load;
pub mod mail_metrics;
pub mod mfa;
pub mod mix;
pub mod record;
pub mod report;
pub mod requests;
pub mod system;
pub mod target;
