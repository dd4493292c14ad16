//! The OAuth 2.0 revocation and introspection endpoints, the revocation feed
//! for registered clients, and cleanup of revoked sessions.

use serde_json::json;

use crate::helpers::{Backend, TestApp, jwt_claims, spawn_app};
use crate::on_both_stores;

on_both_stores!(
    introspection_needs_a_registered_client_and_reports_only_live_tokens,
    revoking_a_refresh_or_access_token_ends_its_session,
    the_revocation_feed_lists_revoked_sessions_to_registered_clients_only,
    the_revocation_feed_pages_through_a_mass_revocation_without_losing_any,
    cleanup_keeps_a_revoked_session_until_no_access_token_of_it_can_be_accepted,
);

async fn introspect(app: &TestApp, token: &str, client: (&str, &str)) -> serde_json::Value {
    let reply = app
        .post_form("/oauth/introspect", &[("token", token)], Some(client))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    reply.body
}

async fn introspection_needs_a_registered_client_and_reports_only_live_tokens(backend: Backend) {
    let app = spawn_app(backend).await;
    let (id, secret) = app
        .create_client("gateway", "gateway authd:introspect")
        .await;
    let client = (id.as_str(), secret.as_str());
    let (_, tokens) = app.user_with_tokens().await;

    for auth in [None, Some((id.as_str(), "wrong")), Some(("authd", ""))] {
        let refused = app
            .post_form("/oauth/introspect", &[("token", &tokens.access)], auth)
            .await;
        assert_eq!(refused.status, 401, "{auth:?}: {}", refused.text);
        assert_eq!(refused.error(), "invalid_client");
        assert!(refused.body.get("active").is_none(), "{}", refused.text);
    }

    let access = introspect(&app, &tokens.access, client).await;
    assert_eq!(access["active"], true, "{access}");
    assert_eq!(access["token_type"], "Bearer");
    let claims = jwt_claims(&tokens.access);
    for field in ["sub", "sid", "exp", "iat", "jti", "iss", "aud", "client_id"] {
        assert_eq!(access[field], claims[field], "{field}");
    }

    let refresh = introspect(&app, &tokens.refresh, client).await;
    assert_eq!(refresh["active"], true, "{refresh}");
    assert_eq!(refresh["token_use"], "refresh_token");
    assert!(refresh.get("token_type").is_none(), "{refresh}");
    assert_eq!(access["token_use"], "access_token");
    assert_eq!(refresh["sid"], claims["sid"]);
    // Introspecting spent nothing.
    let rotated = app.refresh_body(&tokens.refresh).await;
    assert_eq!(rotated.status, 200);
    // The rotated-away token is no longer active (and asking is not reuse).
    assert_eq!(
        introspect(&app, &tokens.refresh, client).await,
        json!({ "active": false })
    );
    assert!(app.access_works(&rotated.access_token()).await);

    // After logout, the session's access token is inactive though unexpired.
    let logout = app
        .post_json(
            "/auth/logout",
            &json!({ "refresh_token": rotated.refresh_token() }),
        )
        .await;
    assert_eq!(logout.status, 204);
    assert_eq!(
        introspect(&app, &rotated.access_token(), client).await,
        json!({ "active": false })
    );
    assert_eq!(
        introspect(&app, "not a token", client).await,
        json!({ "active": false })
    );

    let machine = app
        .post_form(
            "/oauth/token",
            &[("grant_type", "client_credentials")],
            Some(client),
        )
        .await
        .access_token();
    let answer = introspect(&app, &machine, client).await;
    assert_eq!(answer["active"], true);
    assert_eq!(answer["sub"], id.as_str());
    assert_eq!(answer["scope"], "gateway");
    assert!(answer.get("sid").is_none(), "{answer}");
    app.advance(901);
    assert_eq!(
        introspect(&app, &machine, client).await,
        json!({ "active": false })
    );

    // Deleting a client ends its tokens at once for whoever introspects them.
    let (other, other_secret) = app.create_client("batch", "batch").await;
    let batch_token = app
        .post_form(
            "/oauth/token",
            &[("grant_type", "client_credentials")],
            Some((&other, &other_secret)),
        )
        .await
        .access_token();
    assert_eq!(introspect(&app, &batch_token, client).await["active"], true);
    assert!(authd::clients::delete(app.store(), &other).await.unwrap());
    assert_eq!(
        introspect(&app, &batch_token, client).await,
        json!({ "active": false })
    );
}

async fn revoke(app: &TestApp, token: &str) -> crate::helpers::Reply {
    app.post_form("/oauth/revoke", &[("token", token)], None)
        .await
}

async fn revoking_a_refresh_or_access_token_ends_its_session(backend: Backend) {
    let app = spawn_app(backend).await;
    let (email, first) = app.user_with_tokens().await;

    let reply = revoke(&app, &first.refresh).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(app.refresh_body(&first.refresh).await.status, 401);
    assert!(!app.access_works(&first.access).await);

    let second = app.login_body(&email).await;
    let reply = revoke(&app, &second.access).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(!app.access_works(&second.access).await);
    assert_eq!(app.refresh_body(&second.refresh).await.status, 401);

    // Unknown, malformed and already revoked tokens: 200 and nothing else.
    for token in ["nonsense", first.refresh.as_str(), second.access.as_str()] {
        assert_eq!(revoke(&app, token).await.status, 200);
    }
    let missing = app.post_form("/oauth/revoke", &[], None).await;
    assert_eq!((missing.status, missing.error()), (400, "invalid_request"));

    // A rotated-away refresh token is reuse, as at logout: every session ends.
    let third = app.login_body(&email).await;
    let fourth = app.login_body(&email).await;
    let rotated = app.refresh_body(&third.refresh).await;
    assert_eq!(rotated.status, 200);
    app.advance(11);
    assert_eq!(revoke(&app, &third.refresh).await.status, 200);
    assert!(!app.access_works(&fourth.access).await);
    assert_eq!(
        app.audit_kinds(app.user_id(&email).await).await[0],
        "refresh_reuse_detected"
    );

    // Registered clients may authenticate, and then must do so correctly.
    let (id, secret) = app.create_client("ops", "ops").await;
    let fifth = app.login_body(&email).await;
    let wrong = app
        .post_form(
            "/oauth/revoke",
            &[("token", &fifth.refresh)],
            Some((&id, "wrong")),
        )
        .await;
    assert_eq!((wrong.status, wrong.error()), (401, "invalid_client"));
    assert_eq!(
        app.refresh_body(&fifth.refresh).await.status,
        200,
        "a refused revocation revoked nothing"
    );
    // A registered client may revoke only tokens issued to it (RFC 7009
    // section 2.1): a user's tokens are not, and stay valid.
    let sixth = app.login_body(&email).await;
    for token in [&sixth.refresh, &sixth.access] {
        let reply = app
            .post_form("/oauth/revoke", &[("token", token)], Some((&id, &secret)))
            .await;
        assert_eq!(
            (reply.status, reply.error()),
            (400, "unauthorized_client"),
            "{}",
            reply.text
        );
    }
    assert!(app.access_works(&sixth.access).await);
    // A public client id that is not authd's own is refused.
    let stranger = app
        .post_form(
            "/oauth/revoke",
            &[("token", &sixth.refresh), ("client_id", "stranger")],
            None,
        )
        .await;
    assert_eq!((stranger.status, stranger.error()), (401, "invalid_client"));
    assert!(app.access_works(&sixth.access).await);

    // A machine client's token has no session: unsupported_token_type, and
    // another client may not even ask.
    let machine = app
        .post_form(
            "/oauth/token",
            &[("grant_type", "client_credentials")],
            Some((&id, &secret)),
        )
        .await
        .access_token();
    let reply = revoke(&app, &machine).await;
    assert_eq!(
        (reply.status, reply.error()),
        (400, "unsupported_token_type")
    );
    let (other, other_secret) = app.create_client("other", "other").await;
    let reply = app
        .post_form(
            "/oauth/revoke",
            &[("token", &machine)],
            Some((&other, &other_secret)),
        )
        .await;
    assert_eq!((reply.status, reply.error()), (400, "unauthorized_client"));
}

async fn feed(
    app: &TestApp,
    since: Option<&str>,
    client: Option<(&str, &str)>,
) -> crate::helpers::Reply {
    let path = match since {
        Some(since) => format!(
            "/auth/revocations?since={}",
            crate::helpers::urlencode(since)
        ),
        None => "/auth/revocations".to_owned(),
    };
    let mut request = app.client.get(app.url(&path));
    if let Some((id, secret)) = client {
        request = request.basic_auth(id, Some(secret));
    }
    app.send(request).await
}

fn listed_sids(reply: &crate::helpers::Reply) -> Vec<String> {
    reply.body["revocations"]
        .as_array()
        .expect("a revocations array")
        .iter()
        .map(|r| r["sid"].as_str().unwrap().to_owned())
        .collect()
}

async fn the_revocation_feed_lists_revoked_sessions_to_registered_clients_only(backend: Backend) {
    let app = spawn_app(backend).await;
    let (id, secret) = app.create_client("orders", "authd:revocations:sub").await;
    let client = Some((id.as_str(), secret.as_str()));
    for auth in [None, Some((id.as_str(), "wrong"))] {
        let refused = feed(&app, None, auth).await;
        assert_eq!(refused.status, 401, "{}", refused.text);
        assert_eq!(refused.error(), "invalid_client");
        assert_eq!(
            refused.header("www-authenticate"),
            Some(r#"Basic realm="authd""#)
        );
    }
    // Only a registered client's secret opens it, not a user's access token.
    let (email, kept) = app.user_with_tokens().await;
    let as_user = app.get_bearer("/auth/revocations", &kept.access).await;
    assert_eq!(as_user.status, 401);

    let empty = feed(&app, None, client).await;
    assert_eq!(empty.status, 200, "{}", empty.text);
    assert_eq!(empty.header("cache-control"), Some("no-store"));
    assert_eq!(empty.body["revocations"], json!([]));
    assert_eq!(empty.body["more"], false);
    let cursor = empty.body["cursor"].as_str().unwrap().to_owned();

    let ended = app.login_body(&email).await;
    let sid = jwt_claims(&ended.access)["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let sub = jwt_claims(&ended.access)["sub"]
        .as_str()
        .unwrap()
        .to_owned();
    app.advance(5);
    let logout = app
        .post_json("/auth/logout", &json!({ "refresh_token": ended.refresh }))
        .await;
    assert_eq!(logout.status, 204);
    let revoked_at = app.now().timestamp();

    let after = feed(&app, Some(&cursor), client).await;
    assert_eq!(after.status, 200, "{}", after.text);
    assert_eq!(listed_sids(&after), vec![sid.clone()]);
    let entry = &after.body["revocations"][0];
    assert_eq!(entry["sub"], sub.as_str());
    assert_eq!(entry["revoked_at"], revoked_at);
    assert_eq!(entry["until"], revoked_at + 900 + 60);
    // The session that was kept is not listed.
    let kept_sid = jwt_claims(&kept.access)["sid"].as_str().unwrap().to_owned();
    assert!(!listed_sids(&after).contains(&kept_sid));

    // Polling on, each poll with the cursor of the one before: the entry is
    // repeated while it is less than a minute older than the previous poll
    // (room for transactions that commit late), then no more.
    let mut cursor = after.body["cursor"].as_str().unwrap().to_owned();
    for (advance, listed) in [(30, true), (31, true), (1, false)] {
        app.advance(advance);
        let reply = feed(&app, Some(&cursor), client).await;
        let expected = if listed { vec![sid.clone()] } else { vec![] };
        assert_eq!(listed_sids(&reply), expected, "after {advance} s more");
        cursor = reply.body["cursor"].as_str().unwrap().to_owned();
    }
    // A client starting afresh sees it for the access-token lifetime plus slack.
    assert_eq!(
        listed_sids(&feed(&app, None, client).await),
        vec![sid.clone()]
    );
    app.advance(900 + 60 - 62);
    assert_eq!(
        listed_sids(&feed(&app, None, client).await),
        vec![sid.clone()]
    );
    app.advance(1);
    assert_eq!(
        listed_sids(&feed(&app, None, client).await),
        Vec::<String>::new()
    );

    for bad in ["", "abc", "1.nope", "-5"] {
        let reply = feed(&app, Some(bad), client).await;
        assert_eq!(
            (reply.status, reply.error()),
            (400, "invalid_request"),
            "{bad:?}"
        );
    }
    let unknown = app
        .send(
            app.client
                .get(app.url("/auth/revocations?limit=5"))
                .basic_auth(&id, Some(&secret)),
        )
        .await;
    assert_eq!(unknown.status, 400);
}

async fn the_revocation_feed_pages_through_a_mass_revocation_without_losing_any(backend: Backend) {
    let app = spawn_app(backend).await;
    let (id, secret) = app.create_client("orders", "authd:revocations:sub").await;
    let client = Some((id.as_str(), secret.as_str()));
    let (email, tokens) = app.user_with_tokens().await;
    let user = app.user_id(&email).await;
    // 1,500 sessions revoked in one statement share one revoked_at: pages must
    // break the tie by session id.
    for _ in 0..1_499 {
        let session = app
            .services()
            .policy
            .new_session(user, app.now(), None, None);
        let mut tx = app.store().begin().await.unwrap();
        authd::store::sessions::insert(&mut tx, &session)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    let reply = app
        .send(
            app.client
                .post(app.url("/auth/logout?scope=global"))
                .bearer_auth(&tokens.access),
        )
        .await;
    assert_eq!(reply.status, 204, "{}", reply.text);

    let mut seen = std::collections::HashSet::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = feed(&app, cursor.as_deref(), client).await;
        assert_eq!(page.status, 200, "{}", page.text);
        pages += 1;
        seen.extend(listed_sids(&page));
        cursor = Some(page.body["cursor"].as_str().unwrap().to_owned());
        if page.body["more"] == false {
            break;
        }
        assert!(pages < 10, "the feed keeps saying more");
    }
    assert_eq!(pages, 2);
    assert_eq!(seen.len(), 1_500);
    assert!(seen.contains(jwt_claims(&tokens.access)["sid"].as_str().unwrap()));
}

async fn cleanup_keeps_a_revoked_session_until_no_access_token_of_it_can_be_accepted(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let (_, tokens) = app.user_with_tokens().await;
    let sid = jwt_claims(&tokens.access)["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let reply = revoke(&app, &tokens.refresh).await;
    assert_eq!(reply.status, 200);
    let purge = || authd::cleanup::purge_once(app.services());
    // Past the session's own idle limit, its last access token could still
    // be accepted for its lifetime plus the verifiers' skew (900 + 60 s).
    app.advance(7 * 86_400 + 1);
    assert_eq!(purge().await.unwrap().sessions, 0);
    app.advance(900 + 60 - 2);
    assert_eq!(purge().await.unwrap().sessions, 0);
    app.advance(2);
    assert_eq!(purge().await.unwrap().sessions, 1);
    assert!(
        authd::store::sessions::find(&mut app.store().conn().await.unwrap(), sid.parse().unwrap())
            .await
            .unwrap()
            .is_none()
    );
}
