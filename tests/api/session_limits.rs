//! Bounded sessions: the per-user cap (`refresh.max_sessions_per_user`) ends
//! the oldest session at a login beyond it, like a logout, among the
//! sessions of the same holder only (authd's own families, one app's
//! families, browser sessions under `browser_session.max_per_user`); and
//! `GET /auth/sessions` comes in keyset pages.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, jwt_claims, spawn_app, spawn_app_with};
use crate::on_both_stores;

on_both_stores!(
    a_login_beyond_the_cap_ends_the_oldest_session_like_a_logout,
    concurrent_logins_never_leave_more_sessions_than_the_cap,
    the_session_list_comes_in_pages_listing_every_session_exactly_once,
    a_bad_cursor_or_limit_on_the_session_list_is_a_400,
    each_holder_is_capped_apart_and_never_ends_another_holders_sessions,
);

fn sid(access: &str) -> String {
    jwt_claims(access)["sid"].as_str().unwrap().to_owned()
}

async fn a_login_beyond_the_cap_ends_the_oldest_session_like_a_logout(backend: Backend) {
    const CAP: usize = 3;
    let app = spawn_app_with(backend, |s| s.refresh.max_sessions_per_user = CAP as u32).await;
    let client = app.create_client("feed", "authd:revocations").await;
    let (email, oldest) = app.user_with_tokens().await;
    let user = app.user_id(&email).await;
    let mut others = Vec::new();
    for _ in 1..CAP {
        app.advance(1);
        others.push(app.login_body(&email).await);
    }
    // At the cap, nothing has ended yet.
    assert!(app.access_works(&oldest.access).await);
    assert_eq!(
        authd::sessions::list_live(app.services(), user)
            .await
            .unwrap()
            .len(),
        CAP
    );

    app.advance(1);
    let newest = app.login_body(&email).await;
    others.push(newest);

    // The oldest is revoked like a logout: its refresh token is refused, its
    // access token too, and the feed lists it for local verifiers.
    assert!(!app.access_works(&oldest.access).await);
    let refused = app.refresh_body(&oldest.refresh).await;
    assert_eq!((refused.status, refused.error()), (401, "invalid_grant"));
    let feed = app
        .send(
            app.client
                .get(app.url("/auth/revocations?version=2"))
                .basic_auth(&client.0, Some(&client.1)),
        )
        .await;
    assert_eq!(feed.status, 200, "{}", feed.text);
    let listed: Vec<&str> = feed.body["revocations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["sid"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [sid(&oldest.access)]);
    // With an audit event that says why, naming the session that ended.
    let events = app.audit_events(user).await;
    let evicted: Vec<_> = events
        .iter()
        .filter(|e| e.kind == "session_evicted")
        .collect();
    assert_eq!(evicted.len(), 1, "{events:?}");
    assert_eq!(
        evicted[0].session_id.map(|s| s.to_string()),
        Some(sid(&oldest.access))
    );
    // The others live, and are all that live.
    for tokens in &others {
        assert!(app.access_works(&tokens.access).await);
    }
    let live: HashSet<String> = authd::sessions::list_live(app.services(), user)
        .await
        .unwrap()
        .iter()
        .map(|s| s.id.to_string())
        .collect();
    let expected: HashSet<String> = others.iter().map(|t| sid(&t.access)).collect();
    assert_eq!(live, expected);
    for tokens in &others {
        assert_eq!(app.refresh_body(&tokens.refresh).await.status, 200);
    }
}

async fn concurrent_logins_never_leave_more_sessions_than_the_cap(backend: Backend) {
    const CAP: usize = 2;
    let app = spawn_app_with(backend, |s| {
        s.refresh.max_sessions_per_user = CAP as u32;
        s.password.max_concurrent_hashes = 4;
        // Attempts under way count against the lockout until they succeed.
        s.limits.login_account_failures = 100;
    })
    .await;
    let (email, _) = app.user_with_tokens().await;
    let user = app.user_id(&email).await;
    let logins: Vec<_> = (0..8).map(|_| app.login_body(&email)).collect();
    futures_util::future::join_all(logins).await;
    let live = authd::sessions::list_live(app.services(), user)
        .await
        .unwrap();
    assert_eq!(live.len(), CAP, "{live:?}");
}

/// Every page of the session list, walked with `limit`.
async fn walk(app: &TestApp, access: &str, limit: usize) -> Vec<Vec<Value>> {
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!(
                "/auth/sessions?limit={limit}&cursor={}",
                crate::helpers::urlencode(c)
            ),
            None => format!("/auth/sessions?limit={limit}"),
        };
        let reply = app.get_bearer(&path, access).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        let page = reply.body["sessions"].as_array().unwrap().clone();
        assert!(page.len() <= limit);
        pages.push(page);
        match reply.body.get("next_cursor") {
            Some(next) => cursor = Some(next.as_str().unwrap().to_owned()),
            None => return pages,
        }
        assert!(pages.len() < 50, "the list never ends");
    }
}

async fn the_session_list_comes_in_pages_listing_every_session_exactly_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let (email, first) = app.user_with_tokens().await;
    let user = app.user_id(&email).await;
    // Eight sessions; the clock stands still for some logins, so several
    // sessions share a start time and only the id orders them.
    let mut current = first;
    for i in 0..7 {
        if i % 3 == 0 {
            app.advance(1);
        }
        current = app.login_body(&email).await;
    }
    let live: Vec<String> = authd::sessions::list_live(app.services(), user)
        .await
        .unwrap()
        .iter()
        .map(|s| s.id.to_string())
        .collect();
    assert_eq!(live.len(), 8);

    for limit in [1, 3, 8, 100] {
        let pages = walk(&app, &current.access, limit).await;
        assert_eq!(pages.len(), 8_usize.div_ceil(limit).max(1), "limit {limit}");
        let listed: Vec<String> = pages
            .iter()
            .flatten()
            .map(|s| s["id"].as_str().unwrap().to_owned())
            .collect();
        let unique: HashSet<&String> = listed.iter().collect();
        assert_eq!(
            unique.len(),
            listed.len(),
            "a session listed twice: {listed:?}"
        );
        assert_eq!(unique, live.iter().collect(), "limit {limit}");
        // Newest first.
        let starts: Vec<&str> = pages
            .iter()
            .flatten()
            .map(|s| s["created_at"].as_str().unwrap())
            .collect();
        let times: Vec<chrono::DateTime<chrono::Utc>> =
            starts.iter().map(|s| s.parse().unwrap()).collect();
        assert!(times.windows(2).all(|w| w[0] >= w[1]), "{starts:?}");
        let current_marked = pages
            .iter()
            .flatten()
            .filter(|s| s["current"] == true)
            .count();
        assert_eq!(current_marked, 1);
    }

    // Sessions that end or start between two pages: each one live throughout
    // is still listed once, the ended one no more.
    let reply = app
        .get_bearer("/auth/sessions?limit=3", &current.access)
        .await;
    let first_page: Vec<String> = reply.body["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    let cursor = reply.body["next_cursor"].as_str().unwrap().to_owned();
    let rest_before: Vec<String> = live
        .iter()
        .filter(|id| !first_page.contains(id))
        .cloned()
        .collect();
    let ended = rest_before[0].clone();
    let deleted = app
        .send(
            app.client
                .delete(app.url(&format!("/auth/sessions/{ended}")))
                .bearer_auth(&current.access),
        )
        .await;
    assert_eq!(deleted.status, 204);
    app.login_body(&email).await;
    let mut rest = Vec::new();
    let mut next = Some(cursor);
    while let Some(c) = next {
        let reply = app
            .get_bearer(
                &format!(
                    "/auth/sessions?limit=3&cursor={}",
                    crate::helpers::urlencode(&c)
                ),
                &current.access,
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        rest.extend(
            reply.body["sessions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["id"].as_str().unwrap().to_owned()),
        );
        next = reply
            .body
            .get("next_cursor")
            .map(|c| c.as_str().unwrap().to_owned());
    }
    let expected: HashSet<String> = rest_before.into_iter().filter(|id| *id != ended).collect();
    assert_eq!(rest.len(), expected.len(), "{rest:?}");
    assert_eq!(rest.into_iter().collect::<HashSet<_>>(), expected);
}

async fn a_bad_cursor_or_limit_on_the_session_list_is_a_400(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, tokens) = app.user_with_tokens().await;
    let default = app.get_bearer("/auth/sessions", &tokens.access).await;
    assert_eq!(default.status, 200, "{}", default.text);
    assert_eq!(default.body["sessions"].as_array().unwrap().len(), 1);
    assert!(
        default.body.get("next_cursor").is_none(),
        "{}",
        default.text
    );
    for query in [
        "cursor=",
        "cursor=nonsense",
        "cursor=123",
        "cursor=-1.0190a0d47c1e7b319a522f6f0c8d9e40",
        "cursor=99999999999999999999.0190a0d47c1e7b319a522f6f0c8d9e40",
        "cursor=1.not-a-uuid",
        "limit=0",
        "limit=101",
        "limit=ten",
        "limit=1&limit=2",
        "page=2",
    ] {
        let reply = app
            .get_bearer(&format!("/auth/sessions?{query}"), &tokens.access)
            .await;
        assert_eq!(
            (reply.status, reply.error()),
            (400, "invalid_request"),
            "{query}: {}",
            reply.text
        );
    }
    // A well-formed cursor is a position, not a capability: one from nowhere
    // lists this user's sessions after it, never anyone else's.
    let far = app
        .get_bearer(
            "/auth/sessions?cursor=1.0190a0d47c1e7b319a522f6f0c8d9e40",
            &tokens.access,
        )
        .await;
    assert_eq!(far.status, 200);
    assert_eq!(far.body["sessions"], json!([]));
}

/// Two of each at the cap: a third browser session, a third family of app A
/// and a third first-party login each end only the oldest of their own kind.
/// With one cap over every session (as before), the browser sign-ins and the
/// app's families would have ended the user's first-party sessions.
async fn each_holder_is_capped_apart_and_never_ends_another_holders_sessions(backend: Backend) {
    use authd::oauth::codes::{self, NewCode};
    use secrecy::ExposeSecret;
    const REDIRECT: &str = "https://app.example/callback";
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let app = spawn_app_with(backend, |s| {
        s.refresh.max_sessions_per_user = 2;
        s.browser_session.max_per_user = 2;
    })
    .await;
    let (email, first) = app.user_with_tokens().await;
    let user = app.user_id(&email).await;
    app.advance(1);
    let second = app.login_body(&email).await;

    // Browser sessions, started as the hosted login page starts them.
    let mut browsers = Vec::new();
    for _ in 0..3 {
        app.advance(1);
        let mut tx = app.store().begin().await.unwrap();
        let methods = authd::sessions::Methods::one(authd::sessions::Method::Password);
        let meta = authd::audit::RequestMeta::default();
        let started = authd::sessions::browser::start(
            &mut tx,
            app.services(),
            user,
            app.now(),
            &meta,
            methods,
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        browsers.push(started.session.id);
    }
    let now_live = live(&app, user).await;
    assert!(
        !now_live.contains(&browsers[0]),
        "the oldest browser session ended"
    );
    assert!(now_live.contains(&browsers[1]) && now_live.contains(&browsers[2]));
    assert!(
        app.access_works(&first.access).await,
        "no first-party session ended"
    );
    assert!(app.access_works(&second.access).await);

    // Families of two apps, through the token endpoint.
    let register = |name: &'static str| {
        let app = &app;
        async move {
            let spec = authd::clients::ClientSpec {
                kind: authd::clients::ClientKind::Confidential,
                redirect_uris: vec![REDIRECT.to_owned()],
                ..authd::clients::ClientSpec::machine(name, "offline_access")
            };
            let policy = authd::clients::Policy { development: true };
            let (client, secret) = authd::clients::register(app.store(), spec, policy, app.now())
                .await
                .unwrap();
            (client.id, secret.unwrap().expose_secret().to_owned())
        }
    };
    let (a, b) = (register("app a").await, register("app b").await);
    let family = |client: &(String, String)| {
        let (app, client, browser) = (&app, client.clone(), browsers[2]);
        async move {
            app.advance(1);
            let mut conn = app.store().conn().await.unwrap();
            let new = NewCode {
                client_id: &client.0,
                redirect_uri: REDIRECT,
                code_challenge: Some(CHALLENGE),
                nonce: None,
                scope: "offline_access",
                user_id: user,
                browser_session_id: browser,
                auth_time: app.now(),
                methods: "password",
            };
            let code = codes::issue(&mut conn, &new, app.now()).await.unwrap();
            drop(conn);
            let form = [
                ("grant_type", "authorization_code"),
                ("code", code.expose_secret()),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
            ];
            let reply = app
                .post_form("/oauth/token", &form, Some((&client.0, &client.1)))
                .await;
            assert_eq!(reply.status, 200, "{}", reply.text);
            jwt_claims(reply.body["access_token"].as_str().unwrap())["sid"]
                .as_str()
                .unwrap()
                .parse::<uuid::Uuid>()
                .unwrap()
        }
    };
    let of_b = family(&b).await;
    let of_a = [family(&a).await, family(&a).await, family(&a).await];
    let now_live = live(&app, user).await;
    assert!(!now_live.contains(&of_a[0]), "A's oldest family ended");
    assert!(now_live.contains(&of_a[1]) && now_live.contains(&of_a[2]));
    assert!(now_live.contains(&of_b), "B's family lives");
    assert!(now_live.contains(&browsers[1]) && now_live.contains(&browsers[2]));
    assert!(
        app.access_works(&first.access).await,
        "no first-party session ended"
    );
    assert!(app.access_works(&second.access).await);

    // A first-party login beyond the cap ends the oldest first-party session only.
    app.advance(1);
    let third = app.login_body(&email).await;
    assert!(!app.access_works(&first.access).await);
    assert!(app.access_works(&second.access).await && app.access_works(&third.access).await);
    let now_live = live(&app, user).await;
    for id in [of_a[1], of_a[2], of_b, browsers[1], browsers[2]] {
        assert!(now_live.contains(&id), "{id} lives");
    }
    assert_eq!(now_live.len(), 2 + 2 + 1 + 2, "{now_live:?}");
}

/// The ids of `user`'s live sessions.
async fn live(app: &TestApp, user: uuid::Uuid) -> HashSet<uuid::Uuid> {
    let mut conn = app.store().conn().await.unwrap();
    let live = authd::store::sessions::list_live(&mut conn, user, app.now())
        .await
        .unwrap();
    live.into_iter().map(|s| s.id).collect()
}
