//! The policy `mfa.required`: a second factor for everyone, or (default) a
//! user's choice. When it is on:
//!
//! - a first proof of a user without a confirmed factor starts no session:
//!   the sign-in ends as an enrolment challenge (`accounts::sign_in`,
//!   `SignIn::EnrolFactor`), and enrolling a factor with it finishes the
//!   sign-in (`accounts::enrolment`);
//! - a session signed in without a second factor (started before the policy
//!   was turned on) is below it: its refresh token is refused
//!   (`sessions::rotate::exchange_as`), and a browser session at authd is not
//!   usable for an authorization (`oauth::flow`): the user signs in again,
//!   with a factor or enrolling one. Such sessions are not ended: turning the
//!   policy off again lets them go on until their own limits.

use crate::services::Services;
use crate::sessions::Methods;

/// Whether the policy asks for a second factor from everyone.
pub fn required(svc: &Services) -> bool {
    svc.settings.mfa.required
}

/// Whether a session signed in with `methods` meets the policy: always when
/// it is off, else only with a second factor among them.
pub fn allows(svc: &Services, methods: &Methods) -> bool {
    !required(svc) || methods.has_second_factor()
}
