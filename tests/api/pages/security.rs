//! The security page (`/account/security`) and its own sign-in, on both
//! stores: nothing of it without a browser session; a user signs in on the
//! page, enrols TOTP (the QR code and the secret), sees the recovery codes
//! once and signs in again with the second step; every form needs its CSRF
//! token, bound to the browser session (or, before one, to the browser's
//! binding cookie); a wrong first code turns nothing on; a stale second
//! factor is asked for again before a change; a wrong password changes
//! nothing.

mod browser;
mod policy;

use browser::*;

use crate::helpers::{Backend, PASSWORD, spawn_app};
use crate::mfa::totp_of;
use crate::on_both_stores;

on_both_stores!(
    without_a_browser_session_the_page_shows_nothing_and_its_forms_do_nothing,
    a_user_signs_in_on_the_page_enrols_totp_sees_the_codes_once_and_signs_in_with_the_code,
    a_wrong_first_code_turns_nothing_on,
    every_form_needs_its_csrf_token_bound_to_the_browser_session,
    the_sign_in_forms_need_the_browsers_csrf_binding_and_a_right_code,
    a_stale_second_factor_is_asked_for_again_before_a_change,
    a_wrong_password_removes_nothing_and_new_codes_end_the_old_ones,
);

async fn without_a_browser_session_the_page_shows_nothing_and_its_forms_do_nothing(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let (email, _) = app.user_with_tokens().await;
    let mut stranger = Browser::new(&app);
    let page = stranger.get(HOME).await;
    assert_eq!(page.status, 303, "{}", page.text);
    assert_eq!(page.header("location"), Some(SIGN_IN));
    assert!(!page.text.contains("Authenticator app"));
    // A cookie that is not a session's is no session.
    stranger.session = Some("A".repeat(66));
    assert_eq!(stranger.get(HOME).await.status, 303);

    // The user's own page, then the user signed out: its forms do nothing.
    let mut user = Browser::new(&app);
    user.sign_in(&email).await;
    let home = user.home().await;
    assert!(
        home.text.contains("Off: add an authenticator app"),
        "{}",
        home.text
    );
    let csrf = csrf_of(&home.text, "/account/security/totp");
    user.session = None;
    let started = user
        .post("/account/security/totp", &[("csrf", &csrf)])
        .await;
    assert_sign_in_asked(&started, "Sign in to see and change");
    assert!(!started.text.contains("otpauth"), "{}", started.text);
    assert!(!started.text.contains(r#"id="secret""#), "{}", started.text);
    assert_eq!(
        totp_on(&app, &email).await,
        (false, false),
        "nothing started"
    );
}

async fn a_user_signs_in_on_the_page_enrols_totp_sees_the_codes_once_and_signs_in_with_the_code(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let (email, _) = app.user_with_tokens().await;
    let mut browser = Browser::new(&app);
    browser.sign_in(&email).await;
    let (totp, codes) = browser.enrol().await;
    assert_eq!(totp_on(&app, &email).await, (true, false));
    let home = browser.home().await;
    assert!(home.text.contains("10 of 10 left"), "{}", home.text);
    assert!(!home.text.contains(&codes[0]), "the codes are shown once");

    // A new browser: the password alone is not a session.
    let mut other = Browser::new(&app);
    let form = other.password(&email).await;
    assert_eq!(form.status, 200, "{}", form.text);
    assert!(form.text.contains("Enter your code"), "{}", form.text);
    assert!(other.session.is_none(), "no session before the code");
    assert_eq!(other.get(HOME).await.status, 303);
    other.sign_in_with_code(&email, &totp).await;
    assert!(other.home().await.text.contains("On: signing in asks"));

    // A recovery code signs in too, once.
    let mut third = Browser::new(&app);
    let form = third.password(&email).await;
    assert_signed_in(&third.second_step(&form, &codes[0]).await);
    let mut fourth = Browser::new(&app);
    let form = fourth.password(&email).await;
    let again = fourth.second_step(&form, &codes[0]).await;
    assert_eq!(again.status, 401, "{}", again.text);
    assert!(fourth.session.is_none());
    assert_eq!(fourth.get(HOME).await.status, 303);
}

async fn a_wrong_first_code_turns_nothing_on(backend: Backend) {
    let app = spawn_app(backend).await;
    let (email, _) = app.user_with_tokens().await;
    let mut browser = Browser::new(&app);
    browser.sign_in(&email).await;
    let home = browser.home().await;
    let started = browser.submit(&home, "/account/security/totp", &[]).await;
    assert_eq!(started.status, 200, "{}", started.text);
    let totp = totp_of(&between(&started.text, r#"id="secret">"#, "<"));
    let right = code_now(&app, &totp);
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    let refused = browser
        .submit(
            &started,
            "/account/security/totp/confirm",
            &[("code", wrong)],
        )
        .await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert!(
        refused.text.contains("That code is not right"),
        "{}",
        refused.text
    );
    assert!(
        !refused.text.contains(r#"id="secret""#),
        "the secret is not shown twice"
    );
    assert_eq!(totp_on(&app, &email).await, (false, true), "still pending");
    assert!(
        browser
            .home()
            .await
            .text
            .contains("Waiting for its first code")
    );
    // The right one still works from the form shown again.
    let confirmed = browser
        .submit(
            &refused,
            "/account/security/totp/confirm",
            &[("code", &right)],
        )
        .await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.text);
    assert_eq!(totp_on(&app, &email).await, (true, false));
}

async fn every_form_needs_its_csrf_token_bound_to_the_browser_session(backend: Backend) {
    let app = spawn_app(backend).await;
    let (email, _) = app.user_with_tokens().await;
    let (other_email, _) = app.user_with_tokens().await;
    let mut browser = Browser::new(&app);
    browser.sign_in(&email).await;
    let mut other = Browser::new(&app);
    other.sign_in(&other_email).await;
    let own = browser.home().await;
    let foreign = other.home().await;
    let start = "/account/security/totp";

    let none = browser.post(start, &[]).await;
    assert_error_page(&none, 403, "invalid_csrf_token");
    let others = csrf_of(&foreign.text, start);
    let theirs = browser.post(start, &[("csrf", &others)]).await;
    assert_error_page(&theirs, 403, "invalid_csrf_token");
    let sign_in_form = browser.get(SIGN_IN).await;
    let another_form = csrf_of(&sign_in_form.text, SIGN_IN);
    let mixed = browser.post(start, &[("csrf", &another_form)]).await;
    assert_error_page(&mixed, 403, "invalid_csrf_token");
    assert_eq!(
        totp_on(&app, &email).await,
        (false, false),
        "nothing started"
    );

    // A second session of the same user: the first one's tokens are not its.
    let mut second = Browser::new(&app);
    second.sign_in(&email).await;
    let mine = csrf_of(&own.text, start);
    let elsewhere = second.post(start, &[("csrf", &mine)]).await;
    assert_error_page(&elsewhere, 403, "invalid_csrf_token");
    assert_eq!(
        totp_on(&app, &email).await,
        (false, false),
        "nothing started"
    );
    // Its own token works.
    let started = browser.post(start, &[("csrf", &mine)]).await;
    assert_eq!(started.status, 200, "{}", started.text);
    assert_eq!(totp_on(&app, &email).await, (false, true));
}

async fn the_sign_in_forms_need_the_browsers_csrf_binding_and_a_right_code(backend: Backend) {
    let app = spawn_app(backend).await;
    let (email, _) = app.user_with_tokens().await;
    let mut enrolled = Browser::new(&app);
    enrolled.sign_in(&email).await;
    let (totp, _) = enrolled.enrol().await;

    // The password form's token works only with its browser's binding.
    let mut victim = Browser::new(&app);
    let form = victim.get(SIGN_IN).await;
    let csrf = csrf_of(&form.text, SIGN_IN);
    let mut attacker = Browser::new(&app);
    let forged = attacker
        .post(
            SIGN_IN,
            &[("csrf", &csrf), ("email", &email), ("password", PASSWORD)],
        )
        .await;
    assert_error_page(&forged, 403, "invalid_csrf_token");
    attacker.get(SIGN_IN).await;
    let crossed = attacker
        .post(
            SIGN_IN,
            &[("csrf", &csrf), ("email", &email), ("password", PASSWORD)],
        )
        .await;
    assert_error_page(&crossed, 403, "invalid_csrf_token");
    assert!(attacker.session.is_none());

    // A wrong password: the form again, 401, no session.
    let wrong = victim
        .post(
            SIGN_IN,
            &[
                ("csrf", &csrf),
                ("email", &email),
                ("password", "not the password at all"),
            ],
        )
        .await;
    assert_eq!(wrong.status, 401, "{}", wrong.text);
    assert!(wrong.text.contains("The email or password is not right."));
    assert!(victim.session.is_none());

    // The code form: bound to the challenge and the binding; a wrong code
    // shows it again (401) and starts nothing.
    let code_form = victim.password(&email).await;
    let path = "/account/security/sign-in/mfa";
    let challenge = hidden(&code_form.text, "challenge");
    let code_csrf = csrf_of(&code_form.text, path);
    let other_challenge = attacker
        .post(
            path,
            &[
                ("csrf", &code_csrf),
                ("challenge", &challenge),
                ("code", "123456"),
            ],
        )
        .await;
    assert_error_page(&other_challenge, 403, "invalid_csrf_token");
    let right = code_now(&app, &totp);
    let wrong_code = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    let refused = victim.second_step(&code_form, wrong_code).await;
    assert_eq!(refused.status, 401, "{}", refused.text);
    assert!(
        refused.text.contains("That code is not right"),
        "{}",
        refused.text
    );
    assert!(victim.session.is_none());
    let done = victim.second_step(&refused, &right).await;
    assert_signed_in(&done);
    assert_eq!(victim.home().await.status, 200);
}

async fn a_stale_second_factor_is_asked_for_again_before_a_change(backend: Backend) {
    let app = spawn_app(backend).await;
    let (email, _) = app.user_with_tokens().await;
    let mut browser = Browser::new(&app);
    browser.sign_in(&email).await;
    let (totp, _) = browser.enrol().await;
    browser.sign_in_with_code(&email, &totp).await;
    let max_age = app.services().settings.mfa.step_up_max_age_secs;
    app.advance(i64::try_from(max_age).unwrap() + 1);

    let home = browser.home().await;
    let path = "/account/security/totp/remove";
    let refused = browser.submit(&home, path, &[("password", PASSWORD)]).await;
    assert_sign_in_asked(
        &refused,
        "This change needs a recent sign-in with your second factor",
    );
    assert_eq!(totp_on(&app, &email).await, (true, false), "still on");
    let codes = browser
        .submit(
            &home,
            "/account/security/recovery-codes",
            &[("password", PASSWORD)],
        )
        .await;
    assert_sign_in_asked(&codes, "This change needs a recent sign-in");
    // Signing in again with the code makes the change possible.
    browser.sign_in_with_code(&email, &totp).await;
    let home = browser.home().await;
    let removed = browser.submit(&home, path, &[("password", PASSWORD)]).await;
    assert_eq!(removed.status, 303, "{}", removed.text);
    assert_eq!(
        removed.header("location"),
        Some("/account/security?done=totp_removed")
    );
    assert_eq!(totp_on(&app, &email).await, (false, false));
    let home = browser.get("/account/security?done=totp_removed").await;
    assert!(
        home.text.contains("Your authenticator app was removed"),
        "{}",
        home.text
    );
}

async fn a_wrong_password_removes_nothing_and_new_codes_end_the_old_ones(backend: Backend) {
    let app = spawn_app(backend).await;
    let (email, _) = app.user_with_tokens().await;
    let mut browser = Browser::new(&app);
    browser.sign_in(&email).await;
    let (totp, old) = browser.enrol().await;
    browser.sign_in_with_code(&email, &totp).await;
    let home = browser.home().await;

    let wrong = browser
        .submit(
            &home,
            "/account/security/totp/remove",
            &[("password", "not the password at all")],
        )
        .await;
    assert_eq!(wrong.status, 401, "{}", wrong.text);
    assert!(
        wrong.text.contains("That password is not right."),
        "{}",
        wrong.text
    );
    assert_eq!(totp_on(&app, &email).await, (true, false), "still on");
    let wrong = browser
        .submit(
            &home,
            "/account/security/recovery-codes",
            &[("password", "not the password at all")],
        )
        .await;
    assert_eq!(wrong.status, 401, "{}", wrong.text);

    let fresh = browser
        .submit(
            &home,
            "/account/security/recovery-codes",
            &[("password", PASSWORD)],
        )
        .await;
    assert_eq!(fresh.status, 200, "{}", fresh.text);
    let new = recovery_codes(&fresh.text);
    assert_eq!(new.len(), 10);
    assert!(new.iter().all(|c| !old.contains(c)));
    // An old code no longer signs in; a new one does.
    let mut other = Browser::new(&app);
    let form = other.password(&email).await;
    let refused = other.second_step(&form, &old[1]).await;
    assert_eq!(refused.status, 401, "{}", refused.text);
    assert_signed_in(&other.second_step(&refused, &new[1]).await);
}
