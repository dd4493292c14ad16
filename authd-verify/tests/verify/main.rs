//! Integration tests of authd-verify against a fake authd (discovery, JWKS and
//! revocation feed on 127.0.0.1) that signs with keys the tests generate.

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod extractor;
mod failures;
mod helpers;
mod keys;
mod revocation;
mod staleness;
mod tokens;
mod transport;
