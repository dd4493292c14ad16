//! A fake authd serving discovery, a JWKS and a revocation feed, and keys to
//! sign test tokens with.

use std::collections::VecDeque;
use std::net::{SocketAddr, TcpListener};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use authd_verify::{Verifier, VerifierBuilder};
use base64::Engine as _;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};

pub const CLIENT_ID: &str = "client_feed";
pub const CLIENT_SECRET: &str = "feed-secret";

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub fn at(unix: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(unix as u64)
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A compact JWS of exactly this header and payload, signed with `key`
/// under `alg` (whatever the header says).
pub fn sign_raw(header: &Value, claims: &Value, key: &EncodingKey, alg: Algorithm) -> String {
    let message = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), key, alg).unwrap();
    format!("{message}.{signature}")
}

/// A signing key and the public JWK authd would publish for it.
pub struct TestKey {
    pub kid: String,
    pub alg: Algorithm,
    pub encoding: EncodingKey,
    pub jwk: Value,
}

fn private_pem(der: &[u8]) -> String {
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        lines.join("\n")
    )
}

impl TestKey {
    pub fn rs256(kid: &str) -> Self {
        use aws_lc_rs::encoding::AsDer;
        let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let der = pair.as_der().unwrap();
        Self::from_pem(kid, Algorithm::RS256, &private_pem(der.as_ref()))
    }

    pub fn es256(kid: &str) -> Self {
        let der = aws_lc_rs::signature::EcdsaKeyPair::generate_pkcs8(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &aws_lc_rs::rand::SystemRandom::new(),
        )
        .unwrap();
        Self::from_pem(kid, Algorithm::ES256, &private_pem(der.as_ref()))
    }

    pub fn eddsa(kid: &str) -> Self {
        let der = aws_lc_rs::signature::Ed25519KeyPair::generate_pkcs8v1(
            &aws_lc_rs::rand::SystemRandom::new(),
        )
        .unwrap();
        Self::from_pem(kid, Algorithm::EdDSA, &private_pem(der.as_ref()))
    }

    fn from_pem(kid: &str, alg: Algorithm, pem: &str) -> Self {
        let encoding = match alg {
            Algorithm::RS256 => EncodingKey::from_rsa_pem(pem.as_bytes()),
            Algorithm::ES256 => EncodingKey::from_ec_pem(pem.as_bytes()),
            _ => EncodingKey::from_ed_pem(pem.as_bytes()),
        }
        .unwrap();
        let mut jwk = Jwk::from_encoding_key(&encoding, alg).unwrap();
        jwk.common.key_id = Some(kid.to_owned());
        Self {
            kid: kid.to_owned(),
            alg,
            encoding,
            jwk: serde_json::to_value(&jwk).unwrap(),
        }
    }

    /// The header authd sends: this key's alg and kid, `typ: at+jwt`.
    pub fn header(&self) -> Value {
        json!({"alg": alg_name(self.alg), "typ": "at+jwt", "kid": self.kid})
    }

    /// A token signed by this key whose header names another `kid`.
    pub fn header_token(&self, kid: &str, claims: &Value) -> String {
        let mut header = self.header();
        header["kid"] = json!(kid);
        sign_raw(&header, claims, &self.encoding, self.alg)
    }

    pub fn token(&self, claims: &Value) -> String {
        sign_raw(&self.header(), claims, &self.encoding, self.alg)
    }
}

pub fn alg_name(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::HS256 => "HS256",
        Algorithm::RS256 => "RS256",
        Algorithm::ES256 => "ES256",
        Algorithm::EdDSA => "EdDSA",
        other => panic!("no test key for {other:?}"),
    }
}

/// The claims of a user token as authd issues them, valid from `now()`.
pub fn user_claims(issuer: &str, sid: &str) -> Value {
    let now = now();
    json!({
        "iss": issuer, "sub": "0190a0d4-7c1e-7b31-9a52-2f6f0c8d9e10", "aud": "authd",
        "exp": now + 900, "iat": now, "jti": "0190a0d4-7c1e-7b31-9a52-2f6f0c8d9e11",
        "sid": sid, "client_id": "authd",
    })
}

/// The lowercase hex SHA-256 of `text`.
pub fn sha256_hex(text: &str) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The claims of a client-credentials token: `sub` is the client, no `sid`.
pub fn service_claims(issuer: &str, scope: &str) -> Value {
    let now = now();
    json!({
        "iss": issuer, "sub": "client_0f3a", "aud": "authd", "exp": now + 900, "iat": now,
        "jti": "0190a0d4-7c1e-7b31-9a52-2f6f0c8d9e12", "client_id": "client_0f3a",
        "scope": scope,
    })
}

/// What the fake authd serves, and what it saw.
pub struct State {
    /// The server's own address (the issuer it claims may differ).
    pub base: String,
    pub issuer: Mutex<String>,
    pub keys: Mutex<Vec<Value>>,
    pub cache_control: Mutex<String>,
    pub jwks_fails: AtomicBool,
    /// While set, JWKS requests are accepted and never answered.
    pub jwks_hangs: AtomicBool,
    /// Delays for the next JWKS answers, one per request, in order. The keys
    /// and Cache-Control are those of the moment the request arrived.
    pub jwks_delays: Mutex<VecDeque<Duration>>,
    pub jwks_fetches: AtomicUsize,
    pub discovery_fetches: AtomicUsize,
    pub revocations: Mutex<Vec<Value>>,
    /// User entries (feed version 2), sent in every answer.
    pub user_revocations: Mutex<Vec<Value>>,
    /// The `version` of every authorised feed request, in order.
    pub feed_versions: Mutex<Vec<Option<String>>>,
    pub page_size: AtomicUsize,
    pub feed_fails: AtomicBool,
    /// While set, feed requests are accepted and never answered.
    pub feed_hangs: AtomicBool,
    pub feed_polls: AtomicUsize,
    /// The `since` of every authorised feed request, in order.
    pub feed_cursors: Mutex<Vec<Option<String>>>,
    /// Every URL path requested, for "was X ever fetched" checks.
    pub paths: Mutex<Vec<String>>,
    /// The `jwks_uri` discovery names instead of this server's own.
    pub advertised_jwks_uri: Mutex<Option<String>>,
    /// Where `GET /redirect` sends the client (`302`).
    pub redirect_to: Mutex<String>,
}

pub struct FakeAuthd {
    pub issuer: String,
    pub addr: SocketAddr,
    pub state: web::Data<State>,
    handle: ServerHandle,
}

impl Drop for FakeAuthd {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

impl FakeAuthd {
    pub async fn start(keys: &[&TestKey]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let issuer = format!("http://{addr}");
        let state = web::Data::new(State {
            base: issuer.clone(),
            issuer: Mutex::new(issuer.clone()),
            keys: Mutex::new(keys.iter().map(|k| k.jwk.clone()).collect()),
            cache_control: Mutex::new("public, max-age=300".to_owned()),
            jwks_fails: AtomicBool::new(false),
            jwks_hangs: AtomicBool::new(false),
            jwks_delays: Mutex::new(VecDeque::new()),
            jwks_fetches: AtomicUsize::new(0),
            discovery_fetches: AtomicUsize::new(0),
            revocations: Mutex::new(Vec::new()),
            user_revocations: Mutex::new(Vec::new()),
            feed_versions: Mutex::new(Vec::new()),
            page_size: AtomicUsize::new(100),
            feed_fails: AtomicBool::new(false),
            feed_hangs: AtomicBool::new(false),
            feed_polls: AtomicUsize::new(0),
            feed_cursors: Mutex::new(Vec::new()),
            paths: Mutex::new(Vec::new()),
            advertised_jwks_uri: Mutex::new(None),
            redirect_to: Mutex::new(String::new()),
        });
        let data = state.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route(
                    "/.well-known/openid-configuration",
                    web::get().to(discovery),
                )
                .route("/.well-known/jwks.json", web::get().to(jwks))
                .route("/auth/revocations", web::get().to(feed))
                .route("/redirect", web::get().to(redirect))
                .route("/moved/jwks.json", web::get().to(moved_jwks))
                .default_service(web::to(not_found))
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Self {
            issuer,
            addr,
            state,
            handle,
        }
    }

    /// A client that reaches this server under the name `host` (no DNS
    /// query is made), with the crate's redirect policy.
    pub fn client_for_host(&self, host: &str) -> reqwest::Client {
        reqwest::Client::builder()
            .resolve(host, self.addr)
            .redirect(authd_verify::redirect_policy())
            .build()
            .unwrap()
    }

    /// This server's URL for `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }

    /// A builder for this issuer with the given defaults.
    pub fn builder(&self) -> VerifierBuilder {
        Verifier::builder(&self.issuer)
    }

    pub async fn verifier(&self) -> Verifier {
        self.builder().build().await.unwrap()
    }

    pub fn publish(&self, keys: &[&TestKey]) {
        *self.state.keys.lock().unwrap() = keys.iter().map(|k| k.jwk.clone()).collect();
    }

    pub fn set_cache_control(&self, value: &str) {
        *self.state.cache_control.lock().unwrap() = value.to_owned();
    }

    pub fn jwks_fetches(&self) -> usize {
        self.state.jwks_fetches.load(Ordering::SeqCst)
    }

    pub fn feed_polls(&self) -> usize {
        self.state.feed_polls.load(Ordering::SeqCst)
    }

    pub fn revoke(&self, sid: &str, until: i64) {
        self.state.revocations.lock().unwrap().push(json!({
            "sid": sid, "sub": "0190a0d4-7c1e-7b31-9a52-2f6f0c8d9e10",
            "revoked_at": now(), "until": until,
        }));
    }

    /// Revokes every session of user `sub` that started before
    /// `started_before`, until `until`: a user entry, keyed as authd keys it.
    pub fn revoke_user(&self, sub: &str, started_before: i64, until: i64) {
        self.state.user_revocations.lock().unwrap().push(json!({
            "sub_sha256": sha256_hex(sub), "started_before": started_before,
            "revoked_at": now(), "until": until,
        }));
    }

    /// Waits until the feed has seen `n` more requests than `from`, so that
    /// at least one whole poll began and ended after the caller's change.
    pub async fn wait_for_polls(&self, from: usize, n: usize) {
        wait_until(|| self.feed_polls() >= from + n, "feed polls").await;
    }
}

/// Polls `done` every 20 ms for up to 15 s; panics with `what` otherwise.
pub async fn wait_until(mut done: impl FnMut() -> bool, what: &str) {
    for _ in 0..750 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn discovery(state: web::Data<State>) -> HttpResponse {
    state.discovery_fetches.fetch_add(1, Ordering::SeqCst);
    state.paths.lock().unwrap().push("discovery".into());
    let issuer = state.issuer.lock().unwrap().clone();
    let base = &state.base;
    let jwks_uri = state
        .advertised_jwks_uri
        .lock()
        .unwrap()
        .clone()
        .unwrap_or_else(|| format!("{base}/.well-known/jwks.json"));
    HttpResponse::Ok().json(json!({
        "issuer": issuer,
        "jwks_uri": jwks_uri,
        "token_endpoint": format!("{base}/oauth/token"),
        "revocation_feed_endpoint": format!("{base}/auth/revocations"),
    }))
}

async fn jwks(state: web::Data<State>) -> HttpResponse {
    // Taken before the request is counted: a test that saw the count knows
    // which keys this answer carries.
    let keys = state.keys.lock().unwrap().clone();
    let cache_control = state.cache_control.lock().unwrap().clone();
    state.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    state.paths.lock().unwrap().push("jwks".into());
    if state.jwks_fails.load(Ordering::SeqCst) {
        return HttpResponse::InternalServerError().finish();
    }
    if state.jwks_hangs.load(Ordering::SeqCst) {
        std::future::pending::<()>().await;
    }
    let delay = state.jwks_delays.lock().unwrap().pop_front();
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    HttpResponse::Ok()
        .insert_header(("Cache-Control", cache_control))
        .json(json!({ "keys": keys }))
}

async fn feed(
    req: HttpRequest,
    state: web::Data<State>,
    query: web::Query<std::collections::HashMap<String, String>>,
) -> HttpResponse {
    state.feed_polls.fetch_add(1, Ordering::SeqCst);
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))
    );
    let authorised = req
        .headers()
        .get("Authorization")
        .and_then(|v| v.to_str().ok())
        == Some(expected.as_str());
    if !authorised {
        return HttpResponse::Unauthorized()
            .insert_header(("WWW-Authenticate", r#"Basic realm="authd""#))
            .json(json!({"error": "invalid_client"}));
    }
    if state.feed_fails.load(Ordering::SeqCst) {
        return HttpResponse::ServiceUnavailable().finish();
    }
    if state.feed_hangs.load(Ordering::SeqCst) {
        std::future::pending::<()>().await;
    }
    let since = query.get("since").cloned();
    state.feed_cursors.lock().unwrap().push(since.clone());
    state
        .feed_versions
        .lock()
        .unwrap()
        .push(query.get("version").cloned());
    let start: usize = match since.as_deref().map(str::parse) {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(_)) => {
            return HttpResponse::BadRequest().json(json!({"error": "invalid_request"}));
        }
    };
    let all = state.revocations.lock().unwrap().clone();
    let start = start.min(all.len());
    let end = (start + state.page_size.load(Ordering::SeqCst)).min(all.len());
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(json!({
            "revocations": &all[start..end],
            "users": *state.user_revocations.lock().unwrap(),
            "cursor": end.to_string(),
            "more": end < all.len(),
        }))
}

async fn redirect(state: web::Data<State>) -> HttpResponse {
    state.paths.lock().unwrap().push("redirect".into());
    let location = state.redirect_to.lock().unwrap().clone();
    HttpResponse::Found()
        .insert_header(("Location", location))
        .finish()
}

/// A redirect within this origin, to the JWKS.
async fn moved_jwks() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header(("Location", "/.well-known/jwks.json"))
        .finish()
}

async fn not_found(req: HttpRequest, state: web::Data<State>) -> HttpResponse {
    state.paths.lock().unwrap().push(req.path().to_owned());
    HttpResponse::NotFound().finish()
}

/// What a [`RawServer`] does with each connection once it has read the
/// request head.
#[derive(Clone, Copy)]
pub enum RawBehaviour {
    /// Never answers, holding the connection open.
    Silent,
    /// Sends a 200 head announcing this `Content-Length`, then nothing.
    ClaimsLength(u64),
    /// Sends a 200 with a chunked body that never ends.
    Endless,
}

/// A plain TCP server on 127.0.0.1 misbehaving as told, for what an HTTP
/// framework would not do. Its URL is `http://ADDR/`.
pub struct RawServer {
    pub url: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RawServer {
    pub async fn start(behaviour: RawBehaviour) -> Self {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    match behaviour {
                        RawBehaviour::Silent => {}
                        RawBehaviour::ClaimsLength(length) => {
                            let head = format!(
                                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
                            );
                            if socket.write_all(head.as_bytes()).await.is_err() {
                                return;
                            }
                        }
                        RawBehaviour::Endless => {
                            let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
                            if socket.write_all(head.as_bytes()).await.is_err() {
                                return;
                            }
                            let chunk = format!("4000\r\n{}\r\n", " ".repeat(0x4000));
                            while socket.write_all(chunk.as_bytes()).await.is_ok() {}
                            return;
                        }
                    }
                    // Hold the connection open until the client gives up.
                    let _ = socket.read(&mut buf).await;
                });
            }
        });
        Self { url, task }
    }
}
