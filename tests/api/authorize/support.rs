//! What the authorization tests share: a valid request to build on, a
//! browser that keeps authd's session cookie by hand, and the checks of the
//! answers (a redirect back to the client with `iss`, an error page).

use reqwest::Url;

use crate::helpers::{AppKind, OidcClient, PASSWORD, Reply, TestApp, urlencode};
use crate::oidc_rp::browser::{SESSION_COOKIE, form};

pub(crate) const REDIRECT: &str = "https://app.example.com:8443/cb";
pub(crate) const ISSUER: &str = "http://authd.test";
/// An S256 challenge (RFC 7636 appendix B).
pub(crate) const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

pub(crate) async fn client(app: &TestApp) -> OidcClient {
    app.create_oidc_client(AppKind::Confidential, REDIRECT)
        .await
}

/// The query of an authorization of `client`: a valid request with the
/// parameters of `extra` replacing or added to the defaults (an empty value
/// leaves the parameter out).
pub(crate) fn query(client: &OidcClient, extra: &[(&str, &str)]) -> String {
    let mut params: Vec<(&str, String)> = vec![
        ("response_type", "code".into()),
        ("client_id", client.id.clone()),
        ("redirect_uri", REDIRECT.into()),
        ("scope", "openid email".into()),
        ("state", "st-1".into()),
        ("nonce", "n-1".into()),
        ("code_challenge", CHALLENGE.into()),
        ("code_challenge_method", "S256".into()),
    ];
    for (k, v) in extra {
        params.retain(|(name, _)| name != k);
        if !v.is_empty() {
            params.push((k, (*v).to_owned()));
        }
    }
    params
        .iter()
        .map(|(k, v)| format!("{k}={}", urlencode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// A browser: authd's session cookie kept by hand, no redirect followed.
pub(crate) struct Browser<'a> {
    pub(crate) app: &'a TestApp,
    pub(crate) session: Option<String>,
}

impl<'a> Browser<'a> {
    pub(crate) fn new(app: &'a TestApp) -> Self {
        Self { app, session: None }
    }

    pub(crate) async fn send(&mut self, request: reqwest::RequestBuilder) -> Reply {
        let request = match &self.session {
            Some(value) => request.header("cookie", format!("{SESSION_COOKIE}={value}")),
            None => request,
        };
        let reply = self.app.send(request).await;
        for cookie in reply.set_cookies() {
            if let Some(rest) = cookie.strip_prefix(&format!("{SESSION_COOKIE}=")) {
                self.session = Some(rest.split(';').next().unwrap().to_owned());
            }
        }
        reply
    }

    pub(crate) async fn get(&mut self, path: &str) -> Reply {
        let url = if path.starts_with('/') {
            self.app.url(path)
        } else {
            path.to_owned()
        };
        let request = self.app.client.get(url);
        self.send(request).await
    }

    pub(crate) async fn authorize(&mut self, query: &str) -> Reply {
        self.get(&format!("/oauth/authorize?{query}")).await
    }

    pub(crate) async fn post(&mut self, path: &str, fields: &[(String, String)]) -> Reply {
        let body = fields
            .iter()
            .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let request = self
            .app
            .client
            .post(self.app.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        self.send(request).await
    }

    /// Follows a 303 within authd to the page it leads to.
    pub(crate) async fn follow(&mut self, reply: &Reply) -> Reply {
        assert_eq!(reply.status, 303, "{}", reply.text);
        let location = reply.header("location").unwrap().to_owned();
        assert!(location.starts_with('/'), "a page of authd: {location}");
        self.get(&location).await
    }

    /// Fills in the login form of `page` as `email` with `password`.
    pub(crate) async fn log_in(&mut self, page: &Reply, email: &str, password: &str) -> Reply {
        let login = form(&page.text, "/login").expect("a login form");
        let mut fields = login.hidden;
        fields.push(("email".into(), email.into()));
        fields.push(("password".into(), password.into()));
        self.post("/login", &fields).await
    }

    /// Answers the consent form of `page`.
    pub(crate) async fn consent(&mut self, page: &Reply, decision: &str) -> Reply {
        let consent = form(&page.text, "/consent").expect("a consent form");
        let mut fields = consent.hidden;
        fields.push(("decision".into(), decision.into()));
        self.post("/consent", &fields).await
    }

    /// A whole first sign-in of `email` for `query`: the login form, the
    /// consent allowed; the redirect back to the client.
    pub(crate) async fn sign_in(&mut self, query: &str, email: &str) -> Url {
        let start = self.authorize(query).await;
        let login = self.follow(&start).await;
        let after_login = self.log_in(&login, email, PASSWORD).await;
        let consent = self.follow(&after_login).await;
        let back = self.consent(&consent, "allow").await;
        to_client(&back)
    }
}

/// The redirect back to the client (a 303 to the registered URI), its `iss`
/// checked: every authorization response carries it (RFC 9207).
pub(crate) fn to_client(reply: &Reply) -> Url {
    assert_eq!(reply.status, 303, "{}", reply.text);
    let location = reply.header("location").expect("a Location");
    assert!(location.starts_with(REDIRECT), "{location}");
    let url = Url::parse(location).unwrap();
    assert_eq!(param(&url, "iss").as_deref(), Some(ISSUER), "{location}");
    url
}

pub(crate) fn param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The error of a redirect back to the client, `state` kept.
pub(crate) fn client_error(reply: &Reply) -> String {
    let url = to_client(reply);
    assert_eq!(param(&url, "state").as_deref(), Some("st-1"), "{url}");
    assert!(param(&url, "code").is_none(), "{url}");
    param(&url, "error").expect("an error")
}

/// An HTML error page: no redirect anywhere, framing forbidden.
pub(crate) fn error_page(reply: &Reply) {
    assert_eq!(reply.status, 400, "{}", reply.text);
    assert!(reply.header("location").is_none());
    assert!(
        reply
            .header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    assert_no_framing(reply);
}

pub(crate) fn assert_no_framing(reply: &Reply) {
    let csp = reply.header("content-security-policy").expect("a CSP");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
}

/// Which page a 303 leads to.
pub(crate) fn leads_to(reply: &Reply) -> String {
    assert_eq!(reply.status, 303, "{}", reply.text);
    let location = reply.header("location").unwrap();
    location.split('?').next().unwrap().to_owned()
}

pub(crate) async fn user(app: &TestApp) -> String {
    let email = format!("az-{}@example.com", uuid::Uuid::new_v4().simple());
    app.register(&email).await;
    email
}
