//! Integration tests of authd-verify against a fake authd (discovery, JWKS and
//! revocation feed on 127.0.0.1) that signs with keys the tests generate.

mod extractor;
mod failures;
mod helpers;
mod keys;
mod revocation;
mod tokens;
