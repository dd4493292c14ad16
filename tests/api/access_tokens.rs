//! Access tokens: what authd issues, and every token it must refuse.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jsonwebtoken::{Algorithm, EncodingKey};
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use crate::helpers::{Backend, shared_rs256_key, spawn_app};
use crate::on_both_stores;

on_both_stores!(
    an_access_token_follows_rfc_9068,
    forged_and_invalid_access_tokens_are_refused,
    a_password_login_says_amr_pwd_in_every_token_of_its_session_and_a_client_token_has_no_amr,
    a_sign_in_method_this_instance_does_not_know_is_left_out_of_amr_and_kept,
);

pub(crate) fn payload(token: &str) -> Value {
    crate::helpers::jwt_claims(token)
}

pub(crate) fn header_of(token: &str) -> Value {
    let part = token.split('.').next().expect("three parts");
    serde_json::from_slice(&B64.decode(part).expect("base64url")).expect("JSON header")
}

fn encode_json(v: &Value) -> String {
    B64.encode(serde_json::to_vec(v).unwrap())
}

/// Signs `header.claims` with `key` under `alg`, whatever the header says.
pub(crate) fn sign(header: &Value, claims: &Value, alg: Algorithm, key: &EncodingKey) -> String {
    let message = format!("{}.{}", encode_json(header), encode_json(claims));
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), key, alg).unwrap();
    format!("{message}.{signature}")
}

/// Signs header and claims given as raw JSON text (duplicate keys, huge numbers).
fn sign_text(header: &str, claims: &str, alg: Algorithm, key: &EncodingKey) -> String {
    let message = format!("{}.{}", B64.encode(header), B64.encode(claims));
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), key, alg).unwrap();
    format!("{message}.{signature}")
}

fn rs256_test_key() -> EncodingKey {
    let pem = shared_rs256_key().private_key.unwrap();
    EncodingKey::from_rsa_pem(pem.expose_secret().as_bytes()).unwrap()
}

/// The PEM public key of the shared test key, as an attacker would get it.
fn rs256_public_pem() -> String {
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::signature::KeyPair;
    let pem = shared_rs256_key().private_key.unwrap();
    let der = pem::parse(pem.expose_secret().as_bytes()).unwrap();
    let pair = aws_lc_rs::rsa::KeyPair::from_pkcs8(der.contents()).unwrap();
    let public = pair.public_key().as_der().unwrap();
    pem::encode(&pem::Pem::new("PUBLIC KEY", public.as_ref().to_vec()))
}

async fn an_access_token_follows_rfc_9068(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, tokens) = app.user_with_tokens().await;
    let header = header_of(&tokens.access);
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["kid"], "test-rs256");
    let claims = payload(&tokens.access);
    let now = app.now().timestamp();
    assert_eq!(claims["iss"], "http://authd.test");
    assert_eq!(claims["aud"], "authd");
    assert_eq!(claims["client_id"], "authd");
    assert_eq!(claims["iat"], now);
    assert_eq!(claims["exp"], now + 900, "15 minutes by default");
    for uuid_claim in ["sub", "sid", "jti"] {
        assert!(
            uuid::Uuid::parse_str(claims[uuid_claim].as_str().unwrap()).is_ok(),
            "{uuid_claim}"
        );
    }
    let me = app.get_bearer("/auth/me", &tokens.access).await;
    assert_eq!(me.body["id"], claims["sub"]);
    // Each token is unique.
    let again = app.refresh_body(&tokens.refresh).await;
    assert_ne!(payload(&again.access_token())["jti"], claims["jti"]);
    assert_eq!(payload(&again.access_token())["sid"], claims["sid"]);

    // 15 minutes later the token is refused.
    app.advance(899);
    assert!(app.access_works(&tokens.access).await);
    app.advance(1);
    assert!(!app.access_works(&tokens.access).await);
}

async fn a_password_login_says_amr_pwd_in_every_token_of_its_session_and_a_client_token_has_no_amr(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let (email, tokens) = app.user_with_tokens().await;
    assert_eq!(payload(&tokens.access)["amr"], json!(["pwd"]));
    // Refreshes (twice: the second reads the row the first wrote), by body
    // and by cookie, keep it.
    let first = app.refresh_body(&tokens.refresh).await;
    assert_eq!(first.status, 200, "{}", first.text);
    let second = app.refresh_body(&first.refresh_token()).await;
    assert_eq!(payload(&second.access_token())["amr"], json!(["pwd"]));
    let cookie = app.login_cookie(&email).await;
    assert_eq!(payload(&cookie.access_token())["amr"], json!(["pwd"]));
    let refreshed = app
        .refresh_cookie(&cookie.refresh_cookie().expect("a refresh cookie"))
        .await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.text);
    assert_eq!(payload(&refreshed.access_token())["amr"], json!(["pwd"]));
    // authd's own check reads it too.
    let verified = app
        .services()
        .access
        .verify(&second.access_token(), app.now())
        .unwrap();
    assert_eq!(verified.amr, ["pwd"]);

    let (client, secret) = app.create_client("reports", "reports:read").await;
    let reply = app
        .post_form(
            "/oauth/token",
            &[("grant_type", "client_credentials")],
            Some((&client, &secret)),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let claims = payload(&reply.access_token());
    assert!(claims.get("amr").is_none(), "{claims}");
}

/// Stores `methods` as the sign-in methods of every session of `user`, on a
/// connection of the test's own to the app's database.
async fn store_methods(app: &crate::helpers::TestApp, user: uuid::Uuid, methods: &str) {
    use sqlx::Connection;
    const SQL: &str = "UPDATE sessions SET auth_methods = $1 WHERE user_id = $2";
    let url = app.database_url();
    let updated = if url.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
        let query = sqlx::query(SQL).bind(methods).bind(user);
        query.execute(&mut conn).await.unwrap().rows_affected()
    } else {
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
        let query = sqlx::query(SQL).bind(methods).bind(user);
        query.execute(&mut conn).await.unwrap().rows_affected()
    };
    assert_eq!(updated, 1);
}

/// A newer instance sharing the database may store a method this one does
/// not know: its refresh still works, the token's `amr` has the methods it
/// knows, and the unknown name stays on the session.
async fn a_sign_in_method_this_instance_does_not_know_is_left_out_of_amr_and_kept(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let (email, tokens) = app.user_with_tokens().await;
    let user = app.user_id(&email).await;
    store_methods(&app, user, "password future_factor").await;
    let refreshed = app.refresh_body(&tokens.refresh).await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.text);
    assert_eq!(payload(&refreshed.access_token())["amr"], json!(["pwd"]));
    let live = authd::sessions::list_live(app.services(), user)
        .await
        .unwrap();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].auth_methods.to_string(), "password future_factor");

    // Only unknown names: no `amr` at all, and still no error.
    store_methods(&app, user, "future_factor").await;
    let again = app.refresh_body(&refreshed.refresh_token()).await;
    assert_eq!(again.status, 200, "{}", again.text);
    let claims = payload(&again.access_token());
    assert!(claims.get("amr").is_none(), "{claims}");
    assert!(app.access_works(&again.access_token()).await);
}

async fn forged_and_invalid_access_tokens_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, tokens) = app.user_with_tokens().await;
    let good_header = header_of(&tokens.access);
    let good = payload(&tokens.access);
    let key = rs256_test_key();
    let now = app.now().timestamp();
    let with = |field: &str, value: Value| {
        let mut claims = good.clone();
        claims[field] = value;
        claims
    };
    let rs = |header: &Value, claims: &Value| sign(header, claims, Algorithm::RS256, &key);
    let header_with = |field: &str, value: Value| {
        let mut header = good_header.clone();
        header[field] = value;
        header
    };
    // Control: re-signing the genuine claims with the genuine key is accepted,
    // so every refusal below is for the reason its name gives.
    let control = rs(&good_header, &good);
    assert!(
        app.access_works(&control).await,
        "control token must verify"
    );

    let public_pem = rs256_public_pem();
    let mut cases: Vec<(&str, String)> = vec![
        (
            "alg none",
            format!(
                "{}.{}.",
                encode_json(&header_with("alg", json!("none"))),
                encode_json(&good)
            ),
        ),
        (
            "alg None",
            format!(
                "{}.{}.",
                encode_json(&header_with("alg", json!("None"))),
                encode_json(&good)
            ),
        ),
        (
            "alg NONE",
            format!(
                "{}.{}.",
                encode_json(&header_with("alg", json!("NONE"))),
                encode_json(&good)
            ),
        ),
        (
            "HS256 signed with the RSA public key PEM",
            sign(
                &header_with("alg", json!("HS256")),
                &good,
                Algorithm::HS256,
                &EncodingKey::from_secret(public_pem.as_bytes()),
            ),
        ),
        ("expired", rs(&good_header, &with("exp", json!(now - 1)))),
        ("expires now", rs(&good_header, &with("exp", json!(now)))),
        (
            "not yet valid",
            rs(&good_header, &with("nbf", json!(now + 60))),
        ),
        (
            "wrong iss",
            rs(&good_header, &with("iss", json!("https://evil.example"))),
        ),
        (
            "wrong aud",
            rs(&good_header, &with("aud", json!("another-api"))),
        ),
        ("no exp", {
            let mut claims = good.clone();
            claims.as_object_mut().unwrap().remove("exp");
            rs(&good_header, &claims)
        }),
        ("typ JWT", rs(&header_with("typ", json!("JWT")), &good)),
        ("no typ", {
            let mut header = good_header.clone();
            header.as_object_mut().unwrap().remove("typ");
            rs(&header, &good)
        }),
        (
            "unknown kid",
            rs(&header_with("kid", json!("other")), &good),
        ),
        (
            "kid path traversal",
            rs(&header_with("kid", json!("../../../../dev/null")), &good),
        ),
        ("no kid", {
            let mut header = good_header.clone();
            header.as_object_mut().unwrap().remove("kid");
            rs(&header, &good)
        }),
        (
            "other user",
            rs(&good_header, &with("sub", json!(uuid::Uuid::new_v4()))),
        ),
        (
            "other session",
            rs(&good_header, &with("sid", json!(uuid::Uuid::new_v4()))),
        ),
        (
            "crit header",
            rs(&header_with("crit", json!(["exp"])), &good),
        ),
        ("stripped signature", {
            let mut parts: Vec<&str> = tokens.access.split('.').collect();
            parts[2] = "";
            parts.join(".")
        }),
        ("tampered claims", {
            let parts: Vec<&str> = tokens.access.split('.').collect();
            format!(
                "{}.{}.{}",
                parts[0],
                encode_json(&with("exp", json!(now + 86_400))),
                parts[2]
            )
        }),
        ("refresh token as access token", tokens.refresh.clone()),
        ("empty", String::new()),
        ("garbage", "not.a.jwt".into()),
        (
            "oversized",
            format!(
                "{}.{}.{}",
                "a".repeat(6000),
                "b".repeat(6000),
                "c".repeat(100)
            ),
        ),
    ];
    // A token signed by a key authd does not know, under a kid it does know.
    let stranger = {
        let pem = authd::keys::generate(Algorithm::ES256).unwrap();
        EncodingKey::from_ec_pem(pem.expose_secret().as_bytes()).unwrap()
    };
    let stranger_rsa = {
        let pem = authd::keys::generate(Algorithm::RS256).unwrap();
        EncodingKey::from_rsa_pem(pem.expose_secret().as_bytes()).unwrap()
    };
    let stranger_jwk = {
        let jwk =
            jsonwebtoken::jwk::Jwk::from_encoding_key(&stranger_rsa, Algorithm::RS256).unwrap();
        serde_json::to_value(jwk).unwrap()
    };
    let good_claims_text = serde_json::to_string(&good).unwrap();
    let header_text = serde_json::to_string(&good_header).unwrap();
    let sub = good["sub"].as_str().unwrap().to_owned();
    let mut more: Vec<(&str, String)> = vec![
        (
            "alg nOnE",
            format!(
                "{}.{}.",
                encode_json(&header_with("alg", json!("nOnE"))),
                encode_json(&good)
            ),
        ),
        ("alg none with a signature", {
            let parts: Vec<&str> = control.split('.').collect();
            format!(
                "{}.{}.{}",
                encode_json(&header_with("alg", json!("none"))),
                parts[1],
                parts[2]
            )
        }),
        // Keys named by the token itself are never fetched or used.
        ("embedded jwk of the attacker", {
            let mut header = header_with("jwk", stranger_jwk.clone());
            header["kid"] = json!("attacker");
            sign(&header, &good, Algorithm::RS256, &stranger_rsa)
        }),
        (
            "embedded jwk under our kid",
            sign(
                &header_with("jwk", stranger_jwk),
                &good,
                Algorithm::RS256,
                &stranger_rsa,
            ),
        ),
        (
            "jku to the attacker's keys",
            sign(
                &header_with("jku", json!("https://evil.example/jwks.json")),
                &good,
                Algorithm::RS256,
                &stranger_rsa,
            ),
        ),
        (
            "x5u to the attacker's certificate",
            sign(
                &header_with("x5u", json!("https://evil.example/cert.pem")),
                &good,
                Algorithm::RS256,
                &stranger_rsa,
            ),
        ),
        (
            "kid SQL",
            rs(&header_with("kid", json!("' OR '1'='1")), &good),
        ),
        (
            "kid NUL",
            rs(&header_with("kid", json!("test-rs256\u{0}")), &good),
        ),
        (
            "kid not a string",
            rs(&header_with("kid", json!(["test-rs256"])), &good),
        ),
        ("HS256 with the JWKS modulus as secret", {
            let jwks: Value =
                serde_json::from_str(app.services().access.keys().jwks_json()).unwrap();
            let n = jwks["keys"][0]["n"].as_str().unwrap().to_owned();
            sign(
                &header_with("alg", json!("HS256")),
                &good,
                Algorithm::HS256,
                &EncodingKey::from_secret(n.as_bytes()),
            )
        }),
        ("duplicate sub", {
            let claims = good_claims_text.replacen(
                '{',
                &format!("{{\"sub\":\"{}\",", uuid::Uuid::new_v4()),
                1,
            );
            assert!(claims.matches("\"sub\"").count() == 2);
            sign_text(&header_text, &claims, Algorithm::RS256, &key)
        }),
        ("duplicate alg in header", {
            let header = header_text.replacen('{', "{\"alg\":\"none\",", 1);
            sign_text(&header, &good_claims_text, Algorithm::RS256, &key)
        }),
        (
            "huge exp",
            sign_text(
                &header_text,
                &good_claims_text.replace(&format!("\"exp\":{}", good["exp"]), "\"exp\":1e400"),
                Algorithm::RS256,
                &key,
            ),
        ),
        (
            "exp beyond i64",
            sign_text(
                &header_text,
                &good_claims_text.replace(
                    &format!("\"exp\":{}", good["exp"]),
                    "\"exp\":99999999999999999999999",
                ),
                Algorithm::RS256,
                &key,
            ),
        ),
        (
            "exp as a string",
            rs(&good_header, &with("exp", json!(good["exp"].to_string()))),
        ),
        (
            "sub not a uuid",
            rs(&good_header, &with("sub", json!("admin"))),
        ),
        (
            "aud as a list with ours",
            rs(&good_header, &with("aud", json!(["authd", "other"]))),
        ),
        ("invalid base64", {
            let parts: Vec<&str> = control.split('.').collect();
            format!("{}.{}!.{}", parts[0], parts[1], parts[2])
        }),
        ("truncated", control[..control.len() - 10].to_owned()),
        ("four parts", format!("{control}.extra")),
        (
            "header not JSON",
            format!(
                "{}.{}.{}",
                B64.encode("not json"),
                encode_json(&good),
                "sig"
            ),
        ),
        ("sub spliced from another token", {
            let mut claims = good.clone();
            claims["sub"] = json!(sub.chars().rev().collect::<String>());
            rs(&good_header, &claims)
        }),
    ];
    cases.append(&mut more);
    assert!(cases.len() >= 40, "{} crafted tokens", cases.len());
    cases.push((
        "ES256 signature by a stranger's key under our kid",
        sign(
            &header_with("alg", json!("ES256")),
            &good,
            Algorithm::ES256,
            &stranger,
        ),
    ));
    for (name, token) in cases {
        let reply = app.get_bearer("/auth/me", &token).await;
        assert_eq!(reply.status, 401, "{name} was not refused: {}", reply.text);
        assert_eq!(reply.error(), "invalid_token", "{name}");
        assert_eq!(
            reply.header("www-authenticate"),
            Some(r#"Bearer realm="authd", error="invalid_token""#),
            "{name}"
        );
    }

    // No Authorization header: 401 without an error attribute (RFC 6750 3.1).
    let anonymous = app.get("/auth/me").await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(
        anonymous.header("www-authenticate"),
        Some(r#"Bearer realm="authd""#)
    );
    // Another scheme is not a Bearer token.
    let basic = app
        .send(
            app.client
                .get(app.url("/auth/me"))
                .header("authorization", "Basic dXNlcjpwYXNz"),
        )
        .await;
    assert_eq!(basic.status, 401);
    assert_eq!(basic.error(), "invalid_token");
}
