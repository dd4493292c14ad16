//! The account-token rules every emailed link and code follows
//! (`accounts::tokens`), checked on the primitive itself, on both stores: a
//! lookup spends nothing, a token is spent once (also when two requests race),
//! it expires, a newer one leaves it live only for the grace, a code allows a bounded number of
//! tries, and the store keeps hashes, never the secrets. Each flow's own tests
//! check that its endpoints keep these rules.

use std::time::Duration;

use authd::accounts::tokens::{self, Issue, Issued, Purpose};
use secrecy::ExposeSecret;
use uuid::Uuid;

use crate::helpers::{Backend, TestApp, spawn_app};
use crate::on_both_stores;

on_both_stores!(
    finding_a_link_spends_nothing_and_spending_works_exactly_once,
    two_concurrent_spends_of_one_token_give_one_success,
    a_token_dies_at_its_expiry,
    a_newer_token_of_the_same_purpose_leaves_the_older_one_live_for_the_grace_only,
    a_code_allows_the_set_number_of_tries_then_is_dead_even_for_the_right_code,
    the_store_holds_hashes_and_never_the_link_token_or_the_code,
);

async fn user(app: &TestApp) -> Uuid {
    let email = format!("{}@example.com", Uuid::new_v4().simple());
    app.register(&email).await;
    app.user_id(&email).await
}

async fn issue(app: &TestApp, user: Uuid, purpose: Purpose, ttl: u64) -> Issued {
    let svc = app.services();
    let mut tx = svc.store.begin().await.unwrap();
    let issued = tokens::issue(
        svc,
        &mut tx,
        &Issue {
            purpose,
            user,
            email: "someone@example.com",
            credential_version: 0,
            valid_for: Duration::from_secs(ttl),
            link: true,
            code_digits: Some(8),
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    issued
}

fn link(issued: &Issued) -> String {
    issued.link.as_ref().unwrap().expose_secret().to_owned()
}

fn code(issued: &Issued) -> String {
    issued.code.as_ref().unwrap().expose_secret().to_owned()
}

async fn find(app: &TestApp, purpose: Purpose, token: &str) -> Option<Uuid> {
    let svc = app.services();
    let mut conn = svc.store.conn().await.unwrap();
    tokens::find_link(svc, &mut conn, purpose, token)
        .await
        .unwrap()
        .map(|r| r.id)
}

async fn spend(app: &TestApp, id: Uuid) -> bool {
    let svc = app.services();
    let mut tx = svc.store.begin().await.unwrap();
    let spent = tokens::spend(svc, &mut tx, id).await.unwrap();
    tx.commit().await.unwrap();
    spent
}

async fn finding_a_link_spends_nothing_and_spending_works_exactly_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = user(&app).await;
    let issued = issue(&app, user, Purpose::PasswordReset, 1800).await;
    for _ in 0..3 {
        assert_eq!(
            find(&app, Purpose::PasswordReset, &link(&issued)).await,
            Some(issued.id),
            "a lookup leaves the token live"
        );
    }
    assert_eq!(
        find(&app, Purpose::VerifyEmail, &link(&issued)).await,
        None,
        "a token works only for its purpose"
    );
    assert!(spend(&app, issued.id).await);
    assert!(!spend(&app, issued.id).await, "spent once only");
    assert_eq!(
        find(&app, Purpose::PasswordReset, &link(&issued)).await,
        None
    );
    let svc = app.services();
    assert!(
        tokens::check_code(svc, user, Purpose::PasswordReset, &code(&issued))
            .await
            .unwrap()
            .is_none(),
        "the code of a spent token is dead too"
    );
}

async fn two_concurrent_spends_of_one_token_give_one_success(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = user(&app).await;
    for _ in 0..5 {
        let issued = issue(&app, user, Purpose::EmailChange, 1800).await;
        let (a, b) = tokio::join!(spend(&app, issued.id), spend(&app, issued.id));
        assert!(
            a ^ b,
            "exactly one of two concurrent spends wins ({a}, {b})"
        );
    }
}

async fn a_token_dies_at_its_expiry(backend: Backend) {
    let app = spawn_app(backend).await;
    // A purpose the registration issued nothing for: its verification link,
    // cut short by this one, would be swept with it.
    let user = user(&app).await;
    let issued = issue(&app, user, Purpose::PasswordReset, 600).await;
    app.advance(599);
    assert!(
        find(&app, Purpose::PasswordReset, &link(&issued))
            .await
            .is_some()
    );
    app.advance(1);
    assert_eq!(
        find(&app, Purpose::PasswordReset, &link(&issued)).await,
        None
    );
    assert!(
        !spend(&app, issued.id).await,
        "an expired token cannot be spent"
    );
    let svc = app.services();
    assert!(
        tokens::check_code(svc, user, Purpose::PasswordReset, &code(&issued))
            .await
            .unwrap()
            .is_none()
    );
    app.advance(1);
    let purged = authd::cleanup::purge_once(svc).await.unwrap();
    assert_eq!(purged.account_tokens, 1, "the sweep deletes expired tokens");
}

async fn a_newer_token_of_the_same_purpose_leaves_the_older_one_live_for_the_grace_only(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let svc = app.services();
    let grace = i64::try_from(svc.settings.accounts.replaced_token_grace_secs).unwrap();
    assert!(grace >= 300, "the default grace is some minutes");
    let user = user(&app).await;
    let check = |purpose, code: String| async move {
        tokens::check_code(svc, user, purpose, &code)
            .await
            .unwrap()
            .map(|r| r.id)
    };
    let old = issue(&app, user, Purpose::PasswordReset, 1800).await;
    let other_purpose = issue(&app, user, Purpose::VerifyEmail, 1800).await;
    let new = issue(&app, user, Purpose::PasswordReset, 1800).await;
    // Within the grace both links and both codes work.
    assert_eq!(
        find(&app, Purpose::PasswordReset, &link(&old)).await,
        Some(old.id)
    );
    assert_eq!(
        check(Purpose::PasswordReset, code(&old)).await,
        Some(old.id),
        "the older code is tried too"
    );
    assert_eq!(
        check(Purpose::PasswordReset, code(&new)).await,
        Some(new.id)
    );
    // A third token half-way through does not lengthen the first one's grace.
    app.advance(grace / 2);
    let newest = issue(&app, user, Purpose::PasswordReset, 1800).await;
    app.advance(grace - grace / 2 - 1);
    assert_eq!(
        find(&app, Purpose::PasswordReset, &link(&old)).await,
        Some(old.id)
    );
    app.advance(1);
    assert_eq!(find(&app, Purpose::PasswordReset, &link(&old)).await, None);
    assert_eq!(
        check(Purpose::PasswordReset, code(&old)).await,
        None,
        "the replaced code is dead once its grace ends"
    );
    assert_eq!(
        find(&app, Purpose::PasswordReset, &link(&new)).await,
        Some(new.id),
        "the second one's grace began with the third"
    );
    app.advance(grace / 2);
    assert_eq!(find(&app, Purpose::PasswordReset, &link(&new)).await, None);
    assert_eq!(
        find(&app, Purpose::PasswordReset, &link(&newest)).await,
        Some(newest.id)
    );
    assert_eq!(
        find(&app, Purpose::VerifyEmail, &link(&other_purpose)).await,
        Some(other_purpose.id),
        "a token of another purpose stays"
    );

    // An email-change link, asked for only by the signed-in owner, is
    // replaced at once.
    let old = issue(&app, user, Purpose::EmailChange, 1800).await;
    let new = issue(&app, user, Purpose::EmailChange, 1800).await;
    assert_eq!(find(&app, Purpose::EmailChange, &link(&old)).await, None);
    assert_eq!(
        find(&app, Purpose::EmailChange, &link(&new)).await,
        Some(new.id)
    );
}

async fn a_code_allows_the_set_number_of_tries_then_is_dead_even_for_the_right_code(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let svc = app.services();
    let attempts = svc.settings.accounts.code_attempts;
    let user = user(&app).await;
    let issued = issue(&app, user, Purpose::PasswordReset, 1800).await;
    let right = code(&issued);
    let wrong = if right == "00000000" {
        "11111111"
    } else {
        "00000000"
    };
    for _ in 1..attempts {
        assert!(
            tokens::check_code(svc, user, Purpose::PasswordReset, wrong)
                .await
                .unwrap()
                .is_none()
        );
    }
    // One try left: the right code still works (a lookup, not a spend).
    assert!(
        tokens::check_code(svc, user, Purpose::PasswordReset, &right)
            .await
            .unwrap()
            .is_some()
    );
    // That was the last try: the right code is refused from here on.
    assert!(
        tokens::check_code(svc, user, Purpose::PasswordReset, &right)
            .await
            .unwrap()
            .is_none()
    );

    // Guesses sent at once cannot share a try: of 20 concurrent right codes,
    // exactly `attempts` are counted and checked.
    let issued = issue(&app, user, Purpose::PasswordReset, 1800).await;
    let right = code(&issued);
    let tries = (0..20).map(|_| tokens::check_code(svc, user, Purpose::PasswordReset, &right));
    let matched = futures_util::future::join_all(tries)
        .await
        .into_iter()
        .filter(|r| r.as_ref().unwrap().is_some())
        .count();
    assert_eq!(matched, attempts as usize);
}

async fn the_store_holds_hashes_and_never_the_link_token_or_the_code(backend: Backend) {
    use sqlx::Connection as _;
    let app = spawn_app(backend).await;
    let user = user(&app).await;
    let issued = issue(&app, user, Purpose::PasswordReset, 1800).await;
    let (link, code) = (link(&issued), code(&issued));
    const SQL: &str = "SELECT token_hash, code_hash FROM account_tokens WHERE id = $1";
    let url = app.database_url();
    let (token_hash, code_hash): (Vec<u8>, Vec<u8>) = if url.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::query_as(SQL)
            .bind(issued.id)
            .fetch_one(&mut conn)
            .await
            .unwrap()
    } else {
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query_as(SQL)
            .bind(issued.id)
            .fetch_one(&mut conn)
            .await
            .unwrap()
    };
    let sha256 = ring::digest::digest(&ring::digest::SHA256, link.as_bytes());
    assert_eq!(
        token_hash,
        sha256.as_ref(),
        "the link token's SHA-256, not the token"
    );
    // The code is keyed (key id, then a 32-byte HMAC): its unkeyed hashes are
    // not what is stored, so a copy of the table cannot be searched offline.
    assert_eq!(code_hash.len(), 33);
    assert!(!code_hash.windows(code.len()).any(|w| w == code.as_bytes()));
    let unkeyed = ring::digest::digest(&ring::digest::SHA256, code.as_bytes());
    assert_ne!(&code_hash[1..], unkeyed.as_ref());
}
