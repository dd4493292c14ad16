//! Every Bearer route of authd, each called once with a valid request: the
//! calls `sessions::access_tokens_outliving_their_session_are_refused_by_every_bearer_route`
//! makes with a dead session's token, checked there against the routes the
//! served document says take a Bearer token, so that a new Bearer route
//! without a call here fails that test.

use serde_json::json;

use crate::helpers::{PASSWORD, Reply, TestApp, jwt_claims};

/// One request to a Bearer route, made with some user's access token.
pub(super) struct BearerCall {
    pub(super) method: &'static str,
    /// A route of `authd::http::ROUTES`; `{id}` becomes the token's session
    /// id, `{client_id}` a client id.
    pub(super) path: &'static str,
    pub(super) query: &'static str,
    body: Option<serde_json::Value>,
}

/// A call to every Bearer route, each variant of one that uses the token in
/// another way (the logout scopes) as a call of its own. Each is valid: with a
/// live token it succeeds.
pub(super) fn bearer_calls() -> Vec<BearerCall> {
    let call = |method, path, query, body| BearerCall {
        method,
        path,
        query,
        body,
    };
    let new_password =
        json!({ "current_password": PASSWORD, "new_password": "a new passphrase, long enough" });
    let new_email = json!({ "new_email": "elsewhere@example.org", "current_password": PASSWORD });
    vec![
        call("GET", "/admin/users", "", None),
        call("GET", "/admin/users/{id}", "", None),
        call("GET", "/admin/users/{id}/audit", "", None),
        call("GET", "/admin/users/{id}/sessions", "", None),
        call("POST", "/admin/users/{id}/disable", "", None),
        call("POST", "/admin/users/{id}/enable", "", None),
        call("POST", "/admin/users/{id}/sessions/revoke", "", None),
        call("GET", "/admin/clients", "", None),
        call("POST", "/admin/clients", "", Some(json!({ "name": "n" }))),
        call("GET", "/admin/clients/{id}", "", None),
        call(
            "PATCH",
            "/admin/clients/{id}",
            "",
            Some(json!({ "name": "n" })),
        ),
        call("DELETE", "/admin/clients/{id}", "", None),
        call("POST", "/admin/clients/{id}/secret/rotate", "", None),
        call(
            "POST",
            "/admin/users",
            "",
            Some(json!({ "email": "created@example.org" })),
        ),
        call(
            "PATCH",
            "/admin/users/{id}",
            "",
            Some(json!({ "email_verified": true })),
        ),
        call("DELETE", "/admin/users/{id}", "", None),
        call(
            "PUT",
            "/admin/users/{id}/roles",
            "",
            Some(json!({ "roles": [] })),
        ),
        call("PUT", "/admin/users/{id}/app_metadata", "", Some(json!({}))),
        call("POST", "/admin/users/{id}/lockout/clear", "", None),
        call("POST", "/admin/users/{id}/password_reset", "", None),
        call("DELETE", "/admin/users/{id}/factors", "", None),
        call("GET", "/admin/webhooks", "", None),
        call(
            "POST",
            "/admin/webhooks",
            "",
            Some(json!({ "url": "https://hooks.example/in" })),
        ),
        call("DELETE", "/admin/webhooks/{id}", "", None),
        call("POST", "/admin/webhooks/{id}/secret/rotate", "", None),
        call("POST", "/admin/webhooks/{id}/disable", "", None),
        call("POST", "/admin/webhooks/{id}/enable", "", None),
        call("GET", "/auth/me", "", None),
        call("POST", "/auth/password", "", Some(new_password)),
        call("POST", "/auth/email/change", "", Some(new_email)),
        call("GET", "/auth/audit", "", None),
        call("GET", "/auth/sessions", "", None),
        call("DELETE", "/auth/sessions/{id}", "", None),
        call("GET", "/auth/grants", "", None),
        call("DELETE", "/auth/grants/{client_id}", "", None),
        call("GET", "/auth/mfa", "", None),
        call("POST", "/auth/mfa/totp", "", None),
        call(
            "POST",
            "/auth/mfa/totp/confirm",
            "",
            Some(json!({ "code": "000000" })),
        ),
        call(
            "DELETE",
            "/auth/mfa/totp",
            "",
            Some(json!({ "password": PASSWORD })),
        ),
        call(
            "POST",
            "/auth/mfa/recovery-codes",
            "",
            Some(json!({ "password": PASSWORD })),
        ),
        call("GET", "/auth/passkeys", "", None),
        call("POST", "/auth/passkeys/register/start", "", None),
        call(
            "POST",
            "/auth/passkeys/register/finish",
            "",
            Some(json!({
                "ceremony": "not-started",
                "credential": {
                    "id": "AAAA", "rawId": "AAAA", "type": "public-key",
                    "response": { "attestationObject": "AAAA", "clientDataJSON": "AAAA" },
                },
            })),
        ),
        call(
            "PATCH",
            "/auth/passkeys/{id}",
            "",
            Some(json!({ "name": "Laptop" })),
        ),
        call(
            "DELETE",
            "/auth/passkeys/{id}",
            "",
            Some(json!({ "password": PASSWORD })),
        ),
        call("POST", "/auth/logout", "?scope=local", None),
        call("POST", "/auth/logout", "?scope=global", None),
        call("POST", "/auth/logout", "?scope=others", None),
    ]
}

impl BearerCall {
    pub(super) async fn send(&self, app: &TestApp, access: &str) -> Reply {
        let session = jwt_claims(access)["sid"].as_str().expect("sid").to_owned();
        let path = self
            .path
            .replace("{id}", &session)
            .replace("{client_id}", "client_unknown");
        let method: reqwest::Method = self.method.parse().expect("a method");
        let mut request = app
            .client
            .request(method, app.url(&format!("{path}{}", self.query)))
            .bearer_auth(access);
        if let Some(body) = &self.body {
            request = request.json(body);
        }
        app.send(request).await
    }
}
