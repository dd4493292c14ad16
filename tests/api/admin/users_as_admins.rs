//! Users as admins (`admin.roles`), on both stores: a role opens exactly the
//! permissions the setting maps it to; a user holding it still needs a
//! session signed in with a second factor within `mfa.step_up_max_age_secs`
//! (none at all, or a stale one, is 401 `insufficient_user_authentication`);
//! a user without the role is 403 whatever their factors; and an act is
//! audited with the admin user as its actor.

use std::collections::BTreeMap;

use authd::accounts::roles::{self, RoleChanges};
use authd::audit::Actor;
use serde_json::json;

use crate::helpers::{Backend, Reply, TestApp, spawn_app_with};
use crate::mfa::{enrolled, post_bearer, stepped_up};
use crate::on_both_stores;

on_both_stores!(
    a_role_opens_its_permissions_only_with_a_recent_second_factor,
    a_user_without_the_role_is_refused_whatever_their_factors,
);

async fn app_with_roles(backend: Backend) -> TestApp {
    spawn_app_with(backend, |s| {
        // Shorter than an access token's life, so a stale sign-in is seen
        // with a token still valid.
        s.mfa.step_up_max_age_secs = 60;
        s.admin.roles = BTreeMap::from([
            ("support".to_owned(), vec![super::READ.to_owned()]),
            (
                "admin".to_owned(),
                vec![super::READ.to_owned(), super::WRITE.to_owned()],
            ),
        ]);
    })
    .await
}

async fn give_role(app: &TestApp, email: &str, role: &str) {
    let user = app.user_id(email).await;
    let changes = RoleChanges {
        add: vec![role.to_owned()],
        remove: vec![],
    };
    roles::change(app.services(), user, &changes, Actor::CLI)
        .await
        .unwrap()
        .unwrap();
}

fn assert_step_up(reply: &Reply) {
    assert_eq!(reply.status, 401, "{}", reply.text);
    assert_eq!(reply.error(), "insufficient_user_authentication");
}

async fn a_role_opens_its_permissions_only_with_a_recent_second_factor(backend: Backend) {
    let app = app_with_roles(backend).await;

    // The role, and no second factor at all: asked for one.
    let (plain, tokens) = app.user_with_tokens().await;
    give_role(&app, &plain, "support").await;
    assert_step_up(&app.get_bearer("/admin/users", &tokens.access).await);

    // A factor, but a session signed in with the password alone.
    let support = enrolled(&app).await;
    give_role(&app, &support.email, "support").await;
    assert_step_up(&app.get_bearer("/admin/users", &support.access).await);

    // Signed in with it just now: the role's permission, and no other.
    let fresh = stepped_up(&app, &support).await;
    let list = app.get_bearer("/admin/users", &fresh).await;
    assert_eq!(list.status, 200, "{}", list.text);
    let target = app.user_id(&plain).await;
    let revoke = format!("/admin/users/{target}/sessions/revoke");
    let refused = post_bearer(&app, &revoke, &fresh, &json!({})).await;
    assert_eq!(refused.status, 403, "{}", refused.text);
    assert!(app.access_works(&tokens.access).await, "nothing was ended");

    // Stale: past mfa.step_up_max_age_secs, asked again.
    app.advance(31);
    assert_step_up(&app.get_bearer("/admin/users", &fresh).await);

    // The write role acts, audited as the admin user.
    let admin = enrolled(&app).await;
    give_role(&app, &admin.email, "admin").await;
    let fresh = stepped_up(&app, &admin).await;
    let done = post_bearer(&app, &revoke, &fresh, &json!({})).await;
    assert_eq!(done.status, 200, "{}", done.text);
    assert!(!app.access_works(&tokens.access).await);
    let admin_id = app.user_id(&admin.email).await;
    let events = app.audit_events(target).await;
    let event = events
        .iter()
        .find(|e| e.kind == "sessions_revoked_by_admin")
        .expect("the act is audited");
    assert_eq!(
        event.actor.as_deref(),
        Some(format!("admin:{admin_id}").as_str())
    );
}

async fn a_user_without_the_role_is_refused_whatever_their_factors(backend: Backend) {
    let app = app_with_roles(backend).await;
    let user = enrolled(&app).await;
    // A role the setting does not name opens nothing.
    give_role(&app, &user.email, "auditor").await;
    let fresh = stepped_up(&app, &user).await;
    let reply = app.get_bearer("/admin/users", &fresh).await;
    assert_eq!(reply.status, 403, "{}", reply.text);
    assert_eq!(reply.error(), "insufficient_scope");
}
