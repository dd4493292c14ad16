//! The OAuth 2.1 and OpenID Connect protocol rules.

pub mod codes;
