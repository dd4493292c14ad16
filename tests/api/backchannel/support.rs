//! What the back-channel logout tests share: a relying party's receiver (a
//! real HTTP server on a random port recording every POST), clients
//! registered with its URIs, a code-flow sign-in through a browser, and the
//! check of a logout token as a relying party makes it (the published JWKS,
//! with jsonwebtoken, and by pyoidc, a relying-party library: `helpers::stock`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation};
use serde_json::Value;

use crate::authorize::support::{Browser, ISSUER, REDIRECT, param, query, to_client};
use crate::helpers::stock::stock_verify;
use crate::helpers::{OIDC_SCOPES, OidcClient, PASSWORD, TestApp, jwt_claims};
use crate::oidc_rp::browser::form;

/// RFC 7636 appendix B, the verifier of `support::CHALLENGE`.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// One POST the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub content_type: String,
    pub body: String,
}

impl Received {
    /// The `logout_token` form field.
    pub fn logout_token(&self) -> String {
        form_urlencoded::parse(self.body.as_bytes())
            .find(|(k, _)| k == "logout_token")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_else(|| panic!("no logout_token in {:?}", self.body))
    }
}

/// A relying party's back-channel logout endpoint: answers every POST 200
/// and records it.
pub struct Receiver {
    pub base: String,
    got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    pub async fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let got = Arc::new(Mutex::new(Vec::new()));
        let shared = got.clone();
        let server = actix_web::HttpServer::new(move || {
            let got = shared.clone();
            actix_web::App::new().default_service(web::to(
                move |req: HttpRequest, body: web::Bytes| {
                    let got = got.clone();
                    async move {
                        got.lock().unwrap().push(Received {
                            path: req.path().to_owned(),
                            content_type: req
                                .headers()
                                .get("content-type")
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or_default()
                                .to_owned(),
                            body: String::from_utf8_lossy(&body).into_owned(),
                        });
                        HttpResponse::Ok().finish()
                    }
                },
            ))
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        tokio::spawn(server);
        Self { base, got }
    }

    /// The URI of the client named `name`.
    pub fn uri(&self, name: &str) -> String {
        format!("{}/bc/{name}", self.base)
    }

    /// What the client named `name` got so far.
    pub fn of(&self, name: &str) -> Vec<Received> {
        let path = format!("/bc/{name}");
        self.got
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    /// Waits (at most 20 s) until the client named `name` got `n` POSTs, and
    /// returns them.
    pub async fn wait_for(&self, name: &str, n: usize) -> Vec<Received> {
        for _ in 0..200 {
            let got = self.of(name);
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{name} got {} logout tokens, not {n}", self.of(name).len());
    }

    /// Everything got so far, by any client.
    pub fn all(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }
}

/// A confidential client of the code flow whose logout tokens go to `uri`
/// (none without).
pub async fn client(app: &TestApp, name: &str, uri: Option<String>) -> OidcClient {
    use secrecy::ExposeSecret;
    let spec = authd::clients::ClientSpec {
        kind: authd::clients::ClientKind::Confidential,
        redirect_uris: vec![REDIRECT.to_owned()],
        backchannel_logout_uri: uri,
        backchannel_logout_session_required: true,
        ..authd::clients::ClientSpec::machine(name, OIDC_SCOPES)
    };
    let policy = authd::clients::Policy { development: true };
    let (client, secret) = authd::clients::register(app.store(), spec, policy, app.now())
        .await
        .unwrap();
    OidcClient {
        id: client.id,
        secret: secret.map(|s| s.expose_secret().to_owned()),
    }
}

/// A new user's email address.
pub async fn user(app: &TestApp) -> String {
    crate::authorize::support::user(app).await
}

/// The tokens a code-flow sign-in of `email` to `client` in `browser` gives
/// (logging in and consenting as the pages ask).
pub async fn sign_in(browser: &mut Browser<'_>, client: &OidcClient, email: &str) -> Value {
    let code = code(browser, client, email).await;
    redeem(browser.app, client, &code).await
}

/// A code for `client`, through the pages the browser is sent to.
pub async fn code(browser: &mut Browser<'_>, client: &OidcClient, email: &str) -> String {
    code_for(browser, client, email, "openid email").await
}

/// [`code`] for `scope`.
pub async fn code_for(
    browser: &mut Browser<'_>,
    client: &OidcClient,
    email: &str,
    scope: &str,
) -> String {
    let mut reply = browser.authorize(&query(client, &[("scope", scope)])).await;
    for _ in 0..4 {
        let location = reply.header("location").unwrap_or_default().to_owned();
        if location.starts_with(REDIRECT) {
            break;
        }
        let page = browser.follow(&reply).await;
        reply = if form(&page.text, "/login").is_some() {
            browser.log_in(&page, email, PASSWORD).await
        } else {
            browser.consent(&page, "allow").await
        };
    }
    param(&to_client(&reply), "code").expect("a code")
}

/// The token endpoint's answer to `code`.
pub async fn redeem(app: &TestApp, client: &OidcClient, code: &str) -> Value {
    let secret = client.secret.clone().unwrap();
    let reply = app
        .post_form(
            "/oauth/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
            ],
            Some((&client.id, &secret)),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.body
}

/// The `sid` and `sub` of the ID token in `tokens`.
pub fn sid_and_sub(tokens: &Value) -> (String, String) {
    let claims = jwt_claims(tokens["id_token"].as_str().expect("an ID token"));
    (
        claims["sid"].as_str().unwrap().to_owned(),
        claims["sub"].as_str().unwrap().to_owned(),
    )
}

/// The claims of `token`, verified as a relying party verifies a logout
/// token (section 2.6): its header's `typ`, the signature with the key of
/// its `kid` in the published JWKS, `iss`, `aud` = `client`, `iat`, `exp`.
pub async fn verified(app: &TestApp, token: &str, client: &str) -> Value {
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("logout+jwt"));
    let jwks: JwkSet =
        serde_json::from_value(app.get("/.well-known/jwks.json").await.body).unwrap();
    let jwk = jwks.find(header.kid.as_deref().expect("a kid")).unwrap();
    let mut validation = Validation::new(header.alg);
    validation.set_audience(&[client]);
    validation.set_issuer(&[ISSUER]);
    validation.set_required_spec_claims(&["iss", "aud", "exp", "iat"]);
    let claims =
        jsonwebtoken::decode::<Value>(token, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
            .unwrap_or_else(|e| panic!("a logout token that does not verify: {e}"))
            .claims;
    // And as pyoidc, a relying-party library, verifies a back-channel logout
    // request (helpers::stock): the signature by the JWKS, iss, aud, the
    // event, sub or sid, no nonce, iat not ahead of its clock (the test
    // clock's lead over the real one allowed).
    let lead = (app.now() - chrono::Utc::now()).num_seconds().max(0) + 5;
    let input = serde_json::json!({
        "jwks": serde_json::to_value(&jwks).unwrap(),
        "logout_token": token,
        "iss": ISSUER,
        "aud": client,
        "skew": lead,
    });
    if let Some(verdict) = stock_verify("verify_logout_token.py", &input) {
        let stock = verdict.unwrap_or_else(|e| panic!("pyoidc refuses the logout token: {e}"));
        for claim in ["iss", "sub", "sid", "jti", "iat"] {
            assert_eq!(stock[claim], claims[claim], "{claim}: {stock}");
        }
    }
    claims
}

/// Checks what a logout token must say, and returns its `jti`.
pub fn says(claims: &Value, sub: &str, sid: &str) -> String {
    assert_eq!(claims["sub"], sub, "{claims}");
    assert_eq!(claims["sid"], sid, "{claims}");
    assert_eq!(
        claims["events"],
        serde_json::json!({ EVENT: {} }),
        "{claims}"
    );
    assert!(claims.get("nonce").is_none(), "no nonce: {claims}");
    let (iat, exp) = (
        claims["iat"].as_i64().unwrap(),
        claims["exp"].as_i64().unwrap(),
    );
    assert!(exp > iat && exp - iat <= 120, "short-lived: {claims}");
    claims["jti"].as_str().expect("a jti").to_owned()
}

/// Lets a delivery that should not happen have the time to (the queue's
/// worker polls), then checks that it did not.
pub async fn nothing_more(receiver: &Receiver, name: &str, expected: usize) {
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        receiver.of(name).len(),
        expected,
        "{name}: {:?}",
        receiver.of(name)
    );
}
