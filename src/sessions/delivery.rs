//! Where a session's refresh token may travel besides its HttpOnly cookie: in
//! a request or answer body, only while `refresh.allow_body_delivery` is on.
//! Every sign-in that would answer that way asks [`check_sign_in_body`]
//! before anything is spent; a refresh presenting the token in a body, and
//! the token endpoint's refresh grant, ask [`body_allowed`] and refuse in
//! their own words.

use crate::domain::InputError;
use crate::error::ServiceError;
use crate::services::Services;

/// Whether refresh tokens may travel in a body on this server.
pub fn body_allowed(svc: &Services) -> bool {
    svc.settings.refresh.allow_body_delivery
}

/// Whether a sign-in (login, a code sign-in, a reset that signs in) may
/// answer with the refresh token in the body: 400 `invalid_request` when
/// body delivery is off.
pub fn check_sign_in_body(svc: &Services) -> Result<(), ServiceError> {
    if body_allowed(svc) {
        Ok(())
    } else {
        Err(InputError::BodyDeliveryDisabled.into())
    }
}
