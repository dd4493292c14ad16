//! Requests to the server under test and the replies they get: the HTTP
//! helpers on `TestApp`, `Reply` (a response read whole), the tokens of a
//! login, form encoding, and reading a JWT's claims.

use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use super::{PASSWORD, TestApp};

/// A response read whole, so assertions can look at everything.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Reply {
    async fn read(response: reqwest::Response) -> Self {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Self {
            status,
            headers,
            body,
            text,
        }
    }

    pub fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or("<no error code>")
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Every `Set-Cookie` header.
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect()
    }

    /// The value the refresh cookie is set to, if this response sets it.
    pub fn refresh_cookie(&self) -> Option<String> {
        self.set_cookies().iter().find_map(|c| {
            c.strip_prefix("__Host-authd_refresh=")
                .map(|rest| rest.split(';').next().unwrap_or("").to_owned())
        })
    }

    pub fn access_token(&self) -> String {
        self.body["access_token"]
            .as_str()
            .expect("access_token in body")
            .to_owned()
    }

    pub fn refresh_token(&self) -> String {
        self.body["refresh_token"]
            .as_str()
            .expect("refresh_token in body")
            .to_owned()
    }
}

/// Tokens of a native (body-delivery) login.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access: String,
    pub refresh: String,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        Reply::read(request.send().await.expect("request sent")).await
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Reply {
        self.send(self.client.post(self.url(path)).json(body)).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(self.client.get(self.url(path))).await
    }

    /// `GET /metrics` of the `metrics.listen` address (every test app has
    /// one: see `test_settings`): the public listener serves no metrics by
    /// default.
    pub async fn metrics(&self) -> Reply {
        let address = self
            .metrics_address
            .as_deref()
            .expect("metrics.listen is set (test_settings sets it)");
        self.send(self.client.get(format!("{address}/metrics")))
            .await
    }

    pub async fn get_bearer(&self, path: &str, token: &str) -> Reply {
        self.send(self.client.get(self.url(path)).bearer_auth(token))
            .await
    }

    pub async fn register(&self, email: &str) -> Reply {
        let reply = self
            .post_json(
                "/auth/register",
                &json!({ "email": email, "password": PASSWORD }),
            )
            .await;
        assert_eq!(reply.status, 201, "register: {}", reply.text);
        reply
    }

    pub async fn login_body(&self, email: &str) -> Tokens {
        let reply = self
            .post_json(
                "/auth/login",
                &json!({ "email": email, "password": PASSWORD, "token_delivery": "body" }),
            )
            .await;
        assert_eq!(reply.status, 200, "login: {}", reply.text);
        Tokens {
            access: reply.access_token(),
            refresh: reply.refresh_token(),
        }
    }

    /// Registers a fresh user and logs in with body delivery.
    pub async fn user_with_tokens(&self) -> (String, Tokens) {
        let email = format!("user-{}@example.com", uuid::Uuid::new_v4().simple());
        self.register(&email).await;
        let tokens = self.login_body(&email).await;
        (email, tokens)
    }

    /// Logs in with cookie delivery; returns the reply (access token in the body,
    /// refresh token in `Set-Cookie`).
    pub async fn login_cookie(&self, email: &str) -> Reply {
        let reply = self
            .post_json(
                "/auth/login",
                &json!({ "email": email, "password": PASSWORD }),
            )
            .await;
        assert_eq!(reply.status, 200, "login: {}", reply.text);
        reply
    }

    /// One login attempt with cookie delivery, whatever its answer.
    pub async fn try_login(&self, email: &str, password: &str) -> Reply {
        self.post_json(
            "/auth/login",
            &json!({ "email": email, "password": password }),
        )
        .await
    }

    pub async fn refresh_body(&self, refresh_token: &str) -> Reply {
        self.post_json("/auth/refresh", &json!({ "refresh_token": refresh_token }))
            .await
    }

    pub async fn refresh_cookie(&self, cookie: &str) -> Reply {
        self.send(
            self.client
                .post(self.url("/auth/refresh"))
                .header("cookie", format!("__Host-authd_refresh={cookie}")),
        )
        .await
    }

    /// A form POST (the OAuth endpoints), with HTTP Basic client credentials
    /// when `client` is given.
    pub async fn post_form(
        &self,
        path: &str,
        form: &[(&str, &str)],
        client: Option<(&str, &str)>,
    ) -> Reply {
        let mut request = self
            .client
            .post(self.url(path))
            .header("content-type", "application/x-www-form-urlencoded");
        if let Some((id, secret)) = client {
            request = request.basic_auth(id, Some(secret));
        }
        let body: String = form
            .iter()
            .map(|(k, v)| format!("{k}={}", urlencode(v)))
            .collect::<Vec<_>>()
            .join("&");
        self.send(request.body(body)).await
    }

    /// Whether `access` is still accepted by authd's own Bearer endpoints.
    pub async fn access_works(&self, access: &str) -> bool {
        let reply = self.get_bearer("/auth/me", access).await;
        match reply.status {
            200 => true,
            401 => false,
            other => panic!("/auth/me answered {other}: {}", reply.text),
        }
    }
}

/// Percent-encodes a form value (`application/x-www-form-urlencoded`).
pub fn urlencode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                (b as char).to_string()
            }
            b' ' => "+".to_owned(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The claims of a JWT, read without verifying it.
pub fn jwt_claims(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).expect("a JWT has a payload");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url payload");
    serde_json::from_slice(&bytes).expect("JSON claims")
}
