//! Passkeys on the hosted pages, on both stores, with the software
//! authenticator of `passkeys` (webauthn-authenticator-rs) in place of the
//! browser's WebAuthn API: the login page offers a passwordless sign-in
//! under a policy that lets in its one script and nothing else (and, with
//! passkeys off, no script at all); its answer signs in once and continues
//! the authorization; the second step takes a passkey; the security page
//! adds, renames and removes one, and its own sign-in takes one
//! (`security.rs`). And what they refuse: a form without its
//! CSRF token, an answer that is not one, a ceremony made for the API or
//! for another sign-in, a ceremony used twice, a wrong password, a name out
//! of bounds, another user's passkey. Chromium runs the same flows with the
//! real script in `browser::passkeys`.

use serde_json::Value;

use crate::authorize::support::{self, Browser};
use crate::helpers::{Backend, PASSWORD, Reply, TestApp, spawn_app};
use crate::oidc_rp::browser::{attribute, form};
use crate::on_both_stores;
use crate::passkeys::{origin, passwordless_options, spawn, user_with_passkey};

mod security;

on_both_stores!(
    the_login_page_offers_a_passkey_with_its_one_script_and_none_when_passkeys_are_off,
    a_passkey_signs_in_on_the_login_page_once_and_the_authorization_goes_on,
    the_login_page_refuses_a_missing_token_an_unreadable_answer_and_an_api_ceremony,
    the_second_step_takes_a_passkey_but_not_one_made_for_another_sign_in,
);

/// The page's passkey form: where it posts, its hidden fields, and the
/// ceremony's options (its `data-options`).
pub(super) struct PasskeyForm {
    pub action: String,
    pub fields: Vec<(String, String)>,
    pub options: Value,
}

impl PasskeyForm {
    /// The form `id="passkey-form"` of `html`, if the page has one.
    pub fn of(html: &str) -> Option<Self> {
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
    pub fn answered(&self, credential: &Value) -> Vec<(String, String)> {
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
pub(super) async fn login_page<'a>(app: &'a TestApp) -> (Browser<'a>, Reply) {
    let client = support::client(app).await;
    let query = support::query(&client, &[]);
    let mut browser = Browser::new(app);
    let start = browser.authorize(&query).await;
    let page = browser.follow(&start).await;
    assert_eq!(page.status, 200, "{}", page.text);
    (browser, page)
}

pub(super) fn csp(reply: &Reply) -> String {
    reply
        .header("content-security-policy")
        .unwrap_or_default()
        .to_owned()
}

/// A 303 on to the authorization's consent page, with a browser session.
pub(super) fn assert_signed_in(browser: &Browser<'_>, reply: &Reply) {
    assert_eq!(reply.status, 303, "{}", reply.text);
    let location = reply.header("location").unwrap_or_default();
    assert!(location.starts_with("/consent?request="), "{location}");
    assert!(browser.session.is_some(), "a browser session");
}

/// A page that refused (status `status`) and started no session.
pub(super) fn assert_refused(browser: &Browser<'_>, reply: &Reply, status: u16) {
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

/// Every page view begins a ceremony, counted on `limits.ceremony_per_ip`
/// and not on the code tries (`limits.code_per_ip`, here lower still): over
/// it, the login page is still the login page (200, the password form),
/// offering no passkey, never a 429 or a 500. The limits are per instance,
/// in memory: one store is enough.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_ceremony_limit_the_login_page_offers_no_passkey_but_still_its_forms() {
    let app = crate::helpers::spawn_app_with(Backend::Sqlite, |s| {
        s.webauthn.rp_id = Some("localhost".into());
        s.webauthn.origins = vec![crate::passkeys::ORIGIN.into()];
        s.limits.ceremony_per_ip = 3;
        s.limits.code_per_ip = 1;
    })
    .await;
    let mut offered = Vec::new();
    for _ in 0..4 {
        let (_, page) = login_page(&app).await;
        assert_eq!(page.status, 200, "{}", page.text);
        assert!(form(&page.text, "/login").is_some(), "the password form");
        offered.push(PasskeyForm::of(&page.text).is_some());
    }
    assert_eq!(offered, [true, true, true, false]);
}
