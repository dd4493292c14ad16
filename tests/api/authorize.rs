//! The authorization endpoint and the hosted login and consent pages, as a
//! browser meets them: what is refused without a redirect (an unknown client,
//! a redirect URI not registered exactly), what goes back to the client with
//! an error and `iss`, PKCE S256 only, the CSRF tokens of the forms, the
//! pages' `frame-ancestors 'none'`, and the browser session (single sign-on,
//! `prompt`, `max_age`, ended by a password change, never a refresh token).

use reqwest::Url;
use serde_json::json;

use crate::helpers::{AppKind, OidcClient, PASSWORD, Reply, TestApp, spawn_app, urlencode};
use crate::oidc_rp::browser::{SESSION_COOKIE, form};

crate::on_both_stores!(
    an_unknown_client_gets_an_error_page_and_no_redirect,
    redirect_uris_not_registered_exactly_are_refused_without_a_redirect,
    response_type_token_goes_back_as_unsupported_response_type_with_iss,
    pkce_plain_or_without_a_method_is_refused,
    a_request_without_pkce_is_refused_for_a_client_that_must_use_it,
    a_parameter_given_twice_is_refused,
    a_client_that_requires_par_refuses_a_request_not_pushed,
    the_login_and_consent_forms_refuse_a_missing_or_foreign_csrf_token,
    the_pages_and_the_error_page_forbid_framing,
    a_wrong_password_shows_the_form_again_and_never_says_which,
    prompt_none_without_a_session_is_login_required,
    a_full_sign_in_issues_a_code_with_state_and_iss_and_the_second_skips_the_login_form,
    max_age_zero_and_prompt_login_ask_for_the_password_despite_the_session,
    prompt_none_without_consent_is_consent_required,
    consent_denied_goes_back_as_access_denied,
    the_consent_page_answers_only_the_browser_session_that_signed_in,
    a_password_change_ends_the_browser_session,
    a_browser_session_is_never_a_refresh_token,
    a_refresh_token_for_a_browser_session_id_is_refused,
);

const REDIRECT: &str = "https://app.example.com:8443/cb";
const ISSUER: &str = "http://authd.test";
/// An S256 challenge (RFC 7636 appendix B).
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

async fn client(app: &TestApp) -> OidcClient {
    app.create_oidc_client(AppKind::Confidential, REDIRECT)
        .await
}

/// The query of an authorization of `client`: a valid request with the
/// parameters of `extra` replacing or added to the defaults (an empty value
/// leaves the parameter out).
fn query(client: &OidcClient, extra: &[(&str, &str)]) -> String {
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
struct Browser<'a> {
    app: &'a TestApp,
    session: Option<String>,
}

impl<'a> Browser<'a> {
    fn new(app: &'a TestApp) -> Self {
        Self { app, session: None }
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> Reply {
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

    async fn get(&mut self, path: &str) -> Reply {
        let url = if path.starts_with('/') {
            self.app.url(path)
        } else {
            path.to_owned()
        };
        let request = self.app.client.get(url);
        self.send(request).await
    }

    async fn authorize(&mut self, query: &str) -> Reply {
        self.get(&format!("/oauth/authorize?{query}")).await
    }

    async fn post(&mut self, path: &str, fields: &[(String, String)]) -> Reply {
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
    async fn follow(&mut self, reply: &Reply) -> Reply {
        assert_eq!(reply.status, 303, "{}", reply.text);
        let location = reply.header("location").unwrap().to_owned();
        assert!(location.starts_with('/'), "a page of authd: {location}");
        self.get(&location).await
    }

    /// Fills in the login form of `page` as `email` with `password`.
    async fn log_in(&mut self, page: &Reply, email: &str, password: &str) -> Reply {
        let login = form(&page.text, "/login").expect("a login form");
        let mut fields = login.hidden;
        fields.push(("email".into(), email.into()));
        fields.push(("password".into(), password.into()));
        self.post("/login", &fields).await
    }

    /// Answers the consent form of `page`.
    async fn consent(&mut self, page: &Reply, decision: &str) -> Reply {
        let consent = form(&page.text, "/consent").expect("a consent form");
        let mut fields = consent.hidden;
        fields.push(("decision".into(), decision.into()));
        self.post("/consent", &fields).await
    }

    /// A whole first sign-in of `email` for `query`: the login form, the
    /// consent allowed; the redirect back to the client.
    async fn sign_in(&mut self, query: &str, email: &str) -> Url {
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
fn to_client(reply: &Reply) -> Url {
    assert_eq!(reply.status, 303, "{}", reply.text);
    let location = reply.header("location").expect("a Location");
    assert!(location.starts_with(REDIRECT), "{location}");
    let url = Url::parse(location).unwrap();
    assert_eq!(param(&url, "iss").as_deref(), Some(ISSUER), "{location}");
    url
}

fn param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The error of a redirect back to the client, `state` kept.
fn client_error(reply: &Reply) -> String {
    let url = to_client(reply);
    assert_eq!(param(&url, "state").as_deref(), Some("st-1"), "{url}");
    assert!(param(&url, "code").is_none(), "{url}");
    param(&url, "error").expect("an error")
}

/// An HTML error page: no redirect anywhere, framing forbidden.
fn error_page(reply: &Reply) {
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

fn assert_no_framing(reply: &Reply) {
    let csp = reply.header("content-security-policy").expect("a CSP");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
}

/// Which page a 303 leads to.
fn leads_to(reply: &Reply) -> String {
    assert_eq!(reply.status, 303, "{}", reply.text);
    let location = reply.header("location").unwrap();
    location.split('?').next().unwrap().to_owned()
}

async fn user(app: &TestApp) -> String {
    let email = format!("az-{}@example.com", uuid::Uuid::new_v4().simple());
    app.register(&email).await;
    email
}

async fn an_unknown_client_gets_an_error_page_and_no_redirect(backend: crate::helpers::Backend) {
    let app = spawn_app(backend).await;
    let known = client(&app).await;
    let mut browser = Browser::new(&app);
    for client_id in ["client_0123456789abcdef0123456789abcdef", "nope", ""] {
        let unknown = OidcClient {
            id: client_id.into(),
            secret: None,
        };
        let reply = browser.authorize(&query(&unknown, &[])).await;
        error_page(&reply);
    }
    // The same request from the registered client goes on.
    let reply = browser.authorize(&query(&known, &[])).await;
    assert_eq!(leads_to(&reply), "/login");
}

async fn redirect_uris_not_registered_exactly_are_refused_without_a_redirect(
    backend: crate::helpers::Backend,
) {
    let app = spawn_app(backend).await;
    let client = client(&app).await;
    let mut browser = Browser::new(&app);
    for variant in [
        "https://app.example.com:8443/cb/more",
        "https://app.example.com:8443/cbx",
        "https://app.example.com:8444/cb",
        "https://app.example.com/cb",
        "https://app.example.com:8443/cb?x=1",
        "https://app.example.com:8443/cb#frag",
        "https://APP.example.com:8443/cb",
        "https://app.example.com:8443/CB",
        "https://app.example.com:8443/%63b",
        "http://app.example.com:8443/cb",
        "https://evil.example/cb",
    ] {
        let reply = browser
            .authorize(&query(&client, &[("redirect_uri", variant)]))
            .await;
        error_page(&reply);
        assert!(!reply.text.contains("evil"), "{variant}");
    }
    // Left out: the client's one redirect URI.
    let reply = browser
        .authorize(&query(&client, &[("redirect_uri", "")]))
        .await;
    assert_eq!(leads_to(&reply), "/login");
}

async fn response_type_token_goes_back_as_unsupported_response_type_with_iss(
    backend: crate::helpers::Backend,
) {
    let app = spawn_app(backend).await;
    let client = client(&app).await;
    let mut browser = Browser::new(&app);
    for response_type in ["token", "id_token", "code id_token", "code token"] {
        let reply = browser
            .authorize(&query(&client, &[("response_type", response_type)]))
            .await;
        assert_eq!(client_error(&reply), "unsupported_response_type");
    }
    let reply = browser
        .authorize(&query(&client, &[("response_type", "")]))
        .await;
    assert_eq!(client_error(&reply), "invalid_request");
    let reply = browser
        .authorize(&query(&client, &[("scope", "openid authd:introspect")]))
        .await;
    assert_eq!(client_error(&reply), "invalid_scope");
}

async fn pkce_plain_or_without_a_method_is_refused(backend: crate::helpers::Backend) {
    let app = spawn_app(backend).await;
    let client = client(&app).await;
    let mut browser = Browser::new(&app);
    for method in ["plain", "", "s256", "S512"] {
        let reply = browser
            .authorize(&query(&client, &[("code_challenge_method", method)]))
            .await;
        assert_eq!(client_error(&reply), "invalid_request", "{method:?}");
    }
}

async fn a_request_without_pkce_is_refused_for_a_client_that_must_use_it(
    backend: crate::helpers::Backend,
) {
    let app = spawn_app(backend).await;
    let client = client(&app).await;
    let mut browser = Browser::new(&app);
    let reply = browser
        .authorize(&query(
            &client,
            &[("code_challenge", ""), ("code_challenge_method", "")],
        ))
        .await;
    assert_eq!(client_error(&reply), "invalid_request");
    // A malformed challenge too.
    let reply = browser
        .authorize(&query(&client, &[("code_challenge", "short")]))
        .await;
    assert_eq!(client_error(&reply), "invalid_request");
}

async fn a_parameter_given_twice_is_refused(backend: crate::helpers::Backend) {
    let app = spawn_app(backend).await;
    let client = client(&app).await;
    let mut browser = Browser::new(&app);
    let q = query(&client, &[]);
    let reply = browser.authorize(&format!("{q}&scope=openid")).await;
    assert_eq!(client_error(&reply), "invalid_request");
    // The client or the redirect URI twice: nothing is sent anywhere.
    for twice in [
        format!("client_id={}", client.id),
        format!("redirect_uri={}", urlencode(REDIRECT)),
    ] {
        let reply = browser.authorize(&format!("{q}&{twice}")).await;
        error_page(&reply);
    }
}

async fn a_client_that_requires_par_refuses_a_request_not_pushed(backend: crate::helpers::Backend) {
    let app = spawn_app(backend).await;
    let spec = authd::clients::ClientSpec {
        kind: authd::clients::ClientKind::Confidential,
        redirect_uris: vec![REDIRECT.to_owned()],
        require_par: true,
        ..authd::clients::ClientSpec::machine("par app", crate::helpers::OIDC_SCOPES)
    };
    let policy = authd::clients::Policy { development: true };
    let (registered, _) = authd::clients::register(app.store(), spec, policy, app.now())
        .await
        .unwrap();
    let client = OidcClient {
        id: registered.id,
        secret: None,
    };
    let mut browser = Browser::new(&app);
    let reply = browser.authorize(&query(&client, &[])).await;
    assert_eq!(client_error(&reply), "invalid_request");
}

async fn the_login_and_consent_forms_refuse_a_missing_or_foreign_csrf_token(
    backend: crate::helpers::Backend,
) {
    let app = spawn_app(backend).await;
    let client = client(&app).await;
    let email = user(&app).await;
    let mut browser = Browser::new(&app);
    let first = browser.authorize(&query(&client, &[])).await;
    let login = browser.follow(&first).await;
    let other = browser.authorize(&query(&client, &[])).await;
    let other_login = browser.follow(&other).await;
    let token = |page: &Reply, path: &str| {
        let f = form(&page.text, path).unwrap();
        f.hidden.into_iter().find(|(k, _)| k == "csrf").unwrap().1
    };
    let request = |page: &Reply, path: &str| {
        let f = form(&page.text, path).unwrap();
        f.hidden
            .into_iter()
            .find(|(k, _)| k == "request")
            .unwrap()
            .1
    };
    let credentials = [
        ("email".to_owned(), email.clone()),
        ("password".to_owned(), PASSWORD.to_owned()),
    ];
    for csrf in [
        None,
        Some(token(&other_login, "/login")),
        Some("kAAAA".into()),
    ] {
        let mut fields = vec![("request".to_owned(), request(&login, "/login"))];
        fields.extend(credentials.iter().cloned());
        if let Some(csrf) = csrf {
            fields.push(("csrf".into(), csrf));
        }
        let reply = browser.post("/login", &fields).await;
        assert_eq!(reply.status, 403, "{}", reply.text);
        assert!(reply.text.contains("invalid_csrf_token"));
        assert!(browser.session.is_none(), "no session without the token");
    }
    let signed_in = browser.log_in(&login, &email, PASSWORD).await;
    let consent = browser.follow(&signed_in).await;
    // The other request's consent page, once signed in, for a foreign token.
    let other_again = browser.authorize(&query(&client, &[])).await;
    let other_consent = browser.follow(&other_again).await;
    for csrf in [None, Some(token(&other_consent, "/consent"))] {
        let mut fields = vec![
            ("request".to_owned(), request(&consent, "/consent")),
            ("decision".to_owned(), "allow".to_owned()),
        ];
        if let Some(csrf) = csrf {
            fields.push(("csrf".into(), csrf));
        }
        let reply = browser.post("/consent", &fields).await;
        assert_eq!(reply.status, 403, "{}", reply.text);
        assert!(reply.header("location").is_none());
    }
    // With its own token it goes through.
    let back = browser.consent(&consent, "allow").await;
    assert!(param(&to_client(&back), "code").is_some());
}

async fn the_pages_and_the_error_page_forbid_framing(backend: crate::helpers::Backend) {
    let app = spawn_app(backend).await;
    let client = client(&app).await;
    let email = user(&app).await;
    let mut browser = Browser::new(&app);
    let start = browser.authorize(&query(&client, &[])).await;
    let login = browser.follow(&start).await;
    assert_eq!(login.status, 200);
    assert_no_framing(&login);
    assert!(login.text.contains(r#"<label for="email">"#));
    assert!(login.text.contains(r#"<label for="password">"#));
    let after = browser.log_in(&login, &email, PASSWORD).await;
    assert_no_framing(&after);
    let consent = browser.follow(&after).await;
    assert_eq!(consent.status, 200);
    assert_no_framing(&consent);
    let back = browser.consent(&consent, "allow").await;
    // The POST's redirect leaves authd: the CSP lets the form lead there.
    let csp = back.header("content-security-policy").unwrap();
    assert!(
        csp.contains("form-action 'self' https://app.example.com:8443"),
        "{csp}"
    );
    let error = browser.get("/login?request=not-a-request").await;
    error_page(&error);
}

async fn a_wrong_password_shows_the_form_again_and_never_says_which(
    backend: crate::helpers::Backend,
) {
    let app = spawn_app(backend).await;
    let client = client(&app).await;
    let email = user(&app).await;
    let mut browser = Browser::new(&app);
    let start = browser
        .authorize(&query(&client, &[("login_hint", &email)]))
        .await;
    let login = browser.follow(&start).await;
    assert!(
        login.text.contains(&format!(r#"value="{email}""#)),
        "login_hint fills in the email"
    );
    let wrong = browser
        .log_in(&login, &email, "not the password at all")
        .await;
    let unknown = browser
        .log_in(&login, "nobody-here@example.com", PASSWORD)
        .await;
    for reply in [&wrong, &unknown] {
        assert_eq!(reply.status, 401, "{}", reply.text);
        assert!(form(&reply.text, "/login").is_some(), "the form again");
        assert!(reply.text.contains("The email or password is not right."));
        assert!(browser.session.is_none());
    }
    // The throttle of /auth/login counted both.
    let right = browser.log_in(&wrong, &email, PASSWORD).await;
    assert_eq!(leads_to(&right), "/consent");
}

async fn prompt_none_without_a_session_is_login_required(backend: crate::helpers::Backend) {
    let app = spawn_app(backend).await;
    let client = client(&app).await;
    let mut browser = Browser::new(&app);
    let reply = browser
        .authorize(&query(&client, &[("prompt", "none")]))
        .await;
    assert_eq!(client_error(&reply), "login_required");
    // A forged cookie is no session either.
    browser.session = Some("A".repeat(66));
    let reply = browser
        .authorize(&query(&client, &[("prompt", "none")]))
        .await;
    assert_eq!(client_error(&reply), "login_required");
    let reply = browser
        .authorize(&query(&client, &[("prompt", "none login")]))
        .await;
    assert_eq!(client_error(&reply), "invalid_request");
}

async fn a_full_sign_in_issues_a_code_with_state_and_iss_and_the_second_skips_the_login_form(
    backend: crate::helpers::Backend,
) {
    let app = spawn_app(backend).await;
    let client = client(&app).await;
    let email = user(&app).await;
    let mut browser = Browser::new(&app);
    let back = browser.sign_in(&query(&client, &[]), &email).await;
    assert_eq!(param(&back, "state").as_deref(), Some("st-1"));
    assert!(param(&back, "code").is_some_and(|c| c.len() >= 43));
    // Single sign-on: straight back with a code, no page, consent remembered.
    let again = browser.authorize(&query(&client, &[])).await;
    let url = to_client(&again);
    assert!(param(&url, "code").is_some());
    assert_ne!(param(&url, "code"), param(&back, "code"));
    // prompt=none works now too.
    let silent = browser
        .authorize(&query(&client, &[("prompt", "none")]))
        .await;
    assert!(param(&to_client(&silent), "code").is_some());
    // More scopes than consented: the consent page again, no login form.
    let more = browser
        .authorize(&query(&client, &[("scope", "openid email offline_access")]))
        .await;
    assert_eq!(leads_to(&more), "/consent");
    // A request authd never stored has no page.
    let unknown = browser
        .get("/consent?request=00000000-0000-0000-0000-000000000000")
        .await;
    error_page(&unknown);
}

async fn max_age_zero_and_prompt_login_ask_for_the_password_despite_the_session(
    backend: crate::helpers::Backend,
) {
    let app = spawn_app(backend).await;
    let client = client(&app).await;
    let email = user(&app).await;
    let mut browser = Browser::new(&app);
    browser.sign_in(&query(&client, &[]), &email).await;
    for extra in [("max_age", "0"), ("prompt", "login")] {
        let reply = browser.authorize(&query(&client, &[extra])).await;
        assert_eq!(leads_to(&reply), "/login", "{extra:?}");
        let login = browser.follow(&reply).await;
        let after = browser.log_in(&login, &email, PASSWORD).await;
        // Signed in again: the consent is remembered, so a code.
        assert!(param(&to_client(&after), "code").is_some(), "{extra:?}");
    }
    // A max_age the sign-in satisfies asks nothing.
    app.advance(30);
    let reply = browser
        .authorize(&query(&client, &[("max_age", "3600")]))
        .await;
    assert!(param(&to_client(&reply), "code").is_some());
    let reply = browser
        .authorize(&query(&client, &[("max_age", "10")]))
        .await;
    assert_eq!(leads_to(&reply), "/login");
}

async fn prompt_none_without_consent_is_consent_required(backend: crate::helpers::Backend) {
    let app = spawn_app(backend).await;
    let first = client(&app).await;
    let second = client(&app).await;
    let email = user(&app).await;
    let mut browser = Browser::new(&app);
    browser.sign_in(&query(&first, &[]), &email).await;
    let reply = browser
        .authorize(&query(&second, &[("prompt", "none")]))
        .await;
    assert_eq!(client_error(&reply), "consent_required");
    // prompt=consent asks again even for a remembered consent.
    let reply = browser
        .authorize(&query(&first, &[("prompt", "consent")]))
        .await;
    assert_eq!(leads_to(&reply), "/consent");
}

async fn consent_denied_goes_back_as_access_denied(backend: crate::helpers::Backend) {
    let app = spawn_app(backend).await;
    let client = client(&app).await;
    let email = user(&app).await;
    let mut browser = Browser::new(&app);
    let start = browser.authorize(&query(&client, &[])).await;
    let login = browser.follow(&start).await;
    let after = browser.log_in(&login, &email, PASSWORD).await;
    let consent = browser.follow(&after).await;
    assert!(
        consent.text.contains("See your email address"),
        "{}",
        consent.text
    );
    let denied = browser.consent(&consent, "deny").await;
    assert_eq!(client_error(&denied), "access_denied");
    // Nothing remembered: the next request asks again.
    let again = browser.authorize(&query(&client, &[])).await;
    assert_eq!(leads_to(&again), "/consent");
    // The denied request cannot be answered again.
    let replay = browser.consent(&consent, "allow").await;
    error_page(&replay);
}

async fn the_consent_page_answers_only_the_browser_session_that_signed_in(
    backend: crate::helpers::Backend,
) {
    let app = spawn_app(backend).await;
    let client = client(&app).await;
    let email = user(&app).await;
    let mut victim = Browser::new(&app);
    let start = victim.authorize(&query(&client, &[])).await;
    let login = victim.follow(&start).await;
    let after = victim.log_in(&login, &email, PASSWORD).await;
    let consent_url = after.header("location").unwrap().to_owned();
    let consent = victim.follow(&after).await;
    // Another browser (another session of the same user, or none) holding
    // the page's fields is refused.
    let mut stranger = Browser::new(&app);
    let page = stranger.get(&consent_url).await;
    error_page(&page);
    let reply = stranger.consent(&consent, "allow").await;
    error_page(&reply);
    let other = user(&app).await;
    let mut other_browser = Browser::new(&app);
    other_browser.sign_in(&query(&client, &[]), &other).await;
    let reply = other_browser.consent(&consent, "allow").await;
    error_page(&reply);
    let back = victim.consent(&consent, "allow").await;
    assert!(param(&to_client(&back), "code").is_some());
}

async fn a_password_change_ends_the_browser_session(backend: crate::helpers::Backend) {
    let app = spawn_app(backend).await;
    let client = client(&app).await;
    let email = user(&app).await;
    let mut browser = Browser::new(&app);
    browser.sign_in(&query(&client, &[]), &email).await;
    let again = browser.authorize(&query(&client, &[])).await;
    assert!(param(&to_client(&again), "code").is_some());
    let tokens = app.login_body(&email).await;
    let changed = app
        .send(
            app.client
                .post(app.url("/auth/password"))
                .bearer_auth(&tokens.access)
                .json(&json!({ "current_password": PASSWORD, "new_password": "tangerine submarine velvet 42" })),
        )
        .await;
    assert_eq!(changed.status, 204, "{}", changed.text);
    let after = browser.authorize(&query(&client, &[])).await;
    assert_eq!(leads_to(&after), "/login", "the browser session ended");
}

async fn a_browser_session_is_never_a_refresh_token(backend: crate::helpers::Backend) {
    let app = spawn_app(backend).await;
    let client = client(&app).await;
    let email = user(&app).await;
    let mut browser = Browser::new(&app);
    browser.sign_in(&query(&client, &[]), &email).await;
    let cookie = browser.session.clone().unwrap();
    for refused in [
        app.refresh_body(&cookie).await,
        app.refresh_cookie(&cookie).await,
    ] {
        assert_eq!(refused.status, 401, "{}", refused.text);
    }
    // The browser session still works.
    let again = browser.authorize(&query(&client, &[])).await;
    assert!(param(&to_client(&again), "code").is_some());
}

/// A refresh token made with authd's own key for a browser session's id:
/// `/auth/refresh` refuses it as a session it does not hold (the rotation's
/// kind check, `sessions::rotate`), and the browser session lives on.
async fn a_refresh_token_for_a_browser_session_id_is_refused(backend: crate::helpers::Backend) {
    let app = spawn_app(backend).await;
    let client = client(&app).await;
    let email = user(&app).await;
    let mut browser = Browser::new(&app);
    browser.sign_in(&query(&client, &[]), &email).await;
    let user_id = app.user_id(&email).await;
    let sessions = authd::sessions::list_live(app.services(), user_id)
        .await
        .unwrap();
    for session in sessions {
        let token = app
            .services()
            .refresh
            .encode(authd::tokens::refresh::RefreshClaims {
                session: session.id,
                counter: session.counter,
            });
        use secrecy::ExposeSecret;
        let reply = app.refresh_body(token.expose_secret()).await;
        assert_eq!(reply.status, 401, "{}", reply.text);
    }
    // The browser session still works.
    let again = browser.authorize(&query(&client, &[])).await;
    assert!(param(&to_client(&again), "code").is_some());
}
