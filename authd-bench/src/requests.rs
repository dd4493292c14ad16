//! What the scenarios' requests share: the password of every user the tool
//! registers, registering one, and how a refused or failed request is named
//! in the error counts.

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::target::Target;

/// The password of every user the tool registers.
pub const PASSWORD: &str = "bench: correct horse battery staple";

/// Registers `email` with [`PASSWORD`]; an address already registered (409)
/// is reused.
pub(crate) async fn register(
    client: &reqwest::Client,
    target: &Target,
    email: &str,
) -> anyhow::Result<()> {
    let response = client
        .post(target.url("/auth/register"))
        .json(&json!({ "email": email, "password": PASSWORD }))
        .send()
        .await
        .context("register")?;
    let status = response.status().as_u16();
    if status != 201 && status != 409 {
        bail!("register {email}: {}", error_kind(response).await);
    }
    Ok(())
}

/// `<status> <error code>` of an error response, e.g. `401 invalid_grant`.
pub(crate) async fn error_kind(response: reqwest::Response) -> String {
    let status = response.status().as_u16();
    let code = response
        .bytes()
        .await
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .and_then(|v| v["error"].as_str().map(str::to_owned));
    match code {
        Some(code) => format!("{status} {code}"),
        None => status.to_string(),
    }
}

/// The kind of a failure below HTTP.
pub(crate) fn transport_kind(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "timeout".into();
    }
    let kind = if e.is_connect() {
        "connect"
    } else if e.is_body() || e.is_decode() {
        "body"
    } else if e.is_request() {
        "request"
    } else {
        "other"
    };
    format!("transport: {kind}")
}
