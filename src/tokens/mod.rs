//! The two kinds of token: access tokens (RFC 9068 JWTs, signed here and
//! checked with authd-verify's shared validation) and refresh tokens (opaque,
//! derived from a session and its counter).

pub mod access;
pub mod refresh;

pub use access::*;
