//! `GET /openapi.json`: a valid OpenAPI 3.1 document that lists exactly the
//! routes the server registers.
//!
//! The document depends on no database, so these tests run on SQLite only.
//! Why a route added without documentation fails here: a line added to the
//! route table is in `ROUTES`, and `every_served_route_is_documented...` fails
//! until an operation with that method and path is in the document; an
//! annotated handler left out of `paths(...)` is not in the document, the same;
//! a handler listed in `paths(...)` but not in the table fails the other
//! direction, and `every_documented_path_is_a_resource_of_the_running_server`
//! asks the running server itself.

use std::collections::{BTreeSet, HashSet};

use authd::http::ROUTES;
use serde_json::Value;

use crate::helpers::{Backend, TestApp, spawn_app, spawn_app_with};

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Operations that cannot fail with a 4xx: no input, no credentials.
const NEVER_FAIL: &[(&str, &str)] = &[
    ("GET", "/.well-known/jwks.json"),
    ("GET", "/.well-known/openid-configuration"),
    ("GET", "/.well-known/oauth-authorization-server"),
    ("GET", "/openapi.json"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
];

/// Operations a browser opens, whose refusals are HTML error pages (an
/// authorization request with an unknown client must not be redirected, and
/// a browser shows the page), documented as `text/html`.
const HTML_ERRORS: &[(&str, &str)] = &[("GET", "/oauth/authorize"), ("POST", "/oauth/authorize")];

async fn served_document(app: &TestApp) -> Value {
    let reply = app.get("/openapi.json").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(
        reply
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/json")),
        "content type {:?}",
        reply.header("content-type")
    );
    assert_ne!(reply.body, Value::Null, "not JSON: {}", reply.text);
    reply.body
}

/// Every `(METHOD, path)` operation of the document.
fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    let paths = doc["paths"].as_object().expect("paths is an object");
    let mut ops = BTreeSet::new();
    for (path, item) in paths {
        let item = item.as_object().expect("a path item is an object");
        for method in METHODS {
            if item.contains_key(method) {
                ops.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    ops
}

fn routes() -> BTreeSet<(String, String)> {
    ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect()
}

/// Every `$ref` in `value`, with where it is.
fn refs<'a>(value: &'a Value, at: String, out: &mut Vec<(String, &'a str)>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                if key == "$ref"
                    && let Some(r) = v.as_str()
                {
                    out.push((at.clone(), r));
                }
                refs(v, format!("{at}/{key}"), out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                refs(v, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

fn operation<'a>(doc: &'a Value, method: &str, path: &str) -> &'a Value {
    &doc["paths"][path][method.to_lowercase()]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_served_document_is_valid_openapi_3_1_for_this_deployment() {
    let issuer = "https://login.example.test";
    let app = spawn_app_with(Backend::Sqlite, |s| {
        s.server.issuer = issuer.into();
        // An https issuer needs an SMTP host (nothing is sent here).
        s.email.smtp.host = "smtp.example.test".into();
        s.refresh.cookie_name = "custom_refresh".into();
    })
    .await;
    let doc = served_document(&app).await;
    // CI validates the document a second time, with another validator.
    if let Ok(out) = std::env::var("AUTHD_OPENAPI_OUT") {
        std::fs::write(&out, doc.to_string()).expect("write AUTHD_OPENAPI_OUT");
    }

    // The OpenAPI 3.1 data model accepts it.
    let spec = oas3::from_json(doc.to_string()).expect("an OpenAPI 3.1 document");
    let version = spec
        .validate_version()
        .expect("a supported OpenAPI version");
    assert_eq!((version.major, version.minor), (3, 1));
    assert_eq!(spec.info.title, "authd");
    assert_eq!(spec.info.version, env!("CARGO_PKG_VERSION"));
    let servers: Vec<&str> = spec.servers.iter().map(|s| s.url.as_str()).collect();
    assert_eq!(servers, [issuer]);
    assert_eq!(spec.operations().count(), operations(&doc).len());

    // Every reference resolves inside the document.
    let mut found = Vec::new();
    refs(&doc, String::new(), &mut found);
    assert!(!found.is_empty(), "the document uses no $ref at all");
    for (at, r) in &found {
        let pointer = r
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("{at}: {r} is not a local reference"));
        assert!(doc.pointer(pointer).is_some(), "{at}: {r} does not resolve");
    }

    // Operation ids are unique, every path template variable is a declared
    // path parameter, and every security requirement names a declared scheme.
    let schemes = doc["components"]["securitySchemes"]
        .as_object()
        .expect("security schemes");
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["refresh_cookie"]["in"], "cookie");
    assert_eq!(schemes["refresh_cookie"]["name"], "__Host-custom_refresh");
    let mut ids = HashSet::new();
    for (method, path) in operations(&doc) {
        let op = operation(&doc, &method, &path);
        let summary = op["summary"].as_str().unwrap_or_default();
        assert!(
            !summary.is_empty() && !summary.contains('\n'),
            "{method} {path}: a one-line summary, not {summary:?}"
        );
        let id = op["operationId"].as_str().expect("an operation id");
        assert!(ids.insert(id.to_owned()), "operation id {id} twice");
        let declared: HashSet<&str> = op["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["in"] == "path")
            .map(|p| p["name"].as_str().expect("parameter name"))
            .collect();
        let templated: HashSet<&str> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        assert_eq!(declared, templated, "{method} {path}: path parameters");
        let security = op["security"]
            .as_array()
            .unwrap_or_else(|| panic!("{method} {path} declares no security"));
        for requirement in security {
            for name in requirement.as_object().expect("a requirement").keys() {
                assert!(
                    schemes.contains_key(name),
                    "{method} {path}: undeclared scheme {name}"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_served_route_is_documented_and_every_documented_operation_is_served() {
    let app = spawn_app(Backend::Sqlite).await;
    let documented = operations(&served_document(&app).await);
    let served = routes();
    assert_eq!(served.len(), ROUTES.len(), "a route is in the table twice");
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let unserved: Vec<_> = documented.difference(&served).collect();
    assert!(
        undocumented.is_empty(),
        "served but not in /openapi.json (annotate the handler and list it in paths(...)): {undocumented:?}"
    );
    assert!(
        unserved.is_empty(),
        "in /openapi.json but not in the route table: {unserved:?}"
    );
    assert!(served.contains(&("GET".into(), "/openapi.json".into())));
}

/// `ROUTES` could in principle list what the server does not register; the
/// server answers a path it registers, with a method it does not serve there,
/// with its JSON 405, and any other path with a 404.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_path_is_a_resource_of_the_running_server() {
    let app = spawn_app(Backend::Sqlite).await;
    let doc = served_document(&app).await;
    let paths = doc["paths"].as_object().expect("paths");
    assert!(!paths.is_empty());
    let probe = |path: &str, item: &Value| -> reqwest::Method {
        ["PATCH", "PUT", "DELETE", "POST", "GET"]
            .into_iter()
            .find(|m| item.get(m.to_lowercase()).is_none())
            .map(|m| m.parse().expect("method"))
            .unwrap_or_else(|| panic!("{path} serves every method"))
    };
    for (path, item) in paths {
        // Any value in a path parameter: the route matches before the handler runs.
        let concrete = path
            .split('/')
            .map(|s| if s.starts_with('{') { "x" } else { s })
            .collect::<Vec<_>>()
            .join("/");
        let method = probe(path, item);
        let reply = app
            .send(app.client.request(method.clone(), app.url(&concrete)))
            .await;
        assert_eq!(
            (reply.status, reply.error()),
            (405, "method_not_allowed"),
            "{method} {path}"
        );
    }
    let reply = app
        .send(app.client.patch(app.url("/auth/not-a-route")))
        .await;
    assert_eq!((reply.status, reply.error()), (404, "not_found"));
}

/// The sign-ins whose 401 may be `mfa_required`.
const SIGN_INS: [(&str, &str); 3] = [
    ("POST", "/auth/login"),
    ("POST", "/auth/otp/verify"),
    ("POST", "/auth/password/reset"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_that_can_fail_documents_a_4xx_with_the_error_body() {
    let app = spawn_app(Backend::Sqlite).await;
    let doc = served_document(&app).await;
    let error_ref = "#/components/schemas/ErrorBody";
    let body = &doc["components"]["schemas"]["ErrorBody"];
    let required: BTreeSet<&str> = body["required"]
        .as_array()
        .expect("required fields")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(required, BTreeSet::from(["error", "error_description"]));
    let codes: Vec<&str> = body["properties"]["error"]["enum"]
        .as_array()
        .expect("the error codes are listed")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for code in [
        "invalid_request",
        "invalid_token",
        "invalid_grant",
        "not_found",
    ] {
        assert!(codes.contains(&code), "{code} missing from {codes:?}");
    }

    let served = routes();
    for (method, path) in NEVER_FAIL {
        assert!(
            served.contains(&(method.to_string(), path.to_string())),
            "{method} {path} in NEVER_FAIL is not a route"
        );
    }
    for (method, path) in operations(&doc) {
        let responses = operation(&doc, &method, &path)["responses"]
            .as_object()
            .unwrap_or_else(|| panic!("{method} {path} has no responses"));
        let mut errors = 0;
        for (status, response) in responses {
            // `/readyz` answers its own 503 body; every other error is ErrorBody.
            if HTML_ERRORS.contains(&(method.as_str(), path.as_str()))
                && (status.starts_with('4') || status == "5XX")
            {
                assert!(
                    response["content"]["text/html"].is_object(),
                    "{method} {path}: {status} is an HTML page"
                );
            } else if status.starts_with('4') || status == "5XX" {
                let schema = &response["content"]["application/json"]["schema"]["$ref"];
                // A sign-in's 401 is the error body with, for `mfa_required`,
                // the challenge's fields (`SignInRefused`).
                if status == "401" && SIGN_INS.contains(&(method.as_str(), path.as_str())) {
                    assert_eq!(
                        schema, "#/components/schemas/SignInRefused",
                        "{method} {path}: {status}"
                    );
                    continue;
                }
                assert_eq!(
                    schema, error_ref,
                    "{method} {path}: {status} without the error body"
                );
            }
            if status.starts_with('4') {
                errors += 1;
            }
        }
        let never_fails = NEVER_FAIL.contains(&(method.as_str(), path.as_str()));
        if never_fails {
            assert_eq!(errors, 0, "{method} {path} is in NEVER_FAIL but has 4xx");
        } else {
            assert!(errors > 0, "{method} {path} documents no 4xx response");
        }
    }
}

/// The schemas state the bounds the server enforces, from this deployment's
/// settings, so that a request valid by the document is not refused for its
/// length (Schemathesis, `scripts/schemathesis.sh`, checks the rest).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_schemas_state_the_configured_password_bounds_and_the_other_limits() {
    let app = spawn_app_with(Backend::Sqlite, |s| {
        s.password.min_length = 12;
        s.password.max_length = 300;
    })
    .await;
    let doc = served_document(&app).await;
    let schemas = &doc["components"]["schemas"];
    let bounds = |schema: &str, field: &str| {
        let property = &schemas[schema]["properties"][field];
        (
            property["minLength"].as_u64(),
            property["maxLength"].as_u64(),
        )
    };
    assert_eq!(bounds("NewAccount", "password"), (Some(12), Some(300)));
    assert_eq!(
        bounds("PasswordChange", "new_password"),
        (Some(12), Some(300))
    );
    assert_eq!(bounds("Credentials", "password"), (None, Some(300)));
    assert_eq!(
        bounds("PasswordChange", "current_password"),
        (None, Some(300))
    );
    for schema in ["NewAccount", "Credentials"] {
        assert_eq!(schemas[schema]["properties"]["email"]["format"], "email");
        assert_eq!(bounds(schema, "email"), (None, Some(254)));
    }
    assert_eq!(bounds("TokenQuery", "token"), (Some(1), None));
    let grants = schemas["TokenRequest"]["oneOf"].as_array().expect("oneOf");
    assert_eq!(grants.len(), 3, "{grants:?}");
    assert_eq!(
        bounds("RefreshTokenGrant", "refresh_token"),
        (Some(1), None)
    );
    for (grant, required) in [
        ("RefreshTokenGrant", vec!["grant_type", "refresh_token"]),
        ("ClientCredentialsGrant", vec!["grant_type"]),
        (
            "AuthorizationCodeGrant",
            vec!["grant_type", "code", "redirect_uri"],
        ),
    ] {
        assert_eq!(
            schemas[grant]["required"],
            serde_json::json!(required),
            "{grant}"
        );
    }
    let since = operation(&doc, "get", "/auth/revocations")["parameters"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["name"] == "since"))
        .expect("since");
    assert!(since["schema"]["pattern"].is_string(), "{since}");
}

/// The hosted pages (`http::pages::PAGE_ROUTES`) are HTML, served apart from
/// the API's table and never in the document; the server registers each (a
/// method a page does not take is its HTML 405, not the JSON 404).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hosted_pages_are_served_apart_from_the_api_and_left_out_of_the_document() {
    use authd::http::pages::PAGE_ROUTES;
    let app = spawn_app(Backend::Sqlite).await;
    let documented = operations(&served_document(&app).await);
    for (method, path) in PAGE_ROUTES {
        let route = ((*method).to_owned(), (*path).to_owned());
        assert!(
            !routes().contains(&route),
            "{method} {path} is in both tables"
        );
        assert!(
            !documented.iter().any(|(_, p)| p == path),
            "{path} is documented"
        );
        let reply = app.send(app.client.patch(app.url(path))).await;
        assert_eq!(reply.status, 405, "PATCH {path}: {}", reply.text);
        assert!(
            reply
                .header("content-type")
                .unwrap()
                .starts_with("text/html"),
            "{path}"
        );
    }
}
