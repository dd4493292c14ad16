//! Passkeys (WebAuthn), on both stores, with a software authenticator
//! written by others (webauthn-authenticator-rs's SoftPasskey): registration
//! with recovery codes on the first factor, the list, a name, removal (with
//! step-up and the password), a passkey as the second factor after a
//! password, a passwordless sign-in, and the operator's removal of every
//! factor taking the passkeys too. Every refusal is in
//! `passkeys/refusals.rs`.

mod refusals;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use webauthn_authenticator_rs::AuthenticatorBackend;
use webauthn_authenticator_rs::prelude::{Url, WebauthnAuthenticator};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs::prelude::{CreationChallengeResponse, RequestChallengeResponse};

use crate::helpers::{Backend, PASSWORD, Reply, TestApp, jwt_claims, spawn_app_with};
use crate::mfa::post_bearer;
use crate::on_both_stores;

on_both_stores!(
    a_user_registers_lists_renames_and_removes_a_passkey,
    a_password_then_a_passkey_signs_in_with_mfa,
    a_passkey_alone_signs_in,
    the_operators_removal_takes_the_passkeys_too,
);

/// The origin the tests' relying party allows (`webauthn.origins`).
pub(crate) const ORIGIN: &str = "http://localhost";

/// An app whose relying party is `localhost` (the tests' issuer,
/// `http://authd.test`, leaves passkeys off).
pub(crate) async fn spawn(backend: Backend) -> TestApp {
    spawn_app_with(backend, |s| {
        s.webauthn.rp_id = Some("localhost".into());
        s.webauthn.origins = vec![ORIGIN.into()];
    })
    .await
}

pub(crate) fn origin() -> Url {
    Url::parse(ORIGIN).unwrap()
}

/// A software authenticator and the credential id it registered last. It
/// claims user verification when asked (SoftPasskey's `falsify_uv`): a test
/// withholds it by asking for none.
pub(crate) struct Device {
    pub key: SoftPasskey,
    pub credential_id: Vec<u8>,
}

impl Device {
    pub fn new() -> Self {
        Self {
            key: SoftPasskey::new(true),
            credential_id: Vec::new(),
        }
    }

    /// Registers a passkey for the user of `access`: the finish's reply.
    pub async fn register(&mut self, app: &TestApp, access: &str) -> Reply {
        let started = post_bearer(app, "/auth/passkeys/register/start", access, &json!({})).await;
        assert_eq!(started.status, 200, "{}", started.text);
        let options: CreationChallengeResponse =
            serde_json::from_value(started.body["options"].clone()).unwrap();
        let credential = self.key.do_registration(origin(), options).unwrap();
        self.credential_id = credential.raw_id.clone();
        post_bearer(
            app,
            "/auth/passkeys/register/finish",
            access,
            &json!({
                "ceremony": started.body["ceremony"],
                "credential": credential,
            }),
        )
        .await
    }

    /// The authenticator's assertion for `options`, from `origin`, made the
    /// way a browser would (with its checks) unless `raw`: then straight
    /// from the authenticator, so a test can present what no browser would.
    /// The allow-list names this device's passkey (SoftPasskey cannot
    /// discover one by itself).
    pub fn assert(&mut self, options: &Value, origin: &Url, raw: bool) -> Value {
        let mut options = options.clone();
        options["publicKey"]["allowCredentials"] = json!([{
            "type": "public-key",
            "id": URL_SAFE_NO_PAD.encode(&self.credential_id),
        }]);
        self.assert_as_is(&options, origin, raw)
    }

    /// As [`Self::assert`], with `options` as they are (a test's changes).
    pub fn assert_as_is(&mut self, options: &Value, origin: &Url, raw: bool) -> Value {
        let options: RequestChallengeResponse = serde_json::from_value(options.clone()).unwrap();
        let credential = if raw {
            AuthenticatorBackend::perform_auth(
                &mut self.key,
                origin.clone(),
                options.public_key,
                60_000,
            )
            .unwrap()
        } else {
            self.key.do_authentication(origin.clone(), options).unwrap()
        };
        serde_json::to_value(credential).unwrap()
    }
}

/// A new user with tokens and a registered passkey (its first factor).
pub(crate) async fn user_with_passkey(app: &TestApp) -> (String, String, Device) {
    let (email, tokens) = app.user_with_tokens().await;
    let mut device = Device::new();
    let registered = device.register(app, &tokens.access).await;
    assert_eq!(registered.status, 200, "{}", registered.text);
    (email, tokens.access, device)
}

/// A login with the password: its challenge, whose factors list `passkey`.
pub(crate) async fn passkey_challenge(app: &TestApp, email: &str) -> String {
    let reply = app
        .post_json(
            "/auth/login",
            &json!({ "email": email, "password": PASSWORD, "token_delivery": "body" }),
        )
        .await;
    assert_eq!(reply.status, 401, "{}", reply.text);
    assert_eq!(reply.error(), "mfa_required", "{}", reply.text);
    assert_eq!(
        reply.body["factors"],
        json!(["totp", "recovery_code", "passkey"])
    );
    reply.body["mfa_challenge"].as_str().unwrap().to_owned()
}

/// The ceremony and options of a passkey answering `challenge`.
pub(crate) async fn mfa_options(app: &TestApp, challenge: &str) -> (String, Value) {
    let reply = app
        .post_json("/auth/mfa/passkey", &json!({ "challenge": challenge }))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    ceremony_of(&reply)
}

pub(crate) fn ceremony_of(reply: &Reply) -> (String, Value) {
    assert_eq!(reply.body["expires_in"], 300, "{}", reply.text);
    (
        reply.body["ceremony"].as_str().unwrap().to_owned(),
        reply.body["options"].clone(),
    )
}

pub(crate) async fn verify_passkey(
    app: &TestApp,
    challenge: &str,
    ceremony: &str,
    credential: &Value,
) -> Reply {
    app.post_json(
        "/auth/mfa/verify",
        &json!({
            "challenge": challenge,
            "passkey": { "ceremony": ceremony, "credential": credential },
            "token_delivery": "body",
        }),
    )
    .await
}

/// The ceremony and options of a passwordless sign-in.
pub(crate) async fn passwordless_options(app: &TestApp) -> (String, Value) {
    let reply = app.post_json("/auth/passkey/start", &json!({})).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    ceremony_of(&reply)
}

pub(crate) async fn finish_passwordless(
    app: &TestApp,
    ceremony: &str,
    credential: &Value,
) -> Reply {
    app.post_json(
        "/auth/passkey/finish",
        &json!({ "ceremony": ceremony, "credential": credential, "token_delivery": "body" }),
    )
    .await
}

/// A session of the user signed in with password and passkey now, as a
/// sensitive change needs (step-up).
pub(crate) async fn stepped_up(app: &TestApp, email: &str, device: &mut Device) -> String {
    let challenge = passkey_challenge(app, email).await;
    let (ceremony, options) = mfa_options(app, &challenge).await;
    let credential = device.assert(&options, &origin(), false);
    let reply = verify_passkey(app, &challenge, &ceremony, &credential).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.access_token()
}

async fn a_user_registers_lists_renames_and_removes_a_passkey(backend: Backend) {
    let app = spawn(backend).await;
    let (email, tokens) = app.user_with_tokens().await;
    let mut device = Device::new();
    let registered = device.register(&app, &tokens.access).await;
    assert_eq!(registered.status, 200, "{}", registered.text);
    assert_eq!(registered.body["name"], "Passkey");
    let codes = registered.body["recovery_codes"].as_array().unwrap();
    assert_eq!(codes.len(), 10, "the first factor brings recovery codes");
    let id = registered.body["id"].as_str().unwrap().to_owned();
    let user = app.user_id(&email).await;
    assert!(
        app.audit_kinds(user)
            .await
            .contains(&"factor_added".to_owned())
    );

    let status = app.get_bearer("/auth/mfa", &tokens.access).await;
    assert_eq!(status.body["passkeys"], 1, "{}", status.text);
    assert_eq!(status.body["recovery_codes_left"], 10, "{}", status.text);

    let renamed = app
        .send(
            app.client
                .patch(app.url(&format!("/auth/passkeys/{id}")))
                .bearer_auth(&tokens.access)
                .json(&json!({ "name": "  Work laptop " })),
        )
        .await;
    assert_eq!(renamed.status, 204, "{}", renamed.text);
    for bad in ["", "x\u{7}y", &"n".repeat(65)] {
        let refused = app
            .send(
                app.client
                    .patch(app.url(&format!("/auth/passkeys/{id}")))
                    .bearer_auth(&tokens.access)
                    .json(&json!({ "name": bad })),
            )
            .await;
        assert_eq!(refused.status, 400, "{bad:?}: {}", refused.text);
        assert_eq!(refused.error(), "invalid_request");
    }
    let listed = app.get_bearer("/auth/passkeys", &tokens.access).await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    let passkeys = listed.body["passkeys"].as_array().unwrap();
    assert_eq!(passkeys.len(), 1);
    assert_eq!(passkeys[0]["id"], id.as_str());
    assert_eq!(passkeys[0]["name"], "Work laptop");
    assert!(passkeys[0].get("last_used_at").is_none(), "never used yet");

    // Removal is a sensitive change: the session signed in with the password
    // alone (before the factor) may not; one signed in with the passkey may,
    // with the password.
    let delete = |access: String, password: &'static str| {
        app.client
            .delete(app.url(&format!("/auth/passkeys/{id}")))
            .bearer_auth(access)
            .json(&json!({ "password": password }))
    };
    let stale = app.send(delete(tokens.access.clone(), PASSWORD)).await;
    assert_eq!(stale.status, 401, "{}", stale.text);
    assert_eq!(stale.error(), "insufficient_user_authentication");
    let fresh = stepped_up(&app, &email, &mut device).await;
    let listed = app.get_bearer("/auth/passkeys", &fresh).await;
    assert!(
        listed.body["passkeys"][0]["last_used_at"].is_string(),
        "{}",
        listed.text
    );
    let wrong = app
        .send(delete(fresh.clone(), "not the password at all"))
        .await;
    assert_eq!(wrong.status, 401, "{}", wrong.text);
    assert_eq!(wrong.error(), "invalid_credentials");
    let removed = app.send(delete(fresh.clone(), PASSWORD)).await;
    assert_eq!(removed.status, 204, "{}", removed.text);
    let again = app.send(delete(fresh.clone(), PASSWORD)).await;
    assert_eq!(again.status, 404, "{}", again.text);

    let status = app.get_bearer("/auth/mfa", &fresh).await;
    assert_eq!(status.body["passkeys"], 0, "{}", status.text);
    assert_eq!(
        status.body["recovery_codes_left"], 0,
        "no factor left: the recovery codes went with it"
    );
    assert!(
        app.audit_kinds(user)
            .await
            .contains(&"factor_removed".to_owned())
    );
    // The password alone signs in again.
    let login = app
        .post_json(
            "/auth/login",
            &json!({ "email": email, "password": PASSWORD, "token_delivery": "body" }),
        )
        .await;
    assert_eq!(login.status, 200, "{}", login.text);
}

async fn a_password_then_a_passkey_signs_in_with_mfa(backend: Backend) {
    let app = spawn(backend).await;
    let (email, _, mut device) = user_with_passkey(&app).await;
    let challenge = passkey_challenge(&app, &email).await;
    let (ceremony, options) = mfa_options(&app, &challenge).await;
    assert_eq!(options["publicKey"]["userVerification"], "required");
    let allowed = options["publicKey"]["allowCredentials"].as_array().unwrap();
    assert_eq!(allowed.len(), 1, "the user's passkeys only");
    let credential = device.assert(&options, &origin(), false);
    let reply = verify_passkey(&app, &challenge, &ceremony, &credential).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let claims = jwt_claims(&reply.access_token());
    assert_eq!(claims["amr"], json!(["pwd", "swk", "mfa"]));
    assert_eq!(claims["acr"], "2");
    assert!(app.access_works(&reply.access_token()).await);
    // The same assertion again: its challenge and ceremony are spent.
    let again = verify_passkey(&app, &challenge, &ceremony, &credential).await;
    assert_eq!(again.status, 401, "{}", again.text);
    assert_eq!(again.error(), "invalid_mfa_challenge");
}

async fn a_passkey_alone_signs_in(backend: Backend) {
    let app = spawn(backend).await;
    let (email, _, mut device) = user_with_passkey(&app).await;
    let (ceremony, options) = passwordless_options(&app).await;
    assert_eq!(options["publicKey"]["userVerification"], "required");
    assert_eq!(options["mediation"], "conditional");
    assert!(
        options["publicKey"]
            .get("allowCredentials")
            .and_then(Value::as_array)
            .is_none_or(Vec::is_empty),
        "a discoverable assertion names no passkey: {options}"
    );
    let credential = device.assert(&options, &origin(), false);
    let reply = finish_passwordless(&app, &ceremony, &credential).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let claims = jwt_claims(&reply.access_token());
    assert_eq!(claims["amr"], json!(["swk", "mfa"]));
    assert_eq!(claims["acr"], "2");
    assert_eq!(claims["sub"], app.user_id(&email).await.to_string());
    // A second use of the same passkey (a new ceremony) works too: the
    // stored counter moved on with the first.
    let (ceremony, options) = passwordless_options(&app).await;
    let credential = device.assert(&options, &origin(), false);
    let reply = finish_passwordless(&app, &ceremony, &credential).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
}

async fn the_operators_removal_takes_the_passkeys_too(backend: Backend) {
    use authd::accounts::lost_factors::remove_every_factor;
    let app = spawn(backend).await;
    let (email, _, mut device) = user_with_passkey(&app).await;
    let address = authd::domain::Email::parse(&email).unwrap();
    let removed = remove_every_factor(app.services(), &address, authd::audit::Actor::CLI)
        .await
        .unwrap();
    assert!(
        removed.is_ok(),
        "a user with only a passkey has a factor to remove"
    );
    let login = app
        .post_json(
            "/auth/login",
            &json!({ "email": email, "password": PASSWORD, "token_delivery": "body" }),
        )
        .await;
    assert_eq!(login.status, 200, "the password alone: {}", login.text);
    // The passkey is gone: an unknown passkey signs no one in.
    let (ceremony, options) = passwordless_options(&app).await;
    let credential = device.assert(&options, &origin(), false);
    let reply = finish_passwordless(&app, &ceremony, &credential).await;
    assert_eq!(reply.status, 401, "{}", reply.text);
    assert_eq!(reply.error(), "invalid_passkey");
}
