//! Accounts: registration, the credentials check at login with its throttle,
//! and password change. Each function parses nothing (the values come in
//! parsed, see `domain`), owns its transaction, and leaves HTTP to `http`.

mod login;
mod password;
mod register;

pub use login::login;
pub use password::change_password;
pub use register::register;
