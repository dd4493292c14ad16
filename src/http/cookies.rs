//! The refresh cookie: reading it, setting and clearing it, and the Origin
//! check every request that uses or sets it passes.

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite, time};
use actix_web::http::header;

use super::ApiError;
use super::state::AppState;

/// CSRF defence on top of `SameSite=Strict`: a request that uses or sets the
/// refresh cookie and carries an `Origin` must come from an allowed origin.
/// Requests without `Origin` (native clients, same-origin navigations in old
/// browsers) pass; SameSite still protects those.
pub fn check_origin(state: &AppState, req: &HttpRequest) -> Result<(), ApiError> {
    match req.headers().get(header::ORIGIN) {
        None => Ok(()),
        Some(origin) => {
            let allowed = origin.to_str().is_ok_and(|o| state.origin_allowed(o));
            if allowed {
                Ok(())
            } else {
                tracing::info!(origin = ?origin, "refused a cookie request from a foreign origin");
                Err(ApiError::ForbiddenOrigin)
            }
        }
    }
}

/// The refresh cookie, if the request carries one: a cookie of exactly the
/// configured name (`state.refresh_cookie`), nothing else.
///
/// A sibling subdomain can plant a cookie with `Domain=` the parent domain
/// (cookie tossing), to sign a signed-out victim into the attacker's account
/// or to break the victim's refreshes. By default the name is `__Host-…`,
/// which browsers store only host-only, `Secure` and at `Path=/`: a sibling
/// cannot plant it, and whatever it plants under another name (the
/// unprefixed `authd_refresh`, `__host-authd_refresh`) is ignored here.
///
/// Two cookies of the configured name are refused (400 `invalid_request`).
/// Under `__Host-` no browser sends that; with `refresh.cookie_path = "/auth"`
/// (no prefix) it is how a planted cookie arrives, and the `Cookie` header
/// does not say which one authd set, so refusing beats guessing.
pub fn refresh_cookie(state: &AppState, req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let name = &state.refresh_cookie.name;
    let Ok(cookies) = req.cookies() else {
        return Ok(None);
    };
    let mut values = cookies
        .iter()
        .filter(|c| c.name() == name)
        .map(|c| c.value());
    let first = values.next();
    if values.next().is_some() {
        return Err(ApiError::InvalidRequest(format!(
            "more than one {name} cookie was sent"
        )));
    }
    Ok(first.filter(|v| !v.is_empty()).map(str::to_owned))
}

/// The refresh cookie: `HttpOnly; Secure; SameSite=Strict`, host-only (no
/// `Domain`), living as long as the token it carries; by default
/// `__Host-authd_refresh` at `Path=/`, or `authd_refresh` at `Path=/auth`.
///
/// Always `Secure`, whatever the issuer's scheme: browsers treat
/// `http://localhost` as secure and keep it there; over plain http to any
/// other host they drop it, so a refresh token never travels in a cookie
/// over an unencrypted connection (cookie delivery then simply fails).
pub fn set_refresh_cookie(state: &AppState, token: String, max_age_secs: i64) -> Cookie<'static> {
    refresh_cookie_builder(state, token, max_age_secs.max(0))
}

/// The same cookie, emptied and expired: same name, same path, same
/// attributes, or browsers would keep the one they hold (a `__Host-` cookie
/// is only replaced by a `Set-Cookie` that meets the prefix's rules).
pub fn clear_refresh_cookie(state: &AppState) -> Cookie<'static> {
    refresh_cookie_builder(state, String::new(), 0)
}

fn refresh_cookie_builder(state: &AppState, value: String, max_age_secs: i64) -> Cookie<'static> {
    let cookie = &state.refresh_cookie;
    Cookie::build(cookie.name.clone(), value)
        .http_only(true)
        .secure(true)
        .same_site(SameSite::Strict)
        .path(cookie.path)
        .max_age(time::Duration::seconds(max_age_secs))
        .finish()
}
