//! The emailed code on the hosted login page (`POST /login/code`, then
//! `POST /login/code/verify`), on both stores: a whole authorization signed
//! in by a code read from the inbox, whose ID token says `amr: ["otp"]`; a
//! wrong code shown again and counted like the API's, until the page's 429;
//! the same page for an address without an account, and no mail; both POSTs
//! refused while code sign-in is off; and the forms bound to their request
//! and to the address the code was asked for.

use std::time::Duration;

use authd::config::Settings;

use crate::authorize::support::*;
use crate::helpers::{Backend, Reply, TestApp, jwt_claims, spawn_app, spawn_app_with};
use crate::oidc_rp::browser::form;
use crate::on_both_stores;

on_both_stores!(
    an_authorization_signed_in_with_an_emailed_code_ends_with_an_id_token_saying_otp,
    a_wrong_code_shows_the_form_again_and_is_counted_until_the_page_says_429,
    an_address_without_an_account_gets_the_same_page_and_no_mail,
    with_code_sign_in_off_the_page_offers_no_code_and_both_posts_are_refused,
    a_code_form_is_refused_with_another_requests_csrf_token,
    the_code_of_one_address_cannot_finish_the_request_for_another,
);

// RFC 7636 appendix B: the verifier of `support::CHALLENGE`.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

async fn enabled_app(backend: Backend, configure: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_with(backend, |s| {
        s.accounts.otp_enabled = true;
        configure(s);
    })
    .await
}

/// The login codes delivered to `to`, oldest first.
fn codes(app: &TestApp, to: &str) -> Vec<String> {
    let digits = app.services().settings.accounts.otp_digits as usize;
    app.mail_to(to)
        .into_iter()
        .filter(|m| m.subject.ends_with(" code"))
        .map(|m| m.code(digits))
        .collect()
}

/// The `n`th code delivered to `to` (from 0), once it has arrived.
async fn nth_code(app: &TestApp, to: &str, n: usize) -> String {
    for _ in 0..800 {
        if let Some(code) = codes(app, to).get(n) {
            return code.clone();
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no code reached {to}");
}

/// A code of the same length that is not `code`.
fn other_than(code: &str) -> String {
    code.chars()
        .map(|c| if c == '0' { '1' } else { '0' })
        .collect()
}

/// The value of hidden field `name` of the form of `page` posting to `path`.
fn hidden(page: &Reply, path: &str, name: &str) -> String {
    let form = form(&page.text, path).unwrap_or_else(|| panic!("a {path} form: {}", page.text));
    form.hidden
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no hidden {name} in the {path} form"))
}

/// A login page of a new authorization of `client`.
async fn login_page(browser: &mut Browser<'_>, client: &crate::helpers::OidcClient) -> Reply {
    let start = browser.authorize(&query(client, &[])).await;
    let login = browser.follow(&start).await;
    assert_eq!(login.status, 200, "{}", login.text);
    login
}

/// Posts the "email me a code" form of `login` for `email`, with `changes`
/// to its hidden fields.
async fn ask_code(
    browser: &mut Browser<'_>,
    login: &Reply,
    email: &str,
    changes: &[(&str, &str)],
) -> Reply {
    let mut fields = form(&login.text, "/login/code")
        .expect("a code form on the login page")
        .hidden;
    change(&mut fields, changes);
    fields.push(("email".into(), email.into()));
    browser.post("/login/code", &fields).await
}

/// Posts the code form of `page` with `code`, with `changes` to its hidden
/// fields.
async fn enter_code(
    browser: &mut Browser<'_>,
    page: &Reply,
    code: &str,
    changes: &[(&str, &str)],
) -> Reply {
    let mut fields = form(&page.text, "/login/code/verify")
        .unwrap_or_else(|| panic!("a code form: {}", page.text))
        .hidden;
    change(&mut fields, changes);
    fields.push(("code".into(), code.into()));
    browser.post("/login/code/verify", &fields).await
}

fn change(fields: &mut [(String, String)], changes: &[(&str, &str)]) {
    for (name, value) in changes {
        let field = fields
            .iter_mut()
            .find(|(k, _)| k == name)
            .unwrap_or_else(|| panic!("no field {name}"));
        field.1 = (*value).to_owned();
    }
}

/// An HTML error page with `status` naming `code`.
fn refused(reply: &Reply, status: u16, code: &str) {
    assert_eq!(reply.status, status, "{}", reply.text);
    assert!(reply.header("location").is_none());
    assert!(
        reply
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/html"))
    );
    assert!(
        reply.text.contains(&format!("<code>{code}</code>")),
        "{}",
        reply.text
    );
}

async fn an_authorization_signed_in_with_an_emailed_code_ends_with_an_id_token_saying_otp(
    backend: Backend,
) {
    let app = enabled_app(backend, |_| {}).await;
    let client = client(&app).await;
    let email = user(&app).await;
    let mut browser = Browser::new(&app);
    let login = login_page(&mut browser, &client).await;
    assert!(login.text.contains("Email me a code instead"));
    let page = ask_code(&mut browser, &login, &email, &[]).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert_no_framing(&page);
    for accessible in [
        r#"<label for="code">"#,
        r#"id="code" name="code""#,
        r#"autocomplete="one-time-code""#,
        r#"inputmode="numeric""#,
        "autofocus",
    ] {
        assert!(
            page.text.contains(accessible),
            "{accessible}: {}",
            page.text
        );
    }
    assert!(page.text.contains(&email), "the page names the address");
    assert!(browser.session.is_none());
    let code = nth_code(&app, &email, 0).await;
    let after = enter_code(&mut browser, &page, &code, &[]).await;
    assert_eq!(leads_to(&after), "/consent");
    assert!(browser.session.is_some(), "a browser session started");
    let consent = browser.follow(&after).await;
    // Each page whose POST may answer with a 303 to the app lets its forms
    // lead there (Chromium applies form-action to that redirect).
    for shown in [&login, &page, &consent] {
        let csp = shown.header("content-security-policy").unwrap();
        assert!(
            csp.contains("form-action 'self' https://app.example.com:8443;"),
            "{csp}"
        );
    }
    let back = browser.consent(&consent, "allow").await;
    let url = to_client(&back);
    let code = param(&url, "code").expect("a code for the client");

    let secret = client.secret.clone().expect("a confidential client");
    let tokens = app
        .post_form(
            "/oauth/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
            ],
            Some((&client.id, &secret)),
        )
        .await;
    assert_eq!(tokens.status, 200, "{}", tokens.text);
    let id_token = jwt_claims(tokens.body["id_token"].as_str().expect("an ID token"));
    assert_eq!(id_token["amr"], serde_json::json!(["otp"]), "{id_token}");
    assert_eq!(id_token["nonce"], "n-1");
    let access = jwt_claims(tokens.body["access_token"].as_str().unwrap());
    assert_eq!(access["amr"], serde_json::json!(["otp"]));
    let user = app.user_id(&email).await;
    let events = app.audit_events(user).await;
    assert!(
        events
            .iter()
            .any(|e| e.kind == "login_succeeded" && e.detail.as_deref() == Some("one-time code")),
        "{events:?}"
    );
    // The same browser session signs the next authorization in with no page.
    let again = browser.authorize(&query(&client, &[])).await;
    assert!(param(&to_client(&again), "code").is_some());
}

async fn a_wrong_code_shows_the_form_again_and_is_counted_until_the_page_says_429(
    backend: Backend,
) {
    let app = enabled_app(backend, |s| {
        s.limits.code_tries_per_day = 3;
        s.accounts.code_attempts = 10;
    })
    .await;
    let client = client(&app).await;
    let email = user(&app).await;
    let user = app.user_id(&email).await;
    let mut browser = Browser::new(&app);
    let login = login_page(&mut browser, &client).await;
    let mut page = ask_code(&mut browser, &login, &email, &[]).await;
    let code = nth_code(&app, &email, 0).await;
    for _ in 0..3 {
        page = enter_code(&mut browser, &page, &other_than(&code), &[]).await;
        assert_eq!(page.status, 401, "{}", page.text);
        assert!(
            form(&page.text, "/login/code/verify").is_some(),
            "the form again"
        );
        assert!(page.text.contains(r#"role="alert""#), "{}", page.text);
        assert!(page.text.contains("<code>invalid_credentials</code>"));
        assert!(
            page.text
                .contains(r#"aria-describedby="code-hint form-error""#)
        );
        assert!(browser.session.is_none());
    }
    let failed = app
        .audit_kinds(user)
        .await
        .into_iter()
        .filter(|k| k == "code_failed")
        .count();
    assert_eq!(failed, 3, "each wrong code audited as the API's");
    // The address's tries of the day are spent: the right code is not tried.
    let locked = enter_code(&mut browser, &page, &code, &[]).await;
    refused(&locked, 429, "too_many_requests");
    assert!(locked.header("retry-after").is_some());
    assert!(browser.session.is_none());
    // And the API counts the same tries.
    let api = app
        .post_json(
            "/auth/otp/verify",
            &serde_json::json!({ "email": email, "code": code, "token_delivery": "body" }),
        )
        .await;
    assert_eq!(api.status, 429, "{}", api.text);
}

async fn an_address_without_an_account_gets_the_same_page_and_no_mail(backend: Backend) {
    let app = enabled_app(backend, |_| {}).await;
    let client = client(&app).await;
    let known = user(&app).await;
    let unknown = format!("nobody-{}@example.com", uuid::Uuid::new_v4().simple());
    let mut browser = Browser::new(&app);
    let login = login_page(&mut browser, &client).await;
    let for_unknown = ask_code(&mut browser, &login, &unknown, &[]).await;
    let for_known = ask_code(&mut browser, &login, &known, &[]).await;
    assert_eq!(for_unknown.status, for_known.status);
    assert_eq!(for_unknown.status, 200, "{}", for_unknown.text);
    // The pages differ only by the address and the CSRF token bound to it.
    let same = |page: &Reply, email: &str| {
        let csrf = hidden(page, "/login/code/verify", "csrf");
        page.text.replace(email, "ADDRESS").replace(&csrf, "CSRF")
    };
    assert_eq!(same(&for_unknown, &unknown), same(&for_known, &known));
    app.settled().await;
    assert!(
        app.mail_to(&unknown).is_empty(),
        "no mail to an unknown address"
    );
    assert_eq!(codes(&app, &known).len(), 1);
    // A wrong code for the unknown address is a wrong code, not an error.
    let tried = enter_code(&mut browser, &for_unknown, "12345678", &[]).await;
    assert_eq!(tried.status, 401, "{}", tried.text);
    assert!(tried.text.contains("<code>invalid_credentials</code>"));
}

async fn with_code_sign_in_off_the_page_offers_no_code_and_both_posts_are_refused(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let client = client(&app).await;
    let email = user(&app).await;
    let mut browser = Browser::new(&app);
    let login = login_page(&mut browser, &client).await;
    assert!(form(&login.text, "/login/code").is_none(), "no code form");
    assert!(!login.text.contains("Email me a code"));
    // Tokens authd would make for these forms: only the setting refuses.
    let request = hidden(&login, "/login", "request");
    let keys = &app.services().refresh;
    let start_csrf = authd::csrf::issue(keys, "login_code_start", &request);
    let fields = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    let start = browser
        .post(
            "/login/code",
            &fields(&[
                ("request", &request),
                ("csrf", &start_csrf),
                ("email", &email),
            ]),
        )
        .await;
    refused(&start, 404, "not_enabled");
    let code_csrf = authd::csrf::issue(keys, "login_code", &format!("{request} {email}"));
    let verify = browser
        .post(
            "/login/code/verify",
            &fields(&[
                ("request", &request),
                ("csrf", &code_csrf),
                ("email", &email),
                ("code", "12345678"),
            ]),
        )
        .await;
    refused(&verify, 404, "not_enabled");
    assert!(browser.session.is_none());
    app.settled().await;
    assert!(
        app.mail_to(&email)
            .iter()
            .all(|m| !m.subject.ends_with(" code"))
    );
    // The password form still works.
    let after = browser
        .log_in(&login, &email, crate::helpers::PASSWORD)
        .await;
    assert_eq!(leads_to(&after), "/consent");
}

async fn a_code_form_is_refused_with_another_requests_csrf_token(backend: Backend) {
    let app = enabled_app(backend, |_| {}).await;
    let client = client(&app).await;
    let email = user(&app).await;
    let mut browser = Browser::new(&app);
    let login_a = login_page(&mut browser, &client).await;
    let login_b = login_page(&mut browser, &client).await;
    let b = hidden(&login_b, "/login", "request");
    // A's "email me a code" form, posted for request B, or without a token.
    let crossed = ask_code(&mut browser, &login_a, &email, &[("request", &b)]).await;
    refused(&crossed, 403, "invalid_csrf_token");
    let bare = ask_code(&mut browser, &login_a, &email, &[("csrf", "")]).await;
    refused(&bare, 403, "invalid_csrf_token");
    // The password form's token is not the code form's.
    let password_csrf = hidden(&login_a, "/login", "csrf");
    let other_form = ask_code(&mut browser, &login_a, &email, &[("csrf", &password_csrf)]).await;
    refused(&other_form, 403, "invalid_csrf_token");
    app.settled().await;
    assert!(codes(&app, &email).is_empty(), "nothing was sent");
    // A's code form, posted for request B: refused before the code is tried.
    let page_a = ask_code(&mut browser, &login_a, &email, &[]).await;
    let code = nth_code(&app, &email, 0).await;
    let crossed = enter_code(&mut browser, &page_a, &code, &[("request", &b)]).await;
    refused(&crossed, 403, "invalid_csrf_token");
    assert!(browser.session.is_none());
    // For its own request it goes through, the code unspent by the refusal.
    let after = enter_code(&mut browser, &page_a, &code, &[]).await;
    assert_eq!(leads_to(&after), "/consent");
}

async fn the_code_of_one_address_cannot_finish_the_request_for_another(backend: Backend) {
    let app = enabled_app(backend, |_| {}).await;
    let client = client(&app).await;
    let alice = user(&app).await;
    let bob = user(&app).await;
    let mut browser = Browser::new(&app);
    let login = login_page(&mut browser, &client).await;
    let for_alice = ask_code(&mut browser, &login, &alice, &[]).await;
    let alices = nth_code(&app, &alice, 0).await;
    // Alice's form with Bob's address: its token is bound to Alice's.
    let swapped = enter_code(&mut browser, &for_alice, &alices, &[("email", &bob)]).await;
    refused(&swapped, 403, "invalid_csrf_token");
    // Bob's own form of the same request, with Alice's code: a wrong code.
    let for_bob = ask_code(&mut browser, &login, &bob, &[]).await;
    let tried = enter_code(&mut browser, &for_bob, &alices, &[]).await;
    assert_eq!(tried.status, 401, "{}", tried.text);
    assert!(tried.text.contains("<code>invalid_credentials</code>"));
    assert!(browser.session.is_none());
    let bob_id = app.user_id(&bob).await;
    assert!(
        !app.audit_kinds(bob_id)
            .await
            .contains(&"login_succeeded".to_owned())
    );
    // Alice's code still signs Alice in.
    let after = enter_code(&mut browser, &for_alice, &alices, &[]).await;
    assert_eq!(leads_to(&after), "/consent");
    let alice_id = app.user_id(&alice).await;
    assert!(
        app.audit_kinds(alice_id)
            .await
            .contains(&"login_succeeded".to_owned())
    );
}
