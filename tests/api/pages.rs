//! authd's hosted pages of emailed links (`http::pages`), on both stores:
//! opening a link shows its form and spends nothing, the form's POST spends
//! it through the same services as the JSON endpoints and answers 303, every
//! POST needs the CSRF token made for that form and that browser's cookie,
//! every page and error page carries the security headers, and errors are
//! HTML, never JSON.

use serde_json::json;

use crate::helpers::{Backend, PASSWORD, Reply, TestApp, spawn_app, spawn_app_with};
use crate::on_both_stores;

mod login_code;
mod passkeys;
mod security;

on_both_stores!(
    emailed_links_point_at_authds_own_pages_unless_link_base_is_set,
    opening_a_verification_link_spends_nothing_and_its_form_verifies_with_a_303,
    the_reset_page_keeps_the_link_for_a_weak_password_and_spends_it_for_a_good_one,
    a_form_without_its_csrf_token_or_with_a_foreign_one_is_refused_and_spends_nothing,
    every_page_and_error_page_carries_the_security_headers,
);

const COOKIE: &str = "__Host-authd-page";
const NEW_PASSWORD: &str = "an entirely new passphrase 77";

fn new_email() -> String {
    format!("p-{}@example.com", uuid::Uuid::new_v4().simple())
}

/// A browser's view of a form page: the page, its CSRF token, its cookie.
struct FormPage {
    reply: Reply,
    csrf: String,
    cookie: String,
}

async fn open(app: &TestApp, path_and_query: &str, cookie: Option<&str>) -> FormPage {
    let mut request = app.client.get(app.url(path_and_query));
    if let Some(cookie) = cookie {
        request = request.header("cookie", format!("{COOKIE}={cookie}"));
    }
    let reply = app.send(request).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let csrf = field_value(&reply.text, "csrf_token");
    let cookie = cookie.map(str::to_owned).unwrap_or_else(|| {
        let set = reply
            .set_cookies()
            .into_iter()
            .find(|c| c.starts_with(&format!("{COOKIE}=")))
            .expect("the page sets its binding cookie");
        for attribute in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"] {
            assert!(set.contains(attribute), "{attribute}: {set}");
        }
        set[COOKIE.len() + 1..]
            .split(';')
            .next()
            .unwrap()
            .to_owned()
    });
    FormPage {
        reply,
        csrf,
        cookie,
    }
}

/// The `value` of the hidden input `name` in `html`.
fn field_value(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).expect("the field") + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

async fn post_form(
    app: &TestApp,
    path: &str,
    cookie: Option<&str>,
    fields: &[(&str, &str)],
) -> Reply {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    let mut request = app
        .client
        .post(app.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body);
    if let Some(cookie) = cookie {
        request = request.header("cookie", format!("{COOKIE}={cookie}"));
    }
    app.send(request).await
}

/// An HTML error page naming `code`, never JSON.
fn assert_error_page(reply: &Reply, status: u16, code: &str) {
    assert_eq!(reply.status, status, "{}", reply.text);
    assert!(
        reply
            .header("content-type")
            .unwrap()
            .starts_with("text/html"),
        "{:?}",
        reply.headers
    );
    assert!(reply.body.is_null(), "not JSON: {}", reply.text);
    assert!(
        reply.text.contains(&format!("<code>{code}</code>")),
        "{}",
        reply.text
    );
}

fn assert_security_headers(reply: &Reply) {
    let csp = reply.header("content-security-policy").expect("a CSP");
    for directive in [
        "default-src 'none'",
        "style-src 'self'",
        "img-src 'self' data:",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ] {
        assert!(csp.contains(directive), "{directive}: {csp}");
    }
    assert!(!csp.contains("script-src"), "{csp}");
    assert_eq!(reply.header("referrer-policy"), Some("no-referrer"));
    assert_eq!(reply.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(reply.header("cache-control"), Some("no-store"));
}

async fn verified(app: &TestApp, email: &str) -> bool {
    let tokens = app.login_body(email).await;
    app.get_bearer("/auth/me", &tokens.access).await.body["email_verified"] == true
}

async fn emailed_links_point_at_authds_own_pages_unless_link_base_is_set(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.email.link_base = String::new()).await;
    let email = new_email();
    app.register(&email).await;
    let link = app.wait_for_action(&email, "verify_email").await.link();
    assert!(
        link.starts_with("http://authd.test/account?action=verify_email&token="),
        "{link}"
    );
    let page = open(&app, link.trim_start_matches("http://authd.test"), None).await;
    assert!(page.reply.text.contains("action=\"/account/verify\""));
}

async fn opening_a_verification_link_spends_nothing_and_its_form_verifies_with_a_303(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let email = new_email();
    app.register(&email).await;
    let token = app
        .wait_for_action(&email, "verify_email")
        .await
        .link_token();
    let query = format!("/account?action=verify_email&token={token}");
    let page = open(&app, &query, None).await;
    assert_eq!(field_value(&page.reply.text, "token"), token);
    assert!(page.reply.text.contains("<label for=\"password\">"));
    // Opened twice, as a mail scanner and then the user would: nothing spent.
    open(&app, &query, None).await;
    assert!(!verified(&app, &email).await, "opening the link verified");

    let reply = post_form(
        &app,
        "/account/verify",
        Some(&page.cookie),
        &[
            ("csrf_token", &page.csrf),
            ("token", &token),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert_eq!(reply.status, 303, "{}", reply.text);
    assert_eq!(
        reply.header("location"),
        Some("/account/done?result=verified")
    );
    assert_security_headers(&reply);
    assert!(verified(&app, &email).await);
    let done = app.get("/account/done?result=verified").await;
    assert_eq!(done.status, 200);
    assert!(done.text.contains("Address confirmed"), "{}", done.text);

    let again = post_form(
        &app,
        "/account/verify",
        Some(&page.cookie),
        &[("csrf_token", &page.csrf), ("token", &token)],
    )
    .await;
    assert_error_page(&again, 400, "invalid_account_token");
}

async fn the_reset_page_keeps_the_link_for_a_weak_password_and_spends_it_for_a_good_one(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let email = new_email();
    app.register(&email).await;
    let forgot = app
        .post_json("/auth/password/forgot", &json!({ "email": email }))
        .await;
    assert_eq!(forgot.status, 202);
    let token = app
        .wait_for_action(&email, "password_reset")
        .await
        .link_token();
    let page = open(
        &app,
        &format!("/account?action=password_reset&token={token}"),
        None,
    )
    .await;
    assert!(page.reply.text.contains("autocomplete=\"new-password\""));
    let send = |password: &'static str| {
        let (cookie, csrf, token) = (page.cookie.clone(), page.csrf.clone(), token.clone());
        let app = &app;
        async move {
            post_form(
                app,
                "/account/reset",
                Some(&cookie),
                &[
                    ("csrf_token", &csrf),
                    ("token", &token),
                    ("new_password", password),
                ],
            )
            .await
        }
    };
    // Too short: the form again, with the reason and the same link.
    let weak = send("short").await;
    assert_eq!(weak.status, 400, "{}", weak.text);
    assert!(weak.text.contains("role=\"alert\""), "{}", weak.text);
    assert_eq!(field_value(&weak.text, "token"), token);
    assert_security_headers(&weak);

    let reply = send(NEW_PASSWORD).await;
    assert_eq!(reply.status, 303, "{}", reply.text);
    assert_eq!(
        reply.header("location"),
        Some("/account/done?result=password_reset")
    );
    assert_eq!(app.try_login(&email, NEW_PASSWORD).await.status, 200);
    assert_eq!(app.try_login(&email, PASSWORD).await.status, 401);
    assert_error_page(&send(NEW_PASSWORD).await, 400, "invalid_account_token");
}

async fn a_form_without_its_csrf_token_or_with_a_foreign_one_is_refused_and_spends_nothing(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let email = new_email();
    app.register(&email).await;
    let token = app
        .wait_for_action(&email, "verify_email")
        .await
        .link_token();
    let query = format!("/account?action=verify_email&token={token}");
    let mine = open(&app, &query, None).await;
    let other_browser = open(&app, &query, None).await;
    assert_ne!(mine.cookie, other_browser.cookie);
    let reset_form = open(&app, "/account/forgot", Some(&mine.cookie)).await;
    let attempts: [(&str, Option<&str>, Option<&str>); 5] = [
        ("no token", Some(&mine.cookie), None),
        ("empty token", Some(&mine.cookie), Some("")),
        (
            "another browser's token",
            Some(&mine.cookie),
            Some(&other_browser.csrf),
        ),
        (
            "another form's token",
            Some(&mine.cookie),
            Some(&reset_form.csrf),
        ),
        ("no cookie", None, Some(&mine.csrf)),
    ];
    for (what, cookie, csrf) in attempts {
        let mut fields = vec![("token", token.as_str()), ("password", PASSWORD)];
        if let Some(csrf) = csrf {
            fields.push(("csrf_token", csrf));
        }
        let reply = post_form(&app, "/account/verify", cookie, &fields).await;
        assert_error_page(&reply, 403, "invalid_csrf_token");
        assert_security_headers(&reply);
        assert!(!verified(&app, &email).await, "{what}: the link was spent");
    }
    // Not JSON either when the form is not a form.
    let json = app
        .send(
            app.client
                .post(app.url("/account/verify"))
                .header("cookie", format!("{COOKIE}={}", mine.cookie))
                .json(&json!({ "token": token })),
        )
        .await;
    assert_error_page(&json, 400, "invalid_request");
    // The right token for this browser still works.
    let reply = post_form(
        &app,
        "/account/verify",
        Some(&mine.cookie),
        &[("csrf_token", &mine.csrf), ("token", &token)],
    )
    .await;
    assert_eq!(reply.status, 303, "{}", reply.text);
}

async fn every_page_and_error_page_carries_the_security_headers(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.pages.logo_url = "https://cdn.example.com/logo.svg".into();
    })
    .await;
    let page = open(&app, "/account?action=verify_email&token=abc", None).await;
    assert_security_headers(&page.reply);
    let csp = page.reply.header("content-security-policy").unwrap();
    assert!(
        csp.contains("img-src 'self' data: https://cdn.example.com;"),
        "{csp}"
    );
    // minijinja escapes `/` in HTML as `&#x2f;`, which the browser decodes.
    let html = page.reply.text.replace("&#x2f;", "/");
    assert!(html.contains("class=\"logo\" src=\"https://cdn.example.com/logo.svg\""));
    assert!(page.reply.text.contains("href=\"/assets/authd.css\""));
    assert!(!page.reply.text.contains("<script"));
    assert!(!page.reply.text.contains("style="));
    for reply in [
        app.get("/account").await,
        app.get("/account/forgot").await,
        app.get("/account/done?result=forgot").await,
    ] {
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert_security_headers(&reply);
    }
    for (reply, status, code) in [
        (
            app.get("/account?action=nonsense&token=x").await,
            400,
            "invalid_link",
        ),
        (
            app.get("/account?action=password_reset").await,
            400,
            "invalid_link",
        ),
        (app.get("/account/nowhere").await, 404, "not_found"),
        (app.get("/account/done?result=x").await, 404, "not_found"),
        (app.get("/account/verify").await, 405, "method_not_allowed"),
        (
            post_form(&app, "/account/reset", None, &[("token", "x")]).await,
            403,
            "invalid_csrf_token",
        ),
    ] {
        assert_error_page(&reply, status, code);
        assert_security_headers(&reply);
    }
    let css = app.get("/assets/authd.css").await;
    assert_eq!(css.status, 200);
    assert!(css.header("content-type").unwrap().starts_with("text/css"));
    assert!(css.text.contains("--accent: #2563eb"), "{}", css.text);
}
