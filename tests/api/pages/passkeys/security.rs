//! The security page's passkeys, on both stores: adding one (the page of
//! the ceremony, the recovery codes of a first factor), renaming and
//! removing one, and the page's own sign-in with a passkey, alone or after
//! the password; with their refusals (another session's token, a ceremony
//! used twice, a name out of bounds, a stale second factor, a wrong
//! password, another user's passkey, a form without the browser's binding
//! cookie, an answer that is not one).

use serde_json::Value;
use webauthn_authenticator_rs::prelude::WebauthnAuthenticator;

use super::{PasskeyForm, assert_signed_in, csp, login_page};
use crate::authorize::support::Browser;
use crate::helpers::{Backend, PASSWORD, Reply, TestApp};
use crate::oidc_rp::browser::form;
use crate::on_both_stores;
use crate::passkeys::{Device, origin, spawn, user_with_passkey};

on_both_stores!(
    the_security_page_adds_renames_and_removes_a_passkey,
    the_security_pages_own_sign_in_takes_a_passkey_alone_or_after_the_password,
);

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
