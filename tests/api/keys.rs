//! Signing keys: the JWKS authd publishes, retired keys, every supported
//! algorithm, HS256 secrets, and the generated development key.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jsonwebtoken::{Algorithm, EncodingKey};
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use crate::access_tokens::{header_of, payload, sign};
use crate::helpers::{Backend, private_key, spawn_app_with, test_settings};
use crate::on_both_stores;

on_both_stores!(
    the_jwks_publishes_public_keys_with_cache_control_and_discovery_points_to_it,
    a_token_signed_with_a_retired_but_published_key_still_verifies,
    every_supported_algorithm_signs_tokens_that_authd_verifies,
    an_hs256_deployment_publishes_no_keys,
    signing_kids_add_id_token_algorithms_to_discovery_and_the_jwks,
    the_generated_development_key_is_written_once_with_mode_0600,
);

async fn the_jwks_publishes_public_keys_with_cache_control_and_discovery_points_to_it(
    backend: Backend,
) {
    let app = spawn_app_with(backend, |s| {
        s.jwt
            .keys
            .push(crate::helpers::hs256_key("hmac", &"s".repeat(32)));
        s.jwt.signing_kid = Some("test-rs256".into());
    })
    .await;
    let jwks = app.get("/.well-known/jwks.json").await;
    assert_eq!(jwks.status, 200);
    assert_eq!(jwks.header("cache-control"), Some("public, max-age=300"));
    let keys = jwks.body["keys"].as_array().unwrap();
    assert_eq!(
        keys.len(),
        1,
        "the HS256 secret is never published: {}",
        jwks.text
    );
    let key = &keys[0];
    assert_eq!(key["kid"], "test-rs256");
    assert_eq!(key["alg"], "RS256");
    assert_eq!(key["use"], "sig");
    assert_eq!(key["kty"], "RSA");
    assert!(
        key.get("d").is_none() && key.get("p").is_none(),
        "no private parts: {key}"
    );
    assert!(!jwks.text.contains(&B64.encode("s".repeat(32))));

    let discovery = app.get("/.well-known/openid-configuration").await;
    assert_eq!(discovery.status, 200);
    assert_eq!(discovery.body["issuer"], "http://authd.test");
    assert_eq!(
        discovery.body["jwks_uri"],
        "http://authd.test/.well-known/jwks.json"
    );
    assert!(
        discovery.body["token_endpoint"]
            .as_str()
            .unwrap()
            .starts_with("http://authd.test/")
    );
    // The HS256 key verifies, but never signs an ID token.
    assert_eq!(
        discovery.body["id_token_signing_alg_values_supported"],
        json!(["RS256"])
    );
    assert_eq!(
        discovery.body["userinfo_endpoint"],
        "http://authd.test/oauth/userinfo"
    );

    // A token verifies with nothing but the published key.
    let (_, tokens) = app.user_with_tokens().await;
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(key.clone()).unwrap();
    let mut validation = jsonwebtoken::Validation::new(Algorithm::RS256);
    validation.set_audience(&["authd"]);
    validation.set_issuer(&["http://authd.test"]);
    validation.validate_exp = false;
    let decoded = jsonwebtoken::decode::<Value>(
        &tokens.access,
        &jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap(),
        &validation,
    );
    assert!(decoded.is_ok(), "{decoded:?}");
}

async fn a_token_signed_with_a_retired_but_published_key_still_verifies(backend: Backend) {
    let old_pem = authd::keys::generate(Algorithm::ES256).unwrap();
    let old_public = {
        use aws_lc_rs::signature::KeyPair;
        let der = pem::parse(old_pem.expose_secret().as_bytes()).unwrap();
        let pair = aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            der.contents(),
        )
        .unwrap();
        use aws_lc_rs::encoding::AsDer;
        let spki = pair.public_key().as_der().unwrap();
        pem::encode(&pem::Pem::new("PUBLIC KEY", spki.as_ref().to_vec()))
    };
    let app = spawn_app_with(backend, |s| {
        s.jwt.keys.push(authd::config::KeySettings {
            public_key: Some(old_public.clone()),
            ..private_key("retired-es256", "ES256", "")
        });
        s.jwt.keys[1].private_key = None;
    })
    .await;
    let jwks = app.get("/.well-known/jwks.json").await;
    let kids: Vec<&str> = jwks.body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert!(
        kids.contains(&"retired-es256") && kids.contains(&"test-rs256"),
        "{kids:?}"
    );

    let (_, tokens) = app.user_with_tokens().await;
    assert_eq!(
        header_of(&tokens.access)["kid"],
        "test-rs256",
        "new tokens use the active key"
    );
    let claims = payload(&tokens.access);
    let old_key = EncodingKey::from_ec_pem(old_pem.expose_secret().as_bytes()).unwrap();
    let header = json!({ "alg": "ES256", "typ": "at+jwt", "kid": "retired-es256" });
    let signed_before_rotation = sign(&header, &claims, Algorithm::ES256, &old_key);
    assert!(
        app.access_works(&signed_before_rotation).await,
        "retired keys still verify"
    );

    // The same claims under the retired kid, signed by an unknown key: refused.
    let unknown = authd::keys::generate(Algorithm::ES256).unwrap();
    let unknown = EncodingKey::from_ec_pem(unknown.expose_secret().as_bytes()).unwrap();
    assert!(
        !app.access_works(&sign(&header, &claims, Algorithm::ES256, &unknown))
            .await
    );
    let header = json!({ "alg": "ES256", "typ": "at+jwt", "kid": "removed-key" });
    assert!(
        !app.access_works(&sign(&header, &claims, Algorithm::ES256, &old_key))
            .await
    );
}

async fn every_supported_algorithm_signs_tokens_that_authd_verifies(backend: Backend) {
    for (alg, jose, kty) in [
        (Algorithm::ES256, "ES256", "EC"),
        (Algorithm::EdDSA, "EdDSA", "OKP"),
        (Algorithm::RS256, "RS256", "RSA"),
    ] {
        let pem = authd::keys::generate(alg)
            .unwrap()
            .expose_secret()
            .to_owned();
        let app = spawn_app_with(backend, |s| {
            s.jwt.keys = vec![private_key("k1", jose, &pem)]
        })
        .await;
        let (_, tokens) = app.user_with_tokens().await;
        assert_eq!(header_of(&tokens.access)["alg"], jose);
        assert!(app.access_works(&tokens.access).await, "{jose}");
        let jwks = app.get("/.well-known/jwks.json").await;
        assert_eq!(jwks.body["keys"][0]["kty"], kty, "{jose}: {}", jwks.text);
        assert_eq!(jwks.body["keys"][0]["alg"], jose);
        let discovery = app.get("/.well-known/openid-configuration").await;
        assert_eq!(
            discovery.body["id_token_signing_alg_values_supported"],
            json!([jose])
        );
    }
}

async fn signing_kids_add_id_token_algorithms_to_discovery_and_the_jwks(backend: Backend) {
    let es = authd::keys::generate(Algorithm::ES256).unwrap();
    let ed = authd::keys::generate(Algorithm::EdDSA).unwrap();
    let app = spawn_app_with(backend, |s| {
        s.jwt
            .keys
            .push(private_key("es", "ES256", es.expose_secret()));
        s.jwt
            .keys
            .push(private_key("ed", "EdDSA", ed.expose_secret()));
        s.jwt.signing_kid = Some("es".into());
        s.jwt.signing_kids = vec!["test-rs256".into()];
    })
    .await;
    let discovery = app.get("/.well-known/openid-configuration").await;
    // EdDSA verifies and is published, but is no current signer.
    assert_eq!(
        discovery.body["id_token_signing_alg_values_supported"],
        json!(["ES256", "RS256"])
    );
    let jwks = app.get("/.well-known/jwks.json").await;
    let kids: Vec<&str> = jwks.body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids, ["ed", "es", "test-rs256"]);
    let (_, tokens) = app.user_with_tokens().await;
    assert_eq!(
        header_of(&tokens.access)["kid"],
        "es",
        "signing_kid signs access tokens"
    );
}

async fn an_hs256_deployment_publishes_no_keys(backend: Backend) {
    let secret = "0123456789abcdef0123456789abcdef";
    let app = spawn_app_with(backend, |s| {
        s.jwt.keys = vec![crate::helpers::hs256_key("h1", secret)]
    })
    .await;
    let (_, tokens) = app.user_with_tokens().await;
    assert_eq!(header_of(&tokens.access)["alg"], "HS256");
    assert!(app.access_works(&tokens.access).await);
    let jwks = app.get("/.well-known/jwks.json").await;
    assert_eq!(jwks.body, json!({ "keys": [] }));
    // ID tokens are never signed with a shared secret.
    let discovery = app.get("/.well-known/openid-configuration").await;
    assert_eq!(
        discovery.body["id_token_signing_alg_values_supported"],
        json!([])
    );
    // A token signed with another secret under the same kid is refused.
    let forged = sign(
        &header_of(&tokens.access),
        &payload(&tokens.access),
        Algorithm::HS256,
        &EncodingKey::from_secret(b"fedcba9876543210fedcba9876543210"),
    );
    assert!(!app.access_works(&forged).await);
}

async fn the_generated_development_key_is_written_once_with_mode_0600(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let app = spawn_app_with(backend, |s| {
        s.jwt.keys.clear();
        s.data_dir = data.clone();
    })
    .await;
    let key_file = data.join(authd::keys::GENERATED_KEY_FILE);
    let refresh_file = data.join(authd::keys::GENERATED_REFRESH_KEY_FILE);
    #[cfg(unix)]
    for file in [&key_file, &refresh_file] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{}", file.display());
    }
    let (_, tokens) = app.user_with_tokens().await;
    let kid = header_of(&tokens.access)["kid"].clone();
    // Development signs RS256 ID tokens with it, which every relying party takes.
    let discovery = app.get("/.well-known/openid-configuration").await;
    assert_eq!(
        discovery.body["id_token_signing_alg_values_supported"],
        json!(["RS256"])
    );
    let first_pem = std::fs::read(&key_file).unwrap();
    drop(app);

    // A restart reuses the key: earlier tokens keep verifying.
    let again = spawn_app_with(backend, |s| {
        s.jwt.keys.clear();
        s.data_dir = data.clone();
    })
    .await;
    assert_eq!(std::fs::read(&key_file).unwrap(), first_pem);
    let (_, tokens) = again.user_with_tokens().await;
    assert_eq!(header_of(&tokens.access)["kid"], kid);
}

#[test]
fn a_short_hs256_secret_is_refused_with_a_message_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = test_settings(dir.path());
    settings.jwt.keys = vec![crate::helpers::hs256_key(
        "short",
        "only-31-bytes-long-secret-12345",
    )];
    let error = match authd::keys::KeySet::load(&settings) {
        Ok(_) => panic!("a 31-byte HS256 secret must be refused"),
        Err(e) => e.to_string(),
    };
    assert!(error.contains("jwt.keys[0]"), "{error}");
    assert!(error.contains("at least 32 bytes"), "{error}");

    settings.jwt.keys = vec![crate::helpers::hs256_key(
        "ok",
        "exactly-32-bytes-long-secret-123",
    )];
    assert!(authd::keys::KeySet::load(&settings).is_ok());
}

#[test]
fn a_key_file_over_64_kib_is_refused_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.pem");
    std::fs::write(&big, vec![b'a'; 64 * 1024 + 1]).unwrap();
    let mut settings = test_settings(dir.path());
    for field in ["secret_file", "private_key_file", "public_key_file"] {
        let mut key = private_key("big", "RS256", "");
        key.private_key = None;
        match field {
            "secret_file" => key.secret_file = Some(big.clone()),
            "private_key_file" => key.private_key_file = Some(big.clone()),
            _ => key.public_key_file = Some(big.clone()),
        }
        settings.jwt.keys = vec![key];
        let error = match authd::keys::KeySet::load(&settings) {
            Ok(_) => panic!("a {field} over 64 KiB must be refused"),
            Err(e) => e.to_string(),
        };
        assert!(
            error.contains(&format!("jwt.keys[0].{field}")) && error.contains("larger than 64 KiB"),
            "{field}: {error}"
        );
    }
}

#[test]
fn the_server_refuses_to_start_with_a_short_hs256_secret() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("authd.toml");
    std::fs::write(
        &config,
        "[[jwt.keys]]\nkid = \"short\"\nalg = \"HS256\"\nsecret = \"too-short\"\n",
    )
    .unwrap();
    let serve = std::process::Command::new(env!("CARGO_BIN_EXE_authd"))
        .arg("--config")
        .arg(&config)
        .arg("serve")
        .env("AUTHD__DATA_DIR", dir.path().join("data"))
        .env("AUTHD__SERVER__PORT", "0")
        .env(
            "AUTHD__DATABASE__URL",
            format!("sqlite://{}", dir.path().join("a.db").display()),
        )
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&serve.stderr);
    assert!(!serve.status.success(), "{stderr}");
    assert!(
        stderr.contains("at least 32 bytes") && stderr.contains("jwt.keys[0]"),
        "{stderr}"
    );
}
