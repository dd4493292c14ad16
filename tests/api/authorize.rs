//! The authorization endpoint and the hosted login and consent pages, as a
//! browser meets them: what is refused without a redirect (an unknown client,
//! a redirect URI not registered exactly), what goes back to the client with
//! an error and `iss`, PKCE S256 only, the CSRF tokens of the forms and the
//! pages' `frame-ancestors 'none'`. The browser session (single sign-on,
//! `prompt`, `max_age`, consent) is in `authorize/session.rs`.

mod session;
pub(crate) mod support;

use crate::helpers::{OidcClient, PASSWORD, Reply, spawn_app, urlencode};
use crate::oidc_rp::browser::form;
use support::*;

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
);

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
