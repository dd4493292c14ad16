//! Revocations commit whole or not at all. Each test makes one step of a
//! change fail inside the database (a trigger the test installs on its own
//! test database: nothing in authd knows of it) and checks that nothing of
//! the change was committed, then that the same request, once the fault is
//! gone, makes the whole change. Work done after an answer that fails this
//! way is counted (`authd_background_failed_total`).

use serde_json::json;
use sqlx::Connection;

use crate::helpers::{Backend, PASSWORD, TestApp, spawn_app_with};
use crate::on_both_stores;

on_both_stores!(
    a_reuse_whose_audit_event_fails_revokes_nothing_and_is_caught_again,
    a_reuse_at_logout_whose_audit_event_fails_revokes_nothing_and_is_caught_again,
    a_password_change_whose_revocation_fails_changes_nothing,
    a_password_change_whose_audit_event_fails_changes_nothing,
    a_reset_request_whose_background_work_fails_is_counted_as_failed,
);

const NEW_PASSWORD: &str = "tangerine submarine velvet 42";

/// A trigger named `name` that makes `event` (`INSERT ON audit_events`, say)
/// fail for rows matching `when` (an SQL condition on `NEW`), on the test's
/// database; [`Fault::remove`] takes it away.
struct Fault {
    name: &'static str,
    table: &'static str,
}

impl Fault {
    async fn install(
        app: &TestApp,
        name: &'static str,
        event: &'static str,
        table: &'static str,
        when: &str,
    ) -> Self {
        let statements = if app.database_url().starts_with("sqlite:") {
            vec![format!(
                "CREATE TRIGGER {name} BEFORE {event} ON {table} WHEN {when} \
                 BEGIN SELECT RAISE(ABORT, 'injected fault {name}'); END"
            )]
        } else {
            vec![
                format!(
                    "CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS \
                     $$ BEGIN RAISE EXCEPTION 'injected fault {name}'; END $$"
                ),
                format!(
                    "CREATE TRIGGER {name} BEFORE {event} ON {table} FOR EACH ROW \
                     WHEN ({when}) EXECUTE FUNCTION {name}()"
                ),
            ]
        };
        for sql in statements {
            execute(app, &sql).await;
        }
        Self { name, table }
    }

    async fn remove(self, app: &TestApp) {
        let (name, table) = (self.name, self.table);
        if app.database_url().starts_with("sqlite:") {
            execute(app, &format!("DROP TRIGGER {name}")).await;
        } else {
            execute(app, &format!("DROP TRIGGER {name} ON {table}")).await;
            execute(app, &format!("DROP FUNCTION {name}()")).await;
        }
    }
}

/// Runs `sql` on a connection of the test's own to the app's database.
async fn execute(app: &TestApp, sql: &str) {
    let url = app.database_url();
    let sql = sqlx::AssertSqlSafe(sql.to_owned());
    if url.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::query(sql).execute(&mut conn).await.unwrap();
    } else {
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query(sql).execute(&mut conn).await.unwrap();
    }
}

async fn live_sessions(app: &TestApp, user: uuid::Uuid) -> usize {
    authd::sessions::list_live(app.services(), user)
        .await
        .unwrap()
        .len()
}

async fn count_kind(app: &TestApp, user: uuid::Uuid, kind: &str) -> usize {
    app.audit_kinds(user)
        .await
        .iter()
        .filter(|k| *k == kind)
        .count()
}

/// A user with two sessions, the first rotated once: its first refresh token
/// is now a reused one. Returns the email, the user, and the reused token.
async fn user_with_a_stolen_token(app: &TestApp) -> (String, uuid::Uuid, String) {
    let (email, first) = app.user_with_tokens().await;
    app.login_body(&email).await;
    let user = app.user_id(&email).await;
    let rotated = app.refresh_body(&first.refresh).await;
    assert_eq!(rotated.status, 200, "{}", rotated.text);
    (email, user, first.refresh)
}

/// No grace window: a rotated token presented again is reuse at once.
async fn app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |s| s.refresh.reuse_interval_secs = 0).await
}

async fn a_reuse_whose_audit_event_fails_revokes_nothing_and_is_caught_again(backend: Backend) {
    let app = app(backend).await;
    let (_, user, stolen) = user_with_a_stolen_token(&app).await;
    let fault = Fault::install(
        &app,
        "fail_reuse_audit",
        "INSERT",
        "audit_events",
        "NEW.kind = 'refresh_reuse_detected'",
    )
    .await;

    let reply = app.refresh_body(&stolen).await;
    assert_eq!(reply.status, 500, "{}", reply.text);
    // The revocation that ran before the failed audit insert was rolled back
    // with it: no session revoked without its audit event.
    assert_eq!(live_sessions(&app, user).await, 2);
    assert_eq!(count_kind(&app, user, "refresh_reuse_detected").await, 0);

    // Nothing was spent either: the same token is reuse again, and this time
    // the whole change commits.
    fault.remove(&app).await;
    let reply = app.refresh_body(&stolen).await;
    assert_eq!(reply.status, 401, "{}", reply.text);
    assert_eq!(live_sessions(&app, user).await, 0);
    assert_eq!(count_kind(&app, user, "refresh_reuse_detected").await, 1);
}

async fn a_reuse_at_logout_whose_audit_event_fails_revokes_nothing_and_is_caught_again(
    backend: Backend,
) {
    let app = app(backend).await;
    let (_, user, stolen) = user_with_a_stolen_token(&app).await;
    let fault = Fault::install(
        &app,
        "fail_reuse_audit",
        "INSERT",
        "audit_events",
        "NEW.kind = 'refresh_reuse_detected'",
    )
    .await;
    let body = json!({ "refresh_token": stolen });
    let logout = || app.post_json("/auth/logout", &body);

    let reply = logout().await;
    assert_eq!(reply.status, 500, "{}", reply.text);
    assert_eq!(live_sessions(&app, user).await, 2);
    assert_eq!(count_kind(&app, user, "refresh_reuse_detected").await, 0);

    fault.remove(&app).await;
    let reply = logout().await;
    assert_eq!(reply.status, 204, "{}", reply.text);
    assert_eq!(live_sessions(&app, user).await, 0);
    assert_eq!(count_kind(&app, user, "refresh_reuse_detected").await, 1);
}

/// Changes the password of the session of `access`.
async fn change(app: &TestApp, access: &str) -> crate::helpers::Reply {
    app.send(
        app.client
            .post(app.url("/auth/password"))
            .bearer_auth(access)
            .json(&json!({ "current_password": PASSWORD, "new_password": NEW_PASSWORD })),
    )
    .await
}

/// Fails the password change of a user with two sessions at the step `fault`
/// installs; checks nothing of it committed, then that it goes through whole.
async fn a_password_change_failing_at(backend: Backend, fault: (&'static str, &'static str, &str)) {
    let app = app(backend).await;
    let (email, here) = app.user_with_tokens().await;
    let elsewhere = app.login_body(&email).await;
    let user = app.user_id(&email).await;
    let (event, table, when) = fault;
    let fault = Fault::install(&app, "fail_password_change", event, table, when).await;

    let reply = change(&app, &here.access).await;
    assert_eq!(reply.status, 500, "{}", reply.text);
    // Not the new password without the revocation, nor the revocation
    // without its audit event: nothing.
    assert_eq!(live_sessions(&app, user).await, 2);
    assert!(app.access_works(&elsewhere.access).await);
    assert_eq!(count_kind(&app, user, "password_changed").await, 0);
    assert_eq!(app.try_login(&email, NEW_PASSWORD).await.status, 401);
    // The old password still works (and its credential version did not move:
    // a login checked before the failed change still starts its session).
    let reply = app.try_login(&email, PASSWORD).await;
    assert_eq!(reply.status, 200, "{}", reply.text);

    fault.remove(&app).await;
    let reply = change(&app, &here.access).await;
    assert_eq!(reply.status, 204, "{}", reply.text);
    assert_eq!(live_sessions(&app, user).await, 1);
    assert!(!app.access_works(&elsewhere.access).await);
    assert_eq!(count_kind(&app, user, "password_changed").await, 1);
    assert_eq!(app.try_login(&email, NEW_PASSWORD).await.status, 200);
}

async fn a_password_change_whose_revocation_fails_changes_nothing(backend: Backend) {
    let revocation = (
        "UPDATE",
        "sessions",
        "NEW.revoked_reason = 'password_changed'",
    );
    a_password_change_failing_at(backend, revocation).await;
}

async fn a_password_change_whose_audit_event_fails_changes_nothing(backend: Backend) {
    let audit = ("INSERT", "audit_events", "NEW.kind = 'password_changed'");
    a_password_change_failing_at(backend, audit).await;
}

/// `POST /auth/password/forgot` answers 202 before its work (the token and
/// the message) runs; a fault in that work leaves the answer as it was, and
/// is counted by task, the next request's success not.
async fn a_reset_request_whose_background_work_fails_is_counted_as_failed(backend: Backend) {
    let app = app(backend).await;
    let (email, _) = app.user_with_tokens().await;
    let failed = || {
        app.services()
            .metrics
            .background_failed
            .with_label_values(&["password_forgot"])
            .get()
    };
    let body = json!({ "email": email });
    let forgot = || app.post_json("/auth/password/forgot", &body);
    let fault = Fault::install(
        &app,
        "fail_reset_token",
        "INSERT",
        "account_tokens",
        "NEW.purpose = 'password_reset'",
    )
    .await;
    assert_eq!(forgot().await.status, 202);
    app.settled().await;
    assert_eq!(failed(), 1, "the failed work is counted");
    let metrics = app.metrics().await.text;
    assert!(
        metrics.contains("authd_background_failed_total{task=\"password_forgot\"} 1"),
        "{metrics}"
    );

    fault.remove(&app).await;
    assert_eq!(forgot().await.status, 202);
    app.wait_for_action(&email, "password_reset").await;
    app.settled().await;
    assert_eq!(failed(), 1, "a success is not");
}
