//! The two kinds of token: access tokens (RFC 9068 JWTs, signed here and
//! checked with authd-verify's shared validation) and refresh tokens (opaque,
//! derived from a session and its counter); and the keyed hash of an address
//! (`address`), made with a key derived from the refresh-token ring.

pub mod access;
pub mod address;
pub mod refresh;

pub use access::*;
