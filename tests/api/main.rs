//! The integration suite: every test runs the real server on a random port,
//! once against a fresh SQLite file and once against a fresh PostgreSQL database.

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

// CI sets AUTHD_REQUIRE_POSTGRES=1: a run there without a Postgres server
// must fail, not report the Postgres half of the suite as ignored.
#[cfg(all(authd_require_postgres, not(authd_postgres_tests)))]
compile_error!(
    "AUTHD_REQUIRE_POSTGRES=1 but TEST_DATABASE_URL is not set: the Postgres tests cannot run"
);

mod helpers;

mod access_tokens;
mod account;
mod account_tokens;
mod admin;
mod atomicity;
mod authorize;
mod backchannel;
mod binary;
mod browser;
mod client_ip;
mod clients;
mod code_grant;
mod crash;
mod credentials;
mod disable;
mod email_change;
mod email_verification;
mod events;
mod faults;
mod first_proof;
mod grants;
mod hardening;
mod hashing_places;
mod hs256_only;
mod input;
mod keys;
mod limits;
mod lockout;
mod logout;
mod mail;
mod mail_at_rest;
mod mail_binary;
mod mail_files;
mod mail_flows;
mod mail_tls;
mod mfa;
mod mobile;
mod notices;
mod oauth_revoke_introspect;
mod oauth_token;
mod observability;
mod oidc;
mod oidc_rp;
mod openapi;
mod otp;
mod pages;
mod par;
mod passkeys;
mod password_reset;
mod permissions;
mod refresh;
mod refresh_cookie;
mod refresh_keys;
mod revocation;
mod revoke_app_tokens;
mod roles;
mod safe_registration;
mod send_budget;
mod session_limits;
mod sessions;
mod stress;
mod user_revocations;
