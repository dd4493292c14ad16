//! Rotating the refresh-token key, step by step as README's "Rotating the
//! refresh-token key" says, with deployments sharing one database: a single
//! `refresh.secret` (key 1), then the ring with key 2 added, then key 2
//! current, then key 1 removed.

use authd::config::{RefreshKeySettings, Settings};
use authd::tokens::refresh::key_id_of;
use serde_json::json;

use crate::helpers::{Backend, TestApp, spawn_app_with};
use crate::on_both_stores;

on_both_stores!(
    each_step_of_a_key_rotation_keeps_every_session_alive,
    a_token_of_a_removed_key_is_refused_like_a_forgery_and_its_session_is_untouched,
);

const KEY_1: &str = "the refresh.secret of before the rotation";
const KEY_2: &str = "the refresh key that replaces it, 32+ bytes";

fn key(id: u32, secret: &str) -> RefreshKeySettings {
    RefreshKeySettings {
        id,
        secret: Some(secret.to_owned().into()),
        secret_file: None,
    }
}

/// `refresh.keys` = `keys`, `refresh.current` = `current`.
fn ring(keys: Vec<RefreshKeySettings>, current: u32) -> impl FnOnce(&mut Settings) {
    move |s| {
        s.refresh.secret = None;
        s.refresh.keys = keys;
        s.refresh.current = Some(current);
    }
}

/// The deployment before the rotation: the single `refresh.secret`.
async fn single_key_deployment(backend: Backend) -> TestApp {
    spawn_app_with(backend, |s| {
        s.refresh.secret = Some(KEY_1.to_owned().into())
    })
    .await
}

/// Refreshes `token` on `app`: the new token, which must name key `id`.
async fn rotates_into_key(app: &TestApp, token: &str, id: u8) -> String {
    let reply = app.refresh_body(token).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let next = reply.refresh_token();
    assert_eq!(key_id_of(&next), Some(id), "the new token's key id byte");
    next
}

async fn each_step_of_a_key_rotation_keeps_every_session_alive(backend: Backend) {
    // Before: one key. Its tokens, like those made before key rings, name key 1.
    let before = single_key_deployment(backend).await;
    let (email, tokens) = before.user_with_tokens().await;
    let session = before.state_session(&tokens.access);
    assert_eq!(key_id_of(&tokens.refresh), Some(1));

    // Step 1: key 2 added, retired, on every instance; key 1 still makes tokens.
    let step1 = before
        .spawn_sibling(ring(vec![key(1, KEY_1), key(2, KEY_2)], 1))
        .await;
    let t1 = rotates_into_key(&step1, &tokens.refresh, 1).await;
    // The instance not yet changed takes what step 1 made.
    let t1 = rotates_into_key(&before, &t1, 1).await;

    // Step 2: key 2 current. A token of key 1 rotates, and comes back as key 2's.
    let step2 = before
        .spawn_sibling(ring(vec![key(2, KEY_2), key(1, KEY_1)], 2))
        .await;
    let t2 = rotates_into_key(&step2, &t1, 2).await;
    let again = step2.refresh_body(&t2).await;
    assert_eq!(
        step2.state_session(&again.access_token()),
        session,
        "the same session, rotated under the new key"
    );
    let t3 = again.refresh_token();
    let (_, fresh) = step2.user_with_tokens().await;
    assert_eq!(key_id_of(&fresh.refresh), Some(2), "logins use key 2");
    // An instance still at step 1 takes key 2's tokens: that is why step 1
    // reaches every instance before any makes key 2 current. One that never
    // heard of key 2 refuses them.
    let fresh_next = rotates_into_key(&step1, &fresh.refresh, 1).await;
    assert_eq!(before.refresh_body(&fresh_next).await.status, 200);
    let other = step2.login_body(&email).await;
    assert_eq!(before.refresh_body(&other.refresh).await.status, 401);

    // Step 4: key 1 removed. The session that began under key 1 goes on with
    // the key-2 token it rotated into, as do sessions begun under key 2.
    let after = before.spawn_sibling(ring(vec![key(2, KEY_2)], 2)).await;
    let t4 = rotates_into_key(&after, &t3, 2).await;
    let last = after.refresh_body(&t4).await;
    assert_eq!(after.state_session(&last.access_token()), session);
    let (_, late) = step2.user_with_tokens().await;
    rotates_into_key(&after, &late.refresh, 2).await;
}

async fn a_token_of_a_removed_key_is_refused_like_a_forgery_and_its_session_is_untouched(
    backend: Backend,
) {
    let before = single_key_deployment(backend).await;
    let (_, tokens) = before.user_with_tokens().await;
    let user = before.state_user(&tokens.access);
    let only_2 = before.spawn_sibling(ring(vec![key(2, KEY_2)], 2)).await;

    let removed = only_2.refresh_body(&tokens.refresh).await;
    // The same token with its tag changed: a forgery of a known key.
    let mut forged = tokens.refresh.clone().into_bytes();
    forged[60] = if forged[60] == b'A' { b'B' } else { b'A' };
    let forged = only_2
        .refresh_body(&String::from_utf8(forged).unwrap())
        .await;
    assert_eq!(
        (removed.status, removed.error()),
        (401, "invalid_grant"),
        "{}",
        removed.text
    );
    assert_eq!(
        (removed.status, removed.error()),
        (forged.status, forged.error())
    );
    assert_eq!(removed.body, forged.body);
    assert_eq!(
        removed.header("www-authenticate"),
        forged.header("www-authenticate")
    );
    // Every id byte a token can carry, none of them a key of this ring but 2:
    // refused the same way, never a 500.
    for id in 0..=255u8 {
        let token = with_key_id(&tokens.refresh, id);
        let reply = only_2.refresh_body(&token).await;
        assert_eq!(
            (reply.status, reply.error()),
            (401, "invalid_grant"),
            "id {id}"
        );
    }
    // Logging out with it ends nothing, as with any token authd did not make.
    let logout = only_2
        .post_json("/auth/logout", &json!({ "refresh_token": tokens.refresh }))
        .await;
    assert_eq!(logout.status, 204, "{}", logout.text);

    // Nothing was spent or revoked: the session still works where key 1 does
    // (an instance not yet changed, or one that rolls back).
    let kinds = before.audit_kinds(user).await;
    assert!(
        !kinds.iter().any(|k| k == "refresh_reuse_detected"),
        "{kinds:?}"
    );
    assert_eq!(before.refresh_body(&tokens.refresh).await.status, 200);
}

/// `token` with its first byte (the key id) replaced; the tag left as it was.
fn with_key_id(token: &str, id: u8) -> String {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut raw = URL_SAFE_NO_PAD.decode(token).unwrap();
    raw[0] = id;
    URL_SAFE_NO_PAD.encode(raw)
}

/// Start-up from a configuration file, as `authd serve` does it (in process:
/// a server that starts by mistake fails the test instead of running on).
#[tokio::test]
async fn the_server_refuses_to_start_with_an_invalid_key_ring_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    for (ring, expected) in [
        (
            "current = 3\n[[refresh.keys]]\nid = 2\nsecret = \"the refresh key that replaces it, 32+ bytes\"\n",
            "refresh.current: no key of refresh.keys has id 3",
        ),
        (
            "current = 2\n[[refresh.keys]]\nid = 2\nsecret = \"the refresh key that replaces it, 32+ bytes\"\n\
             [[refresh.keys]]\nid = 2\nsecret = \"the refresh.secret of before the rotation\"\n",
            "refresh.keys: refresh-token key id 2 appears twice",
        ),
        (
            "[[refresh.keys]]\nid = 2\nsecret = \"the refresh key that replaces it, 32+ bytes\"\n\
             [[refresh.keys]]\nid = 1\nsecret = \"the refresh.secret of before the rotation\"\n",
            "refresh.current: refresh.keys holds several keys",
        ),
        (
            "current = 2\n[[refresh.keys]]\nid = 2\nsecret = \"too short\"\n",
            "refresh.keys[0] (id 2): the key must be at least 32 bytes",
        ),
    ] {
        let config = dir.path().join("authd.toml");
        std::fs::write(&config, format!("[refresh]\n{ring}")).unwrap();
        let mut settings = Settings::load(&authd::config::Sources {
            file: Some(config),
            env: vec![],
        })
        .unwrap();
        let test = crate::helpers::test_settings(dir.path());
        (settings.data_dir, settings.database, settings.server) =
            (test.data_dir, test.database, test.server);
        settings.jwt.keys = test.jwt.keys;
        let clock = std::sync::Arc::new(authd::clock::ManualClock::new(chrono::Utc::now()));
        let error = match authd::app::Application::build(settings, clock).await {
            Ok(_) => panic!("started with {ring}"),
            Err(e) => e.to_string(),
        };
        assert!(error.contains(expected), "{expected}: {error}");
        assert!(
            !error.contains("replaces it") && !error.contains("too short"),
            "{error}"
        );
    }
}
