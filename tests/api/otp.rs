//! Sign-in with a one-time code by email (`POST /auth/otp/start`, then
//! `/auth/otp/verify`), on both stores: off by default, the same answer for
//! every address, the login answer in both deliveries with `amr: ["otp"]`
//! kept across refreshes, and every refusal a code login must make: a wrong
//! code, too many tries, expiry, reuse, another account's code, a password
//! changed since, the send limits; the code's own limits (the client's
//! tries, the address's tries of the day) in `limits`.

use std::time::Duration;

use authd::config::Settings;
use serde_json::{Value, json};

use crate::helpers::{Backend, PASSWORD, Reply, TestApp, jwt_claims, spawn_app, spawn_app_with};
use crate::on_both_stores;

mod limits;

on_both_stores!(
    codes_are_off_by_default_and_both_endpoints_say_not_enabled,
    start_answers_alike_for_known_and_unknown_addresses_and_only_an_account_gets_a_code,
    verify_answers_exactly_like_login_in_both_deliveries,
    a_code_login_says_amr_otp_in_every_token_of_its_session,
    a_code_sign_in_that_first_proves_an_address_ends_the_password_and_sessions_of_its_registration,
    after_code_attempts_wrong_codes_the_right_code_is_refused,
    a_code_expires_after_otp_ttl_secs,
    a_code_works_once_and_a_newer_code_leaves_it_for_the_grace_only,
    another_accounts_code_and_an_unknown_address_are_refused_like_a_wrong_code,
    a_password_change_kills_a_code_sent_before_it,
    past_the_send_budget_start_answers_alike_and_sends_nothing_more,
);

fn enabled(s: &mut Settings) {
    s.accounts.otp_enabled = true;
}

async fn app_with(backend: Backend, configure: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_with(backend, |s| {
        enabled(s);
        configure(s);
    })
    .await
}

async fn registered(app: &TestApp) -> String {
    let email = format!("otp-{}@example.com", uuid::Uuid::new_v4().simple());
    app.register(&email).await;
    email
}

async fn start(app: &TestApp, email: &str) -> Reply {
    app.post_json("/auth/otp/start", &json!({ "email": email }))
        .await
}

async fn verify(app: &TestApp, email: &str, code: &str, delivery: &str) -> Reply {
    app.post_json(
        "/auth/otp/verify",
        &json!({ "email": email, "code": code, "token_delivery": delivery }),
    )
    .await
}

/// The codes delivered to `to`, oldest first.
fn codes(app: &TestApp, to: &str) -> Vec<String> {
    let digits = app.services().settings.accounts.otp_digits as usize;
    app.mail_to(to)
        .into_iter()
        .filter(|m| m.subject.ends_with(" code"))
        .map(|m| m.code(digits))
        .collect()
}

/// Asks for a code for `email` and returns it once delivered (the `n`th).
async fn code_for(app: &TestApp, email: &str) -> String {
    let before = codes(app, email).len();
    let reply = start(app, email).await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    for _ in 0..800 {
        if let Some(code) = codes(app, email).get(before) {
            return code.clone();
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no code reached {email}");
}

/// A code of the same length that is not `code`.
fn other_than(code: &str) -> String {
    code.chars()
        .map(|c| if c == '0' { '1' } else { '0' })
        .collect()
}

fn queued_codes(app: &TestApp) -> u64 {
    app.services()
        .metrics
        .mail
        .queued
        .with_label_values(&["otp_code"])
        .get()
}

/// The attributes of a `Set-Cookie` line, without its value or `Max-Age`.
fn cookie_attributes(set_cookie: &str) -> Vec<String> {
    let mut parts: Vec<String> = set_cookie
        .split(';')
        .skip(1)
        .map(|p| p.trim().to_lowercase())
        .filter(|p| !p.starts_with("max-age"))
        .collect();
    parts.sort();
    parts
}

fn keys_of(body: &Value) -> Vec<String> {
    let mut keys: Vec<String> = body.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    keys
}

async fn codes_are_off_by_default_and_both_endpoints_say_not_enabled(backend: Backend) {
    let app = spawn_app(backend).await;
    let email = registered(&app).await;
    let reply = start(&app, &email).await;
    assert_eq!(reply.status, 404, "{}", reply.text);
    assert_eq!(reply.error(), "not_enabled");
    for delivery in ["cookie", "body"] {
        let reply = verify(&app, &email, "123456", delivery).await;
        assert_eq!(reply.status, 404, "{}", reply.text);
        assert_eq!(reply.error(), "not_enabled");
    }
    app.settled().await;
    assert_eq!(queued_codes(&app), 0);
}

async fn start_answers_alike_for_known_and_unknown_addresses_and_only_an_account_gets_a_code(
    backend: Backend,
) {
    let app = app_with(backend, |_| {}).await;
    let known = registered(&app).await;
    let unknown = format!("nobody-{}@example.com", uuid::Uuid::new_v4().simple());
    let a = start(&app, &unknown).await;
    let b = start(&app, &known).await;
    for reply in [&a, &b] {
        assert_eq!(reply.status, 202, "{}", reply.text);
        assert_eq!(reply.body, json!({ "status": "accepted" }));
        assert_eq!(reply.header("cache-control"), Some("no-store"));
    }
    assert_eq!(a.text, b.text);
    assert_eq!(
        a.header("content-type"),
        b.header("content-type"),
        "the same answer"
    );
    app.settled().await;
    assert_eq!(queued_codes(&app), 1, "one code, for the account");
    let code = loop {
        if let Some(code) = codes(&app, &known).pop() {
            break code;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    assert_eq!(code.len(), 8);
    assert!(app.mail_to(&unknown).is_empty());
    let user = app.user_id(&known).await;
    assert_eq!(app.audit_kinds(user).await[0], "otp_sent");
}

async fn verify_answers_exactly_like_login_in_both_deliveries(backend: Backend) {
    let app = app_with(backend, |_| {}).await;
    let email = registered(&app).await;
    // Proven first, so the code sign-in leaves the password as it is.
    prove(&app, &email).await;

    // Body delivery: the login answer's fields, and tokens that refresh.
    let login = app
        .post_json(
            "/auth/login",
            &json!({ "email": email, "password": PASSWORD, "token_delivery": "body" }),
        )
        .await;
    let code = code_for(&app, &email).await;
    let reply = verify(&app, &email, &code, "body").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(keys_of(&reply.body), keys_of(&login.body));
    assert_eq!(reply.body["token_type"], "Bearer");
    for header in ["cache-control", "pragma", "content-type"] {
        assert_eq!(reply.header(header), login.header(header), "{header}");
    }
    assert!(
        reply.set_cookies().is_empty(),
        "no cookie for body delivery"
    );
    assert!(app.access_works(&reply.access_token()).await);
    let refreshed = app.refresh_body(&reply.refresh_token()).await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.text);

    // Cookie delivery: the same cookie as a login's.
    let login = app.login_cookie(&email).await;
    let code = code_for(&app, &email).await;
    let reply = app
        .send(
            app.client
                .post(app.url("/auth/otp/verify"))
                .header("origin", "https://app.example.com")
                .json(&json!({ "email": email, "code": code })),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(keys_of(&reply.body), keys_of(&login.body));
    assert!(reply.body.get("refresh_token").is_none());
    let (ours, theirs) = (reply.set_cookies(), login.set_cookies());
    assert_eq!(ours.len(), 1);
    assert_eq!(cookie_attributes(&ours[0]), cookie_attributes(&theirs[0]));
    let attributes = cookie_attributes(&ours[0]).join("; ");
    for wanted in ["httponly", "secure", "samesite=strict", "path=/"] {
        assert!(attributes.contains(wanted), "{attributes}");
    }
    let cookie = reply.refresh_cookie().unwrap();
    assert_eq!(app.refresh_cookie(&cookie).await.status, 200);

    // A foreign origin gets no cookie, and the code is not spent.
    let code = code_for(&app, &email).await;
    let foreign = app
        .send(
            app.client
                .post(app.url("/auth/otp/verify"))
                .header("origin", "https://evil.example")
                .json(&json!({ "email": email, "code": code })),
        )
        .await;
    assert_eq!(foreign.status, 403, "{}", foreign.text);
    assert_eq!(foreign.error(), "invalid_origin");
    assert_eq!(verify(&app, &email, &code, "body").await.status, 200);
}

/// `email`'s address proven by the link its registration sent.
async fn prove(app: &TestApp, email: &str) {
    let link = app.wait_for_action(email, "verify_email").await;
    let reply = app
        .post_json(
            "/auth/email/verify",
            &json!({ "token": link.link_token(), "password": PASSWORD }),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
}

async fn a_code_login_says_amr_otp_in_every_token_of_its_session(backend: Backend) {
    let app = app_with(backend, |_| {}).await;
    let email = registered(&app).await;
    prove(&app, &email).await;
    let before = app.login_body(&email).await;
    assert_eq!(jwt_claims(&before.access)["amr"], json!(["pwd"]));

    let code = code_for(&app, &email).await;
    let reply = verify(&app, &email, &code, "body").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(jwt_claims(&reply.access_token())["amr"], json!(["otp"]));
    let mut refresh = reply.refresh_token();
    for _ in 0..2 {
        let next = app.refresh_body(&refresh).await;
        assert_eq!(next.status, 200, "{}", next.text);
        assert_eq!(jwt_claims(&next.access_token())["amr"], json!(["otp"]));
        refresh = next.refresh_token();
    }
    // The password session of a proven address keeps its own, and the
    // password still signs in.
    let again = app.refresh_body(&before.refresh).await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(jwt_claims(&again.access_token())["amr"], json!(["pwd"]));
    assert_eq!(app.try_login(&email, PASSWORD).await.status, 200);
    let user = app.user_id(&email).await;
    let events = app.audit_events(user).await;
    assert_eq!(events[1].kind, "login_succeeded");
    assert_eq!(events[1].detail.as_deref(), Some("one-time code"));
}

/// Account pre-hijacking: someone registers an address that is not theirs,
/// with a password of their choosing, and waits for the mailbox's owner to
/// sign in with a code. The code is the first proof of the address: the
/// password chosen at registration and every session made with it end, so
/// the registrant keeps nothing.
async fn a_code_sign_in_that_first_proves_an_address_ends_the_password_and_sessions_of_its_registration(
    backend: Backend,
) {
    let app = app_with(backend, |_| {}).await;
    let email = registered(&app).await;
    let registrant = app.login_body(&email).await;
    let me = app.get_bearer("/auth/me", &registrant.access).await;
    assert_eq!(me.body["email_verified"], false);

    let code = code_for(&app, &email).await;
    let owner = verify(&app, &email, &code, "body").await;
    assert_eq!(owner.status, 200, "{}", owner.text);
    let me = app.get_bearer("/auth/me", &owner.access_token()).await;
    assert_eq!(
        me.body["email_verified"], true,
        "the code proved the mailbox"
    );

    assert_eq!(
        app.refresh_body(&registrant.refresh).await.status,
        401,
        "the registrant's session ended"
    );
    assert_eq!(
        app.get_bearer("/auth/me", &registrant.access).await.status,
        401
    );
    assert_eq!(
        app.try_login(&email, PASSWORD).await.status,
        401,
        "the registration's password no longer signs in"
    );
    let user = app.user_id(&email).await;
    let kinds = app.audit_kinds(user).await;
    // Newest first: the refused password login above, then the code sign-in.
    assert_eq!(
        &kinds[..3],
        ["login_failed", "login_succeeded", "password_reset"]
    );
    // The owner's own session goes on.
    assert_eq!(app.refresh_body(&owner.refresh_token()).await.status, 200);
}

async fn after_code_attempts_wrong_codes_the_right_code_is_refused(backend: Backend) {
    let app = app_with(backend, |s| {
        s.accounts.code_attempts = 3;
        s.limits.login_account_failures = 100;
    })
    .await;
    let email = registered(&app).await;
    let code = code_for(&app, &email).await;
    for _ in 0..3 {
        let reply = verify(&app, &email, &other_than(&code), "body").await;
        assert_eq!(reply.status, 401, "{}", reply.text);
        assert_eq!(reply.error(), "invalid_credentials");
    }
    let reply = verify(&app, &email, &code, "body").await;
    assert_eq!(reply.status, 401, "the code is dead: {}", reply.text);
    let user = app.user_id(&email).await;
    let kinds = app.audit_kinds(user).await;
    assert_eq!(kinds.iter().filter(|k| *k == "code_failed").count(), 4);

    // Two wrong tries of a fresh code leave it working.
    let code = code_for(&app, &email).await;
    for _ in 0..2 {
        assert_eq!(
            verify(&app, &email, &other_than(&code), "body")
                .await
                .status,
            401
        );
    }
    assert_eq!(verify(&app, &email, &code, "body").await.status, 200);
}

async fn a_code_expires_after_otp_ttl_secs(backend: Backend) {
    let app = app_with(backend, |_| {}).await;
    let ttl = i64::try_from(app.services().settings.accounts.otp_ttl_secs).unwrap();
    let email = registered(&app).await;
    let code = code_for(&app, &email).await;
    app.advance(ttl);
    let reply = verify(&app, &email, &code, "body").await;
    assert_eq!(reply.status, 401, "{}", reply.text);

    let code = code_for(&app, &email).await;
    app.advance(ttl - 1);
    assert_eq!(verify(&app, &email, &code, "body").await.status, 200);
}

async fn a_code_works_once_and_a_newer_code_leaves_it_for_the_grace_only(backend: Backend) {
    // Codes that outlive the grace, to see the grace end them.
    let app = app_with(backend, |s| s.accounts.otp_ttl_secs = 3600).await;
    let grace = app.services().settings.accounts.replaced_token_grace_secs;
    let email = registered(&app).await;
    // Within the grace the older code works, and its login ends the newer.
    let old = code_for(&app, &email).await;
    let new = code_for(&app, &email).await;
    assert_eq!(verify(&app, &email, &old, "body").await.status, 200);
    if old != new {
        let reply = verify(&app, &email, &new, "body").await;
        assert_eq!(reply.status, 401, "ended by the login: {}", reply.text);
    }
    // Past the grace the older code is dead; the newer works, once.
    let old = code_for(&app, &email).await;
    let code = code_for(&app, &email).await;
    app.advance(i64::try_from(grace).unwrap());
    if old != code {
        let reply = verify(&app, &email, &old, "body").await;
        assert_eq!(reply.status, 401, "replaced: {}", reply.text);
    }
    assert_eq!(verify(&app, &email, &code, "body").await.status, 200);
    let again = verify(&app, &email, &code, "body").await;
    assert_eq!(again.status, 401, "{}", again.text);
    assert_eq!(again.error(), "invalid_credentials");

    // Two requests at once with one code: one session.
    let code = code_for(&app, &email).await;
    let (a, b) = tokio::join!(
        verify(&app, &email, &code, "body"),
        verify(&app, &email, &code, "body")
    );
    let mut statuses = [a.status, b.status];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 401], "{} / {}", a.text, b.text);
}

async fn another_accounts_code_and_an_unknown_address_are_refused_like_a_wrong_code(
    backend: Backend,
) {
    let app = app_with(backend, |_| {}).await;
    let (alice, bob) = (registered(&app).await, registered(&app).await);
    let alices = code_for(&app, &alice).await;
    let bobs = code_for(&app, &bob).await;
    let wrong = verify(&app, &alice, &other_than(&alices), "body").await;
    assert_eq!(wrong.status, 401);
    if bobs != alices {
        let crossed = verify(&app, &alice, &bobs, "body").await;
        assert_eq!(crossed.status, 401, "{}", crossed.text);
        assert_eq!(crossed.body, wrong.body);
    }
    let unknown = format!("nobody-{}@example.com", uuid::Uuid::new_v4().simple());
    let reply = verify(&app, &unknown, &bobs, "body").await;
    assert_eq!(reply.status, 401, "{}", reply.text);
    assert_eq!(reply.body, wrong.body, "the same answer as a wrong code");
    assert_eq!(
        reply.header("www-authenticate"),
        wrong.header("www-authenticate")
    );
    // Both codes still work for their own accounts.
    assert_eq!(verify(&app, &alice, &alices, "body").await.status, 200);
    assert_eq!(verify(&app, &bob, &bobs, "body").await.status, 200);
}

async fn a_password_change_kills_a_code_sent_before_it(backend: Backend) {
    let app = app_with(backend, |_| {}).await;
    let email = registered(&app).await;
    let tokens = app.login_body(&email).await;
    let code = code_for(&app, &email).await;
    let changed = app
        .send(
            app.client
                .post(app.url("/auth/password"))
                .bearer_auth(&tokens.access)
                .json(&json!({
                    "current_password": PASSWORD,
                    "new_password": "another passphrase, long enough",
                })),
        )
        .await;
    assert_eq!(changed.status, 204, "{}", changed.text);
    let reply = verify(&app, &email, &code, "body").await;
    assert_eq!(reply.status, 401, "{}", reply.text);
}

async fn past_the_send_budget_start_answers_alike_and_sends_nothing_more(backend: Backend) {
    // Verification off: the registration's verify_email would count too.
    let app = app_with(backend, |s| {
        s.email.per_recipient_limit = 2;
        s.email.per_recipient_total_limit = 2;
        s.accounts.email_verification = authd::config::Verification::Off;
    })
    .await;
    let known = registered(&app).await;
    let unknown = format!("nobody-{}@example.com", uuid::Uuid::new_v4().simple());
    for _ in 0..3 {
        let (a, b) = (start(&app, &known).await, start(&app, &unknown).await);
        assert_eq!(a.status, 202, "{}", a.text);
        assert_eq!((a.status, &a.text), (b.status, &b.text));
    }
    app.settled().await;
    assert_eq!(queued_codes(&app), 2, "past the budget nothing is queued");
}
