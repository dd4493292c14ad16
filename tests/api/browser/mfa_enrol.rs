//! The hosted login page's enrolment step under `mfa.required`, in
//! Chromium: the password, then the secret shown as text and its first
//! code, then the recovery codes with the link on, consent, and the app's
//! code; nothing blocked by the pages' CSP on the way, no script needed. The
//! step's rules (CSRF, a wrong code, the challenge's binding) are tested on
//! both stores in `mfa::policy`.

use std::time::Duration;

use fantoccini::Locator;

use super::page::{Page, in_browser_with};
use crate::authorize::support::query;
use crate::helpers::AppKind;
use crate::mfa::totp_of;

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
async fn a_user_without_a_factor_enrols_one_on_the_hosted_page_and_reaches_the_app() {
    in_browser_with(
        |s| s.mfa.required = true,
        |page| async move {
            let email = format!("user-{}@example.com", uuid::Uuid::new_v4().simple());
            page.app.register(&email).await;
            let client = page
                .app
                .create_oidc_client(AppKind::Public, "http://127.0.0.1/callback")
                .await;
            let redirect = format!("{}/callback", page.app.address);
            let query = query(&client, &[("redirect_uri", &redirect)]);
            page.goto(&format!("/oauth/authorize?{query}")).await;
            wait_for(&page, "form[action='/login']").await;
            page.fill("email", &email).await;
            page.fill("password", crate::helpers::PASSWORD).await;
            click(&page, "form[action='/login'] button").await;
            wait_for(&page, "form[action='/login/mfa/enrol']").await;
            let secret = page.text("totp-secret").await;
            assert!(page.text("totp-uri").await.starts_with("otpauth://totp/"));
            let now = u64::try_from(page.app.now().timestamp()).unwrap();
            page.fill("code", &totp_of(&secret).generate(now)).await;
            click(&page, "form[action='/login/mfa/enrol'] button").await;
            wait_for(&page, "a#continue").await;
            let shown = page
                .browser
                .find_all(Locator::Css("#recovery-codes code"))
                .await
                .expect("the codes");
            assert_eq!(shown.len(), 10);
            click(&page, "a#continue").await;
            wait_for(&page, "button[value='allow']").await;
            click(&page, "button[value='allow']").await;
            for _ in 0..400 {
                let href = page.href().await;
                if href.starts_with(&redirect) {
                    assert!(href.contains("code="), "{href}");
                    let blocked: Vec<String> = page
                        .console()
                        .await
                        .into_iter()
                        .filter(|l| l.contains("Content Security Policy"))
                        .collect();
                    assert!(blocked.is_empty(), "a CSP blocked: {blocked:#?}");
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            panic!("the browser never reached the app: {}", page.href().await);
        },
    )
    .await;
}
