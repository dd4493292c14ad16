//! OpenID Connect Back-Channel Logout 1.0 (`oidc::backchannel`), on both
//! stores, with a relying party's real HTTP receiver: a client that got an
//! ID token through a browser session is POSTed a logout token, signed and
//! verifiable with the published JWKS, when that session (or every session
//! of the user, or its grant, or its family) ends; a client without a
//! `backchannel_logout_uri`, or signed in through another browser, gets
//! nothing; a URI that is not https (but to this machine) or has a fragment
//! is refused at registration.

mod retry;
pub mod support;

use std::collections::HashSet;

use authd::accounts::disable::disable;
use authd::audit::Actor;
use authd::clients::{ClientChanges, ClientError, Policy};

use crate::authorize::support::Browser;
use crate::helpers::{Backend, spawn_app, spawn_app_with, urlencode};
use crate::on_both_stores;
use support::{Receiver, client, nothing_more, redeem, says, sid_and_sub, sign_in, user, verified};

on_both_stores!(
    a_logout_at_the_end_session_endpoint_tells_each_client_of_that_browser,
    disabling_and_a_global_logout_tell_every_client_the_user_signed_in_to,
    a_revoked_grant_tells_its_client_only,
    a_reused_code_tells_its_client,
    ending_the_browser_session_in_the_session_list_tells_its_clients,
    a_reused_refresh_token_of_a_client_family_tells_every_client,
    a_browser_session_ended_by_the_cap_tells_its_clients,
    a_bad_backchannel_logout_uri_is_refused_at_registration,
);

async fn a_logout_at_the_end_session_endpoint_tells_each_client_of_that_browser(backend: Backend) {
    let app = spawn_app(backend).await;
    let receiver = Receiver::start().await;
    let a = client(&app, "a", Some(receiver.uri("a"))).await;
    let b = client(&app, "b", Some(receiver.uri("b"))).await;
    let quiet = client(&app, "quiet", None).await;
    let c = client(&app, "c", Some(receiver.uri("c"))).await;
    let email = user(&app).await;

    // One browser signs in to a, b and the client without a URI...
    let mut browser = Browser::new(&app);
    let tokens = sign_in(&mut browser, &a, &email).await;
    let (sid, sub) = sid_and_sub(&tokens);
    let of_b = sign_in(&mut browser, &b, &email).await;
    assert_eq!(sid_and_sub(&of_b).0, sid, "one browser session, one sid");
    sign_in(&mut browser, &quiet, &email).await;
    // ...another browser of the same user to c, and to a.
    let mut elsewhere = Browser::new(&app);
    let of_c = sign_in(&mut elsewhere, &c, &email).await;
    sign_in(&mut elsewhere, &a, &email).await;
    assert_ne!(sid_and_sub(&of_c).0, sid);

    let hint = tokens["id_token"].as_str().unwrap();
    let reply = browser
        .get(&format!("/oauth/logout?id_token_hint={}", urlencode(hint)))
        .await;
    assert_eq!(reply.status, 303, "{}", reply.text);

    let mut jtis = HashSet::new();
    for (name, id) in [("a", &a.id), ("b", &b.id)] {
        let got = receiver.wait_for(name, 1).await;
        assert_eq!(got[0].content_type, "application/x-www-form-urlencoded");
        let claims = verified(&app, &got[0].logout_token(), id).await;
        assert!(jtis.insert(says(&claims, &sub, &sid)), "a jti of its own");
    }
    nothing_more(&receiver, "a", 1).await;
    assert_eq!(receiver.of("b").len(), 1, "each client is told once");
    assert!(
        receiver.of("c").is_empty(),
        "c signed in through another browser"
    );
    assert_eq!(
        receiver.all().len(),
        2,
        "and the client without a URI got nothing"
    );

    // The other browser's logout tells c and a (its own sign-in to a).
    let hint = of_c["id_token"].as_str().unwrap();
    let reply = elsewhere
        .get(&format!("/oauth/logout?id_token_hint={}", urlencode(hint)))
        .await;
    assert_eq!(reply.status, 303, "{}", reply.text);
    let got = receiver.wait_for("a", 2).await;
    let claims = verified(&app, &got[1].logout_token(), &a.id).await;
    let (other_sid, _) = sid_and_sub(&of_c);
    assert!(jtis.insert(says(&claims, &sub, &other_sid)));
    let got = receiver.wait_for("c", 1).await;
    let claims = verified(&app, &got[0].logout_token(), &c.id).await;
    assert!(jtis.insert(says(&claims, &sub, &other_sid)));
}

async fn disabling_and_a_global_logout_tell_every_client_the_user_signed_in_to(backend: Backend) {
    let app = spawn_app(backend).await;
    let receiver = Receiver::start().await;
    let a = client(&app, "a", Some(receiver.uri("a"))).await;
    let b = client(&app, "b", Some(receiver.uri("b"))).await;

    // Disabling (an operator's or an admin's): both browsers' sign-ins are told.
    let email = user(&app).await;
    let mut one = Browser::new(&app);
    let (sid_one, sub) = sid_and_sub(&sign_in(&mut one, &a, &email).await);
    let mut two = Browser::new(&app);
    let (sid_two, _) = sid_and_sub(&sign_in(&mut two, &b, &email).await);
    let id = app.user_id(&email).await;
    disable(app.services(), id, Actor::CLI).await.unwrap();
    let got = receiver.wait_for("a", 1).await;
    says(
        &verified(&app, &got[0].logout_token(), &a.id).await,
        &sub,
        &sid_one,
    );
    let got = receiver.wait_for("b", 1).await;
    says(
        &verified(&app, &got[0].logout_token(), &b.id).await,
        &sub,
        &sid_two,
    );

    // The user's own global logout (every session, by the Bearer token).
    let email = user(&app).await;
    let mut browser = Browser::new(&app);
    let (sid, sub) = sid_and_sub(&sign_in(&mut browser, &a, &email).await);
    let access = app.login_body(&email).await.access;
    let reply = app
        .send(
            app.client
                .post(app.url("/auth/logout?scope=global"))
                .bearer_auth(&access),
        )
        .await;
    assert_eq!(reply.status, 204, "{}", reply.text);
    let got = receiver.wait_for("a", 2).await;
    says(
        &verified(&app, &got[1].logout_token(), &a.id).await,
        &sub,
        &sid,
    );
    nothing_more(&receiver, "b", 1).await;
}

async fn a_revoked_grant_tells_its_client_only(backend: Backend) {
    let app = spawn_app(backend).await;
    let receiver = Receiver::start().await;
    let a = client(&app, "a", Some(receiver.uri("a"))).await;
    let b = client(&app, "b", Some(receiver.uri("b"))).await;
    let email = user(&app).await;
    let mut browser = Browser::new(&app);
    let (sid, sub) = sid_and_sub(&sign_in(&mut browser, &a, &email).await);
    sign_in(&mut browser, &b, &email).await;

    let access = app.login_body(&email).await.access;
    let reply = app
        .send(
            app.client
                .delete(app.url(&format!("/auth/grants/{}", a.id)))
                .bearer_auth(&access),
        )
        .await;
    assert_eq!(reply.status, 204, "{}", reply.text);
    let got = receiver.wait_for("a", 1).await;
    says(
        &verified(&app, &got[0].logout_token(), &a.id).await,
        &sub,
        &sid,
    );
    nothing_more(&receiver, "b", 0).await;

    // Told once: the browser's logout later tells b alone.
    let reply = browser.get("/oauth/logout").await;
    let page = reply.text.clone();
    assert_eq!(reply.status, 200, "a confirmation page: {page}");
    let confirm = crate::oidc_rp::browser::form(&page, "/logout/confirm").expect("the form");
    let reply = browser.post("/logout/confirm", &confirm.hidden).await;
    assert_eq!(reply.status, 303, "{}", reply.text);
    receiver.wait_for("b", 1).await;
    nothing_more(&receiver, "a", 1).await;
}

async fn a_reused_code_tells_its_client(backend: Backend) {
    let app = spawn_app(backend).await;
    let receiver = Receiver::start().await;
    let a = client(&app, "a", Some(receiver.uri("a"))).await;
    let email = user(&app).await;
    let mut browser = Browser::new(&app);
    let code = support::code(&mut browser, &a, &email).await;
    let (sid, sub) = sid_and_sub(&redeem(&app, &a, &code).await);

    let secret = a.secret.clone().unwrap();
    let again = app
        .post_form(
            "/oauth/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", crate::authorize::support::REDIRECT),
                (
                    "code_verifier",
                    "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
                ),
            ],
            Some((&a.id, &secret)),
        )
        .await;
    assert_eq!(again.status, 400, "{}", again.text);
    let got = receiver.wait_for("a", 1).await;
    says(
        &verified(&app, &got[0].logout_token(), &a.id).await,
        &sub,
        &sid,
    );
}

async fn ending_the_browser_session_in_the_session_list_tells_its_clients(backend: Backend) {
    let app = spawn_app(backend).await;
    let receiver = Receiver::start().await;
    let a = client(&app, "a", Some(receiver.uri("a"))).await;
    let email = user(&app).await;
    let mut browser = Browser::new(&app);
    let (sid, sub) = sid_and_sub(&sign_in(&mut browser, &a, &email).await);

    let access = app.login_body(&email).await.access;
    let reply = app
        .send(
            app.client
                .delete(app.url(&format!("/auth/sessions/{sid}")))
                .bearer_auth(&access),
        )
        .await;
    assert_eq!(reply.status, 204, "{}", reply.text);
    let got = receiver.wait_for("a", 1).await;
    says(
        &verified(&app, &got[0].logout_token(), &a.id).await,
        &sub,
        &sid,
    );
    // The first-party session the request came from ends nothing more.
    nothing_more(&receiver, "a", 1).await;
}

async fn a_reused_refresh_token_of_a_client_family_tells_every_client(backend: Backend) {
    let app = spawn_app(backend).await;
    let receiver = Receiver::start().await;
    let a = client(&app, "a", Some(receiver.uri("a"))).await;
    let b = client(&app, "b", Some(receiver.uri("b"))).await;
    let email = user(&app).await;
    let mut browser = Browser::new(&app);
    let code = support::code_for(&mut browser, &a, &email, "openid offline_access").await;
    let tokens = redeem(&app, &a, &code).await;
    let (sid, sub) = sid_and_sub(&tokens);
    sign_in(&mut browser, &b, &email).await;

    let secret = a.secret.clone().unwrap();
    let refresh = |token: String| {
        let (app, id, secret) = (&app, a.id.clone(), secret.clone());
        async move {
            app.post_form(
                "/oauth/token",
                &[("grant_type", "refresh_token"), ("refresh_token", &token)],
                Some((&id, &secret)),
            )
            .await
        }
    };
    let first = tokens["refresh_token"].as_str().unwrap().to_owned();
    let second = refresh(first.clone()).await;
    assert_eq!(second.status, 200, "{}", second.text);
    let third = refresh(second.body["refresh_token"].as_str().unwrap().to_owned()).await;
    assert_eq!(third.status, 200, "{}", third.text);
    assert!(receiver.all().is_empty(), "a rotation tells nobody");
    // Two rotations old: reuse, every session of the user ends.
    assert_eq!(refresh(first).await.status, 400);
    let got = receiver.wait_for("a", 1).await;
    says(
        &verified(&app, &got[0].logout_token(), &a.id).await,
        &sub,
        &sid,
    );
    let got = receiver.wait_for("b", 1).await;
    says(
        &verified(&app, &got[0].logout_token(), &b.id).await,
        &sub,
        &sid,
    );
}

async fn a_browser_session_ended_by_the_cap_tells_its_clients(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.browser_session.max_per_user = 1).await;
    let receiver = Receiver::start().await;
    let a = client(&app, "a", Some(receiver.uri("a"))).await;
    let email = user(&app).await;
    let mut first = Browser::new(&app);
    let (sid, sub) = sid_and_sub(&sign_in(&mut first, &a, &email).await);

    // A second browser signs in: the first browser session ends (the cap).
    let mut second = Browser::new(&app);
    let (newer, _) = sid_and_sub(&sign_in(&mut second, &a, &email).await);
    let got = receiver.wait_for("a", 1).await;
    says(
        &verified(&app, &got[0].logout_token(), &a.id).await,
        &sub,
        &sid,
    );
    nothing_more(&receiver, "a", 1).await;
    assert_ne!(newer, sid, "the new sign-in is not told");
}

async fn a_bad_backchannel_logout_uri_is_refused_at_registration(backend: Backend) {
    let app = spawn_app(backend).await;
    let production = Policy { development: false };
    for bad in [
        "http://rp.example.com/backchannel",
        "https://rp.example.com/backchannel#fragment",
        "rp.example.com/backchannel",
    ] {
        let spec = authd::clients::ClientSpec {
            kind: authd::clients::ClientKind::Confidential,
            redirect_uris: vec!["https://rp.example.com/cb".into()],
            backchannel_logout_uri: Some(bad.into()),
            ..authd::clients::ClientSpec::machine("rp", "openid")
        };
        let refused = authd::clients::register(app.store(), spec, production, app.now()).await;
        assert!(
            matches!(
                refused
                    .as_ref()
                    .map_err(|e| e.downcast_ref::<ClientError>()),
                Err(Some(ClientError::BackchannelLogoutUri { .. }))
            ),
            "{bad}: {refused:?}"
        );
    }
    // A machine client signs nobody in: it takes none.
    let spec = authd::clients::ClientSpec {
        backchannel_logout_uri: Some("https://rp.example.com/bc".into()),
        ..authd::clients::ClientSpec::machine("svc", "")
    };
    assert!(
        authd::clients::register(app.store(), spec, production, app.now())
            .await
            .is_err()
    );
    // A change is checked the same way, and nothing is stored.
    let receiver = Receiver::start().await;
    let ok = client(&app, "ok", Some(receiver.uri("ok"))).await;
    let changes = ClientChanges {
        backchannel_logout_uri: Some(Some("http://rp.example.com/bc".into())),
        ..ClientChanges::default()
    };
    assert!(
        authd::clients::update(app.store(), &ok.id, changes, production)
            .await
            .is_err()
    );
    let stored = authd::clients::find(app.store(), &ok.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.backchannel_logout_uri, Some(receiver.uri("ok")));
    assert!(stored.backchannel_logout_session_required);
}

/// `authd clients create|update` take the URI and the flag, print them, and
/// refuse a bad URI.
#[test]
fn the_cli_sets_and_removes_the_backchannel_logout_uri() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("authd.db").display());
    let authd = |args: &[&str]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_authd"))
            .args(args)
            .env("AUTHD__DATA_DIR", dir.path().join("data"))
            .env("AUTHD__DATABASE__URL", &db)
            .env_remove("AUTHD_CONFIG")
            .output()
            .unwrap();
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        (
            output.status.success(),
            text(&output.stdout),
            text(&output.stderr),
        )
    };
    let field = |out: &str, name: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.trim_start().strip_prefix('='))
            .map(|v| v.trim().to_owned())
    };
    let create = |uri: &str| {
        authd(&[
            "clients",
            "create",
            "--kind",
            "confidential",
            "--name",
            "Web shop",
            "--scope",
            "openid",
            "--redirect-uri",
            "https://shop.example.com/cb",
            "--backchannel-logout-uri",
            uri,
            "--backchannel-logout-session-required",
        ])
    };
    let (ok, _, err) = create("http://shop.example.com/bc");
    assert!(!ok && err.contains("backchannel_logout_uri"), "{err}");
    let (ok, _, err) = create("https://shop.example.com/bc#x");
    assert!(!ok && err.contains("fragment"), "{err}");

    let (ok, out, err) = create("https://shop.example.com/bc");
    assert!(ok, "{err}");
    let id = field(&out, "client_id").unwrap();
    let uri = field(&out, "backchannel_logout_uri");
    assert_eq!(uri.as_deref(), Some("https://shop.example.com/bc"), "{out}");
    let required = field(&out, "backchannel_logout_session_required");
    assert_eq!(required.as_deref(), Some("true"), "{out}");

    let (ok, out, err) = authd(&["clients", "update", &id, "--backchannel-logout-uri", "none"]);
    assert!(ok, "{err}");
    assert_eq!(field(&out, "backchannel_logout_uri"), None, "{out}");
}
