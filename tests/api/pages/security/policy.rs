//! The security page's own sign-in under `mfa.required`: a right password
//! of a user without a factor starts no session but the enrolment step (a
//! QR code and the key); a wrong first code starts nothing and shows the
//! same key again; its form needs the browser's CSRF binding; the right code
//! starts the session and shows the recovery codes once, and the page then
//! shows the factor on. The next sign-in asks for the code.

use super::browser::*;
use crate::helpers::{Backend, spawn_app_with};
use crate::mfa::totp_of;
use crate::on_both_stores;

on_both_stores!(under_the_policy_the_security_sign_in_enrols_a_factor_before_any_session);

const ENROL: &str = "/account/security/sign-in/enrol";

async fn under_the_policy_the_security_sign_in_enrols_a_factor_before_any_session(
    backend: Backend,
) {
    let app = spawn_app_with(backend, |s| s.mfa.required = true).await;
    let email = format!("user-{}@example.com", uuid::Uuid::new_v4().simple());
    app.register(&email).await;
    let mut browser = Browser::new(&app);

    let step = browser.password(&email).await;
    assert_eq!(step.status, 200, "{}", step.text);
    assert!(browser.session.is_none(), "no session before a factor");
    assert!(step.text.contains(r#"id="qr""#), "{}", step.text);
    let secret = between(&step.text, r#"id="secret">"#, "<");
    let totp = totp_of(&secret);
    let challenge = hidden(&step.text, "challenge");
    let csrf = csrf_of(&step.text, ENROL);

    // The form's token is bound to this browser: another browser's post is
    // refused and starts nothing.
    let mut other = Browser::new(&app);
    other.get(SIGN_IN).await;
    let code = code_now(&app, &totp);
    let fields = [
        ("csrf", csrf.as_str()),
        ("challenge", challenge.as_str()),
        ("code", code.as_str()),
    ];
    let refused = other.post(ENROL, &fields).await;
    assert_eq!(refused.status, 403, "{}", refused.text);
    assert!(other.session.is_none());

    // A wrong code: nothing starts, the same key again.
    let wrong = [
        ("csrf", csrf.as_str()),
        ("challenge", challenge.as_str()),
        ("code", "000000"),
    ];
    let again = browser.post(ENROL, &wrong).await;
    assert_eq!(again.status, 401, "{}", again.text);
    assert!(browser.session.is_none());
    assert_eq!(between(&again.text, r#"id="secret">"#, "<"), secret);

    // The right code: the session, and the recovery codes once.
    let done = browser.post(ENROL, &fields).await;
    assert_eq!(done.status, 200, "{}", done.text);
    assert!(browser.session.is_some(), "the browser session starts");
    assert_eq!(recovery_codes(&done.text).len(), 10, "{}", done.text);
    let home = browser.home().await;
    assert!(home.text.contains(r#"id="remove-totp""#), "{}", home.text);
    assert_eq!(totp_on(&app, &email).await, (true, false));

    // The challenge is spent.
    let replay = browser.post(ENROL, &fields).await;
    assert_error_page(&replay, 401, "invalid_mfa_challenge");

    // The next sign-in asks for the code.
    app.advance(30);
    let mut next = Browser::new(&app);
    next.sign_in_with_code(&email, &totp).await;
}
