//! `GET /auth/grants` and `DELETE /auth/grants/{client_id}`
//! (`oauth::user_grants`): the apps a user authorized, and revoking one ends
//! its families (listed by the revocation feed) and forgets its consent.
//! Consents and families are made through the store here, as the consent
//! page and the code grant make them.

use authd::store::consents::Consent;
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{Backend, Reply, TestApp, spawn_app};
use crate::logout::{APP_BYE, OTHER_BYE, app_client, browser_session, client_family, ended, user};
use crate::on_both_stores;

on_both_stores!(
    a_user_lists_their_grants_and_revoking_one_ends_its_families_and_forgets_its_consent,
    another_users_or_an_unknown_grant_is_not_found,
);

async fn consent(app: &TestApp, user: Uuid, client: &str, scope: &str) {
    let mut conn = app.store().conn().await.unwrap();
    authd::store::consents::upsert(
        &mut conn,
        &Consent {
            user_id: user,
            client_id: client.to_owned(),
            scope: scope.to_owned(),
            granted_at: app.now(),
        },
    )
    .await
    .unwrap();
}

async fn delete_grant(app: &TestApp, client: &str, token: &str) -> Reply {
    app.send(
        app.client
            .delete(app.url(&format!("/auth/grants/{client}")))
            .bearer_auth(token),
    )
    .await
}

async fn a_user_lists_their_grants_and_revoking_one_ends_its_families_and_forgets_its_consent(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let ada = user(&app).await;
    let client = app_client(&app, "App", APP_BYE).await;
    let other = app_client(&app, "Other", OTHER_BYE).await;
    let (browser, _) = browser_session(&app, ada.id).await;
    consent(&app, ada.id, &client, "email openid").await;
    consent(&app, ada.id, &other, "openid").await;
    let first = client_family(&app, ada.id, &client, browser).await;
    let second = client_family(&app, ada.id, &client, browser).await;
    let others = client_family(&app, ada.id, &other, browser).await;

    let listed = app.get_bearer("/auth/grants", &ada.access).await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    let grants = listed.body["grants"].as_array().unwrap();
    assert_eq!(grants.len(), 2);
    let mine = grants
        .iter()
        .find(|g| g["client_id"] == client.as_str())
        .unwrap();
    assert_eq!(mine["client_name"], "App");
    assert_eq!(mine["scopes"], json!(["email", "openid"]));
    assert_eq!(mine["live_refresh_families"], 2);
    assert!(mine["granted_at"].is_string());

    let (feed_id, feed_secret) = app.create_client("feed", "authd:revocations").await;
    let reply = delete_grant(&app, &client, &ada.access).await;
    assert_eq!(reply.status, 204, "{}", reply.text);
    assert!(ended(&app, first).await && ended(&app, second).await);
    assert!(!ended(&app, others).await, "another app's grant stays");
    assert!(
        !ended(&app, browser).await,
        "the user stays signed in to authd"
    );
    assert!(!ended(&app, ada.first_party).await);
    // The consent is forgotten: the next authorization asks again.
    let mut conn = app.store().conn().await.unwrap();
    let remembered = authd::store::consents::find(&mut conn, ada.id, &client)
        .await
        .unwrap();
    drop(conn);
    assert_eq!(remembered, None);
    let events = app.audit_events(ada.id).await;
    assert_eq!(events[0].kind, "grant_revoked");
    assert_eq!(events[0].client_id.as_deref(), Some(client.as_str()));
    // Each ended family is in the revocation feed, so its access tokens are refused.
    let feed = app
        .send(
            app.client
                .get(app.url("/auth/revocations"))
                .basic_auth(&feed_id, Some(&feed_secret)),
        )
        .await;
    assert_eq!(feed.status, 200, "{}", feed.text);
    for family in [first, second] {
        assert!(feed.text.contains(&family.to_string()), "{}", feed.text);
    }

    let listed = app.get_bearer("/auth/grants", &ada.access).await;
    let grants = listed.body["grants"].as_array().unwrap();
    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0]["client_id"], other.as_str());
    // Revoked once, it is gone.
    assert_eq!(delete_grant(&app, &client, &ada.access).await.status, 404);
    // Without a Bearer token, nothing.
    assert_eq!(app.get("/auth/grants").await.status, 401);
}

async fn another_users_or_an_unknown_grant_is_not_found(backend: Backend) {
    let app = spawn_app(backend).await;
    let ada = user(&app).await;
    let bob = user(&app).await;
    let client = app_client(&app, "App", APP_BYE).await;
    let (browser, _) = browser_session(&app, ada.id).await;
    consent(&app, ada.id, &client, "openid").await;
    let family = client_family(&app, ada.id, &client, browser).await;

    for id in [client.as_str(), "authd_unknown", &"x".repeat(300)] {
        let reply = delete_grant(&app, id, &bob.access).await;
        assert_eq!(reply.status, 404, "{id}: {}", reply.text);
        assert_eq!(reply.error(), "not_found");
    }
    assert!(!ended(&app, family).await, "bob cannot end ada's grant");
    let listed = app.get_bearer("/auth/grants", &bob.access).await;
    assert_eq!(listed.body["grants"], json!([]));
    let listed = app.get_bearer("/auth/grants", &ada.access).await;
    assert_eq!(listed.body["grants"][0]["live_refresh_families"], 1);
}
