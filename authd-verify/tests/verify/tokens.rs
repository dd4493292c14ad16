//! Each check of a token, accepted or refused for the reason it names.

use authd_verify::{Verifier, VerifyError};
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::json;

use crate::helpers::{FakeAuthd, TestKey, at, now, service_claims, sign_raw, user_claims};

const SID: &str = "0190a0d4-7c1e-7b31-9a52-2f6f0c8d9e20";

async fn rs256_setup() -> (TestKey, FakeAuthd, Verifier) {
    let key = TestKey::rs256("k1");
    let authd = FakeAuthd::start(&[&key]).await;
    let verifier = authd.verifier().await;
    (key, authd, verifier)
}

#[tokio::test]
async fn a_good_user_token_is_accepted_with_its_claims_typed() {
    let (key, authd, verifier) = rs256_setup().await;
    let mut claims = user_claims(&authd.issuer, SID);
    claims["future_claim"] = json!({"nested": true});

    let verified = verifier.verify(&key.token(&claims)).await.unwrap();

    assert_eq!(verified.sub, "0190a0d4-7c1e-7b31-9a52-2f6f0c8d9e10");
    assert_eq!(verified.sid.as_deref(), Some(SID));
    assert_eq!(verified.client_id, "authd");
    assert_eq!(verified.iss, authd.issuer);
    assert_eq!(verified.exp, claims["exp"].as_i64().unwrap());
    assert_eq!(verified.iat, claims["iat"].as_i64().unwrap());
    assert_eq!(verified.jti, "0190a0d4-7c1e-7b31-9a52-2f6f0c8d9e11");
    assert_eq!(verified.scope, None);
    assert!(verified.is_user());
    assert_eq!(verified.raw["future_claim"], json!({"nested": true}));
    assert!(verified.amr.is_empty(), "no amr: an empty list");
}

#[tokio::test]
async fn a_user_token_an_app_obtained_names_the_app_and_its_scopes() {
    let (key, authd, verifier) = rs256_setup().await;
    let mut claims = user_claims(&authd.issuer, SID);
    claims["client_id"] = json!("app-1");
    claims["scope"] = json!("openid email");
    claims["amr"] = json!(["pwd"]);

    let verified = verifier.verify(&key.token(&claims)).await.unwrap();

    assert!(verified.is_user());
    assert_eq!(verified.client_id, "app-1");
    assert!(verified.has_scope("email") && verified.has_scope("openid"));
    assert!(!verified.has_scope("profile"));
    assert_eq!(verified.sid.as_deref(), Some(SID));
}

#[tokio::test]
async fn amr_is_read_as_a_list_of_methods_and_refused_in_any_other_shape() {
    let (key, authd, verifier) = rs256_setup().await;
    let mut claims = user_claims(&authd.issuer, SID);
    claims["amr"] = json!(["otp"]);

    let verified = verifier.verify(&key.token(&claims)).await.unwrap();
    assert_eq!(verified.amr, ["otp"]);
    assert!(verified.has_amr("otp"));
    assert!(!verified.has_amr("pwd"));

    assert!(!verified.has_second_factor());
    claims["amr"] = json!(["pwd", "otp", "mfa"]);
    claims["acr"] = json!("2");
    let verified = verifier.verify(&key.token(&claims)).await.unwrap();
    assert!(verified.has_second_factor());
    assert_eq!(verified.acr.as_deref(), Some("2"));
    claims["acr"] = json!("1");
    let verified = verifier.verify(&key.token(&claims)).await.unwrap();
    assert!(!verified.has_second_factor(), "acr 1 is one factor");
    claims["acr"] = json!(2);
    assert!(matches!(
        verifier.verify(&key.token(&claims)).await,
        Err(VerifyError::InvalidClaim("acr"))
    ));
    claims["acr"] = json!("2");
    claims["amr"] = json!(["otp"]);

    for bad in [json!("otp"), json!([1]), json!({"otp": true})] {
        claims["amr"] = bad.clone();
        assert!(
            matches!(
                verifier.verify(&key.token(&claims)).await,
                Err(VerifyError::InvalidClaim("amr"))
            ),
            "amr {bad} must be refused"
        );
    }
}

#[tokio::test]
async fn es256_and_eddsa_tokens_are_accepted_from_the_same_jwks() {
    let es = TestKey::es256("ec");
    let ed = TestKey::eddsa("ed");
    let authd = FakeAuthd::start(&[&es, &ed]).await;
    let verifier = authd.verifier().await;
    let claims = user_claims(&authd.issuer, SID);

    assert!(verifier.verify(&es.token(&claims)).await.is_ok());
    assert!(verifier.verify(&ed.token(&claims)).await.is_ok());
}

#[tokio::test]
async fn a_client_credentials_token_has_no_sid_and_answers_scope_questions() {
    let (key, authd, verifier) = rs256_setup().await;
    let token = key.token(&service_claims(&authd.issuer, "reports:read  orders:write"));

    let claims = verifier.verify(&token).await.unwrap();

    assert_eq!(claims.sub, "client_0f3a");
    assert_eq!(claims.sid, None);
    assert!(!claims.is_user());
    assert!(claims.has_scope("reports:read"));
    assert!(claims.has_scope("orders:write"));
    assert!(!claims.has_scope("reports"));
    assert_eq!(
        claims.scopes().collect::<Vec<_>>(),
        ["reports:read", "orders:write"]
    );
}

#[tokio::test]
async fn hs256_tokens_verify_with_the_configured_secret_only() {
    let secret = b"0123456789abcdef0123456789abcdef".to_vec();
    let authd = FakeAuthd::start(&[]).await;
    let verifier = authd
        .builder()
        .without_jwks()
        .hs256_secret("hs", secret.clone())
        .build()
        .await
        .unwrap();
    let header = json!({"alg": "HS256", "typ": "at+jwt", "kid": "hs"});
    let claims = user_claims(&authd.issuer, SID);

    let good = sign_raw(
        &header,
        &claims,
        &EncodingKey::from_secret(&secret),
        Algorithm::HS256,
    );
    let other = EncodingKey::from_secret(b"another secret of thirty-two bytes!");
    let forged = sign_raw(&header, &claims, &other, Algorithm::HS256);

    assert!(verifier.verify(&good).await.is_ok());
    assert_eq!(
        verifier.verify(&forged).await,
        Err(VerifyError::InvalidSignature)
    );
    assert_eq!(authd.jwks_fetches(), 0, "without_jwks must not fetch keys");
}

#[tokio::test]
async fn a_short_hs256_secret_is_refused_at_build() {
    let authd = FakeAuthd::start(&[]).await;
    let result = authd
        .builder()
        .without_jwks()
        .hs256_secret("hs", "short")
        .build()
        .await;
    assert!(matches!(result, Err(authd_verify::BuildError::Config(_))));
}

#[tokio::test]
async fn a_token_from_another_issuer_is_refused_as_wrong_issuer() {
    let (key, authd, verifier) = rs256_setup().await;
    let mut claims = user_claims(&authd.issuer, SID);
    claims["iss"] = json!("https://evil.example");
    assert_eq!(
        verifier.verify(&key.token(&claims)).await,
        Err(VerifyError::WrongIssuer)
    );
    claims.as_object_mut().unwrap().remove("iss");
    assert_eq!(
        verifier.verify(&key.token(&claims)).await,
        Err(VerifyError::WrongIssuer)
    );
}

#[tokio::test]
async fn a_token_for_another_audience_is_refused_as_wrong_audience() {
    let (key, authd, verifier) = rs256_setup().await;
    let mut claims = user_claims(&authd.issuer, SID);
    claims["aud"] = json!("billing");
    assert_eq!(
        verifier.verify(&key.token(&claims)).await,
        Err(VerifyError::WrongAudience)
    );
    claims["aud"] = json!(["billing", "shipping"]);
    assert_eq!(
        verifier.verify(&key.token(&claims)).await,
        Err(VerifyError::WrongAudience)
    );
    claims["aud"] = json!(["billing", "authd"]);
    assert!(
        verifier.verify(&key.token(&claims)).await.is_ok(),
        "an aud list naming us passes"
    );
}

#[tokio::test]
async fn a_token_whose_typ_is_not_at_jwt_is_refused_as_wrong_type() {
    let (key, authd, verifier) = rs256_setup().await;
    let claims = user_claims(&authd.issuer, SID);
    for typ in [json!("JWT"), json!(null), json!("id+jwt")] {
        let header = json!({"alg": "RS256", "typ": typ, "kid": "k1"});
        let token = sign_raw(&header, &claims, &key.encoding, key.alg);
        assert_eq!(
            verifier.verify(&token).await,
            Err(VerifyError::WrongType),
            "typ {typ}"
        );
    }
    let header = json!({"alg": "RS256", "typ": "application/at+jwt", "kid": "k1"});
    let token = sign_raw(&header, &claims, &key.encoding, key.alg);
    assert!(
        verifier.verify(&token).await.is_ok(),
        "the media-type form is accepted"
    );
}

#[tokio::test]
async fn a_token_expired_beyond_the_leeway_is_refused_and_within_it_accepted() {
    let (key, authd, verifier) = rs256_setup().await;
    let t = now();
    let mut claims = user_claims(&authd.issuer, SID);
    claims["iat"] = json!(t - 900);
    claims["exp"] = json!(t - 31);
    assert_eq!(
        verifier.verify_at(&key.token(&claims), at(t)).await,
        Err(VerifyError::Expired)
    );
    claims["exp"] = json!(t - 29);
    assert!(
        verifier.verify_at(&key.token(&claims), at(t)).await.is_ok(),
        "30 s default leeway"
    );
}

#[tokio::test]
async fn the_leeway_is_configurable() {
    let key = TestKey::rs256("k1");
    let authd = FakeAuthd::start(&[&key]).await;
    let strict = authd
        .builder()
        .leeway(std::time::Duration::ZERO)
        .build()
        .await
        .unwrap();
    let t = now();
    let mut claims = user_claims(&authd.issuer, SID);
    claims["iat"] = json!(t - 900);
    claims["exp"] = json!(t - 1);
    assert_eq!(
        strict.verify_at(&key.token(&claims), at(t)).await,
        Err(VerifyError::Expired)
    );
}

#[tokio::test]
async fn a_token_whose_nbf_or_iat_is_in_the_future_is_refused_as_not_yet_valid() {
    let (key, authd, verifier) = rs256_setup().await;
    let t = now();
    let mut claims = user_claims(&authd.issuer, SID);
    claims["nbf"] = json!(t + 60);
    assert_eq!(
        verifier.verify_at(&key.token(&claims), at(t)).await,
        Err(VerifyError::NotYetValid)
    );
    claims["nbf"] = json!(t + 20);
    assert!(
        verifier.verify_at(&key.token(&claims), at(t)).await.is_ok(),
        "within the leeway"
    );
    claims["nbf"] = json!(t);
    claims["iat"] = json!(t + 120);
    assert_eq!(
        verifier.verify_at(&key.token(&claims), at(t)).await,
        Err(VerifyError::NotYetValid)
    );
}

#[tokio::test]
async fn an_hs256_token_signed_with_the_rsa_public_key_is_refused_as_algorithm_mismatch() {
    let (key, authd, verifier) = rs256_setup().await;
    // The classic confusion attack: the published modulus used as an HMAC secret.
    let public_bytes = key.jwk["n"].as_str().unwrap().as_bytes().to_vec();
    let header = json!({"alg": "HS256", "typ": "at+jwt", "kid": "k1"});
    let claims = user_claims(&authd.issuer, SID);
    let token = sign_raw(
        &header,
        &claims,
        &EncodingKey::from_secret(&public_bytes),
        Algorithm::HS256,
    );

    assert_eq!(
        verifier.verify(&token).await,
        Err(VerifyError::AlgorithmMismatch {
            token: "HS256".into(),
            key: "RS256".into()
        })
    );
}

#[tokio::test]
async fn an_es256_token_naming_an_rsa_kid_is_refused_as_algorithm_mismatch() {
    let rsa = TestKey::rs256("k1");
    let es = TestKey::es256("ec");
    let authd = FakeAuthd::start(&[&rsa, &es]).await;
    let verifier = authd.verifier().await;
    let header = json!({"alg": "ES256", "typ": "at+jwt", "kid": "k1"});
    let token = sign_raw(
        &header,
        &user_claims(&authd.issuer, SID),
        &es.encoding,
        es.alg,
    );
    assert!(matches!(
        verifier.verify(&token).await,
        Err(VerifyError::AlgorithmMismatch { .. })
    ));
}

#[tokio::test]
async fn a_token_whose_kid_is_not_in_the_jwks_is_refused_as_unknown_key() {
    let (_, authd, verifier) = rs256_setup().await;
    let stranger = TestKey::rs256("k2");
    let token = stranger.token(&user_claims(&authd.issuer, SID));
    assert_eq!(
        verifier.verify(&token).await,
        Err(VerifyError::UnknownKey("k2".into()))
    );
}

#[tokio::test]
async fn a_token_signed_by_another_key_under_a_known_kid_fails_the_signature() {
    let (_, authd, verifier) = rs256_setup().await;
    let impostor = TestKey::rs256("k1");
    let token = impostor.token(&user_claims(&authd.issuer, SID));
    assert_eq!(
        verifier.verify(&token).await,
        Err(VerifyError::InvalidSignature)
    );
}

#[tokio::test]
async fn a_token_whose_payload_was_altered_fails_the_signature() {
    let (key, authd, verifier) = rs256_setup().await;
    let token = key.token(&user_claims(&authd.issuer, SID));
    let mut other = user_claims(&authd.issuer, SID);
    other["sub"] = json!("someone-else");
    let forged_payload = key.token(&other).split('.').nth(1).unwrap().to_owned();
    let parts: Vec<&str> = token.split('.').collect();
    let forged = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
    assert_eq!(
        verifier.verify(&forged).await,
        Err(VerifyError::InvalidSignature)
    );
}

#[tokio::test]
async fn a_token_with_a_crit_header_is_refused() {
    let (key, authd, verifier) = rs256_setup().await;
    let header = json!({"alg": "RS256", "typ": "at+jwt", "kid": "k1", "crit": ["exp"], "exp": 1});
    let token = sign_raw(
        &header,
        &user_claims(&authd.issuer, SID),
        &key.encoding,
        key.alg,
    );
    assert_eq!(
        verifier.verify(&token).await,
        Err(VerifyError::CriticalHeader)
    );
}

#[tokio::test]
async fn an_unsigned_alg_none_token_is_refused() {
    let (_, authd, verifier) = rs256_setup().await;
    let b64 = |v: serde_json::Value| {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let header = b64(json!({"alg": "none", "typ": "at+jwt", "kid": "k1"}));
    let token = format!("{header}.{}.", b64(user_claims(&authd.issuer, SID)));
    assert_eq!(verifier.verify(&token).await, Err(VerifyError::Unsigned));
}

#[tokio::test]
async fn a_token_without_kid_is_refused() {
    let (key, authd, verifier) = rs256_setup().await;
    let header = json!({"alg": "RS256", "typ": "at+jwt"});
    let token = sign_raw(
        &header,
        &user_claims(&authd.issuer, SID),
        &key.encoding,
        key.alg,
    );
    assert_eq!(verifier.verify(&token).await, Err(VerifyError::MissingKid));
}

#[tokio::test]
async fn a_jku_header_is_never_followed() {
    let (_, authd, verifier) = rs256_setup().await;
    let attacker = TestKey::rs256("evil");
    let mut header = attacker.header();
    header["jku"] = json!(format!("{}/attacker-jwks", authd.issuer));
    header["x5u"] = json!(format!("{}/attacker-x5u", authd.issuer));
    header["jwk"] = attacker.jwk.clone();
    let token = sign_raw(
        &header,
        &user_claims(&authd.issuer, SID),
        &attacker.encoding,
        attacker.alg,
    );

    assert_eq!(
        verifier.verify(&token).await,
        Err(VerifyError::UnknownKey("evil".into()))
    );
    let paths = authd.state.paths.lock().unwrap().clone();
    assert!(
        !paths.iter().any(|p| p.starts_with("/attacker")),
        "fetched {paths:?}"
    );
}

#[tokio::test]
async fn a_token_missing_a_required_claim_is_refused_naming_it() {
    let (key, authd, verifier) = rs256_setup().await;
    for claim in ["sub", "exp", "iat", "jti", "client_id"] {
        let mut claims = user_claims(&authd.issuer, SID);
        claims.as_object_mut().unwrap().remove(claim);
        assert_eq!(
            verifier.verify(&key.token(&claims)).await,
            Err(VerifyError::InvalidClaim(claim)),
            "without {claim}"
        );
    }
}

#[tokio::test]
async fn garbage_and_oversized_tokens_are_refused_as_malformed() {
    let (_, _authd, verifier) = rs256_setup().await;
    for token in ["", "abc", "a.b", "a.b.c.d", "!!!.e30.", &"a".repeat(10_000)] {
        assert!(
            matches!(verifier.verify(token).await, Err(VerifyError::Malformed(_))),
            "{token:.20}"
        );
    }
}

#[tokio::test]
async fn a_correctly_signed_payload_that_is_not_a_claims_object_is_malformed() {
    let (key, _authd, verifier) = rs256_setup().await;
    for payload in [json!(["sub", "exp"]), json!("claims"), json!(42)] {
        let token = sign_raw(&key.header(), &payload, &key.encoding, key.alg);
        assert!(
            matches!(
                verifier.verify(&token).await,
                Err(VerifyError::Malformed(_))
            ),
            "{payload}"
        );
    }
}

#[tokio::test]
async fn a_signature_that_is_not_base64url_is_malformed_and_an_empty_one_invalid() {
    let (key, authd, verifier) = rs256_setup().await;
    let token = key.token(&user_claims(&authd.issuer, SID));
    let (signed, _) = token.rsplit_once('.').unwrap();
    assert!(matches!(
        verifier.verify(&format!("{signed}.!!!")).await,
        Err(VerifyError::Malformed(_))
    ));
    assert_eq!(
        verifier.verify(&format!("{signed}.")).await,
        Err(VerifyError::InvalidSignature)
    );
}
