//! Passkeys on the hosted pages, on both stores, with the software
//! authenticator of `passkeys` (webauthn-authenticator-rs) in place of the
//! browser's WebAuthn API: the login page offers a passwordless sign-in
//! under a policy that lets in its one script and nothing else (and, with
//! passkeys off, no script at all); its answer signs in once and continues
//! the authorization; the second step takes a passkey; the security page
//! adds, renames and removes one. And what they refuse: a form without its
//! CSRF token, an answer that is not one, a ceremony made for the API or
//! for another sign-in, a ceremony used twice, a wrong password, a name out
//! of bounds, another user's passkey. Chromium runs the same flows with the
//! real script in `browser::passkeys`.

use serde_json::Value;
use webauthn_authenticator_rs::prelude::WebauthnAuthenticator;

use crate::authorize::support::{self, Browser};
use crate::helpers::{Backend, PASSWORD, Reply, TestApp, spawn_app};
use crate::oidc_rp::browser::{attribute, form};
use crate::on_both_stores;
use crate::passkeys::{Device, origin, passwordless_options, spawn, user_with_passkey};

on_both_stores!(
    the_login_page_offers_a_passkey_with_its_one_script_and_none_when_passkeys_are_off,
    a_passkey_signs_in_on_the_login_page_once_and_the_authorization_goes_on,
    the_login_page_refuses_a_missing_token_an_unreadable_answer_and_an_api_ceremony,
    the_second_step_takes_a_passkey_but_not_one_made_for_another_sign_in,
    the_security_page_adds_renames_and_removes_a_passkey,
    the_security_pages_own_sign_in_takes_a_passkey_alone_or_after_the_password,
);

/// The page's passkey form: where it posts, its hidden fields, and the
/// ceremony's options (its `data-options`).
struct PasskeyForm {
    action: String,
    fields: Vec<(String, String)>,
    options: Value,
}

impl PasskeyForm {
    /// The form `id="passkey-form"` of `html`, if the page has one.
    fn of(html: &str) -> Option<Self> {
        let at = html.find(r#"id="passkey-form""#)?;
        let start = html[..at].rfind("<form")?;
        let tag = &html[start..start + html[start..].find('>')? + 1];
        let action = attribute(tag, "action")?;
        let options = attribute(tag, "data-options")?;
        let fields = form(&html[start..], &action)?.hidden;
        Some(Self {
            action,
            fields,
            options: serde_json::from_str(&options).expect("the options are JSON"),
        })
    }

    /// The fields to post, with `credential` filled in.
    fn answered(&self, credential: &Value) -> Vec<(String, String)> {
        let mut fields: Vec<_> = self
            .fields
            .iter()
            .filter(|(k, _)| k != "credential")
            .cloned()
            .collect();
        fields.push(("credential".into(), credential.to_string()));
        fields
    }

    fn field(&self, name: &str) -> String {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }
}

/// The hosted login page of a new authorization.
async fn login_page<'a>(app: &'a TestApp) -> (Browser<'a>, Reply) {
    let client = support::client(app).await;
    let query = support::query(&client, &[]);
    let mut browser = Browser::new(app);
    let start = browser.authorize(&query).await;
    let page = browser.follow(&start).await;
    assert_eq!(page.status, 200, "{}", page.text);
    (browser, page)
}

fn csp(reply: &Reply) -> String {
    reply
        .header("content-security-policy")
        .unwrap_or_default()
        .to_owned()
}

/// A 303 on to the authorization's consent page, with a browser session.
fn assert_signed_in(browser: &Browser<'_>, reply: &Reply) {
    assert_eq!(reply.status, 303, "{}", reply.text);
    let location = reply.header("location").unwrap_or_default();
    assert!(location.starts_with("/consent?request="), "{location}");
    assert!(browser.session.is_some(), "a browser session");
}

/// A page that refused (status `status`) and started no session.
fn assert_refused(browser: &Browser<'_>, reply: &Reply, status: u16) {
    assert_eq!(reply.status, status, "{}", reply.text);
    assert!(browser.session.is_none(), "no session: {}", reply.text);
    assert!(
        reply
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/html")),
        "an HTML page"
    );
}

async fn the_login_page_offers_a_passkey_with_its_one_script_and_none_when_passkeys_are_off(
    backend: Backend,
) {
    let app = spawn(backend).await;
    let (_, page) = login_page(&app).await;
    let policy = csp(&page);
    assert!(policy.contains("script-src 'self';"), "{policy}");
    assert!(!policy.contains("unsafe"), "{policy}");
    assert!(!policy.contains("connect-src"), "{policy}");
    assert_eq!(page.text.matches("<script").count(), 1, "{}", page.text);
    assert!(
        page.text
            .contains(r#"<script src="/assets/passkeys.js" defer></script>"#)
    );
    assert!(page.text.contains(r#"autocomplete="username webauthn""#));
    let offered = PasskeyForm::of(&page.text).expect("a passkey form");
    assert_eq!(offered.action, "/login/passkey");
    assert!(
        offered.options["publicKey"]["challenge"].is_string(),
        "{}",
        offered.options
    );
    assert_eq!(offered.options["mediation"], "conditional");
    // Hidden until the script shows it: without JavaScript, the password
    // form is the page.
    assert!(page.text.contains(r#"data-conditional data-options="#));
    let tag_end = page.text.find(r#"id="passkey-form""#).unwrap();
    let tag = &page.text[tag_end..tag_end + page.text[tag_end..].find('>').unwrap()];
    assert!(tag.ends_with(" hidden"), "{tag}");

    let script = app.get("/assets/passkeys.js").await;
    assert_eq!(script.status, 200);
    assert!(
        script
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/javascript"))
    );
    assert_eq!(script.header("x-content-type-options"), Some("nosniff"));
    assert!(!script.text.contains("eval("), "no eval");

    // The pages that offer no passkey keep their policy without script.
    let forgot = app.get("/account/forgot").await;
    assert_eq!(forgot.status, 200, "{}", forgot.text);
    assert!(!csp(&forgot).contains("script-src"), "{}", csp(&forgot));
    assert!(!forgot.text.contains("<script"), "{}", forgot.text);

    // Passkeys off (the tests' issuer is plain http, no relying party set):
    // no form, no script, no autofill.
    let off = spawn_app(backend).await;
    let (_, page) = login_page(&off).await;
    assert!(!csp(&page).contains("script-src"), "{}", csp(&page));
    assert!(!page.text.contains("<script"), "{}", page.text);
    assert!(!page.text.contains("passkey"), "{}", page.text);
    assert!(page.text.contains(r#"autocomplete="username""#));
}

async fn a_passkey_signs_in_on_the_login_page_once_and_the_authorization_goes_on(backend: Backend) {
    let app = spawn(backend).await;
    let (email, _, mut device) = user_with_passkey(&app).await;
    let (mut browser, page) = login_page(&app).await;
    let offered = PasskeyForm::of(&page.text).expect("a passkey form");
    let credential = device.assert(&offered.options, &origin(), false);
    let fields = offered.answered(&credential);
    let reply = browser.post("/login/passkey", &fields).await;
    assert_signed_in(&browser, &reply);

    // The ceremony worked once: the same answer again (from another
    // browser, the authorization still waiting for consent) signs in no one.
    let mut other = Browser::new(&app);
    let again = other.post("/login/passkey", &fields).await;
    assert_refused(&other, &again, 401);
    assert!(
        again.text.contains("That passkey was not accepted"),
        "{}",
        again.text
    );
    assert!(
        PasskeyForm::of(&again.text).is_some(),
        "the page offers a new ceremony"
    );

    let consent = browser.follow(&reply).await;
    let back = browser.consent(&consent, "allow").await;
    let code = support::param(&support::to_client(&back), "code");
    assert!(code.is_some(), "a code for the client");
    let user = app.user_id(&email).await;
    assert!(
        app.audit_kinds(user)
            .await
            .iter()
            .any(|k| k == "login_succeeded")
    );
}

async fn the_login_page_refuses_a_missing_token_an_unreadable_answer_and_an_api_ceremony(
    backend: Backend,
) {
    let app = spawn(backend).await;
    let (_, _, mut device) = user_with_passkey(&app).await;
    let (mut browser, page) = login_page(&app).await;
    let offered = PasskeyForm::of(&page.text).expect("a passkey form");
    let credential = device.assert(&offered.options, &origin(), false);

    // No CSRF token, or another form's: refused before anything is spent.
    for csrf in ["", "forged"] {
        let fields: Vec<_> = offered
            .answered(&credential)
            .into_iter()
            .map(|(k, v)| {
                if k == "csrf" {
                    (k, csrf.to_owned())
                } else {
                    (k, v)
                }
            })
            .collect();
        let reply = browser.post("/login/passkey", &fields).await;
        assert_refused(&browser, &reply, 403);
    }

    // An answer that is not one: 400, the page again, never a 500.
    for junk in ["", "{", r#"{"id": 1}"#, "null"] {
        let mut fields: Vec<_> = offered
            .fields
            .iter()
            .filter(|(k, _)| k != "credential")
            .cloned()
            .collect();
        fields.push(("credential".into(), junk.into()));
        let reply = browser.post("/login/passkey", &fields).await;
        assert_refused(&browser, &reply, 400);
    }

    // A ceremony begun through the JSON API (it would start a refresh-token
    // family) does not start a browser session.
    let (api_ceremony, api_options) = passwordless_options(&app).await;
    let api_credential = device.assert(&api_options, &origin(), false);
    let fields: Vec<_> = offered
        .answered(&api_credential)
        .into_iter()
        .map(|(k, v)| {
            if k == "ceremony" {
                (k, api_ceremony.clone())
            } else {
                (k, v)
            }
        })
        .collect();
    let reply = browser.post("/login/passkey", &fields).await;
    assert_refused(&browser, &reply, 401);

    // The page's own ceremony, not yet spent by any of the above, still
    // signs in.
    let reply = browser
        .post("/login/passkey", &offered.answered(&credential))
        .await;
    assert_signed_in(&browser, &reply);
}

/// The password posted on the login page: the second step's page.
async fn second_step<'a>(app: &'a TestApp, email: &str) -> (Browser<'a>, Reply) {
    let (mut browser, page) = login_page(app).await;
    let step = browser.log_in(&page, email, PASSWORD).await;
    assert_eq!(step.status, 200, "{}", step.text);
    assert!(
        browser.session.is_none(),
        "no session before the second factor"
    );
    (browser, step)
}

async fn the_second_step_takes_a_passkey_but_not_one_made_for_another_sign_in(backend: Backend) {
    let app = spawn(backend).await;
    let (email, _, mut device) = user_with_passkey(&app).await;

    // Two sign-ins waiting on their second step: the ceremony of one does
    // not answer the other.
    let (mut first, first_step) = second_step(&app, &email).await;
    let (mut second, second_step_page) = second_step(&app, &email).await;
    let a = PasskeyForm::of(&first_step.text).expect("the passkey offered");
    let b = PasskeyForm::of(&second_step_page.text).expect("the passkey offered");
    assert_eq!(a.action, "/login/mfa");
    assert!(
        first_step
            .text
            .contains(r#"name="passkey_offered" value="1""#)
    );
    let credential = device.assert(&b.options, &origin(), false);
    let crossed: Vec<_> = a
        .answered(&credential)
        .into_iter()
        .map(|(k, v)| {
            if k == "ceremony" {
                (k, b.field("ceremony"))
            } else {
                (k, v)
            }
        })
        .collect();
    let reply = first.post("/login/mfa", &crossed).await;
    assert_refused(&first, &reply, 401);
    assert!(
        reply.text.contains("That passkey was not accepted"),
        "{}",
        reply.text
    );

    // Each with its own ceremony: signed in.
    let credential = device.assert(&b.options, &origin(), false);
    let reply = second.post("/login/mfa", &b.answered(&credential)).await;
    assert_signed_in(&second, &reply);
    let again = PasskeyForm::of(&reply.text);
    assert!(again.is_none());

    // An unreadable answer on the second step: the form again, not a 500.
    let (mut third, third_step) = second_step(&app, &email).await;
    let c = PasskeyForm::of(&third_step.text).expect("the passkey offered");
    let mut fields = c.answered(&Value::Null);
    fields.retain(|(k, _)| k != "credential");
    fields.push(("credential".into(), "{".into()));
    let reply = third.post("/login/mfa", &fields).await;
    assert_refused(&third, &reply, 401);

    // A user without a passkey is offered none.
    let enrolled = crate::mfa::enrolled(&app).await;
    let (_, totp_step) = second_step(&app, &enrolled.email).await;
    assert!(
        PasskeyForm::of(&totp_step.text).is_none(),
        "{}",
        totp_step.text
    );
    assert!(
        !csp(&totp_step).contains("script-src"),
        "{}",
        csp(&totp_step)
    );
}

/// The security page's form posting to `path`: its hidden fields.
fn security_form(page: &Reply, path: &str) -> Vec<(String, String)> {
    form(&page.text, path)
        .unwrap_or_else(|| panic!("a form to {path}: {}", page.text))
        .hidden
}

fn with(mut fields: Vec<(String, String)>, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    for (k, v) in extra {
        fields.retain(|(name, _)| name != k);
        fields.push(((*k).to_owned(), (*v).to_owned()));
    }
    fields
}

async fn the_security_page_adds_renames_and_removes_a_passkey(backend: Backend) {
    let app = spawn(backend).await;
    let (email, _) = app.user_with_tokens().await;
    let (mut browser, page) = login_page(&app).await;
    let reply = browser.log_in(&page, &email, PASSWORD).await;
    assert_signed_in(&browser, &reply);

    // Adding: the page of the ceremony (its script allowed), the answer,
    // the recovery codes of the first factor.
    let home = browser.get("/account/security").await;
    assert_eq!(home.status, 200, "{}", home.text);
    assert!(!csp(&home).contains("script-src"), "{}", csp(&home));
    assert!(
        home.text.contains("id=\"passkeys-status\">None"),
        "{}",
        home.text
    );
    let start = security_form(&home, "/account/security/passkeys");
    let create = browser.post("/account/security/passkeys", &start).await;
    assert_eq!(create.status, 200, "{}", create.text);
    assert!(
        csp(&create).contains("script-src 'self';"),
        "{}",
        csp(&create)
    );
    let offered = PasskeyForm::of(&create.text).expect("the registration form");
    assert_eq!(offered.action, "/account/security/passkeys/confirm");
    assert_eq!(
        offered.options["publicKey"]["authenticatorSelection"]["residentKey"], "preferred",
        "discoverable, for a passwordless sign-in"
    );
    let options = serde_json::from_value(offered.options.clone()).unwrap();
    let mut device = Device::new();
    let registered = device.key.do_registration(origin(), options).unwrap();
    device.credential_id = registered.raw_id.clone();
    let registered = serde_json::to_value(registered).unwrap();

    // Another session's token does not confirm it.
    let mut stranger = Browser::new(&app);
    let (other_email, _) = app.user_with_tokens().await;
    let (_, other_page) = login_page(&app).await;
    let signed = stranger.log_in(&other_page, &other_email, PASSWORD).await;
    assert_signed_in(&stranger, &signed);
    let foreign = stranger
        .post(&offered.action, &offered.answered(&registered))
        .await;
    assert_eq!(foreign.status, 403, "{}", foreign.text);

    let mut fields = offered.answered(&registered);
    fields.push(("name".into(), "Laptop".into()));
    let codes = browser.post(&offered.action, &fields).await;
    assert_eq!(codes.status, 200, "{}", codes.text);
    assert!(
        codes.text.contains("Your passkey is set up."),
        "{}",
        codes.text
    );
    assert_eq!(codes.text.matches("<li><code>").count(), 10);

    // The same answer again adds nothing (the ceremony is spent).
    let again = browser.post(&offered.action, &fields).await;
    assert_eq!(again.status, 400, "{}", again.text);
    let home = browser.get("/account/security").await;
    assert_eq!(home.text.matches("class=\"passkey-name\"").count(), 1);
    assert!(home.text.contains(">Laptop</strong>"), "{}", home.text);

    // Renaming: a name out of bounds is refused, a good one kept.
    let rename = security_form(&home, "/account/security/passkeys/rename");
    let long = "x".repeat(65);
    let reply = browser
        .post(
            "/account/security/passkeys/rename",
            &with(rename.clone(), &[("name", &long)]),
        )
        .await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    let reply = browser
        .post(
            "/account/security/passkeys/rename",
            &with(rename, &[("name", "Phone")]),
        )
        .await;
    assert_eq!(reply.status, 303, "{}", reply.text);
    let home = browser.get("/account/security?done=passkey_renamed").await;
    assert!(home.text.contains(">Phone</strong>"), "{}", home.text);

    // Removing needs a recent second factor: this session has only the
    // password, so the page asks to sign in again.
    let remove = security_form(&home, "/account/security/passkeys/remove");
    let reply = browser
        .post(
            "/account/security/passkeys/remove",
            &with(remove, &[("password", PASSWORD)]),
        )
        .await;
    assert_eq!(reply.status, 401, "{}", reply.text);
    assert!(
        reply.text.contains("needs a recent sign-in"),
        "{}",
        reply.text
    );

    // Signed in with the passkey, removal takes the password again, and
    // only the user's own passkey.
    let (mut fresh, page) = login_page(&app).await;
    let offered = PasskeyForm::of(&page.text).expect("a passkey form");
    let credential = device.assert(&offered.options, &origin(), false);
    let reply = fresh
        .post("/login/passkey", &offered.answered(&credential))
        .await;
    assert_signed_in(&fresh, &reply);
    let home = fresh.get("/account/security").await;
    let remove = security_form(&home, "/account/security/passkeys/remove");
    let wrong = fresh
        .post(
            "/account/security/passkeys/remove",
            &with(remove.clone(), &[("password", "not the password at all")]),
        )
        .await;
    assert_eq!(wrong.status, 401, "{}", wrong.text);
    assert!(
        wrong.text.contains("That password is not right."),
        "{}",
        wrong.text
    );
    for id in [uuid::Uuid::new_v4().to_string(), "not-an-id".to_owned()] {
        let reply = fresh
            .post(
                "/account/security/passkeys/remove",
                &with(remove.clone(), &[("id", &id), ("password", PASSWORD)]),
            )
            .await;
        assert_eq!(reply.status, 404, "{}", reply.text);
    }
    let home = fresh.get("/account/security").await;
    assert_eq!(home.text.matches("class=\"passkey-name\"").count(), 1);
    let reply = fresh
        .post(
            "/account/security/passkeys/remove",
            &with(remove, &[("password", PASSWORD)]),
        )
        .await;
    assert_eq!(reply.status, 303, "{}", reply.text);
    let home = fresh.get("/account/security?done=passkey_removed").await;
    assert!(
        home.text.contains("Your passkey was removed."),
        "{}",
        home.text
    );
    assert_eq!(home.text.matches("class=\"passkey-name\"").count(), 0);
}

/// A browser at the security page's own sign-in: the CSRF binding cookie and
/// the browser session kept by hand.
struct Jar<'a> {
    app: &'a TestApp,
    binding: Option<String>,
    session: Option<String>,
}

impl<'a> Jar<'a> {
    fn new(app: &'a TestApp) -> Self {
        Self {
            app,
            binding: None,
            session: None,
        }
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> Reply {
        let mut cookies = Vec::new();
        if let Some(b) = &self.binding {
            cookies.push(format!("__Host-authd-page={b}"));
        }
        if let Some(s) = &self.session {
            cookies.push(format!("__Host-authd_session={s}"));
        }
        let reply = self
            .app
            .send(request.header("cookie", cookies.join("; ")))
            .await;
        for set in reply.set_cookies() {
            let value = set.split(';').next().unwrap_or_default();
            if let Some(v) = value.strip_prefix("__Host-authd-page=") {
                self.binding = Some(v.to_owned());
            }
            if let Some(v) = value.strip_prefix("__Host-authd_session=") {
                self.session = (!v.is_empty()).then(|| v.to_owned());
            }
        }
        reply
    }

    async fn get(&mut self, path: &str) -> Reply {
        let request = self.app.client.get(self.app.url(path));
        self.send(request).await
    }

    async fn post(&mut self, path: &str, fields: &[(String, String)]) -> Reply {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let request = self
            .app
            .client
            .post(self.app.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        self.send(request).await
    }
}

fn assert_home(jar: &Jar<'_>, reply: &Reply) {
    assert_eq!(reply.status, 303, "{}", reply.text);
    assert_eq!(reply.header("location"), Some("/account/security"));
    assert!(jar.session.is_some(), "a browser session");
}

async fn the_security_pages_own_sign_in_takes_a_passkey_alone_or_after_the_password(
    backend: Backend,
) {
    let app = spawn(backend).await;
    let (email, _, mut device) = user_with_passkey(&app).await;

    // Alone: the sign-in page's passkey form (its script allowed).
    let mut jar = Jar::new(&app);
    let page = jar.get("/account/security/sign-in").await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(csp(&page).contains("script-src 'self';"), "{}", csp(&page));
    let offered = PasskeyForm::of(&page.text).expect("a passkey form");
    assert_eq!(offered.action, "/account/security/sign-in/passkey");
    let credential = device.assert(&offered.options, &origin(), false);

    // Without the browser's binding cookie the token is worth nothing.
    let mut stranger = Jar::new(&app);
    let reply = stranger
        .post(&offered.action, &offered.answered(&credential))
        .await;
    assert_eq!(reply.status, 403, "{}", reply.text);
    assert!(stranger.session.is_none());
    // An unreadable answer: the form again, 400.
    let mut junk = offered.answered(&Value::Null);
    junk.retain(|(k, _)| k != "credential");
    junk.push(("credential".into(), "[]".into()));
    let reply = jar.post(&offered.action, &junk).await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    assert!(jar.session.is_none());

    let reply = jar
        .post(&offered.action, &offered.answered(&credential))
        .await;
    assert_home(&jar, &reply);
    // A passkey is a recent second factor: removing it is not refused for
    // a step-up (only the password is asked).
    let home = jar.get("/account/security").await;
    let remove = security_form(&home, "/account/security/passkeys/remove");
    let reply = jar
        .post(
            "/account/security/passkeys/remove",
            &with(remove, &[("password", "not the password at all")]),
        )
        .await;
    assert_eq!(reply.status, 401, "{}", reply.text);
    assert!(
        reply.text.contains("That password is not right."),
        "{}",
        reply.text
    );

    // After the password: the code form offers the passkey too.
    let mut jar = Jar::new(&app);
    let page = jar.get("/account/security/sign-in").await;
    let password_form = form(&page.text, "/account/security/sign-in").expect("the password form");
    let fields = with(
        password_form.hidden,
        &[("email", &email), ("password", PASSWORD)],
    );
    let step = jar.post("/account/security/sign-in", &fields).await;
    assert_eq!(step.status, 200, "{}", step.text);
    assert!(jar.session.is_none(), "no session before the second factor");
    let offered = PasskeyForm::of(&step.text).expect("the passkey offered");
    assert_eq!(offered.action, "/account/security/sign-in/mfa");
    let mut junk = offered.answered(&Value::Null);
    junk.retain(|(k, _)| k != "credential");
    junk.push(("credential".into(), "{".into()));
    let reply = jar.post(&offered.action, &junk).await;
    assert_eq!(reply.status, 401, "{}", reply.text);
    assert!(jar.session.is_none());
    let again = PasskeyForm::of(&reply.text).expect("the passkey offered again");
    let credential = device.assert(&again.options, &origin(), false);
    let reply = jar.post(&again.action, &again.answered(&credential)).await;
    assert_home(&jar, &reply);
}

/// Every page view begins a ceremony, counted on `limits.code_per_ip`: over
/// it, the login page is still the login page (200, the password form),
/// offering no passkey, never a 429 or a 500. The limit is per instance, in
/// memory: one store is enough.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_code_limit_the_login_page_offers_no_passkey_but_still_its_forms() {
    let app = crate::helpers::spawn_app_with(Backend::Sqlite, |s| {
        s.webauthn.rp_id = Some("localhost".into());
        s.webauthn.origins = vec![crate::passkeys::ORIGIN.into()];
        s.limits.code_per_ip = 2;
    })
    .await;
    let mut offered = Vec::new();
    for _ in 0..3 {
        let (_, page) = login_page(&app).await;
        assert_eq!(page.status, 200, "{}", page.text);
        assert!(form(&page.text, "/login").is_some(), "the password form");
        offered.push(PasskeyForm::of(&page.text).is_some());
    }
    assert_eq!(offered, [true, true, false]);
}
