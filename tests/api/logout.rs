//! RP-initiated logout (`/oauth/logout`, `oauth::end_session`): a hint authd
//! signed ends this browser's session and the client families signed in
//! through it at once; without a hint (or with a stale one) the user
//! confirms on a CSRF-protected page first; only a post-logout redirect URI
//! the hint's client registered is ever redirected to.
//!
//! Browser sessions and client families are made here through the services
//! and the store (`sessions::browser::start`, a family row bound to its
//! client and browser session), as the hosted login page and the code grant
//! make them.

use authd::audit::RequestMeta;
use authd::oidc::id_token::{self, IdTokenRequest};
use authd::sessions::{Method, Methods};
use authd::store::{AsDb, Db};
use jsonwebtoken::Algorithm;
use secrecy::ExposeSecret;
use uuid::Uuid;

use crate::helpers::{Backend, Reply, TestApp, jwt_claims, spawn_app};
use crate::on_both_stores;

on_both_stores!(
    a_valid_hint_ends_the_browser_session_and_its_families_and_clears_the_cookie,
    an_unregistered_post_logout_redirect_uri_is_never_redirected_to,
    another_clients_registered_uri_is_refused_with_this_clients_hint,
    without_a_hint_nothing_ends_until_the_user_confirms,
    a_confirmation_without_its_csrf_token_is_refused,
    a_stale_hint_asks_for_confirmation,
);

pub const APP_BYE: &str = "https://app.example.com/bye";
pub const OTHER_BYE: &str = "https://other.example.com/bye";

/// A signed-in user: their id and authd's own access token and session.
pub struct User {
    pub id: Uuid,
    pub access: String,
    pub first_party: Uuid,
}

pub async fn user(app: &TestApp) -> User {
    let (_, tokens) = app.user_with_tokens().await;
    let claims = jwt_claims(&tokens.access);
    User {
        id: claims["sub"].as_str().unwrap().parse().unwrap(),
        first_party: claims["sid"].as_str().unwrap().parse().unwrap(),
        access: tokens.access,
    }
}

/// Registers a public app whose one post-logout redirect URI is `bye`.
pub async fn app_client(app: &TestApp, name: &str, bye: &str) -> String {
    let spec = authd::clients::ClientSpec {
        kind: authd::clients::ClientKind::Public,
        redirect_uris: vec![format!("{bye}/callback")],
        post_logout_redirect_uris: vec![bye.to_owned()],
        ..authd::clients::ClientSpec::machine(name, "openid email offline_access")
    };
    let policy = authd::clients::Policy { development: true };
    let (client, _) = authd::clients::register(app.store(), spec, policy, app.now())
        .await
        .unwrap();
    client.id.to_string()
}

/// A browser session of `user` and its cookie's value.
pub async fn browser_session(app: &TestApp, user: Uuid) -> (Uuid, String) {
    let svc = app.services();
    let meta = RequestMeta {
        ip: None,
        user_agent: None,
    };
    let mut tx = app.store().begin().await.unwrap();
    let started = authd::sessions::browser::start(
        &mut tx,
        svc,
        user,
        app.now(),
        &meta,
        Methods::one(Method::Password),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let id = started.session.id;
    let cookie = authd::sessions::browser::cookie_value(&svc.refresh, id);
    (id, cookie.expose_secret().to_owned())
}

/// A refresh family of `client` for `user`, signed in through `browser`.
pub async fn client_family(app: &TestApp, user: Uuid, client: &str, browser: Uuid) -> Uuid {
    let session = app
        .services()
        .policy
        .new_session(user, app.now(), None, None);
    let mut tx = app.store().begin().await.unwrap();
    authd::store::sessions::insert(&mut tx, &session)
        .await
        .unwrap();
    const SQL: &str = "UPDATE sessions SET client_id = $2, scope = 'openid offline_access', \
         browser_session_id = $3 WHERE id = $1";
    match tx.db() {
        Db::Postgres(c) => sqlx::query(SQL)
            .bind(session.id)
            .bind(client)
            .bind(browser)
            .execute(c)
            .await
            .map(|_| ()),
        Db::Sqlite(c) => sqlx::query(SQL)
            .bind(session.id)
            .bind(client)
            .bind(browser)
            .execute(c)
            .await
            .map(|_| ()),
    }
    .unwrap();
    tx.commit().await.unwrap();
    session.id
}

/// An ID token authd signed for `client`, naming session `sid`.
pub async fn id_token_for(app: &TestApp, user: Uuid, client: &str, sid: Uuid) -> String {
    let found = {
        let mut conn = app.store().conn().await.unwrap();
        authd::store::users::find(&mut conn, user)
            .await
            .unwrap()
            .unwrap()
    };
    id_token::issue(
        app.services(),
        &IdTokenRequest {
            user: &found,
            client_id: client,
            alg: Algorithm::RS256,
            session: sid,
            auth_time: app.now(),
            nonce: None,
            amr: &["pwd".to_owned()],
            acr: None,
            scope: "openid",
            access_token: None,
            extra: serde_json::Map::new(),
        },
    )
    .unwrap()
}

/// Whether session `id` has ended.
pub async fn ended(app: &TestApp, id: Uuid) -> bool {
    let mut conn = app.store().conn().await.unwrap();
    let s = authd::store::sessions::find(&mut conn, id)
        .await
        .unwrap()
        .unwrap();
    s.revoked_at.is_some()
}

async fn logout_get(app: &TestApp, query: &[(&str, &str)], cookie: Option<&str>) -> Reply {
    let mut request = app.client.get(app.url("/oauth/logout")).query(query);
    if let Some(cookie) = cookie {
        request = request.header("cookie", format!("__Host-authd_session={cookie}"));
    }
    app.send(request).await
}

async fn confirm(app: &TestApp, form: &[(&str, &str)], cookie: &str) -> Reply {
    let body: String = form
        .iter()
        .map(|(k, v)| format!("{k}={}", crate::helpers::urlencode(v)))
        .collect::<Vec<_>>()
        .join("&");
    app.send(
        app.client
            .post(app.url("/logout/confirm"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", format!("__Host-authd_session={cookie}"))
            .body(body),
    )
    .await
}

/// The value of the hidden field `name` of a page's form.
fn hidden(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page.find(&marker).expect("the field is on the page") + marker.len();
    let end = start + page[start..].find('"').unwrap();
    // As a browser reads it: minijinja escapes `/`, `&`, quotes and `<>`.
    page[start..end]
        .replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn clears_cookie(reply: &Reply) -> bool {
    reply.set_cookies().iter().any(|c| {
        c.starts_with("__Host-authd_session=;")
            && (c.contains("Max-Age=0") || c.contains("max-age=0"))
    })
}

async fn a_valid_hint_ends_the_browser_session_and_its_families_and_clears_the_cookie(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let user = user(&app).await;
    let client = app_client(&app, "App", APP_BYE).await;
    let other = app_client(&app, "Other", OTHER_BYE).await;
    let (browser, cookie) = browser_session(&app, user.id).await;
    let family = client_family(&app, user.id, &client, browser).await;
    let others_family = client_family(&app, user.id, &other, browser).await;
    // Signed in through another browser: not this logout's.
    let (elsewhere, _) = browser_session(&app, user.id).await;
    let elsewhere_family = client_family(&app, user.id, &client, elsewhere).await;
    let hint = id_token_for(&app, user.id, &client, browser).await;

    let reply = logout_get(
        &app,
        &[
            ("id_token_hint", &hint),
            ("post_logout_redirect_uri", APP_BYE),
            ("state", "s 1"),
            ("ui_locales", "fr"),
        ],
        Some(&cookie),
    )
    .await;

    assert_eq!(reply.status, 303, "{}", reply.text);
    assert_eq!(
        reply.header("location"),
        Some("https://app.example.com/bye?state=s+1")
    );
    assert!(clears_cookie(&reply), "{:?}", reply.set_cookies());
    assert!(ended(&app, browser).await);
    assert!(ended(&app, family).await, "the app's family ended");
    assert!(
        ended(&app, others_family).await,
        "so did another app's, through the same browser"
    );
    assert!(
        !ended(&app, elsewhere).await,
        "another browser stays signed in"
    );
    assert!(!ended(&app, elsewhere_family).await);
    assert!(
        !ended(&app, user.first_party).await,
        "first-party sessions are not the browser's"
    );
    // The families' refresh tokens are refused, and the revocation feed names them.
    let refresh = app
        .services()
        .refresh
        .encode(authd::tokens::refresh::RefreshClaims {
            session: family,
            counter: 0,
        });
    assert_eq!(app.refresh_body(refresh.expose_secret()).await.status, 401);
    let events = app.audit_events(user.id).await;
    assert_eq!(events[0].kind, "logout");
    assert_eq!(events[0].client_id.as_deref(), Some(client.as_str()));

    // A hint whose sid is the app's family (signed in through this browser) works too.
    let (browser, cookie) = browser_session(&app, user.id).await;
    let family = client_family(&app, user.id, &client, browser).await;
    let hint = id_token_for(&app, user.id, &client, family).await;
    let reply = logout_get(&app, &[("id_token_hint", &hint)], Some(&cookie)).await;
    assert_eq!(reply.status, 303, "{}", reply.text);
    assert_eq!(reply.header("location"), Some("/logout/done"));
    assert!(ended(&app, browser).await && ended(&app, family).await);
    assert_eq!(app.get("/logout/done").await.status, 200);
}

async fn an_unregistered_post_logout_redirect_uri_is_never_redirected_to(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = user(&app).await;
    let client = app_client(&app, "App", APP_BYE).await;
    let (browser, cookie) = browser_session(&app, user.id).await;
    let hint = id_token_for(&app, user.id, &client, browser).await;

    for uri in [
        "https://evil.example/bye",
        "https://app.example.com/bye/",
        "https://app.example.com/bye?x=1",
        "https://APP.example.com/bye",
    ] {
        for query in [
            vec![
                ("id_token_hint", hint.as_str()),
                ("post_logout_redirect_uri", uri),
            ],
            vec![
                ("client_id", client.as_str()),
                ("post_logout_redirect_uri", uri),
            ],
            vec![("post_logout_redirect_uri", uri)],
        ] {
            let reply = logout_get(&app, &query, Some(&cookie)).await;
            assert_eq!(reply.status, 400, "{uri}: {}", reply.text);
            assert!(reply.header("location").is_none(), "{uri}");
            assert!(reply.text.contains("invalid_request"), "{}", reply.text);
        }
    }
    assert!(
        !ended(&app, browser).await,
        "a refused request ends nothing"
    );
}

async fn another_clients_registered_uri_is_refused_with_this_clients_hint(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = user(&app).await;
    let client = app_client(&app, "App", APP_BYE).await;
    let other = app_client(&app, "Other", OTHER_BYE).await;
    let (browser, cookie) = browser_session(&app, user.id).await;
    let hint = id_token_for(&app, user.id, &client, browser).await;

    let reply = logout_get(
        &app,
        &[
            ("id_token_hint", &hint),
            ("post_logout_redirect_uri", OTHER_BYE),
        ],
        Some(&cookie),
    )
    .await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    assert!(reply.header("location").is_none());
    // Naming the other client beside this client's hint is refused too.
    let reply = logout_get(
        &app,
        &[
            ("id_token_hint", &hint),
            ("client_id", &other),
            ("post_logout_redirect_uri", OTHER_BYE),
        ],
        Some(&cookie),
    )
    .await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    assert!(reply.header("location").is_none());
    // A hint authd did not sign is refused.
    let mut forged = hint.clone();
    forged.truncate(forged.len() - 4);
    forged.push_str("AAAA");
    let reply = logout_get(
        &app,
        &[
            ("id_token_hint", &forged),
            ("post_logout_redirect_uri", APP_BYE),
        ],
        Some(&cookie),
    )
    .await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    assert!(reply.header("location").is_none());
    assert!(!ended(&app, browser).await);
}

async fn without_a_hint_nothing_ends_until_the_user_confirms(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = user(&app).await;
    let client = app_client(&app, "App", APP_BYE).await;
    let (browser, cookie) = browser_session(&app, user.id).await;
    let family = client_family(&app, user.id, &client, browser).await;

    let page = logout_get(
        &app,
        &[
            ("client_id", &client),
            ("post_logout_redirect_uri", APP_BYE),
            ("state", "xyz"),
        ],
        Some(&cookie),
    )
    .await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.header("location").is_none());
    assert!(
        page.text.contains("action=\"/logout/confirm\""),
        "{}",
        page.text
    );
    assert!(
        page.text.contains("App asks to sign you out"),
        "{}",
        page.text
    );
    assert!(!clears_cookie(&page));
    assert!(
        !ended(&app, browser).await,
        "nothing ends before the confirmation"
    );
    assert!(!ended(&app, family).await);

    let csrf = hidden(&page.text, "csrf");
    let reply = confirm(
        &app,
        &[
            ("csrf", &csrf),
            ("client_id", &hidden(&page.text, "client_id")),
            (
                "post_logout_redirect_uri",
                &hidden(&page.text, "post_logout_redirect_uri"),
            ),
            ("state", &hidden(&page.text, "state")),
        ],
        &cookie,
    )
    .await;
    assert_eq!(reply.status, 303, "{}", reply.text);
    assert_eq!(
        reply.header("location"),
        Some("https://app.example.com/bye?state=xyz")
    );
    assert!(clears_cookie(&reply));
    assert!(ended(&app, browser).await);
    assert!(ended(&app, family).await);

    // The confirmation form cannot carry an unregistered URI either.
    let (browser, cookie) = browser_session(&app, user.id).await;
    let page = logout_get(&app, &[], Some(&cookie)).await;
    assert_eq!(page.status, 200, "{}", page.text);
    let reply = confirm(
        &app,
        &[
            ("csrf", &hidden(&page.text, "csrf")),
            ("client_id", &client),
            ("post_logout_redirect_uri", "https://evil.example/bye"),
        ],
        &cookie,
    )
    .await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    assert!(reply.header("location").is_none());
    assert!(!ended(&app, browser).await);
}

async fn a_confirmation_without_its_csrf_token_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = user(&app).await;
    let (browser, cookie) = browser_session(&app, user.id).await;
    // A token made for another browser session (the attacker's own page).
    let (_, attacker_cookie) = browser_session(&app, user.id).await;
    let page = logout_get(&app, &[], Some(&attacker_cookie)).await;
    assert_eq!(page.status, 200, "{}", page.text);
    let foreign = hidden(&page.text, "csrf");

    for form in [vec![], vec![("csrf", "")], vec![("csrf", foreign.as_str())]] {
        let reply = confirm(&app, &form, &cookie).await;
        assert_eq!(reply.status, 403, "{}", reply.text);
        assert!(reply.text.contains("invalid_csrf_token"));
        assert!(!clears_cookie(&reply));
        assert!(!ended(&app, browser).await);
    }
}

async fn a_stale_hint_asks_for_confirmation(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = user(&app).await;
    let client = app_client(&app, "App", APP_BYE).await;
    // The hint names a browser session that has ended; this browser has a new one.
    let (old, old_cookie) = browser_session(&app, user.id).await;
    let hint = id_token_for(&app, user.id, &client, old).await;
    let reply = logout_get(&app, &[("id_token_hint", &hint)], Some(&old_cookie)).await;
    assert_eq!(reply.status, 303);
    let (browser, cookie) = browser_session(&app, user.id).await;

    let reply = logout_get(
        &app,
        &[
            ("id_token_hint", &hint),
            ("post_logout_redirect_uri", APP_BYE),
        ],
        Some(&cookie),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(reply.text.contains("action=\"/logout/confirm\""));
    assert!(
        !ended(&app, browser).await,
        "a stale hint ends nothing by itself"
    );
}
