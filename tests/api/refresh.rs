//! Refresh-token families: rotation, the grace rule, reuse detection, expiry,
//! the refresh key, and cleanup.

use serde_json::json;

use crate::helpers::{Backend, spawn_app, spawn_app_with};
use crate::on_both_stores;

on_both_stores!(
    a_rotated_token_is_refused_after_the_grace_window_and_revokes_every_session_of_the_user,
    reusing_an_older_ancestor_revokes_all_sessions_and_other_devices_are_logged_out,
    the_grace_window_returns_the_same_token_to_twenty_concurrent_requests,
    a_retried_refresh_whose_response_was_lost_gets_the_same_token_again,
    the_grace_window_ends_once_the_current_token_has_been_used,
    a_zero_reuse_interval_disables_the_grace_rule,
    a_session_expires_after_the_idle_limit_without_rotation,
    rotation_never_extends_a_session_past_the_absolute_limit,
    unknown_forged_and_truncated_refresh_tokens_are_refused,
    reuse_detection_is_recorded_in_the_audit_log,
    cleanup_deletes_expired_sessions_and_old_audit_events_only,
    many_devices_replaying_old_tokens_at_once_revoke_everything_without_errors,
    logging_out_with_a_rotated_token_is_reuse,
    the_refresh_key_is_required_to_use_a_token,
);

async fn a_rotated_token_is_refused_after_the_grace_window_and_revokes_every_session_of_the_user(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let (email, tokens) = app.user_with_tokens().await;
    let other_device = app.login_body(&email).await;

    let rotated = app.refresh_body(&tokens.refresh).await;
    assert_eq!(rotated.status, 200);
    let current = rotated.refresh_token();

    app.advance(11); // past the 10 s grace window
    let replay = app.refresh_body(&tokens.refresh).await;
    assert_eq!(replay.status, 401);
    assert_eq!(replay.error(), "invalid_grant");

    // Theft assumed: the current token of this family and every other family die.
    assert_eq!(app.refresh_body(&current).await.status, 401);
    assert_eq!(app.refresh_body(&other_device.refresh).await.status, 401);
    assert!(!app.access_works(&rotated.access_token()).await);
    assert!(!app.access_works(&other_device.access).await);
    // The user can still log in again.
    app.login_body(&email).await;
}

async fn reusing_an_older_ancestor_revokes_all_sessions_and_other_devices_are_logged_out(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let (email, first) = app.user_with_tokens().await;
    let laptop = app.login_body(&email).await;
    let browser = app.login_cookie(&email).await;
    let browser_cookie = browser.refresh_cookie().unwrap();

    let mut chain = vec![first.refresh.clone()];
    for _ in 0..3 {
        app.advance(1);
        let next = app.refresh_body(chain.last().unwrap()).await;
        assert_eq!(next.status, 200, "{}", next.text);
        chain.push(next.refresh_token());
    }
    // chain[0] is three rotations old: reuse even inside the time window.
    let replay = app.refresh_body(&chain[0]).await;
    assert_eq!(replay.status, 401);
    assert_eq!(replay.error(), "invalid_grant");
    assert_eq!(app.refresh_body(chain.last().unwrap()).await.status, 401);
    assert_eq!(app.refresh_body(&laptop.refresh).await.status, 401);
    assert_eq!(app.refresh_cookie(&browser_cookie).await.status, 401);
    assert!(!app.access_works(&laptop.access).await);
    assert!(!app.access_works(&browser.access_token()).await);
}

async fn the_grace_window_returns_the_same_token_to_twenty_concurrent_requests(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.server.workers = 2).await;
    let (_, tokens) = app.user_with_tokens().await;
    let requests = (0..20).map(|_| app.refresh_body(&tokens.refresh));
    let replies = futures_util::future::join_all(requests).await;
    let mut issued = std::collections::HashSet::new();
    for reply in &replies {
        assert_eq!(reply.status, 200, "{}", reply.text);
        issued.insert(reply.refresh_token());
    }
    assert_eq!(
        issued.len(),
        1,
        "every tab ends with the same refresh token"
    );
    let current = issued.into_iter().next().unwrap();
    assert_ne!(current, tokens.refresh);

    // Exactly one member of the family is current: the issued token rotates,
    // and the family moved by exactly one step.
    let session = authd::sessions::list_live(app.services(), app.state_user(&tokens.access))
        .await
        .unwrap();
    assert_eq!(session.len(), 1);
    assert_eq!(session[0].counter, 1);
    let next = app.refresh_body(&current).await;
    assert_eq!(next.status, 200);
    assert_ne!(next.refresh_token(), current);
}

async fn a_retried_refresh_whose_response_was_lost_gets_the_same_token_again(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, tokens) = app.user_with_tokens().await;
    let lost = app.refresh_body(&tokens.refresh).await;
    assert_eq!(lost.status, 200);
    app.advance(5);
    let retry = app.refresh_body(&tokens.refresh).await;
    assert_eq!(retry.status, 200, "{}", retry.text);
    assert_eq!(retry.refresh_token(), lost.refresh_token());
    assert!(app.access_works(&retry.access_token()).await);
    // The client carries on with what it received.
    assert_eq!(app.refresh_body(&retry.refresh_token()).await.status, 200);
}

async fn the_grace_window_ends_once_the_current_token_has_been_used(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, tokens) = app.user_with_tokens().await;
    let second = app.refresh_body(&tokens.refresh).await.refresh_token();
    let third = app.refresh_body(&second).await;
    assert_eq!(third.status, 200);
    // `tokens.refresh` is now two steps behind: reuse, although only 0 s passed.
    let replay = app.refresh_body(&tokens.refresh).await;
    assert_eq!(replay.status, 401);
    assert_eq!(app.refresh_body(&third.refresh_token()).await.status, 401);
}

async fn a_zero_reuse_interval_disables_the_grace_rule(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.refresh.reuse_interval_secs = 0).await;
    let (_, tokens) = app.user_with_tokens().await;
    let rotated = app.refresh_body(&tokens.refresh).await;
    assert_eq!(rotated.status, 200);
    assert_eq!(app.refresh_body(&tokens.refresh).await.status, 401);
    assert_eq!(app.refresh_body(&rotated.refresh_token()).await.status, 401);
}

async fn a_session_expires_after_the_idle_limit_without_rotation(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, tokens) = app.user_with_tokens().await;
    app.advance(6 * 86_400);
    let alive = app.refresh_body(&tokens.refresh).await;
    assert_eq!(alive.status, 200, "six idle days are within the limit");
    assert_eq!(alive.body["refresh_expires_in"], 7 * 86_400);
    app.advance(7 * 86_400); // exactly the idle limit since the last rotation
    let dead = app.refresh_body(&alive.refresh_token()).await;
    assert_eq!(dead.status, 401);
    assert_eq!(dead.error(), "invalid_grant");
}

async fn rotation_never_extends_a_session_past_the_absolute_limit(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, tokens) = app.user_with_tokens().await;
    let mut refresh = tokens.refresh;
    // Rotate every 5 days: never idle, but the 30-day absolute limit still ends it.
    for day in [5, 10, 15, 20, 25] {
        app.advance(5 * 86_400);
        let reply = app.refresh_body(&refresh).await;
        assert_eq!(reply.status, 200, "day {day}: {}", reply.text);
        let left = reply.body["refresh_expires_in"].as_i64().unwrap();
        assert!(left <= (30 - day) * 86_400, "day {day}: {left}");
        refresh = reply.refresh_token();
    }
    app.advance(4 * 86_400 + 86_399); // day 29, 23:59:59
    let last = app.refresh_body(&refresh).await;
    assert_eq!(last.status, 200);
    assert_eq!(last.body["refresh_expires_in"], 1);
    app.advance(1);
    let after = app.refresh_body(&last.refresh_token()).await;
    assert_eq!(
        after.status, 401,
        "30 days after login the user must log in again"
    );
}

async fn unknown_forged_and_truncated_refresh_tokens_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, tokens) = app.user_with_tokens().await;
    let mut flipped = tokens.refresh.clone().into_bytes();
    flipped[40] = if flipped[40] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();
    for bad in [
        String::new(),
        "x".into(),
        tokens.refresh[..75].to_owned(),
        format!("{}A", tokens.refresh),
        flipped,
        "A".repeat(76),
        "é".repeat(38),
        tokens.access.clone(),
        "a".repeat(10_000),
    ] {
        let reply = app.refresh_body(&bad).await;
        assert!(
            reply.status == 401 || reply.status == 413,
            "{bad:?}: {}",
            reply.status
        );
        if reply.status == 401 {
            assert_eq!(reply.error(), "invalid_grant");
        }
    }
    // None of that disturbed the real family.
    assert_eq!(app.refresh_body(&tokens.refresh).await.status, 200);
}

async fn reuse_detection_is_recorded_in_the_audit_log(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, tokens) = app.user_with_tokens().await;
    let user = app.state_user(&tokens.access);
    app.refresh_body(&tokens.refresh).await;
    app.advance(60);
    assert_eq!(app.refresh_body(&tokens.refresh).await.status, 401);
    let events = app.audit_events(user).await;
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert!(kinds.contains(&"refresh_reuse_detected"), "{kinds:?}");
    assert!(kinds.contains(&"login_succeeded"), "{kinds:?}");
    let reuse = events
        .iter()
        .find(|e| e.kind == "refresh_reuse_detected")
        .unwrap();
    assert_eq!(reuse.ip.as_deref(), Some("127.0.0.1"));
    for event in &events {
        let text = format!("{event:?}");
        assert!(!text.contains(&tokens.refresh) && !text.contains(&tokens.access));
        assert!(!text.contains(crate::helpers::PASSWORD));
    }
}

async fn cleanup_deletes_expired_sessions_and_old_audit_events_only(backend: Backend) {
    let app = spawn_app(backend).await;
    let (email, idle) = app.user_with_tokens().await;
    let logged_out = app.login_body(&email).await;
    let active = app.login_body(&email).await;
    let user = app.state_user(&active.access);
    app.post_json(
        "/auth/logout",
        &json!({ "refresh_token": logged_out.refresh }),
    )
    .await;
    let purge = || authd::cleanup::purge_once(app.services());

    // Nothing has expired yet; the revoked session stays, answering "revoked".
    assert_eq!(purge().await.unwrap().sessions, 0);
    // Keep `active` alive; let the idle and the revoked sessions pass their limit.
    app.advance(6 * 86_400);
    let active_refresh = app.refresh_body(&active.refresh).await;
    assert_eq!(active_refresh.status, 200);
    app.advance(2 * 86_400);
    assert_eq!(purge().await.unwrap().sessions, 2);
    assert_eq!(
        purge().await.unwrap().sessions,
        0,
        "a second sweep finds nothing"
    );
    let left = authd::sessions::list_live(app.services(), user)
        .await
        .unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(
        app.refresh_body(&active_refresh.refresh_token())
            .await
            .status,
        200
    );
    assert_eq!(app.refresh_body(&idle.refresh).await.status, 401);

    // Audit events live for audit_retention_days (90); these were written on day 0
    // (the refresh on day 6 writes none), and it is day 8 now.
    let before = app.audit_events(user).await.len();
    assert!(before >= 4, "{before}");
    app.advance(81 * 86_400);
    assert_eq!(purge().await.unwrap().audit_events, 0);
    app.advance(2 * 86_400);
    let purged = purge().await.unwrap();
    assert_eq!(purged.audit_events as usize, before, "{purged:?}");
    assert!(app.audit_events(user).await.is_empty());
}

async fn many_devices_replaying_old_tokens_at_once_revoke_everything_without_errors(
    backend: Backend,
) {
    let app = spawn_app_with(backend, |s| s.server.workers = 2).await;
    let (email, first) = app.user_with_tokens().await;
    let mut stale = vec![first.refresh.clone()];
    for _ in 0..11 {
        stale.push(app.login_body(&email).await.refresh);
    }
    // Rotate every session twice: each original token is now two steps old.
    let mut current = Vec::new();
    for token in &stale {
        let second = app.refresh_body(token).await.refresh_token();
        current.push(app.refresh_body(&second).await.refresh_token());
    }
    let replays = stale.iter().map(|t| app.refresh_body(t));
    let logouts = (0..4).map(|_| {
        app.send(
            app.client
                .post(app.url("/auth/logout?scope=others"))
                .bearer_auth(&first.access),
        )
    });
    let (replies, logouts) = futures_util::future::join(
        futures_util::future::join_all(replays),
        futures_util::future::join_all(logouts),
    )
    .await;
    for reply in &replies {
        assert_eq!(reply.status, 401, "{}", reply.text);
        assert_eq!(reply.error(), "invalid_grant");
    }
    for reply in &logouts {
        assert!(
            reply.status == 204 || reply.status == 401,
            "{} {}",
            reply.status,
            reply.text
        );
    }
    for token in &current {
        assert_eq!(app.refresh_body(token).await.status, 401);
    }
}

async fn logging_out_with_a_rotated_token_is_reuse(backend: Backend) {
    let app = spawn_app(backend).await;
    let (email, tokens) = app.user_with_tokens().await;
    let other = app.login_body(&email).await;
    let second = app.refresh_body(&tokens.refresh).await.refresh_token();
    let third = app.refresh_body(&second).await.refresh_token();
    // A thief holding the first token cannot quietly end the session: it is reuse.
    let logout = app
        .post_json("/auth/logout", &json!({ "refresh_token": tokens.refresh }))
        .await;
    assert_eq!(logout.status, 204);
    assert_eq!(app.refresh_body(&third).await.status, 401);
    assert_eq!(app.refresh_body(&other.refresh).await.status, 401);
    let user = app.user_id(&email).await;
    let kinds = app.audit_kinds(user).await;
    assert!(
        kinds.iter().any(|k| k == "refresh_reuse_detected"),
        "{kinds:?}"
    );

    // The predecessor inside the grace window logs out like the current token.
    let (_, fresh) = app.user_with_tokens().await;
    let next = app.refresh_body(&fresh.refresh).await.refresh_token();
    let logout = app
        .post_json("/auth/logout", &json!({ "refresh_token": fresh.refresh }))
        .await;
    assert_eq!(logout.status, 204);
    assert_eq!(app.refresh_body(&next).await.status, 401);
}

async fn the_refresh_key_is_required_to_use_a_token(backend: Backend) {
    // Three deployments on ONE database: B has another refresh key, C has A's.
    // B finds the token's session in the database, so only the key can make
    // it refuse; C proves the token itself is good on that database.
    let key_a = "a".repeat(40);
    let a = spawn_app_with(backend, |s| s.refresh.secret = Some(key_a.clone().into())).await;
    let b = a
        .spawn_sibling(|s| s.refresh.secret = Some("b".repeat(40).into()))
        .await;
    let c = a
        .spawn_sibling(|s| s.refresh.secret = Some(key_a.into()))
        .await;
    let (email, tokens) = a.user_with_tokens().await;
    let session = a.state_session(&tokens.access);
    // B reads A's database: the user registered on A logs in on B.
    b.login_body(&email).await;

    let refused = b.refresh_body(&tokens.refresh).await;
    assert_eq!(
        (refused.status, refused.error()),
        (401, "invalid_grant"),
        "{}",
        refused.text
    );
    let accepted = c.refresh_body(&tokens.refresh).await;
    assert_eq!(accepted.status, 200, "{}", accepted.text);
    assert_eq!(
        c.state_session(&accepted.access_token()),
        session,
        "C rotated A's session"
    );
    // B cannot use C's rotated token either, and A takes it.
    let next = accepted.refresh_token();
    assert_eq!(b.refresh_body(&next).await.status, 401);
    assert_eq!(a.refresh_body(&next).await.status, 200);
}

impl crate::helpers::TestApp {
    /// The session id (`sid`) of an access token authd issued.
    pub fn state_session(&self, access: &str) -> uuid::Uuid {
        self.services()
            .access
            .verify(access, self.now())
            .expect("a valid access token")
            .sid
            .expect("a user's token has a session")
    }

    /// The user id (`sub`) of an access token authd issued.
    pub fn state_user(&self, access: &str) -> uuid::Uuid {
        self.services()
            .access
            .verify(access, self.now())
            .expect("a valid access token")
            .sub
            .parse()
            .expect("a user's token")
    }
}
