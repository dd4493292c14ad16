//! Reading requests: bounded JSON bodies, the Bearer header, the refresh cookie,
//! the Origin check, and who is calling.

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite, time};
use actix_web::http::header;
use actix_web::web;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use super::ApiError;
use crate::startup::AppState;
use crate::store::RequestMeta;

/// Longest user agent kept with a session.
const MAX_USER_AGENT: usize = 512;

/// Reads a JSON body of at most `limit` bytes. `Ok(None)` when there is no body.
pub async fn optional_json<T: DeserializeOwned>(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<Option<T>, ApiError> {
    let body = read_body(req, payload, limit).await?;
    if body.is_empty() {
        return Ok(None);
    }
    if !has_content_type(req, "application/json") {
        return Err(ApiError::UnsupportedMediaType);
    }
    serde_json::from_slice(&body)
        .map(Some)
        .map_err(|e| ApiError::InvalidRequest(describe_json_error(&e)))
}

/// The whole body, refused past `limit` bytes without reading further.
async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<web::BytesMut, ApiError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(ApiError::PayloadTooLarge(limit));
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::InvalidRequest(format!("could not read the body: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn has_content_type(req: &HttpRequest, expected: &str) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case(expected))
}

/// The parameters of an `application/x-www-form-urlencoded` body (OAuth
/// endpoints, RFC 6749 section 3.2). Empty values count as absent; a parameter
/// given twice is refused (RFC 6749 section 3.1).
pub async fn form(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<Form, ApiError> {
    let body = read_body(req, payload, limit).await?;
    if !has_content_type(req, "application/x-www-form-urlencoded") {
        return Err(ApiError::InvalidRequest(
            "the body must be application/x-www-form-urlencoded".into(),
        ));
    }
    let mut params = std::collections::HashMap::new();
    for (name, value) in form_urlencoded::parse(&body) {
        if value.is_empty() {
            continue;
        }
        if params
            .insert(name.to_string(), value.into_owned())
            .is_some()
        {
            return Err(ApiError::InvalidRequest(format!(
                "the parameter {name} is given more than once"
            )));
        }
    }
    Ok(Form(params))
}

/// Form parameters by name.
#[derive(Default)]
pub struct Form(std::collections::HashMap<String, String>);

impl Form {
    /// Takes a parameter out of the form.
    pub fn take(&mut self, name: &str) -> Option<String> {
        self.0.remove(name)
    }

    /// Takes a parameter that must be present.
    pub fn require(&mut self, name: &str) -> Result<String, ApiError> {
        self.take(name)
            .ok_or_else(|| ApiError::InvalidRequest(format!("the parameter {name} is required")))
    }
}

/// A description of a JSON error that never repeats a value from the body
/// (serde quotes offending values, which may be a misplaced password): field
/// names are kept, values are not.
fn describe_json_error(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let message = e.to_string();
    let about_fields = ["missing field", "unknown field", "duplicate field"]
        .iter()
        .any(|p| message.starts_with(p));
    let what = match e.classify() {
        Category::Data if about_fields => message
            .split(" at line ")
            .next()
            .unwrap_or("invalid field")
            .split(", expected")
            .next()
            .unwrap_or("invalid field")
            .to_owned(),
        Category::Data => "a field has the wrong type or an unaccepted value".to_owned(),
        Category::Syntax => "malformed JSON".to_owned(),
        Category::Eof => "the JSON ends too early".to_owned(),
        Category::Io => "the body could not be read".to_owned(),
    };
    format!(
        "invalid JSON body: {what} (line {}, column {})",
        e.line(),
        e.column()
    )
}

/// Like `optional_json`, but the body is required.
pub async fn json<T: DeserializeOwned>(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<T, ApiError> {
    optional_json(req, payload, limit)
        .await?
        .ok_or_else(|| ApiError::InvalidRequest("a JSON body is required".into()))
}

/// The Bearer token of the `Authorization` header: `Ok(None)` if there is no
/// such header, `Err` if it is there but not a Bearer token.
pub fn bearer(req: &HttpRequest) -> Result<Option<&str>, ApiError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| ApiError::InvalidToken)?;
    let (scheme, token) = value.split_once(' ').ok_or(ApiError::InvalidToken)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(ApiError::InvalidToken);
    }
    Ok(Some(token.trim()))
}

/// The client's address, through trusted proxies only.
pub fn client_ip(state: &AppState, req: &HttpRequest) -> Option<std::net::IpAddr> {
    let forwarded = req
        .headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok());
    crate::throttle::client_ip(
        req.peer_addr().map(|a| a.ip()),
        forwarded,
        &state.trusted_proxies,
    )
}

/// Who is calling, for sessions and the audit log.
pub fn meta(state: &AppState, req: &HttpRequest) -> RequestMeta {
    let user_agent = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|ua| ua.chars().take(MAX_USER_AGENT).collect());
    RequestMeta {
        ip: client_ip(state, req).map(|ip| ip.to_string()),
        user_agent,
    }
}

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
    let name = &state.settings.refresh.cookie_name;
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
    Cookie::build(state.settings.refresh.cookie_name.clone(), value)
        .http_only(true)
        .secure(true)
        .same_site(SameSite::Strict)
        .path("/auth")
        .max_age(time::Duration::seconds(max_age_secs))
        .finish()
}
