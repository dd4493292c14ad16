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

/// The refresh cookie, if the request carries one. Several cookies of that name
/// are refused: a sibling subdomain can plant one with a broader `Domain` that
/// the browser sends first (cookie tossing), to break or fix the session.
pub fn refresh_cookie(state: &AppState, req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let name = &state.settings().refresh.cookie_name;
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

/// The refresh cookie: `HttpOnly; Secure; SameSite=Strict; Path=/auth`, host-only,
/// living as long as the token it carries.
pub fn set_refresh_cookie(state: &AppState, token: String, max_age_secs: i64) -> Cookie<'static> {
    refresh_cookie_builder(state, token, max_age_secs.max(0))
}

/// The same cookie, emptied and expired.
pub fn clear_refresh_cookie(state: &AppState) -> Cookie<'static> {
    refresh_cookie_builder(state, String::new(), 0)
}

fn refresh_cookie_builder(state: &AppState, value: String, max_age_secs: i64) -> Cookie<'static> {
    Cookie::build(state.settings().refresh.cookie_name.clone(), value)
        .http_only(true)
        .secure(true)
        .same_site(SameSite::Strict)
        .path("/auth")
        .max_age(time::Duration::seconds(max_age_secs))
        .finish()
}
