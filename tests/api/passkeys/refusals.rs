//! What a passkey must refuse, each with a test that fails without the
//! refusal: another user's passkey on a sign-in challenge, a wrong origin,
//! a wrong relying-party id, a replayed or expired ceremony, user
//! verification missing for a passwordless sign-in, a ceremony of one kind
//! presented as another, adding a passkey without step-up once a factor
//! exists; and passkeys off when no relying party can be derived.

use serde_json::json;
use webauthn_authenticator_rs::AuthenticatorBackend;
use webauthn_authenticator_rs::prelude::Url;
use webauthn_rs::prelude::CreationChallengeResponse;

use super::{
    Device, finish_passwordless, mfa_options, origin, passkey_challenge, passwordless_options,
    spawn, stepped_up, user_with_passkey, verify_passkey,
};
use crate::helpers::{Backend, Reply, spawn_app};
use crate::mfa::post_bearer;

crate::on_both_stores!(
    another_users_passkey_is_refused_counted_and_its_ceremony_spent,
    a_wrong_origin_is_refused,
    a_wrong_relying_party_id_is_refused,
    a_replayed_or_expired_ceremony_is_refused,
    a_passwordless_sign_in_without_user_verification_is_refused,
    a_ceremony_of_one_kind_is_refused_as_another,
    adding_a_passkey_needs_step_up_once_a_factor_exists,
    passkeys_are_off_without_a_relying_party,
);

fn refused(reply: &Reply, status: u16, code: &str) {
    assert_eq!(reply.status, status, "{}", reply.text);
    assert_eq!(reply.error(), code, "{}", reply.text);
    assert!(reply.body.get("access_token").is_none(), "{}", reply.text);
}

fn evil_origin() -> Url {
    Url::parse("http://evil.localhost").unwrap()
}

async fn another_users_passkey_is_refused_counted_and_its_ceremony_spent(backend: Backend) {
    let app = spawn(backend).await;
    let (_, _, mut mallory) = user_with_passkey(&app).await;
    let (victim, _, mut device) = user_with_passkey(&app).await;
    let challenge = passkey_challenge(&app, &victim).await;
    let (ceremony, options) = mfa_options(&app, &challenge).await;
    // Mallory's authenticator answers the victim's options with her own
    // passkey: a valid assertion, of a passkey that is not the victim's.
    let forged = mallory.assert(&options, &origin(), false);
    let reply = verify_passkey(&app, &challenge, &ceremony, &forged).await;
    refused(&reply, 401, "invalid_passkey");
    let user = app.user_id(&victim).await;
    assert!(
        app.audit_kinds(user)
            .await
            .contains(&"login_failed".to_owned()),
        "counted as a failed login"
    );
    // The ceremony was worth that one try; the challenge is still live.
    let right = device.assert(&options, &origin(), false);
    let reply = verify_passkey(&app, &challenge, &ceremony, &right).await;
    refused(&reply, 401, "invalid_ceremony");
    // A ceremony made for another challenge does not answer this one.
    let other_challenge = passkey_challenge(&app, &victim).await;
    let (other_ceremony, other_options) = mfa_options(&app, &other_challenge).await;
    let right = device.assert(&other_options, &origin(), false);
    let reply = verify_passkey(&app, &challenge, &other_ceremony, &right).await;
    refused(&reply, 401, "invalid_ceremony");
    // With a ceremony of its own, the victim's passkey answers the challenge.
    let (ceremony, options) = mfa_options(&app, &challenge).await;
    let right = device.assert(&options, &origin(), false);
    let reply = verify_passkey(&app, &challenge, &ceremony, &right).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
}

async fn a_wrong_origin_is_refused(backend: Backend) {
    let app = spawn(backend).await;
    let (email, access, mut device) = user_with_passkey(&app).await;
    // Passwordless, from an origin the relying party does not list.
    let (ceremony, options) = passwordless_options(&app).await;
    let credential = device.assert(&options, &evil_origin(), true);
    let reply = finish_passwordless(&app, &ceremony, &credential).await;
    refused(&reply, 401, "invalid_passkey");
    // As a second factor.
    let challenge = passkey_challenge(&app, &email).await;
    let (ceremony, options) = mfa_options(&app, &challenge).await;
    let credential = device.assert(&options, &evil_origin(), true);
    let reply = verify_passkey(&app, &challenge, &ceremony, &credential).await;
    refused(&reply, 401, "invalid_passkey");
    // A registration: the step-up first (the user has a factor).
    let fresh = stepped_up(&app, &email, &mut device).await;
    let started = post_bearer(&app, "/auth/passkeys/register/start", &fresh, &json!({})).await;
    assert_eq!(started.status, 200, "{}", started.text);
    let options: CreationChallengeResponse =
        serde_json::from_value(started.body["options"].clone()).unwrap();
    let mut other = Device::new();
    let credential = AuthenticatorBackend::perform_register(
        &mut other.key,
        evil_origin(),
        options.public_key,
        60_000,
    )
    .unwrap();
    let reply = post_bearer(
        &app,
        "/auth/passkeys/register/finish",
        &fresh,
        &json!({ "ceremony": started.body["ceremony"], "credential": credential }),
    )
    .await;
    refused(&reply, 400, "invalid_passkey");
    let listed = app.get_bearer("/auth/passkeys", &access).await;
    assert_eq!(
        listed.body["passkeys"].as_array().unwrap().len(),
        1,
        "{}",
        listed.text
    );
}

async fn a_wrong_relying_party_id_is_refused(backend: Backend) {
    let app = spawn(backend).await;
    let (email, _, mut device) = user_with_passkey(&app).await;
    // The authenticator signs for another relying party's id.
    let (ceremony, mut options) = passwordless_options(&app).await;
    options["publicKey"]["rpId"] = json!("evil.example");
    let credential = device.assert(&options, &origin(), true);
    let reply = finish_passwordless(&app, &ceremony, &credential).await;
    refused(&reply, 401, "invalid_passkey");
    let challenge = passkey_challenge(&app, &email).await;
    let (ceremony, mut options) = mfa_options(&app, &challenge).await;
    options["publicKey"]["rpId"] = json!("evil.example");
    let credential = device.assert(&options, &origin(), true);
    let reply = verify_passkey(&app, &challenge, &ceremony, &credential).await;
    refused(&reply, 401, "invalid_passkey");
}

async fn a_replayed_or_expired_ceremony_is_refused(backend: Backend) {
    let app = spawn(backend).await;
    let (_, _, mut device) = user_with_passkey(&app).await;
    let (ceremony, options) = passwordless_options(&app).await;
    let credential = device.assert(&options, &origin(), false);
    let reply = finish_passwordless(&app, &ceremony, &credential).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let replayed = finish_passwordless(&app, &ceremony, &credential).await;
    refused(&replayed, 401, "invalid_ceremony");
    // A ceremony lasts five minutes.
    let (ceremony, options) = passwordless_options(&app).await;
    let credential = device.assert(&options, &origin(), false);
    app.advance(301);
    let late = finish_passwordless(&app, &ceremony, &credential).await;
    refused(&late, 401, "invalid_ceremony");
    let unknown = finish_passwordless(&app, "no-such-ceremony", &credential).await;
    refused(&unknown, 401, "invalid_ceremony");
}

async fn a_passwordless_sign_in_without_user_verification_is_refused(backend: Backend) {
    let app = spawn(backend).await;
    let (_, _, mut device) = user_with_passkey(&app).await;
    // The client asks the authenticator for no user verification: the
    // assertion comes without the UV flag.
    let (ceremony, mut options) = passwordless_options(&app).await;
    options["publicKey"]["userVerification"] = json!("discouraged");
    let credential = device.assert(&options, &origin(), false);
    let reply = finish_passwordless(&app, &ceremony, &credential).await;
    refused(&reply, 401, "invalid_passkey");
    // The same passkey with user verification signs in.
    let (ceremony, options) = passwordless_options(&app).await;
    let credential = device.assert(&options, &origin(), false);
    let reply = finish_passwordless(&app, &ceremony, &credential).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
}

async fn a_ceremony_of_one_kind_is_refused_as_another(backend: Backend) {
    let app = spawn(backend).await;
    let (email, _, mut device) = user_with_passkey(&app).await;
    let fresh = stepped_up(&app, &email, &mut device).await;
    // A registration's ceremony presented at a passwordless sign-in.
    let started = post_bearer(&app, "/auth/passkeys/register/start", &fresh, &json!({})).await;
    assert_eq!(started.status, 200, "{}", started.text);
    let registration = started.body["ceremony"].as_str().unwrap().to_owned();
    let (_, options) = passwordless_options(&app).await;
    let credential = device.assert(&options, &origin(), false);
    let reply = finish_passwordless(&app, &registration, &credential).await;
    refused(&reply, 401, "invalid_ceremony");
    // A second factor's ceremony at a passwordless sign-in, and a
    // passwordless one as a second factor.
    let challenge = passkey_challenge(&app, &email).await;
    let (second, options) = mfa_options(&app, &challenge).await;
    let credential = device.assert(&options, &origin(), false);
    let reply = finish_passwordless(&app, &second, &credential).await;
    refused(&reply, 401, "invalid_ceremony");
    let (passwordless, options) = passwordless_options(&app).await;
    let credential = device.assert(&options, &origin(), false);
    let reply = verify_passkey(&app, &challenge, &passwordless, &credential).await;
    refused(&reply, 401, "invalid_ceremony");
}

async fn adding_a_passkey_needs_step_up_once_a_factor_exists(backend: Backend) {
    let app = spawn(backend).await;
    let (email, password_only, mut device) = user_with_passkey(&app).await;
    let reply = post_bearer(
        &app,
        "/auth/passkeys/register/start",
        &password_only,
        &json!({}),
    )
    .await;
    refused(&reply, 401, "insufficient_user_authentication");
    // Signed in with the passkey, the user adds a second one: no new
    // recovery codes (not the first factor).
    let fresh = stepped_up(&app, &email, &mut device).await;
    let mut second = Device::new();
    let registered = second.register(&app, &fresh).await;
    assert_eq!(registered.status, 200, "{}", registered.text);
    assert!(
        registered.body.get("recovery_codes").is_none(),
        "{}",
        registered.text
    );
    let listed = app.get_bearer("/auth/passkeys", &fresh).await;
    assert_eq!(
        listed.body["passkeys"].as_array().unwrap().len(),
        2,
        "{}",
        listed.text
    );
}

async fn passkeys_are_off_without_a_relying_party(backend: Backend) {
    // The tests' issuer is plain http to a host other than localhost.
    let app = spawn_app(backend).await;
    let reply = app.post_json("/auth/passkey/start", &json!({})).await;
    refused(&reply, 404, "not_enabled");
    let (_, tokens) = app.user_with_tokens().await;
    let reply = post_bearer(
        &app,
        "/auth/passkeys/register/start",
        &tokens.access,
        &json!({}),
    )
    .await;
    refused(&reply, 404, "not_enabled");
}
