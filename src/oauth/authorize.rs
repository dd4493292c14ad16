//! The authorization endpoint's request (RFC 6749 section 4.1.1, OAuth 2.1,
//! OpenID Connect Core section 3.1.2.1): its parameters read and checked,
//! the request kept on the server (`authorization_requests`, for
//! [`REQUEST_LIFETIME_SECS`]), and the first step decided (`flow`).
//!
//! Who hears of a refusal, in this order:
//! - a parameter repeated (any: RFC 6749 section 3.1), no `client_id`, an
//!   unknown client, or a `redirect_uri` that is not registered exactly
//!   (`clients::redirect_uri_matches`; it may be left out only when the
//!   client has exactly one): the browser, on an error page
//!   ([`Refusal::Page`]). Nothing is ever sent to an address the client did
//!   not register.
//! - everything else goes back to the redirect URI with `error`,
//!   `error_description`, `state` and `iss` (RFC 9207)
//!   ([`Refusal::Redirect`]): `response_type` other than `code`
//!   (`unsupported_response_type`), a scope the client may not be granted
//!   (`invalid_scope`), PKCE other than S256 or missing where the client must
//!   use it, a malformed `prompt` or `max_age`, a non-pushed request from a
//!   client that requires PAR (`invalid_request`).

use chrono::Duration;
use uuid::Uuid;

use super::flow::{self, ErrorCode, Next, Refusal};
use crate::clients::{self, Client};
use crate::services::Services;
use crate::store::{self, authorization_requests::AuthorizationRequest};

/// How long a request waits for the user to sign in and consent.
pub const REQUEST_LIFETIME_SECS: i64 = 600;

/// The `request_uri` prefix of a pushed request (RFC 9126 section 2.2).
pub const PAR_URN_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// How long a pushed request's `request_uri` can start an authorization
/// (RFC 9126 section 2.2: short; used once).
pub const PUSHED_LIFETIME_SECS: i64 = 90;

/// Longest `state` and `nonce` kept.
const MAX_OPAQUE: usize = 512;
/// Longest `login_hint` and `acr_values`.
const MAX_HINT: usize = 320;
/// The length of an S256 challenge: base64url of 32 bytes, no padding.
const S256_CHALLENGE_LEN: usize = 43;

/// The parameters of a request as sent: each name once.
struct Params<'a>(&'a [(String, String)]);

impl<'a> Params<'a> {
    fn get(&self, name: &str) -> Option<&'a str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A parameter given with an empty value is treated as absent (RFC 6749
    /// section 3.1).
    fn value(&self, name: &str) -> Option<&'a str> {
        self.get(name).filter(|v| !v.is_empty())
    }

    fn repeated(&self) -> Option<&'a str> {
        self.0.iter().enumerate().find_map(|(i, (k, _))| {
            self.0[..i]
                .iter()
                .any(|(earlier, _)| earlier == k)
                .then_some(k.as_str())
        })
    }
}

/// Reads and checks an authorization request (`params`: the query or the
/// form, in order, repeats kept), stores it and decides the first step for
/// the browser whose session cookie is `cookie`.
pub async fn authorize(
    svc: &Services,
    params: &[(String, String)],
    cookie: Option<&str>,
) -> Result<Next, Refusal> {
    let params = Params(params);
    if let Some(name) = params.repeated()
        && matches!(name, "client_id" | "redirect_uri")
    {
        return Err(Refusal::Page(
            "the request names its client or its redirect URI more than once",
        ));
    }
    let client_id = params
        .value("client_id")
        .ok_or(Refusal::Page("the request names no client (client_id)"))?;
    let client = clients::find(&svc.store, client_id)
        .await
        .map_err(Refusal::store)?
        .ok_or(Refusal::Page(
            "the app that sent you here is not registered",
        ))?;
    let redirect_uri = match params.get("redirect_uri") {
        Some(uri) if clients::redirect_uri_matches(&client, uri) => uri.to_owned(),
        Some(_) => {
            tracing::info!(client = %client.id, "authorization with an unregistered redirect_uri");
            return Err(Refusal::Page(
                "the app asked to send you back to an address it has not registered",
            ));
        }
        None => match client.redirect_uris.as_slice() {
            [only] => only.clone(),
            // A pushed request names its redirect URI (RFC 9126 section 4).
            _ if params.value("request_uri").is_some() => {
                pushed_redirect_uri(svc, &client, params.value("request_uri")).await?
            }
            _ => {
                return Err(Refusal::Page(
                    "the request names no redirect URI and the app has several (redirect_uri)",
                ));
            }
        },
    };
    // From here on the redirect URI is the client's own: refusals go there.
    let state = params.get("state").map(str::to_owned);
    let back = |code: ErrorCode, description: String| {
        Refusal::Redirect(flow::error_redirect(
            svc,
            &redirect_uri,
            state.as_deref(),
            code,
            &description,
        ))
    };
    if let Some(name) = params.repeated() {
        return Err(back(
            ErrorCode::InvalidRequest,
            format!("the parameter {name} is given more than once"),
        ));
    }
    if state.as_ref().is_some_and(|s| s.len() > MAX_OPAQUE) {
        return Err(back(
            ErrorCode::InvalidRequest,
            format!("state is longer than {MAX_OPAQUE} characters"),
        ));
    }
    if let Some(request_uri) = params.value("request_uri") {
        let request = pushed(svc, &client, &redirect_uri, request_uri)
            .await
            .map_err(|(code, text)| back(code, text.into()))?;
        return flow::decide(svc, &client, &request, cookie).await;
    }
    if client.require_par {
        return Err(back(
            ErrorCode::InvalidRequest,
            "this client must push its authorization requests (PAR, RFC 9126)".into(),
        ));
    }
    let request = check(&client, &params, redirect_uri.clone(), state.clone(), svc)
        .map_err(|(code, text)| back(code, text))?;
    let mut conn = svc.store.conn().await.map_err(Refusal::store)?;
    store::authorization_requests::insert(&mut conn, &request)
        .await
        .map_err(Refusal::store)?;
    drop(conn);
    flow::decide(svc, &client, &request, cookie).await
}

/// Checks the parameters of a request from `client` to `redirect_uri`; the
/// request to store, or the refusal to send back.
fn check(
    client: &Client,
    params: &Params<'_>,
    redirect_uri: String,
    state: Option<String>,
    svc: &Services,
) -> Result<AuthorizationRequest, (ErrorCode, String)> {
    let invalid = |text: &str| (ErrorCode::InvalidRequest, text.to_owned());
    match params.value("response_type") {
        None => return Err(invalid("response_type is required")),
        Some("code") => {}
        Some(_) => {
            return Err((
                ErrorCode::UnsupportedResponseType,
                "authd serves response_type=code only".into(),
            ));
        }
    }
    if params.get("response_mode").is_some_and(|m| m != "query") {
        return Err(invalid("authd answers with response_mode=query only"));
    }
    if params.value("request").is_some() {
        return Err((
            ErrorCode::RequestNotSupported,
            "request objects (JAR) are not supported".into(),
        ));
    }
    let scope = scope(client, params.value("scope"))?;
    let code_challenge = pkce(client, params)?;
    let nonce = params.value("nonce").map(str::to_owned);
    if nonce.as_ref().is_some_and(|n| n.len() > MAX_OPAQUE) {
        return Err(invalid("nonce is longer than 512 characters"));
    }
    let prompt = prompt(params.value("prompt"))?;
    let max_age = match params.value("max_age") {
        None => None,
        Some(v) => Some(
            v.parse::<u32>()
                .map(i64::from)
                .map_err(|_| invalid("max_age must be a number of seconds"))?,
        ),
    };
    let hint = |name: &str| -> Result<Option<String>, (ErrorCode, String)> {
        match params.value(name) {
            Some(v) if v.len() > MAX_HINT || v.chars().any(char::is_control) => Err(invalid(
                &format!("{name} must be at most {MAX_HINT} printable characters"),
            )),
            v => Ok(v.map(str::to_owned)),
        }
    };
    let now = svc.now();
    Ok(AuthorizationRequest {
        id: Uuid::new_v4(),
        client_id: client.id.clone(),
        redirect_uri,
        scope,
        state,
        nonce,
        code_challenge,
        prompt,
        max_age,
        login_hint: hint("login_hint")?,
        acr_values: hint("acr_values")?,
        pushed: false,
        created_at: now,
        expires_at: now + Duration::seconds(REQUEST_LIFETIME_SECS),
        consumed_at: None,
    })
}

/// The scopes asked for, each one the client may be granted (never an
/// `authd:*` permission), sorted; at least one.
fn scope(client: &Client, asked: Option<&str>) -> Result<String, (ErrorCode, String)> {
    let refused = |text: &str| (ErrorCode::InvalidScope, text.to_owned());
    let asked = asked.ok_or_else(|| refused("scope is required"))?;
    let mut scopes = clients::parse_scopes(asked)
        .map_err(|_| refused("scope is not a space-separated list of scope tokens"))?;
    let allowed: Vec<&str> = clients::grantable_scopes(client).collect();
    if let Some(other) = scopes.iter().find(|s| !allowed.contains(s)) {
        return Err(refused(&format!("this client may not ask for {other}")));
    }
    if scopes.is_empty() {
        return Err(refused("scope is required"));
    }
    scopes.sort_unstable();
    Ok(scopes.join(" "))
}

/// The PKCE challenge (RFC 7636): S256 only; required when the client must
/// use PKCE (every public client, and every confidential one not exempted).
fn pkce(client: &Client, params: &Params<'_>) -> Result<Option<String>, (ErrorCode, String)> {
    let invalid = |text: &str| (ErrorCode::InvalidRequest, text.to_owned());
    let method = params.value("code_challenge_method");
    match (params.value("code_challenge"), method) {
        (None, Some(_)) => Err(invalid("code_challenge_method without a code_challenge")),
        (None, None) if client.require_pkce => Err(invalid(
            "this client must use PKCE: code_challenge with code_challenge_method=S256",
        )),
        (None, None) => Ok(None),
        // A challenge without a method is `plain` (RFC 7636 section 4.3).
        (Some(_), None | Some("plain")) => Err(invalid(
            "code_challenge_method must be S256 (plain is not accepted)",
        )),
        (Some(_), Some(m)) if m != "S256" => Err(invalid("code_challenge_method must be S256")),
        (Some(challenge), Some(_)) => {
            let well_formed = challenge.len() == S256_CHALLENGE_LEN
                && challenge
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if well_formed {
                Ok(Some(challenge.to_owned()))
            } else {
                Err(invalid(
                    "code_challenge must be the 43-character base64url SHA-256 of the verifier",
                ))
            }
        }
    }
}

/// `prompt`: `none`, or any of `login` and `consent` (OpenID Connect Core
/// section 3.1.2.1); `none` with another value is refused.
fn prompt(value: Option<&str>) -> Result<Option<String>, (ErrorCode, String)> {
    let Some(value) = value else {
        return Ok(None);
    };
    let mut values: Vec<&str> = Vec::new();
    for v in value.split(' ').filter(|v| !v.is_empty()) {
        if !matches!(v, "none" | "login" | "consent") {
            return Err((
                ErrorCode::InvalidRequest,
                format!("prompt={v} is not supported (none, login, consent)"),
            ));
        }
        if !values.contains(&v) {
            values.push(v);
        }
    }
    if values.contains(&"none") && values.len() > 1 {
        return Err((
            ErrorCode::InvalidRequest,
            "prompt=none cannot be combined with another value".into(),
        ));
    }
    Ok((!values.is_empty()).then(|| values.join(" ")))
}

/// Reads and checks a pushed authorization request (RFC 9126 section 2.1)
/// of `client`, already authenticated: the parameters of an authorization
/// request, without `request_uri`, with `redirect_uri` registered exactly.
/// Stores it, to be used once within [`PUSHED_LIFETIME_SECS`]; returns it.
pub async fn push(
    svc: &Services,
    client: &Client,
    params: &[(String, String)],
) -> Result<AuthorizationRequest, (ErrorCode, String)> {
    let params = Params(params);
    let invalid = |text: &str| (ErrorCode::InvalidRequest, text.to_owned());
    if params.get("request_uri").is_some() {
        return Err(invalid("a pushed request cannot itself name a request_uri"));
    }
    if params.get("client_id").is_some_and(|id| id != client.id) {
        return Err(invalid("client_id differs from the authenticated client"));
    }
    let redirect_uri = match params.value("redirect_uri") {
        Some(uri) if clients::redirect_uri_matches(client, uri) => uri.to_owned(),
        Some(_) => return Err(invalid("redirect_uri is not one the client registered")),
        None => return Err(invalid("redirect_uri is required")),
    };
    let state = params.get("state").map(str::to_owned);
    if state.as_ref().is_some_and(|s| s.len() > MAX_OPAQUE) {
        return Err(invalid("state is longer than 512 characters"));
    }
    let now = svc.now();
    let request = AuthorizationRequest {
        pushed: true,
        expires_at: now + Duration::seconds(PUSHED_LIFETIME_SECS),
        ..check(client, &params, redirect_uri, state, svc)?
    };
    let stored = async {
        let mut conn = svc.store.conn().await?;
        store::authorization_requests::insert(&mut conn, &request).await
    }
    .await;
    stored.map_err(|_| {
        (
            ErrorCode::ServerError,
            "the request could not be kept".into(),
        )
    })?;
    Ok(request)
}

/// The redirect URI of the pushed request `request_uri` names, for an
/// authorization request that names none: a page refusal when there is no
/// such request of this client.
async fn pushed_redirect_uri(
    svc: &Services,
    client: &Client,
    request_uri: Option<&str>,
) -> Result<String, Refusal> {
    let id = request_uri
        .and_then(|uri| uri.strip_prefix(PAR_URN_PREFIX))
        .and_then(|id| Uuid::parse_str(id).ok());
    let found = match id {
        Some(id) => {
            let mut conn = svc.store.conn().await.map_err(Refusal::store)?;
            store::authorization_requests::find_live(&mut conn, id, svc.now())
                .await
                .map_err(Refusal::store)?
        }
        None => None,
    };
    found
        .filter(|r| r.pushed && r.client_id == client.id)
        .map(|r| r.redirect_uri)
        .ok_or(Refusal::Page(
            "the app's pushed request is unknown, expired or was used already",
        ))
}

/// A pushed request (RFC 9126 section 4): its `request_uri` names a live
/// pushed request of this client, pushed with this redirect URI. The pushed
/// row is spent here (one conditional UPDATE), and the flow goes on with a
/// copy under a new id, so a `request_uri` starts one authorization only.
async fn pushed(
    svc: &Services,
    client: &Client,
    redirect_uri: &str,
    request_uri: &str,
) -> Result<AuthorizationRequest, (ErrorCode, &'static str)> {
    const UNUSABLE: &str = "request_uri is unknown, expired or was used already";
    let id = request_uri
        .strip_prefix(PAR_URN_PREFIX)
        .and_then(|id| Uuid::parse_str(id).ok())
        .ok_or((ErrorCode::InvalidRequestUri, UNUSABLE))?;
    let now = svc.now();
    let found = async {
        let mut conn = svc.store.conn().await?;
        store::authorization_requests::find_live(&mut conn, id, now).await
    }
    .await
    .map_err(|_| (ErrorCode::ServerError, "the request could not be read"))?;
    let request = found
        .filter(|r| r.pushed && r.client_id == client.id && r.redirect_uri == redirect_uri)
        .ok_or((ErrorCode::InvalidRequestUri, UNUSABLE))?;
    let copy = AuthorizationRequest {
        id: Uuid::new_v4(),
        pushed: false,
        created_at: now,
        expires_at: now + Duration::seconds(REQUEST_LIFETIME_SECS),
        ..request.clone()
    };
    let spent = async {
        let mut tx = svc.store.begin().await?;
        if !store::authorization_requests::consume(&mut tx, request.id, now).await? {
            return Ok(false);
        }
        store::authorization_requests::insert(&mut tx, &copy).await?;
        tx.commit().await?;
        Ok::<bool, store::StoreError>(true)
    }
    .await
    .map_err(|_| (ErrorCode::ServerError, "the request could not be read"))?;
    if !spent {
        return Err((ErrorCode::InvalidRequestUri, UNUSABLE));
    }
    Ok(copy)
}
