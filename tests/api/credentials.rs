//! A password change ends logins that were in flight: a login that checked the
//! old password starts no session once the change has committed, and neither
//! does its re-hash of the old password land. The login is held between its
//! hash and its session by running its two halves (`accounts::authenticate`,
//! `accounts::finish_login`, which `accounts::login` runs back to back) with the
//! change in between.

use authd::audit::RequestMeta;
use authd::domain::{Email, Password};
use authd::error::ServiceError;
use authd::http::error::ApiError;
use serde_json::json;

use crate::helpers::{Backend, PASSWORD, Reply, TestApp, spawn_app};
use crate::on_both_stores;

const NEW_PASSWORD: &str = "tangerine submarine velvet 42";

on_both_stores!(
    a_login_that_checked_the_old_password_starts_no_session_once_the_password_changed,
    a_rehash_of_the_old_password_at_login_does_not_undo_a_password_change,
    a_rehash_at_login_does_not_refuse_logins_checked_before_it,
);

/// `POST /auth/password` with `access`.
async fn change_password(app: &TestApp, access: &str, current: &str, new: &str) -> Reply {
    app.send(
        app.client
            .post(app.url("/auth/password"))
            .bearer_auth(access)
            .json(&json!({ "current_password": current, "new_password": new })),
    )
    .await
}

/// The first half of a login with `password`: checked, no session yet.
async fn checked_login(
    app: &TestApp,
    email: &str,
    password: &str,
) -> authd::accounts::Authenticated {
    let email = Email::parse(email).unwrap();
    let password = Password::parse_existing(password.to_owned().into(), 1024).unwrap();
    authd::accounts::authenticate(app.services(), &email, &password, &RequestMeta::default())
        .await
        .unwrap_or_else(|e| panic!("the password checks: {e}"))
}

async fn a_login_that_checked_the_old_password_starts_no_session_once_the_password_changed(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let (email, here) = app.user_with_tokens().await;
    let user = app.user_id(&email).await;
    // Someone who knows the old password has a login past its hash when the
    // owner changes the password.
    let held = checked_login(&app, &email, PASSWORD).await;
    let changed = change_password(&app, &here.access, PASSWORD, NEW_PASSWORD).await;
    assert_eq!(changed.status, 204, "{}", changed.text);

    let outcome =
        authd::accounts::finish_login(app.services(), held, &RequestMeta::default()).await;
    let Err(refused) = outcome else {
        panic!("a login checked against the old password started a session after the change");
    };
    assert!(
        matches!(refused, ServiceError::InvalidCredentials),
        "{refused}"
    );
    // The same answer as a wrong password.
    let wrong = app.try_login(&email, "not the password at all").await;
    assert_eq!(wrong.status, 401);
    assert_eq!(ApiError::from(refused).code(), wrong.error());

    let live = authd::sessions::list_live(app.services(), user)
        .await
        .unwrap();
    assert_eq!(live.len(), 1, "only the session that changed the password");
    let events = app.audit_events(user).await;
    assert!(
        events.iter().any(|e| e.kind == "login_failed"
            && e.detail
                .as_deref()
                .is_some_and(|d| d.contains("password changed"))),
        "the refused login is audited"
    );
    // A login that starts after the change is judged on the new password.
    assert_eq!(app.try_login(&email, PASSWORD).await.status, 401);
    assert_eq!(app.try_login(&email, NEW_PASSWORD).await.status, 200);
}

/// A second authd on the same database with other Argon2id parameters: a
/// login there re-hashes the stored hash.
async fn with_other_hash_parameters(app: &TestApp) -> TestApp {
    app.spawn_sibling(|s| s.password.argon2_t_cost = 2).await
}

async fn a_rehash_of_the_old_password_at_login_does_not_undo_a_password_change(backend: Backend) {
    let app = spawn_app(backend).await;
    let rehashing = with_other_hash_parameters(&app).await;
    let (email, here) = app.user_with_tokens().await;
    let held = checked_login(&rehashing, &email, PASSWORD).await;
    let changed = change_password(&app, &here.access, PASSWORD, NEW_PASSWORD).await;
    assert_eq!(changed.status, 204, "{}", changed.text);
    let outcome =
        authd::accounts::finish_login(rehashing.services(), held, &RequestMeta::default()).await;
    // Its re-hash of the old password was not stored over the new one.
    let old = app.try_login(&email, PASSWORD).await;
    assert_eq!(old.status, 401, "the old password works again");
    assert_eq!(app.try_login(&email, NEW_PASSWORD).await.status, 200);
    assert!(
        matches!(outcome, Err(ServiceError::InvalidCredentials)),
        "the held login is refused"
    );
}

async fn a_rehash_at_login_does_not_refuse_logins_checked_before_it(backend: Backend) {
    let app = spawn_app(backend).await;
    let rehashing = with_other_hash_parameters(&app).await;
    let (email, _) = app.user_with_tokens().await;
    let user = app.user_id(&email).await;
    // Two devices log in at once; both find the hash outdated.
    let first = checked_login(&rehashing, &email, PASSWORD).await;
    let second = checked_login(&rehashing, &email, PASSWORD).await;
    let meta = RequestMeta::default();
    authd::accounts::finish_login(rehashing.services(), first, &meta)
        .await
        .expect("the first login starts its session and re-hashes");
    authd::accounts::finish_login(rehashing.services(), second, &meta)
        .await
        .expect("a re-hash is the same password: the second login is not stale");
    let live = authd::sessions::list_live(app.services(), user)
        .await
        .unwrap();
    assert_eq!(live.len(), 3);
    assert_eq!(rehashing.try_login(&email, PASSWORD).await.status, 200);
}

mod postgres_only {
    use super::*;

    /// Two password changes made at once from two sessions, with the same
    /// current password: the test holds the user's row lock, so both have
    /// checked the current password when they reach it. Exactly one applies;
    /// the other is refused as a wrong current password, and only the
    /// session of the one that applied is left.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(not(authd_postgres_tests), ignore = "TEST_DATABASE_URL is not set")]
    async fn of_two_password_changes_checked_against_one_password_only_one_applies() {
        use sqlx::Connection;

        let app = spawn_app(Backend::Postgres).await;
        let (email, a) = app.user_with_tokens().await;
        let b = app.login_body(&email).await;
        let user = app.user_id(&email).await;

        let mut holder = sqlx::PgConnection::connect(app.database_url())
            .await
            .unwrap();
        sqlx::query("BEGIN").execute(&mut holder).await.unwrap();
        sqlx::query("SELECT id FROM users WHERE id = $1 FOR UPDATE")
            .bind(user)
            .execute(&mut holder)
            .await
            .unwrap();
        let app = std::sync::Arc::new(app);
        let change = |access: String, new: &'static str| {
            let app = app.clone();
            tokio::spawn(async move { change_password(&app, &access, PASSWORD, new).await })
        };
        let by_a = change(a.access.clone(), NEW_PASSWORD);
        let by_b = change(b.access.clone(), "marmalade quasar tundra 17");
        // Both wait on the lock, their current password checked (watched from
        // outside the holder's transaction, whose view of the activity is a
        // snapshot). authd's statement timeout (5 s) bounds the wait.
        let mut watcher = sqlx::PgConnection::connect(app.database_url())
            .await
            .unwrap();
        loop {
            let (waiting,): (i64,) = sqlx::query_as(
                "SELECT count(*) FROM pg_stat_activity \
                 WHERE datname = current_database() AND wait_event_type = 'Lock'",
            )
            .fetch_one(&mut watcher)
            .await
            .unwrap();
            if waiting == 2 {
                break;
            }
            assert!(
                !by_a.is_finished() && !by_b.is_finished(),
                "a change did not wait"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        sqlx::query("COMMIT").execute(&mut holder).await.unwrap();
        let (by_a, by_b) = (by_a.await.unwrap(), by_b.await.unwrap());
        let mut statuses = [by_a.status, by_b.status];
        statuses.sort();
        assert_eq!(statuses, [204, 401], "{} / {}", by_a.text, by_b.text);
        let (winner, password) = if by_a.status == 204 {
            (&a, NEW_PASSWORD)
        } else {
            (&b, "marmalade quasar tundra 17")
        };
        let live = authd::sessions::list_live(app.services(), user)
            .await
            .unwrap();
        assert_eq!(live.len(), 1, "only the session of the change that applied");
        assert!(app.access_works(&winner.access).await);
        let login = app.try_login(&email, password).await;
        assert_eq!(login.status, 200, "{}", login.text);
    }
}
