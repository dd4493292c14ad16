//! The HTTP reads this crate makes: bounded in time and in size.

use std::future::Future;
use std::time::Duration;

/// Runs `request` (sending and reading the answer) for at most `bound`, so
/// that a server that accepts and never answers cannot stall the caller,
/// whatever timeouts the caller's `reqwest::Client` has.
pub(crate) async fn bounded<T>(
    bound: Duration,
    url: &str,
    request: impl Future<Output = Result<T, String>>,
) -> Result<T, String> {
    tokio::time::timeout(bound, request)
        .await
        .unwrap_or_else(|_| Err(format!("GET {url}: no complete answer within {bound:?}")))
}

/// The body of `response`, refused as soon as it is known to exceed `max`
/// bytes: at once from `Content-Length`, else while streaming, so an
/// oversized or endless body is never held in memory whole.
pub(crate) async fn read_capped(
    mut response: reqwest::Response,
    max: usize,
    url: &str,
) -> Result<Vec<u8>, String> {
    let too_large = || format!("GET {url}: body larger than {max} bytes");
    if response
        .content_length()
        .is_some_and(|length| length > max as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| format!("GET {url}: {e}"))?
    {
        if body.len() + chunk.len() > max {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
