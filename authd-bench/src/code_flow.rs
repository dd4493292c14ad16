//! The authorization code flow as a browser and a web app's backend drive
//! it: the confidential client the tool registers, a full flow (authorize
//! with PKCE S256, the login page, consent, the code, the token, userinfo)
//! from a browser with no cookie, and the single-sign-on path (authorize
//! with a live browser session, then the token). Redirects are never
//! followed: each step reads the `Location` of a 303, and authd's session
//! cookie is kept by hand (a `__Host-` cookie is `Secure`, which a cookie
//! store may not send to `http://127.0.0.1`).

use anyhow::Context;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Response, StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::requests::{PASSWORD, error_kind, transport_kind};
use crate::target::Target;

/// The client's redirect URI: never fetched, the tool reads the `Location`
/// that leads there.
pub const REDIRECT_URI: &str = "http://127.0.0.1:9/cb";
/// The scopes asked for: an ID token, the email claims, a refresh token.
pub const SCOPE: &str = "openid email offline_access";
/// authd's browser session cookie.
pub const SESSION_COOKIE: &str = "__Host-authd_session";

/// A confidential client (`client_secret_basic`).
#[derive(Clone)]
pub struct OAuthClient {
    pub id: String,
    pub secret: SecretString,
}

/// Registers a confidential client with [`REDIRECT_URI`] and [`SCOPE`] on
/// the server's database, through authd's own registration (what `authd
/// clients create --kind confidential` runs). `issuer`: an `http://` issuer
/// is a development server, where an `http://` redirect to this machine is
/// allowed.
pub async fn register_client(
    database_url: &str,
    issuer: &str,
    tag: &str,
) -> anyhow::Result<OAuthClient> {
    use authd::clients::{self, ClientKind, ClientSpec, Policy};
    use authd::config::{Settings, Sources};
    let defaults = Settings::load(&Sources::default()).context("authd's default settings")?;
    let mut db = defaults.database.clone();
    db.url = database_url.to_owned().into();
    db.max_connections = 1;
    let store = authd::store::Store::connect(&db)
        .await
        .context("connecting to the database")?;
    let spec = ClientSpec {
        kind: ClientKind::Confidential,
        redirect_uris: vec![REDIRECT_URI.to_owned()],
        ..ClientSpec::machine(&format!("authd-bench {tag}"), SCOPE)
    };
    let policy = Policy {
        development: issuer.starts_with("http://"),
    };
    let (client, secret) = clients::register(&store, spec, policy, chrono::Utc::now())
        .await
        .context("registering the code-flow client")?;
    let secret = secret.context("a confidential client without a secret")?;
    Ok(OAuthClient {
        id: client.id,
        secret,
    })
}

/// What one step of a flow came to, or why it failed (`<step>: <kind>`).
type Step<T> = Result<T, String>;

/// The parts of a token response the tool reads.
#[derive(Deserialize)]
struct Tokens {
    access_token: String,
    id_token: Option<String>,
    refresh_token: Option<String>,
}

/// The code flow against one server and client.
pub struct CodeFlow {
    /// Follows no redirect and keeps no cookie.
    http: reqwest::Client,
    target: Target,
    client: OAuthClient,
    /// Ask for consent on every flow (`prompt=consent`), not only a user's first.
    consent_every_time: bool,
    /// Live browser sessions (their cookie values) for the single-sign-on path.
    browsers: Vec<String>,
}

impl CodeFlow {
    pub fn new(
        target: Target,
        client: OAuthClient,
        timeout: std::time::Duration,
        pool: usize,
        consent_every_time: bool,
    ) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(pool)
            .no_proxy()
            .build()?;
        Ok(Self {
            http,
            target,
            client,
            consent_every_time,
            browsers: Vec::new(),
        })
    }

    /// Signs each of `emails` in once (a full flow each, consent given),
    /// keeping the browser sessions for the single-sign-on path.
    pub async fn open_browsers(&mut self, emails: &[String]) -> anyhow::Result<()> {
        for email in emails {
            let cookie = self
                .full(email)
                .await
                .map_err(|e| anyhow::anyhow!("a first sign-in of {email} by the code flow: {e}"))?;
            self.browsers.push(cookie);
        }
        Ok(())
    }

    pub fn browsers(&self) -> usize {
        self.browsers.len()
    }

    /// A full authorization from a browser with no cookie: authorize, the
    /// login form, consent when asked, the code, the token, userinfo.
    /// Returns the browser session cookie it signed in with.
    pub async fn full(&self, email: &str) -> Step<String> {
        let pkce = Pkce::new();
        let prompt = if self.consent_every_time {
            Some("consent")
        } else {
            None
        };
        let start = self.authorize(&pkce, prompt, None).await?;
        let login_page = page_path(&start, "/login").map_err(|e| format!("authorize: {e}"))?;
        let form = self.form(&login_page, None, "login page").await?;
        let response = self
            .post_form(
                "/login",
                None,
                &[
                    ("request", form.request.as_str()),
                    ("csrf", form.csrf.as_str()),
                    ("email", email),
                    ("password", PASSWORD),
                ],
            )
            .await
            .map_err(|e| format!("login: {e}"))?;
        let cookie = session_cookie(&response).ok_or("login: no session cookie")?;
        let mut next = see_other(response, "login").await?;
        if let Ok(consent_page) = page_path(&next, "/consent") {
            let form = self
                .form(&consent_page, Some(&cookie), "consent page")
                .await?;
            let response = self
                .post_form(
                    "/consent",
                    Some(&cookie),
                    &[
                        ("request", form.request.as_str()),
                        ("csrf", form.csrf.as_str()),
                        ("decision", "allow"),
                    ],
                )
                .await
                .map_err(|e| format!("consent: {e}"))?;
            next = see_other(response, "consent").await?;
        }
        let code = code(&next, &pkce.state).map_err(|e| format!("back to the client: {e}"))?;
        let tokens = self.token(&code, &pkce.verifier).await?;
        if tokens.id_token.is_none() || tokens.refresh_token.is_none() {
            return Err("token: no id_token or refresh_token for openid offline_access".into());
        }
        self.userinfo(&tokens.access_token).await?;
        Ok(cookie)
    }

    /// The single-sign-on path with the `slot`-th live browser session
    /// (round robin): authorize answered with a code at once, then the token.
    pub async fn sso(&self, slot: u64) -> Step<()> {
        if self.browsers.is_empty() {
            return Err("no browser session was opened".into());
        }
        let cookie = &self.browsers[(slot % self.browsers.len() as u64) as usize];
        let pkce = Pkce::new();
        let back = self.authorize(&pkce, None, Some(cookie)).await?;
        if back.starts_with("/login") {
            return Err("authorize: sent to the login page (the browser session ended)".into());
        }
        let code = code(&back, &pkce.state).map_err(|e| format!("authorize: {e}"))?;
        self.token(&code, &pkce.verifier).await?;
        Ok(())
    }

    /// `GET /oauth/authorize`; the `Location` of its 303.
    async fn authorize(
        &self,
        pkce: &Pkce,
        prompt: Option<&str>,
        cookie: Option<&str>,
    ) -> Step<String> {
        let mut query = vec![
            ("response_type", "code"),
            ("client_id", self.client.id.as_str()),
            ("redirect_uri", REDIRECT_URI),
            ("scope", SCOPE),
            ("state", pkce.state.as_str()),
            ("nonce", pkce.nonce.as_str()),
            ("code_challenge", pkce.challenge.as_str()),
            ("code_challenge_method", "S256"),
        ];
        if let Some(prompt) = prompt {
            query.push(("prompt", prompt));
        }
        let request = self
            .http
            .get(self.target.url("/oauth/authorize"))
            .query(&query);
        let response = with_cookie(request, cookie)
            .send()
            .await
            .map_err(|e| format!("authorize: {}", transport_kind(&e)))?;
        see_other(response, "authorize").await
    }

    /// GETs a page of authd and reads its form's hidden fields.
    async fn form(&self, path: &str, cookie: Option<&str>, what: &str) -> Step<HiddenFields> {
        let request = self.http.get(self.target.url(path));
        let response = with_cookie(request, cookie)
            .send()
            .await
            .map_err(|e| format!("{what}: {}", transport_kind(&e)))?;
        if response.status() != StatusCode::OK {
            return Err(format!("{what}: {}", response.status().as_u16()));
        }
        let html = response
            .text()
            .await
            .map_err(|e| format!("{what}: {}", transport_kind(&e)))?;
        match (hidden(&html, "request"), hidden(&html, "csrf")) {
            (Some(request), Some(csrf)) => Ok(HiddenFields { request, csrf }),
            _ => Err(format!("{what}: no request and csrf fields")),
        }
    }

    async fn post_form(
        &self,
        path: &str,
        cookie: Option<&str>,
        fields: &[(&str, &str)],
    ) -> Result<Response, String> {
        let request = self.http.post(self.target.url(path)).form(fields);
        with_cookie(request, cookie)
            .send()
            .await
            .map_err(|e| transport_kind(&e))
    }

    /// `POST /oauth/token` with the code (`client_secret_basic`).
    async fn token(&self, code: &str, verifier: &str) -> Step<Tokens> {
        let response = self
            .http
            .post(self.target.url("/oauth/token"))
            .basic_auth(&self.client.id, Some(self.client.secret.expose_secret()))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", REDIRECT_URI),
                ("code_verifier", verifier),
            ])
            .send()
            .await
            .map_err(|e| format!("token: {}", transport_kind(&e)))?;
        if !response.status().is_success() {
            return Err(format!("token: {}", error_kind(response).await));
        }
        response
            .json()
            .await
            .map_err(|_| "token: not a token response".into())
    }

    /// `GET /oauth/userinfo` with the access token.
    async fn userinfo(&self, access_token: &str) -> Step<()> {
        let response = self
            .http
            .get(self.target.url("/oauth/userinfo"))
            .bearer_auth(access_token)
            .send()
            .await
            .map_err(|e| format!("userinfo: {}", transport_kind(&e)))?;
        if !response.status().is_success() {
            return Err(format!("userinfo: {}", error_kind(response).await));
        }
        let claims: serde_json::Value = response
            .json()
            .await
            .map_err(|_| "userinfo: not JSON".to_owned())?;
        if claims["sub"].as_str().is_none() {
            return Err("userinfo: no sub".into());
        }
        Ok(())
    }
}

/// A flow's PKCE verifier and challenge, `state` and `nonce`: fresh each time.
struct Pkce {
    verifier: String,
    challenge: String,
    state: String,
    nonce: String,
}

impl Pkce {
    fn new() -> Self {
        let fresh = || uuid::Uuid::new_v4().simple().to_string();
        // 64 characters of [0-9a-f], 244 random bits (RFC 7636: 43 to 128).
        let verifier = format!("{}{}", fresh(), fresh());
        Self {
            challenge: authd::oauth::codes::s256_challenge(&verifier),
            verifier,
            state: fresh(),
            nonce: fresh(),
        }
    }
}

/// The hidden fields of a flow page's form.
struct HiddenFields {
    request: String,
    csrf: String,
}

fn with_cookie(request: reqwest::RequestBuilder, cookie: Option<&str>) -> reqwest::RequestBuilder {
    match cookie {
        Some(value) => request.header(COOKIE, format!("{SESSION_COOKIE}={value}")),
        None => request,
    }
}

/// The `Location` of a 303, or what `step` answered instead.
async fn see_other(response: Response, step: &str) -> Step<String> {
    if response.status() != StatusCode::SEE_OTHER {
        return Err(format!("{step}: {}", error_kind(response).await));
    }
    response
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .ok_or_else(|| format!("{step}: 303 without a Location"))
}

/// The browser session cookie a response sets.
fn session_cookie(response: &Response) -> Option<String> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix(&format!("{SESSION_COOKIE}=")))
        .map(|rest| rest.split(';').next().unwrap_or_default().to_owned())
        .filter(|value| !value.is_empty())
}

/// `location` if it is authd's page `path` (`/login?request=...`); else
/// where it leads, as an error (the client's redirect with `error=...`).
fn page_path(location: &str, path: &str) -> Result<String, String> {
    let page = location.split('?').next().unwrap_or_default();
    if page == path {
        return Ok(location.to_owned());
    }
    match Url::parse(location) {
        Ok(url) => match param(&url, "error") {
            Some(error) => Err(error),
            None => Err(format!("303 to {}", url.path())),
        },
        Err(_) => Err(format!("303 to {page}")),
    }
}

/// The code of a redirect to the client, its `state` checked.
fn code(location: &str, state: &str) -> Result<String, String> {
    if !location.starts_with(REDIRECT_URI) {
        let page = location.split('?').next().unwrap_or_default();
        return Err(format!("303 to {page}, not to the client"));
    }
    let url = Url::parse(location).map_err(|_| "an unreadable redirect".to_owned())?;
    if let Some(error) = param(&url, "error") {
        return Err(error);
    }
    if param(&url, "state").as_deref() != Some(state) {
        return Err("the state came back changed".into());
    }
    if param(&url, "iss").is_none() {
        return Err("no iss".into());
    }
    param(&url, "code").ok_or_else(|| "no code".into())
}

fn param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The value of the input named `name` in `html`, as a browser would read it
/// (the few character references an escaped attribute may hold decoded).
fn hidden(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\""))?;
    let tag_start = html[..at].rfind('<')?;
    let tag = &html[tag_start..tag_start + html[tag_start..].find('>')?];
    let value = tag.split(" value=\"").nth(1)?;
    let value = &value[..value.find('"')?];
    Some(
        value
            .replace("&#x2f;", "/")
            .replace("&#x27;", "'")
            .replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_fields_are_read_from_the_form() {
        let html = r#"<form method="post" action="/login">
<input type="hidden" name="request" value="0b8a">
<input type="hidden" name="csrf" value="a&#x2f;b&amp;c">
<input id="email" name="email" type="email" required value="">"#;
        assert_eq!(hidden(html, "request").as_deref(), Some("0b8a"));
        assert_eq!(hidden(html, "csrf").as_deref(), Some("a/b&c"));
        assert_eq!(hidden(html, "email").as_deref(), Some(""));
        assert_eq!(hidden(html, "decision"), None);
    }

    #[test]
    fn the_redirect_gives_the_code_only_with_its_state_and_iss() {
        let ok = format!("{REDIRECT_URI}?code=c1&state=s1&iss=http%3A%2F%2F127.0.0.1");
        assert_eq!(code(&ok, "s1").as_deref(), Ok("c1"));
        assert!(code(&ok, "s2").is_err());
        let no_iss = format!("{REDIRECT_URI}?code=c1&state=s1");
        assert!(code(&no_iss, "s1").is_err());
        let refused = format!("{REDIRECT_URI}?error=access_denied&state=s1&iss=x");
        assert_eq!(code(&refused, "s1"), Err("access_denied".into()));
        assert!(code("/login?request=r", "s1").is_err());
        assert_eq!(
            page_path("/login?request=r", "/login").as_deref(),
            Ok("/login?request=r")
        );
        assert_eq!(page_path(&refused, "/login"), Err("access_denied".into()));
    }
}
