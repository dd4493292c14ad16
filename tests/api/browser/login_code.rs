//! The hosted login page's emailed code in Chromium: the page's CSP lets its
//! two forms post and lead on (the code page, the consent page, and the 303
//! back to the app), with no script, and the address never enters the
//! address bar. The code's rules are tested on both stores in
//! `pages::login_code`.

use std::time::Duration;

use fantoccini::Locator;

use super::page::{Page, in_browser_with};
use crate::authorize::support::query;
use crate::helpers::AppKind;

async fn click(page: &Page, css: &str) {
    let element = page.browser.find(Locator::Css(css)).await.expect(css);
    element.click().await.expect("click");
}

async fn wait_for(page: &Page, css: &str) {
    page.browser
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_signs_a_user_in_with_an_emailed_code_in_a_real_browser() {
    in_browser_with(
        |s| s.accounts.otp_enabled = true,
        |page| async move {
            let email = format!("user-{}@example.com", uuid::Uuid::new_v4().simple());
            page.app.register(&email).await;
            // A native app's loopback redirect (any port): authd's own port.
            let client = page
                .app
                .create_oidc_client(AppKind::Public, "http://127.0.0.1/callback")
                .await;
            let redirect = format!("{}/callback", page.app.address);
            let query = query(&client, &[("redirect_uri", &redirect)]);
            page.goto(&format!("/oauth/authorize?{query}")).await;
            wait_for(&page, "form[action='/login/code']").await;
            page.fill("code-email", &email).await;
            click(&page, "form[action='/login/code'] button").await;
            wait_for(&page, "input#code[autocomplete='one-time-code']").await;
            assert!(
                !page.href().await.contains("example.com"),
                "no address in the URL"
            );
            let digits = page.app.services().settings.accounts.otp_digits as usize;
            // Registration may have mailed a verification link first: wait
            // for the code's own message, whenever each arrives.
            let mut seen = 1;
            let code = loop {
                let mail = page.app.wait_for_mail_to(&email, seen).await;
                if let Some(m) = mail.iter().find(|m| m.subject.ends_with(" code")) {
                    break m.code(digits);
                }
                seen = mail.len() + 1;
            };
            page.fill("code", &code).await;
            click(&page, "form[action='/login/code/verify'] button").await;
            wait_for(&page, "button[value='allow']").await;
            click(&page, "button[value='allow']").await;
            for _ in 0..400 {
                let href = page.href().await;
                if href.starts_with(&redirect) {
                    assert!(href.contains("code="), "{href}");
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            panic!("the browser never reached the app: {}", page.href().await);
        },
    )
    .await;
}
