//! What stands between a stock relying party and authd in these tests: the
//! HTTP client the `openidconnect` crate talks through (the suite's reqwest
//! client), and a browser that follows authd's `303`s, keeps the browser
//! session cookie and fills in the hosted login and consent forms.

use std::future::Future;
use std::pin::Pin;

use openidconnect::url::Url;
use openidconnect::{AsyncHttpClient, HttpRequest, HttpResponse};

use crate::helpers::{PASSWORD, Reply, TestApp, urlencode};

/// The browser session's cookie at authd.
pub const SESSION_COOKIE: &str = "__Host-authd_session";

/// The relying party's HTTP client: reqwest without redirects (following
/// them from a token or userinfo endpoint would open the RP to SSRF).
#[derive(Clone)]
pub struct Http(pub reqwest::Client);

impl<'c> AsyncHttpClient<'c> for Http {
    type Error = reqwest::Error;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, Self::Error>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let response = self.0.execute(reqwest::Request::try_from(request)?).await?;
            let status = response.status();
            let headers = response.headers().clone();
            let mut reply = HttpResponse::new(response.bytes().await?.to_vec());
            *reply.status_mut() = status;
            *reply.headers_mut() = headers;
            Ok(reply)
        })
    }
}

/// A page of authd's the browser was shown on its way back to the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    Login,
    Consent,
}

/// Where an authorization ended: the redirect back to the app, and the pages
/// shown before it.
#[derive(Debug)]
pub struct Arrival {
    pub redirect: Url,
    pub pages: Vec<Page>,
}

impl Arrival {
    /// The value of query parameter `name` of the redirect back to the app.
    pub fn param(&self, name: &str) -> Option<String> {
        self.redirect
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }
}

/// One browser: authd's session cookie kept by hand (reqwest's cookie store
/// may not send a `Secure` cookie to `http://127.0.0.1`), redirects followed
/// one by one.
pub struct Browser<'a> {
    app: &'a TestApp,
    session: Option<String>,
}

impl<'a> Browser<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        Self { app, session: None }
    }

    /// Whether authd has set its browser session cookie.
    pub fn has_session(&self) -> bool {
        self.session.is_some()
    }

    fn absolute(&self, location: &str) -> String {
        if location.starts_with('/') {
            format!("{}{location}", self.app.address)
        } else {
            location.to_owned()
        }
    }

    async fn send(&mut self, url: &str, request: reqwest::RequestBuilder) -> Reply {
        let request = match &self.session {
            Some(value) if url.starts_with(&self.app.address) => {
                request.header("cookie", format!("{SESSION_COOKIE}={value}"))
            }
            _ => request,
        };
        let reply = self.app.send(request).await;
        for cookie in reply.set_cookies() {
            if let Some(rest) = cookie.strip_prefix(&format!("{SESSION_COOKIE}=")) {
                let value = rest.split(';').next().unwrap_or("");
                assert!(
                    cookie.contains("HttpOnly") && cookie.contains("Secure"),
                    "the session cookie is HttpOnly and Secure: {cookie}"
                );
                self.session = (!value.is_empty()).then(|| value.to_owned());
            }
        }
        reply
    }

    pub async fn get(&mut self, url: &str) -> Reply {
        let url = self.absolute(url);
        let request = self.app.client.get(&url);
        self.send(&url, request).await
    }

    pub async fn post_form(&mut self, url: &str, fields: &[(String, String)]) -> Reply {
        let url = self.absolute(url);
        let body = fields
            .iter()
            .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let request = self
            .app
            .client
            .post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        self.send(&url, request).await
    }

    /// Opens `authorization_url` and goes where authd sends it: a login form
    /// is filled in as `email` (with the suite's password), a consent form
    /// answered `allow`, until authd redirects to `redirect_uri`.
    pub async fn authorize(
        &mut self,
        authorization_url: &Url,
        email: &str,
        redirect_uri: &str,
    ) -> Arrival {
        let mut pages = Vec::new();
        let mut at = authorization_url.to_string();
        let mut reply = self.get(&at).await;
        for _ in 0..10 {
            match reply.status {
                303 | 302 => {
                    let location = reply.header("location").expect("a redirect's Location");
                    let location = self.absolute(location);
                    if location.starts_with(redirect_uri) {
                        let redirect = Url::parse(&location).expect("a redirect URI");
                        return Arrival { redirect, pages };
                    }
                    assert!(
                        location.starts_with(&self.app.address),
                        "authd redirects within itself or to the app: {location}"
                    );
                    reply = self.get(&location).await;
                    at = location;
                }
                200 | 401 => {
                    let (page, action, mut fields) = if let Some(form) = form(&reply.text, "/login")
                    {
                        let mut fields = form.hidden;
                        fields.push(("email".into(), email.into()));
                        fields.push(("password".into(), PASSWORD.into()));
                        (Page::Login, form.action, fields)
                    } else if let Some(form) = form(&reply.text, "/consent") {
                        (Page::Consent, form.action, form.hidden)
                    } else {
                        panic!("a page without a login or consent form: {}", reply.text);
                    };
                    for required in ["request", "csrf"] {
                        assert!(
                            fields.iter().any(|(k, v)| k == required && !v.is_empty()),
                            "{page:?} form has a hidden {required}: {}",
                            reply.text
                        );
                    }
                    if page == Page::Consent {
                        fields.push(("decision".into(), "allow".into()));
                    }
                    assert!(
                        !pages.contains(&page),
                        "{page:?} shown twice (refused?): {}",
                        reply.text
                    );
                    pages.push(page);
                    reply = self.post_form(&action, &fields).await;
                    at = action;
                    if page == Page::Login {
                        assert!(self.has_session(), "a login sets {SESSION_COOKIE}");
                    }
                }
                status => panic!(
                    "{at} answered {status} on the way to the app: {}",
                    reply.text
                ),
            }
        }
        panic!("more than 10 steps without reaching {redirect_uri}");
    }
}

/// A form of an HTML page: where it posts and its hidden inputs.
#[derive(Debug)]
pub struct Form {
    pub action: String,
    pub hidden: Vec<(String, String)>,
}

/// The first `method=post` form of `html` whose action's path is `path`.
/// A small scanner for authd's own pages, not a general HTML parser.
pub fn form(html: &str, path: &str) -> Option<Form> {
    let mut rest = html;
    while let Some(start) = rest.find("<form") {
        let after = &rest[start..];
        let tag_end = after.find('>')?;
        let tag = &after[..=tag_end];
        let body_end = after.find("</form>").unwrap_or(after.len());
        let body = &after[tag_end..body_end];
        rest = &after[body_end..];
        let action = attribute(tag, "action").unwrap_or_default();
        // An absolute action (`http://…/login`) or a path (`/login?…`).
        let action_path = match Url::parse(&action) {
            Ok(url) => url.path().to_owned(),
            Err(_) => action.split(['?', '#']).next().unwrap_or("").to_owned(),
        };
        let is_post = attribute(tag, "method").is_some_and(|m| m.eq_ignore_ascii_case("post"));
        if action_path != path || !is_post {
            continue;
        }
        let hidden = tags(body, "<input")
            .filter(|t| attribute(t, "type").is_some_and(|v| v.eq_ignore_ascii_case("hidden")))
            .filter_map(|t| {
                Some((
                    attribute(t, "name")?,
                    attribute(t, "value").unwrap_or_default(),
                ))
            })
            .collect();
        return Some(Form { action, hidden });
    }
    None
}

/// The tags of `html` that open with `open` (`<input`), each up to its `>`.
fn tags<'h>(html: &'h str, open: &'static str) -> impl Iterator<Item = &'h str> {
    html.match_indices(open).filter_map(move |(at, _)| {
        let tag = &html[at..];
        tag.find('>').map(|end| &tag[..=end])
    })
}

/// The value of attribute `name` in `tag`, its character references decoded.
pub fn attribute(tag: &str, name: &str) -> Option<String> {
    let bytes = tag.as_bytes();
    let mut from = 0;
    while let Some(found) = tag[from..].find(name) {
        let at = from + found;
        from = at + name.len();
        let before_ok = at > 0 && bytes[at - 1].is_ascii_whitespace();
        let rest = tag[from..].trim_start();
        let Some(value) = rest.strip_prefix('=') else {
            continue;
        };
        if !before_ok {
            continue;
        }
        let value = value.trim_start();
        let raw = match value.chars().next() {
            Some(q @ ('"' | '\'')) => value[1..].split(q).next().unwrap_or(""),
            _ => value
                .split(|c: char| c.is_ascii_whitespace() || c == '>')
                .next()
                .unwrap_or(""),
        };
        return Some(unescape(raw));
    }
    None
}

/// `raw` with the character references an HTML escaper writes decoded.
fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let entity = &rest[amp..];
        let Some(end) = entity.find(';') else {
            out.push_str(entity);
            return out;
        };
        let name = &entity[1..end];
        let decoded = match name {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => name
                .strip_prefix("#x")
                .or_else(|| name.strip_prefix("#X"))
                .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                .or_else(|| name.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &entity[end + 1..];
            }
            None => {
                out.push('&');
                rest = &entity[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[test]
fn the_form_scanner_reads_authd_s_forms() {
    let html = r#"<form method="get" action="/login"></form>
        <form class="x" method="POST" action="/login?x=1">
        <input type="hidden" name="request" value="0f&#x2f;a">
        <input type='hidden' name='csrf' value='a&amp;b'>
        <input id="email" name="email" type="email">
        <button type="submit">Sign in</button></form>"#;
    let form = form(html, "/login").unwrap();
    assert_eq!(form.action, "/login?x=1");
    assert_eq!(
        form.hidden,
        vec![
            ("request".to_owned(), "0f/a".to_owned()),
            ("csrf".to_owned(), "a&b".to_owned())
        ]
    );
    assert!(super::browser::form(html, "/consent").is_none());
}
