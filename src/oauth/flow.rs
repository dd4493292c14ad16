//! What happens to a stored authorization request, step by step, until the
//! browser goes back to the client: the decision at the authorization
//! endpoint ([`decide`]), the login page's sign-in ([`signed_in`]), the
//! consent page ([`consent_view`], [`answer_consent`]), and the code issued
//! with the request spent in one transaction ([`issue`]).
//!
//! - A browser session is usable for a request if its cookie names a live
//!   browser session (`sessions::browser::usable`), `prompt` is not `login`,
//!   and its sign-in is younger than `max_age` seconds (so `max_age=0`
//!   always asks for the password, even within the second of the sign-in). Without one: the login page, or `login_required`
//!   with `prompt=none`.
//! - Under `mfa.required` (`factors::policy`), a browser session signed in
//!   without a second factor (before the policy was turned on) is not
//!   usable: the login page (where the sign-in asks for the factor, or for
//!   one to be enrolled), or `login_required` with `prompt=none`; the
//!   consent page refuses it too.
//! - Step-up (`acr_values`, README "Second factors"): a request whose
//!   `acr_values` name only "2" among authd's values ("1", "2") demands a
//!   second factor. A usable session signed in without one is not enough:
//!   for a user with a confirmed factor the login page again (password, then
//!   the second step; the browser session it starts replaces the cookie's),
//!   otherwise, and always with `prompt=none`,
//!   `unmet_authentication_requirements` back to the client, never a code.
//! - Consent is needed unless the client is first-party or the user's
//!   remembered consent covers the scopes (`oauth::consent`), and always with
//!   `prompt=consent`; with `prompt=none` a needed consent is
//!   `consent_required`.
//! - A request is answered for the browser session that signed in for it
//!   (marked on the row): the consent page and its answer refuse any other.
//! - Every redirect back to the client carries `iss` (RFC 9207) and `state`.

use chrono::Duration;
use secrecy::ExposeSecret;
use uuid::Uuid;

use super::codes::{self, NewCode};
use super::consent;
use crate::audit::{self, AuditEvent, AuditKind, RequestMeta};
use crate::clients::{self, Client};
use crate::error::ServiceError;
use crate::factors;
use crate::services::Services;
use crate::sessions::browser::{self, BrowserSession};
use crate::store::StoreError;
use crate::store::authorization_requests::{self as requests, AuthorizationRequest, SignedIn};

/// The error codes of an authorization response (RFC 6749 section 4.1.2.1,
/// OpenID Connect Core section 3.1.2.6, RFC 9126 section 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidRequest,
    AccessDenied,
    UnsupportedResponseType,
    InvalidScope,
    ServerError,
    LoginRequired,
    ConsentRequired,
    UnmetAuthenticationRequirements,
    InvalidRequestUri,
    RequestNotSupported,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::AccessDenied => "access_denied",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::InvalidScope => "invalid_scope",
            Self::ServerError => "server_error",
            Self::LoginRequired => "login_required",
            Self::ConsentRequired => "consent_required",
            Self::UnmetAuthenticationRequirements => "unmet_authentication_requirements",
            Self::InvalidRequestUri => "invalid_request_uri",
            Self::RequestNotSupported => "request_not_supported",
        }
    }
}

/// A redirect back to the client: where, and the origin a page's form must
/// be allowed to lead to (`None` for a URI without an http(s) origin).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRedirect {
    pub location: String,
    pub origin: Option<String>,
}

/// Where the browser goes next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// The login page for request `id`.
    Login(Uuid),
    /// The consent page for request `id`.
    Consent(Uuid),
    /// Back to the client, with a code or an error.
    Client(ClientRedirect),
}

impl Next {
    /// The `Location` of the 303 that sends the browser on.
    pub fn location(&self) -> String {
        match self {
            Self::Login(id) => format!("/login?request={id}"),
            Self::Consent(id) => format!("/consent?request={id}"),
            Self::Client(r) => r.location.clone(),
        }
    }

    /// The origin a form whose POST answers with this must be allowed to
    /// lead to, if it leaves authd.
    pub fn origin(&self) -> Option<&str> {
        match self {
            Self::Client(r) => r.origin.as_deref(),
            _ => None,
        }
    }
}

/// Why a request cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// An error page, never a redirect: the client or its redirect URI is
    /// not known, so nothing may be sent there.
    #[error("{0}")]
    Page(&'static str),
    /// An error page: the request expired, was answered already, or belongs
    /// to another browser session.
    #[error(
        "this sign-in request has expired or was already answered; go back to the app and start again"
    )]
    Expired,
    /// Back to the client with an error.
    #[error("refused with a redirect to the client")]
    Redirect(ClientRedirect),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl Refusal {
    pub fn store(e: StoreError) -> Self {
        Self::Service(e.into())
    }
}

impl From<StoreError> for Refusal {
    fn from(e: StoreError) -> Self {
        Self::store(e)
    }
}

/// `redirect_uri` with `pairs` added to its query.
fn with_query(redirect_uri: &str, pairs: &[(&str, Option<&str>)]) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs {
        if let Some(value) = value {
            query.append_pair(name, value);
        }
    }
    let separator = if redirect_uri.contains('?') { '&' } else { '?' };
    format!("{redirect_uri}{separator}{}", query.finish())
}

/// The origin of an http(s) URI (`https://app.example.com:8443`).
fn origin_of(uri: &str) -> Option<String> {
    let (scheme, rest) = uri.split_once("://")?;
    if !matches!(scheme, "http" | "https") {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next()?;
    (!authority.is_empty() && !authority.contains('@')).then(|| format!("{scheme}://{authority}"))
}

/// An error back to `redirect_uri` (which the caller has matched).
pub fn error_redirect(
    svc: &Services,
    redirect_uri: &str,
    state: Option<&str>,
    code: ErrorCode,
    description: &str,
) -> ClientRedirect {
    ClientRedirect {
        location: with_query(
            redirect_uri,
            &[
                ("error", Some(code.as_str())),
                ("error_description", Some(description)),
                ("state", state),
                ("iss", Some(svc.settings.issuer())),
            ],
        ),
        origin: origin_of(redirect_uri),
    }
}

fn refuse(svc: &Services, request: &AuthorizationRequest, code: ErrorCode, text: &str) -> Refusal {
    Refusal::Redirect(error_redirect(
        svc,
        &request.redirect_uri,
        request.state.as_deref(),
        code,
        text,
    ))
}

fn prompts(request: &AuthorizationRequest, value: &str) -> bool {
    request
        .prompt
        .as_deref()
        .is_some_and(|p| p.split(' ').any(|v| v == value))
}

/// Whether `request` demands a second factor: among the values of its
/// `acr_values` that authd knows ("1", "2"; others are ignored), "2" only.
fn demands_second_factor(request: &AuthorizationRequest) -> bool {
    let mut known = request
        .acr_values
        .as_deref()
        .unwrap_or_default()
        .split(' ')
        .filter(|v| matches!(*v, "1" | "2"))
        .peekable();
    known.peek().is_some() && known.all(|v| v == "2")
}

/// The first step for a request just stored (or pushed), in the browser
/// whose session cookie is `cookie`.
pub async fn decide(
    svc: &Services,
    client: &Client,
    request: &AuthorizationRequest,
    cookie: Option<&str>,
) -> Result<Next, Refusal> {
    let now = svc.now();
    let session = if prompts(request, "login") {
        None
    } else {
        browser::usable(svc, cookie).await?.filter(|b| {
            request
                .max_age
                .is_none_or(|max| now - b.auth_time < Duration::seconds(max))
                && factors::policy::allows(svc, &b.methods)
        })
    };
    let Some(session) = session else {
        if prompts(request, "none") {
            return Err(refuse(
                svc,
                request,
                ErrorCode::LoginRequired,
                "the user is not signed in at authd",
            ));
        }
        return Ok(Next::Login(request.id));
    };
    if demands_second_factor(request)
        && !session.methods.has_second_factor()
        && !prompts(request, "none")
    {
        // Step-up: the user can show a second factor, at the login page.
        let mut conn = svc.store.conn().await?;
        if factors::due(&mut conn, session.user_id).await? {
            return Ok(Next::Login(request.id));
        }
    }
    go_on_signed_in(svc, client, request, &session).await
}

/// Marks `request` as answered for `session`, then: consent, or the code.
async fn go_on_signed_in(
    svc: &Services,
    client: &Client,
    request: &AuthorizationRequest,
    session: &BrowserSession,
) -> Result<Next, Refusal> {
    if demands_second_factor(request) && !session.methods.has_second_factor() {
        tracing::info!(client = %client.id, user = %session.user_id, "authorization without the second factor it demands");
        return Err(refuse(
            svc,
            request,
            ErrorCode::UnmetAuthenticationRequirements,
            "the app asks for a sign-in with a second factor (acr 2)",
        ));
    }
    let marked = SignedIn {
        user_id: session.user_id,
        browser_session_id: session.id,
    };
    let mut conn = svc.store.conn().await?;
    if !requests::set_signed_in(&mut conn, request.id, marked, svc.now()).await? {
        return Err(Refusal::Expired);
    }
    let needed = prompts(request, "consent")
        || consent::needed(&mut conn, client, session.user_id, &request.scope).await?;
    drop(conn);
    if !needed {
        return Ok(Next::Client(issue(svc, request, session).await?));
    }
    if prompts(request, "none") {
        return Err(refuse(
            svc,
            request,
            ErrorCode::ConsentRequired,
            "the user has not consented to these scopes",
        ));
    }
    Ok(Next::Consent(request.id))
}

/// Spends `request` and issues its code for `session`, in one transaction;
/// the redirect that carries it.
async fn issue(
    svc: &Services,
    request: &AuthorizationRequest,
    session: &BrowserSession,
) -> Result<ClientRedirect, Refusal> {
    let now = svc.now();
    let mut tx = svc.store.begin().await?;
    if !requests::consume(&mut tx, request.id, now).await? {
        return Err(Refusal::Expired);
    }
    let methods = session.methods.to_string();
    let code = codes::issue(
        &mut tx,
        &NewCode {
            client_id: &request.client_id,
            redirect_uri: &request.redirect_uri,
            code_challenge: request.code_challenge.as_deref(),
            nonce: request.nonce.as_deref(),
            scope: &request.scope,
            user_id: session.user_id,
            browser_session_id: session.id,
            auth_time: session.auth_time,
            methods: &methods,
        },
        now,
    )
    .await?;
    tx.commit().await?;
    tracing::info!(client = %request.client_id, user = %session.user_id, "authorization code issued");
    Ok(ClientRedirect {
        location: with_query(
            &request.redirect_uri,
            &[
                ("code", Some(code.expose_secret())),
                ("state", request.state.as_deref()),
                ("iss", Some(svc.settings.issuer())),
            ],
        ),
        origin: origin_of(&request.redirect_uri),
    })
}

/// A live request and its client; `Expired` for a request that is not live
/// (or whose client was deleted meanwhile).
async fn live(svc: &Services, id: Uuid) -> Result<(AuthorizationRequest, Client), Refusal> {
    let mut conn = svc.store.conn().await?;
    let request = requests::find_live(&mut conn, id, svc.now())
        .await?
        .ok_or(Refusal::Expired)?;
    drop(conn);
    let client = clients::find(&svc.store, &request.client_id)
        .await?
        .ok_or(Refusal::Expired)?;
    Ok((request, client))
}

/// What the login page shows for a request.
pub struct LoginView {
    pub request: Uuid,
    pub client_name: String,
    /// The address to fill in (`login_hint`), or empty.
    pub login_hint: String,
    /// Whether the page offers an emailed code instead of the password
    /// (`accounts.otp_enabled`; `accounts::otp` refuses it when off).
    pub code_sign_in: bool,
    /// The origin of the request's redirect URI: a sign-in may answer with
    /// a 303 there, so the page's forms must be allowed to lead to it
    /// (Chromium applies `form-action` to a POST's redirect).
    pub client_origin: Option<String>,
}

/// The login page of request `id`, if it is live.
pub async fn login_view(svc: &Services, id: Uuid) -> Result<LoginView, Refusal> {
    let (request, client) = live(svc, id).await?;
    Ok(LoginView {
        request: request.id,
        client_name: client.name,
        login_hint: request.login_hint.unwrap_or_default(),
        code_sign_in: svc.settings.accounts.otp_enabled,
        client_origin: origin_of(&request.redirect_uri),
    })
}

/// After the login page started `session`: request `id` goes on (consent or
/// the code).
pub async fn signed_in(
    svc: &Services,
    id: Uuid,
    session: &BrowserSession,
) -> Result<Next, Refusal> {
    let (request, client) = live(svc, id).await?;
    go_on_signed_in(svc, &client, &request, session).await
}

/// A live request answered for the browser session of `cookie`, with that
/// session: anything else is `Expired` (the page does not say which).
async fn held(
    svc: &Services,
    id: Uuid,
    cookie: Option<&str>,
) -> Result<(AuthorizationRequest, Client, BrowserSession), Refusal> {
    let (request, client) = live(svc, id).await?;
    let session = browser::usable(svc, cookie)
        .await?
        .filter(|b| factors::policy::allows(svc, &b.methods))
        .ok_or(Refusal::Expired)?;
    let mut conn = svc.store.conn().await?;
    let marked = requests::signed_in(&mut conn, id).await?;
    if marked
        != Some(SignedIn {
            user_id: session.user_id,
            browser_session_id: session.id,
        })
    {
        tracing::info!(request = %id, "consent for a request of another browser session");
        return Err(Refusal::Expired);
    }
    Ok((request, client, session))
}

/// What the consent page shows.
pub struct ConsentView {
    pub request: Uuid,
    pub client_name: String,
    /// Each scope asked for, in words.
    pub scopes: Vec<String>,
    /// The origin of the request's redirect URI, where the answer leads.
    pub client_origin: Option<String>,
}

/// The consent page of request `id` in the browser of `cookie`.
pub async fn consent_view(
    svc: &Services,
    id: Uuid,
    cookie: Option<&str>,
) -> Result<ConsentView, Refusal> {
    let (request, client, _) = held(svc, id, cookie).await?;
    Ok(ConsentView {
        client_origin: origin_of(&request.redirect_uri),
        request: request.id,
        client_name: client.name,
        scopes: request
            .scope
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(|s| consent::in_words(s).to_owned())
            .collect(),
    })
}

/// The consent page's answer: `allow` records the consent (the union with
/// what was granted before) with its `consent_granted` audit event (the user
/// its actor, naming the client and the scopes of the request) in one
/// transaction, and issues the code; a refusal sends `access_denied` back.
/// Either way the request is spent.
///
/// Only an explicit grant is audited: a consent skipped (a first-party
/// client, or a remembered consent that covers the scopes) is no decision of
/// the user's, and the grant it rests on was recorded when it was given.
pub async fn answer_consent(
    svc: &Services,
    id: Uuid,
    cookie: Option<&str>,
    allow: bool,
    meta: &RequestMeta,
) -> Result<ClientRedirect, Refusal> {
    let (request, client, session) = held(svc, id, cookie).await?;
    if !allow {
        let mut conn = svc.store.conn().await?;
        if !requests::consume(&mut conn, id, svc.now()).await? {
            return Err(Refusal::Expired);
        }
        tracing::info!(client = %client.id, user = %session.user_id, "consent refused");
        return Ok(error_redirect(
            svc,
            &request.redirect_uri,
            request.state.as_deref(),
            ErrorCode::AccessDenied,
            "the user refused",
        ));
    }
    let now = svc.now();
    let mut tx = svc.store.begin().await?;
    consent::record(&mut tx, &client, session.user_id, &request.scope, now).await?;
    let event = AuditEvent::new(
        AuditKind::ConsentGranted,
        Some(session.user_id),
        Some(session.id),
        meta,
        now,
    )
    .with_client(client.id.as_str())
    .with_detail(format!("scope: {}", request.scope));
    audit::record(&mut tx, &event).await?;
    tx.commit().await?;
    tracing::info!(client = %client.id, user = %session.user_id, "consent given");
    issue(svc, &request, &session).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_is_added_to_the_redirect_uri_and_the_origin_read() {
        assert_eq!(
            with_query(
                "https://a.example/cb?x=1",
                &[("code", Some("c d")), ("state", None)]
            ),
            "https://a.example/cb?x=1&code=c+d"
        );
        assert_eq!(
            origin_of("https://a.example:8443/cb?x"),
            Some("https://a.example:8443".into())
        );
        assert_eq!(origin_of("com.example.app:/cb"), None);
        assert_eq!(origin_of("http://user@evil/cb"), None);
    }

    #[test]
    fn acr_values_demand_a_second_factor_when_they_name_only_2_of_authds_values() {
        let demands = |acr: Option<&str>| {
            let now = chrono::Utc::now();
            demands_second_factor(&AuthorizationRequest {
                id: Uuid::new_v4(),
                client_id: "c".into(),
                redirect_uri: "https://a.example/cb".into(),
                scope: "openid".into(),
                state: None,
                nonce: None,
                code_challenge: None,
                prompt: None,
                max_age: None,
                login_hint: None,
                acr_values: acr.map(str::to_owned),
                pushed: false,
                created_at: now,
                expires_at: now,
                consumed_at: None,
            })
        };
        assert!(demands(Some("2")));
        assert!(demands(Some("urn:other 2")));
        assert!(!demands(Some("2 1")));
        assert!(!demands(Some("1")));
        assert!(!demands(Some("urn:other")));
        assert!(!demands(None));
    }
}
