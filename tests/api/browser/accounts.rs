//! The demo's pages for emailed links, in the browser: the link is read from
//! the delivered mail and opened as a user's click would open it. The page
//! takes the token out of the address bar, spends nothing until its form is
//! sent, and says what an error code means. The rules of the tokens
//! themselves are tested on both stores by each flow's own tests.

use serde_json::json;

use crate::helpers::{PASSWORD, TestApp};

use super::page::{Page, in_browser, in_browser_with};

const NEW_PASSWORD: &str = "a brand new passphrase of mine";

fn new_email() -> String {
    format!("user-{}@example.com", uuid::Uuid::new_v4().simple())
}

/// Opens `link`, and checks that the page shows `view` and that the token is
/// gone from the address bar.
async fn open_link(page: &Page, link: &str, view: &str) {
    assert!(
        link.starts_with(&page.demo_url()),
        "the link leads elsewhere: {link}"
    );
    page.open(link).await;
    page.wait_for(view).await;
    assert_eq!(
        page.href().await,
        page.demo_url(),
        "the token stays in the address bar"
    );
}

async fn reset_link(app: &TestApp, email: &str) -> String {
    app.wait_for_action(email, "password_reset").await.link()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forgotten_password_is_changed_through_the_emailed_link_which_then_is_dead() {
    in_browser(|page| async move {
        let email = new_email();
        page.app.register(&email).await;
        page.goto("/demo/").await;
        page.wait_for("signed-out").await;
        page.fill("email", &email).await;
        page.click("forgot-link").await;
        page.wait_for("forgot").await;
        assert_eq!(
            page.js("return document.getElementById('forgot-email').value;")
                .await,
            json!(email),
            "the address typed at sign-in is carried over"
        );
        page.click("forgot-send").await;
        page.wait_for("signed-out").await;
        assert_eq!(
            page.text("notice").await,
            "If an account exists for that address, an email is on its way."
        );

        let link = reset_link(&page.app, &email).await;
        open_link(&page, &link, "reset").await;
        assert!(page.shown("new-password").await);

        // A weak password is refused and spends nothing: the form stays, and
        // the same token then changes the password.
        page.fill("new-password", "password123").await;
        page.click("reset-submit").await;
        let (code, text) = page.wait_for_error().await;
        assert_eq!(code, "weak_password", "{text}");
        assert!(text.starts_with("Choose a stronger password"), "{text}");
        assert_eq!(page.wait_for("reset").await, "choose a new password");

        page.fill("new-password", NEW_PASSWORD).await;
        page.click("reset-submit").await;
        page.wait_for("signed-out").await;
        assert_eq!(
            page.text("notice").await,
            "Your password was changed: sign in with the new one."
        );
        assert_eq!(page.app.try_login(&email, PASSWORD).await.status, 401);
        page.submit_with(&email, NEW_PASSWORD, "login").await;
        assert_eq!(
            page.wait_for("signed-in").await,
            format!("signed in as {email}")
        );

        // The same link again: the page still shows its form (opening it
        // asks nothing of authd), and sending it says the link is dead.
        page.open(&link).await;
        page.wait_for("reset").await;
        page.fill("new-password", "yet another passphrase here")
            .await;
        page.click("reset-submit").await;
        let (code, text) = page.wait_for_error().await;
        assert_eq!(code, "invalid_account_token");
        assert_eq!(
            text,
            "This link is invalid, expired or already used; ask for a new one."
        );
        assert_eq!(page.app.try_login(&email, NEW_PASSWORD).await.status, 200);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opening_a_reset_link_without_sending_its_form_leaves_the_token_usable() {
    in_browser(|page| async move {
        let email = new_email();
        page.app.register(&email).await;
        let asked = page
            .app
            .post_json("/auth/password/forgot", &json!({ "email": email }))
            .await;
        assert_eq!(asked.status, 202, "{}", asked.text);
        let mail = page.app.wait_for_action(&email, "password_reset").await;
        open_link(&page, &mail.link(), "reset").await;
        // Whatever the page does on its own after the load (the session
        // check included) has had its time once the session is checked.
        page.reload().await;
        page.wait_for("signed-out").await;

        let reset = page
            .app
            .post_json(
                "/auth/password/reset",
                &json!({ "token": mail.link_token(), "new_password": NEW_PASSWORD }),
            )
            .await;
        assert_eq!(
            reset.status, 204,
            "opening the link spent it: {}",
            reset.text
        );
        assert_eq!(page.app.try_login(&email, NEW_PASSWORD).await.status, 200);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_is_verified_through_the_emailed_link_and_the_signed_in_view_says_so() {
    in_browser_with(
        |s| s.accounts.email_verification = authd::config::Verification::Send,
        |page| async move {
            let email = new_email();
            page.goto("/demo/").await;
            page.wait_for("signed-out").await;
            page.submit(&email, "register").await;
            page.wait_for("signed-in").await;
            assert_eq!(page.text("verified").await, "not verified yet");
            assert!(page.shown("resend").await);

            // A new link replaces the first one.
            let first = page.app.wait_for_action(&email, "verify_email").await;
            page.click("resend").await;
            let mails = page.app.wait_for_mail_to(&email, 2).await;
            assert!(
                page.text("notice")
                    .await
                    .contains("a new link is on its way"),
                "{}",
                page.text("notice").await
            );
            let newest = mails.last().expect("two messages").link();
            assert_ne!(newest, first.link());

            open_link(&page, &newest, "verify").await;
            let me = page.app.login_body(&email).await;
            let before = page.app.get_bearer("/auth/me", &me.access).await;
            assert_eq!(
                before.body["email_verified"],
                json!(false),
                "opening the link verified the address"
            );
            // With the password, which the account keeps; the link is the
            // address's first proof, so the sessions begun before it end
            // (`accounts::proof`), the page's own too.
            page.fill("verify-password", PASSWORD).await;
            page.click("verify-submit").await;
            page.wait_for("signed-out").await;
            assert_eq!(
                page.text("notice").await,
                format!("The address {email} is verified.")
            );
            page.submit(&email, "login").await;
            page.wait_for("signed-in").await;
            assert_eq!(page.text("verified").await, "verified");
            assert!(!page.shown("resend").await);

            // The replaced link is dead.
            open_link(&page, &first.link(), "verify").await;
            page.click("verify-submit").await;
            let (code, _) = page.wait_for_error().await;
            assert_eq!(code, "invalid_account_token");
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_without_its_token_or_of_an_unknown_action_opens_the_plain_page() {
    in_browser(|page| async move {
        page.goto("/demo/?action=password_reset").await;
        page.wait_for("signed-out").await;
        let (_, text) = page.wait_for_error().await;
        assert!(text.contains("incomplete"), "{text}");
        page.goto("/demo/?action=nonsense&token=abc").await;
        page.wait_for("signed-out").await;
        assert_eq!(page.href().await, page.demo_url());
        page.goto("/demo/?action=forgot_password").await;
        page.wait_for("forgot").await;
        assert_eq!(page.href().await, page.demo_url());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_verification_required_a_refused_sign_in_offers_a_new_link_that_lets_it_in() {
    in_browser_with(
        |s| s.accounts.email_verification = authd::config::Verification::Required,
        |page| async move {
            let email = new_email();
            page.app.register(&email).await;
            page.goto("/demo/").await;
            page.wait_for("signed-out").await;
            assert!(!page.shown("resend-unverified").await);
            page.submit(&email, "login").await;
            let (code, _) = page.wait_for_error().await;
            assert_eq!(code, "email_not_verified");
            assert!(page.shown("resend-unverified").await);
            page.click("resend-unverified").await;
            let mails = page.app.wait_for_mail_to(&email, 2).await;
            let link = mails.last().expect("two messages").link();

            open_link(&page, &link, "verify").await;
            page.fill("verify-password", PASSWORD).await;
            page.click("verify-submit").await;
            page.wait_for("signed-out").await;
            assert_eq!(
                page.text("notice").await,
                format!("The address {email} is verified.")
            );
            page.submit(&email, "login").await;
            page.wait_for("signed-in").await;
            assert_eq!(page.text("verified").await, "verified");
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_reset_signs_in_the_reset_page_ends_signed_in_by_the_cookie_it_gets() {
    in_browser_with(
        |s| s.accounts.reset_signs_in = true,
        |page| async move {
            let email = new_email();
            page.app.register(&email).await;
            let asked = page
                .app
                .post_json("/auth/password/forgot", &json!({ "email": email }))
                .await;
            assert_eq!(asked.status, 202, "{}", asked.text);
            let link = reset_link(&page.app, &email).await;
            open_link(&page, &link, "reset").await;
            page.fill("new-password", NEW_PASSWORD).await;
            page.click("reset-submit").await;
            assert_eq!(
                page.wait_for("signed-in").await,
                format!("signed in as {email}")
            );
            assert_eq!(
                page.text("notice").await,
                "Your password was changed, and you are signed in."
            );
            assert_eq!(
                page.js("return [localStorage.length, sessionStorage.length];")
                    .await,
                json!([0, 0])
            );
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registering_a_taken_address_mails_its_owner_a_link_to_the_forgot_form() {
    in_browser_with(
        |s| s.accounts.enumeration_safe_registration = true,
        |page| async move {
            let email = new_email();
            let first = page
                .app
                .post_json(
                    "/auth/register",
                    &json!({ "email": email, "password": PASSWORD }),
                )
                .await;
            assert_eq!(first.status, 202, "{}", first.text);
            page.goto("/demo/").await;
            page.wait_for("signed-out").await;
            page.submit(&email, "register").await;
            page.wait_for_notice(&format!("Check the mailbox of {email} to go on."))
                .await;
            let mail = page.app.wait_for_action(&email, "forgot_password").await;
            let link = mail
                .text
                .split_whitespace()
                .find(|w| w.starts_with("http") && w.contains("action=forgot_password"))
                .expect("a link to the forgot form")
                .to_owned();
            open_link(&page, &link, "forgot").await;
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_change_asked_for_in_the_signed_in_view_is_applied_by_its_link_page() {
    in_browser(|page| async move {
        let old = page.sign_in_new_user().await;
        let new = new_email();
        page.fill("new-email", &new).await;
        page.fill("change-password", "not my password at all").await;
        page.click("change-submit").await;
        let (code, _) = page.wait_for_error().await;
        assert_eq!(code, "invalid_credentials");
        page.fill("change-password", PASSWORD).await;
        page.click("change-submit").await;
        page.wait_for_notice(&format!("A confirmation link is on its way to {new}."))
            .await;

        let mail = page.app.wait_for_action(&new, "email_change_confirm").await;
        open_link(&page, &mail.link(), "change-confirm").await;
        assert_eq!(
            page.app.try_login(&old, PASSWORD).await.status,
            200,
            "opening the link changed the address"
        );
        page.fill("change-confirm-password", PASSWORD).await;
        page.click("change-confirm-submit").await;
        // The confirmation is the new address's first proof: every session
        // ends, the page's too (`accounts::proof`); the password, given with
        // it, stays.
        page.wait_for("signed-out").await;
        assert_eq!(
            page.text("notice").await,
            format!("Your account's address is now {new}.")
        );
        page.submit(&new, "login").await;
        page.wait_for("signed-in").await;
        assert_eq!(page.text("verified").await, "verified");
        assert_eq!(page.app.try_login(&old, PASSWORD).await.status, 401);
        assert_eq!(page.app.try_login(&new, PASSWORD).await.status, 200);

        open_link(&page, &mail.link(), "change-confirm").await;
        page.click("change-confirm-submit").await;
        let (code, text) = page.wait_for_error().await;
        assert_eq!(code, "invalid_account_token");
        assert_eq!(
            text,
            "This link is invalid, expired or already used; ask for a new one."
        );
    })
    .await;
}
