//! OpenID Connect: what authd says about a user to a client it signed the
//! user in to. `id_token.rs` builds and signs ID tokens (with the current key
//! of the client's algorithm, never an HS256 secret); `userinfo.rs` answers
//! the userinfo endpoint for an access token with the `openid` scope;
//! `hint.rs` accepts an ID token authd signed back as a logout's hint. Both
//! name the user by the same `sub` ([`subject`]) and choose the claims by
//! the granted scopes ([`has_scope`]). `logout_token.rs` builds and signs
//! back-channel logout tokens; `backchannel.rs` is the rule of which ends of
//! sessions send them to which clients.

pub mod backchannel;
pub mod hint;
pub mod id_token;
pub mod logout_token;
pub mod userinfo;

use uuid::Uuid;

/// The scope that makes a request an OpenID Connect one.
pub const OPENID: &str = "openid";
/// The scope that adds `email` and `email_verified`.
pub const EMAIL: &str = "email";

/// The `sub` of a user in ID tokens and userinfo: the user's id, the same for
/// every client (`subject_types_supported: ["public"]`) and the same as in
/// the user's access tokens.
pub fn subject(user: Uuid) -> String {
    user.to_string()
}

/// Whether the space-separated `scopes` list `wanted` (one item, exactly).
pub fn has_scope(scopes: &str, wanted: &str) -> bool {
    scopes.split_ascii_whitespace().any(|s| s == wanted)
}
