//! The browser session at authd as the authorization flow meets it: single
//! sign-on, `prompt=none`, `prompt=login` and `max_age`, consent given,
//! denied or asked of another browser, and its end by a password change; and
//! that its cookie is never a refresh token.

use serde_json::json;

use super::support::*;
use crate::helpers::{PASSWORD, spawn_app};

crate::on_both_stores!(
    prompt_none_without_a_session_is_login_required,
    a_full_sign_in_issues_a_code_with_state_and_iss_and_the_second_skips_the_login_form,
    max_age_zero_and_prompt_login_ask_for_the_password_despite_the_session,
    prompt_none_without_consent_is_consent_required,
    consent_denied_goes_back_as_access_denied,
    a_consent_granted_is_audited_with_its_user_and_client_and_a_skipped_one_is_not,
    the_consent_page_answers_only_the_browser_session_that_signed_in,
    a_password_change_ends_the_browser_session,
    a_browser_session_is_never_a_refresh_token,
    a_refresh_token_for_a_browser_session_id_is_refused,
);

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
    let user_id = app.user_id(&email).await;
    assert!(
        !app.audit_kinds(user_id)
            .await
            .contains(&"consent_granted".to_owned())
    );
    // Nothing remembered: the next request asks again.
    let again = browser.authorize(&query(&client, &[])).await;
    assert_eq!(leads_to(&again), "/consent");
    // The denied request cannot be answered again.
    let replay = browser.consent(&consent, "allow").await;
    error_page(&replay);
}

async fn a_consent_granted_is_audited_with_its_user_and_client_and_a_skipped_one_is_not(
    backend: crate::helpers::Backend,
) {
    let app = spawn_app(backend).await;
    let client = client(&app).await;
    let email = user(&app).await;
    let user_id = app.user_id(&email).await;
    let mut browser = Browser::new(&app);
    browser.sign_in(&query(&client, &[]), &email).await;
    let granted = |events: &[authd::store::audit::AuditRecord]| {
        events
            .iter()
            .filter(|e| e.kind == "consent_granted")
            .cloned()
            .collect::<Vec<_>>()
    };
    let events = granted(&app.audit_events(user_id).await);
    assert_eq!(events.len(), 1, "{events:?}");
    let event = &events[0];
    assert_eq!(event.actor, Some(format!("user:{user_id}")));
    assert_eq!(event.client_id.as_deref(), Some(client.id.as_str()));
    assert_eq!(event.detail.as_deref(), Some("scope: email openid"));
    assert!(
        event.session_id.is_some(),
        "the browser session that gave it"
    );
    // A remembered consent skips the page: no decision, no second event.
    let again = browser.authorize(&query(&client, &[])).await;
    assert!(param(&to_client(&again), "code").is_some());
    assert_eq!(granted(&app.audit_events(user_id).await).len(), 1);
    // The user reads it in their own audit.
    let tokens = app.login_body(&email).await;
    let audit = app.get_bearer("/auth/audit", &tokens.access).await;
    assert_eq!(audit.status, 200, "{}", audit.text);
    let listed = audit.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "consent_granted")
        .cloned()
        .unwrap_or_else(|| panic!("consent_granted listed: {}", audit.text));
    assert_eq!(listed["client_id"], client.id.as_str());
    assert_eq!(listed["actor"], format!("user:{user_id}"));
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
