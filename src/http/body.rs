//! Reading request bodies: bounded JSON, and OAuth's form encoding. Errors
//! never repeat a value from the body (it may be a misplaced password).

use actix_web::HttpRequest;
use actix_web::http::header;
use actix_web::web;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use secrecy::{ExposeSecret, SecretString};

use super::ApiError;

/// `value`, a secret field of a body (a challenge, a ceremony, a code), if
/// it has 1 to `max` characters; else 400 `invalid_request` naming the
/// field, never the value.
pub fn bounded(field: &str, value: SecretString, max: usize) -> Result<SecretString, ApiError> {
    let chars = value.expose_secret().chars().count();
    if chars == 0 || chars > max {
        return Err(ApiError::InvalidRequest(format!(
            "{field} must be 1 to {max} characters"
        )));
    }
    Ok(value)
}

/// Reads a JSON body of at most `limit` bytes. `Ok(None)` when there is no body
/// or it is `null`.
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
    // Every body authd reads is an object: serde would take an array for a
    // struct (its fields in order), which no request schema allows.
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|&b| b != b'{' && b != b'n') {
        return Err(ApiError::InvalidRequest(
            "the body must be a JSON object".into(),
        ));
    }
    // A JSON `null` is no body too, as the document's `oneOf [null, ...]` says.
    serde_json::from_slice::<Option<T>>(&body)
        .map_err(|e| ApiError::InvalidRequest(describe_json_error(&e)))
}

/// The whole body, refused past `limit` bytes without reading further.
pub(super) async fn read_body(
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
/// endpoints, RFC 6749 section 3.2). Empty values count as absent (RFC 6749
/// section 3.1). A parameter given twice is refused when it is read; one that
/// is never read is ignored, repeated or not, as unknown parameters must be.
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
        params
            .entry(name.into_owned())
            .and_modify(|seen: &mut Option<String>| *seen = None)
            .or_insert_with(|| Some(value.into_owned()));
    }
    Ok(Form(params))
}

/// Form parameters by name; `None` marks one given more than once.
#[derive(Default)]
pub struct Form(std::collections::HashMap<String, Option<String>>);

impl Form {
    /// Takes a parameter out of the form: absent, or its one value.
    pub fn take(&mut self, name: &str) -> Result<Option<String>, ApiError> {
        match self.0.remove(name) {
            None => Ok(None),
            Some(Some(value)) => Ok(Some(value)),
            Some(None) => Err(ApiError::InvalidRequest(format!(
                "the parameter {name} is given more than once"
            ))),
        }
    }

    /// Every parameter, each given once (any repeat is `invalid_request`).
    pub fn into_pairs(self) -> Result<Vec<(String, String)>, ApiError> {
        let mut pairs = Vec::with_capacity(self.0.len());
        for (name, value) in self.0 {
            let value = value.ok_or_else(|| {
                ApiError::InvalidRequest(format!("the parameter {name} is given more than once"))
            })?;
            pairs.push((name, value));
        }
        Ok(pairs)
    }

    /// Takes a parameter that must be present.
    pub fn require(&mut self, name: &str) -> Result<String, ApiError> {
        self.take(name)?
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
