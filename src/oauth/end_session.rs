//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0) at
//! `/oauth/logout`: which logouts end at once, which are confirmed by the
//! user first, and where the browser goes afterwards.
//!
//! - **The client** is the hint's `aud` (an `id_token_hint` authd signed,
//!   `oidc::hint`; expiry not required), else `client_id`; both given must
//!   agree. A hint that authd did not sign is refused (an error page).
//! - **Where to**: `post_logout_redirect_uri` must be one the client
//!   registered, compared exactly (`clients::post_logout_redirect_uri_matches`);
//!   without a known client it is refused. A refused URI gets an error page,
//!   is never redirected to, and nothing ends. Without one, the user sees
//!   authd's "signed out" page. `state` is passed back on the redirect.
//! - **At once** when the hint's `sid` names the browser's own session (the
//!   `__Host-authd_session` cookie): the `sid` of the browser session, or of
//!   a client family signed in through it. A missing hint, or one of another
//!   or an ended session (stale), gets a confirmation page instead: a form
//!   with a CSRF token bound to the browser session, and nothing ends until
//!   it is posted. Without a usable browser session there is nothing to end.
//! - **What ends** (`sessions::logout::end_browser_session`): the browser
//!   session and every client family signed in through it, of every client.
//!   First-party sessions (`/auth/login`) and families signed in through
//!   another browser are left alone.

use uuid::Uuid;

use crate::audit::RequestMeta;
use crate::clients;
use crate::csrf::{self, CsrfRefused};
use crate::error::ServiceError;
use crate::ids::{SessionId, UserId};
use crate::oidc::hint;
use crate::services::Services;
use crate::sessions::browser::{self, BrowserSession};
use crate::sessions::logout;
use crate::store;

/// The name the confirmation form's CSRF token is bound to.
pub const CONFIRM_FORM: &str = "logout_confirm";

/// Longest `client_id`, `post_logout_redirect_uri` or `state` read.
const MAX_PARAM_CHARS: usize = 2048;

/// The parameters of a logout request (`ui_locales` and others ignored).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogoutRequest {
    pub id_token_hint: Option<String>,
    pub client_id: Option<String>,
    pub post_logout_redirect_uri: Option<String>,
    pub state: Option<String>,
}

/// Why a logout request is refused (an error page, 400 `invalid_request`;
/// nothing ends, nothing redirects).
#[derive(Debug, thiserror::Error)]
pub enum LogoutError {
    #[error("the id_token_hint is not an ID token authd issued")]
    InvalidHint,
    #[error("client_id is not the client the id_token_hint was issued to")]
    ClientMismatch,
    #[error("the client is not registered")]
    UnknownClient,
    #[error("post_logout_redirect_uri needs an id_token_hint or a client_id")]
    RedirectWithoutClient,
    #[error("post_logout_redirect_uri is not registered for this client")]
    UnregisteredRedirect,
    #[error("a parameter is too long")]
    TooLong,
    /// 403 `invalid_csrf_token`.
    #[error(transparent)]
    Csrf(#[from] CsrfRefused),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl From<store::StoreError> for LogoutError {
    fn from(e: store::StoreError) -> Self {
        Self::Service(e.into())
    }
}

/// A request checked: the client (if known) and the validated way out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub client_id: Option<String>,
    pub client_name: Option<String>,
    /// The registered post-logout redirect URI, as presented.
    pub post_logout_redirect_uri: Option<String>,
    pub state: Option<String>,
    /// The hint's `sid`, if a hint was given.
    sid: Option<Uuid>,
}

impl Checked {
    /// Where the browser goes once signed out: the registered URI with
    /// `state`, or `None` for authd's own "signed out" page.
    pub fn redirect(&self) -> Option<String> {
        let uri = self.post_logout_redirect_uri.as_deref()?;
        Some(match self.state.as_deref() {
            Some(state) => {
                let sep = if uri.contains('?') { '&' } else { '?' };
                let state: String = form_urlencoded::byte_serialize(state.as_bytes()).collect();
                format!("{uri}{sep}state={state}")
            }
            None => uri.to_owned(),
        })
    }
}

/// What `/oauth/logout` does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// The browser session ended (or there was none): go to `checked.redirect()`.
    SignedOut(Checked),
    /// Ask the user: the page's form carries `checked` and `csrf`.
    Confirm { checked: Checked, csrf: String },
}

/// Checks `req` (see the module comment).
pub async fn check(svc: &Services, req: LogoutRequest) -> Result<Checked, LogoutError> {
    let too_long = |v: &Option<String>| v.as_ref().is_some_and(|v| v.len() > MAX_PARAM_CHARS);
    if too_long(&req.client_id) || too_long(&req.post_logout_redirect_uri) || too_long(&req.state) {
        return Err(LogoutError::TooLong);
    }
    let hint = match req.id_token_hint.as_deref().filter(|h| !h.is_empty()) {
        Some(token) => Some(
            hint::verify(svc.access.keys(), svc.settings.issuer(), token)
                .ok_or(LogoutError::InvalidHint)?,
        ),
        None => None,
    };
    let named = req.client_id.filter(|c| !c.is_empty());
    let client_id = match (&hint, named) {
        (Some(h), Some(c)) if h.client_id != c => return Err(LogoutError::ClientMismatch),
        (Some(h), _) => Some(h.client_id.clone()),
        (None, named) => named,
    };
    let client = match &client_id {
        Some(id) => Some(
            clients::find(&svc.store, id)
                .await?
                .ok_or(LogoutError::UnknownClient)?,
        ),
        None => None,
    };
    let uri = req.post_logout_redirect_uri.filter(|u| !u.is_empty());
    if let Some(uri) = &uri {
        let client = client.as_ref().ok_or(LogoutError::RedirectWithoutClient)?;
        if !clients::post_logout_redirect_uri_matches(client, uri) {
            return Err(LogoutError::UnregisteredRedirect);
        }
    }
    Ok(Checked {
        client_id,
        client_name: client.map(|c| c.name),
        post_logout_redirect_uri: uri,
        state: req.state.filter(|s| !s.is_empty()),
        sid: hint.and_then(|h| h.sid),
    })
}

/// `GET|POST /oauth/logout`: ends the browser session named by `cookie` at
/// once if the hint names it, else asks for confirmation.
pub async fn request(
    svc: &Services,
    req: LogoutRequest,
    cookie: Option<&str>,
    meta: &RequestMeta,
) -> Result<Next, LogoutError> {
    let checked = check(svc, req).await?;
    let Some(session) = browser::usable(svc, cookie).await? else {
        return Ok(Next::SignedOut(checked));
    };
    if hint_names(svc, checked.sid, &session).await? {
        end(svc, &session, checked.client_id.as_deref(), meta).await?;
        return Ok(Next::SignedOut(checked));
    }
    let csrf = csrf::issue(&svc.refresh, CONFIRM_FORM, &session.id.to_string());
    Ok(Next::Confirm { checked, csrf })
}

/// The confirmation form's POST: checks the request again and the CSRF
/// token against the browser session, then ends it.
pub async fn confirm(
    svc: &Services,
    req: LogoutRequest,
    cookie: Option<&str>,
    csrf_token: Option<&str>,
    meta: &RequestMeta,
) -> Result<Checked, LogoutError> {
    let checked = check(svc, req).await?;
    let Some(session) = browser::usable(svc, cookie).await? else {
        return Ok(checked);
    };
    csrf::check(
        &svc.refresh,
        CONFIRM_FORM,
        Some(&session.id.to_string()),
        csrf_token,
    )?;
    end(svc, &session, checked.client_id.as_deref(), meta).await?;
    Ok(checked)
}

/// Whether the hint's `sid` is `session`, or a family signed in through it.
async fn hint_names(
    svc: &Services,
    sid: Option<Uuid>,
    session: &BrowserSession,
) -> Result<bool, LogoutError> {
    let Some(sid) = sid else {
        return Ok(false);
    };
    if sid == session.id {
        return Ok(true);
    }
    let mut conn = svc.store.conn().await?;
    let link = store::sessions::find_browser_link(&mut conn, sid).await?;
    Ok(link
        .is_some_and(|l| l.user_id == session.user_id && l.browser_session_id == Some(session.id)))
}

async fn end(
    svc: &Services,
    session: &BrowserSession,
    client: Option<&str>,
    meta: &RequestMeta,
) -> Result<(), LogoutError> {
    logout::end_browser_session(
        svc,
        SessionId(session.id),
        UserId(session.user_id),
        client,
        meta,
    )
    .await?;
    Ok(())
}
