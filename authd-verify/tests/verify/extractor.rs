//! The actix-web extractor: RFC 6750 challenges and claims passed through.

use actix_web::http::StatusCode;
use actix_web::{App, HttpResponse, test, web};
use authd_verify::{
    Authenticated, AuthenticatedClient, AuthenticatedUser, InsufficientScope, Verifier,
};
use serde_json::Value;

use crate::helpers::{FakeAuthd, TestKey, service_claims, user_claims};

const SID: &str = "0190a0d4-7c1e-7b31-9a52-2f6f0c8d9e50";

async fn hello(user: Authenticated) -> HttpResponse {
    HttpResponse::Ok().body(format!("hello {} in {:?}", user.sub, user.sid))
}

async fn reports(user: Authenticated) -> Result<HttpResponse, InsufficientScope> {
    user.require_scope("reports:read")?;
    Ok(HttpResponse::Ok().body("reports"))
}

async fn user_hello(user: AuthenticatedUser) -> HttpResponse {
    HttpResponse::Ok().body(format!("hello {}", user.sub))
}

async fn client_reports(client: AuthenticatedClient) -> Result<HttpResponse, InsufficientScope> {
    client.require_scope("reports:read")?;
    Ok(HttpResponse::Ok().body(format!("reports for {}", client.client_id)))
}

async fn setup() -> (TestKey, FakeAuthd, Verifier) {
    let key = TestKey::es256("k1");
    let authd = FakeAuthd::start(&[&key]).await;
    let verifier = authd.verifier().await;
    (key, authd, verifier)
}

macro_rules! app {
    ($verifier:expr) => {
        test::init_service(
            App::new()
                .app_data(web::Data::new($verifier.clone()))
                .route("/hello", web::get().to(hello))
                .route("/reports", web::get().to(reports)),
        )
        .await
    };
}

fn challenge(response: &actix_web::dev::ServiceResponse) -> Option<String> {
    response
        .headers()
        .get("WWW-Authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
}

#[actix_web::test]
async fn a_request_without_a_token_gets_401_with_a_bare_bearer_challenge() {
    let (_key, _authd, verifier) = setup().await;
    let app = app!(verifier);
    for authorization in [None, Some("Basic dXNlcjpwYXNz")] {
        let mut request = test::TestRequest::get().uri("/hello");
        if let Some(value) = authorization {
            request = request.insert_header(("Authorization", value));
        }
        let response = test::call_service(&app, request.to_request()).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(challenge(&response).as_deref(), Some("Bearer"));
    }
}

#[actix_web::test]
async fn an_invalid_token_gets_401_invalid_token_with_a_json_body() {
    let (key, authd, verifier) = setup().await;
    let app = app!(verifier);
    let mut claims = user_claims(&authd.issuer, SID);
    claims["aud"] = serde_json::json!("someone-else");
    for token in ["not-a-jwt".to_owned(), key.token(&claims), String::new()] {
        let request = test::TestRequest::get()
            .uri("/hello")
            .insert_header(("Authorization", format!("Bearer {token}")))
            .to_request();
        let response = test::call_service(&app, request).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{token:.20}");
        assert_eq!(
            challenge(&response).as_deref(),
            Some(r#"Bearer error="invalid_token""#)
        );
        let body: Value = test::read_body_json(response).await;
        assert_eq!(body["error"], "invalid_token");
        assert!(
            !body.to_string().contains("audience"),
            "the reason is not told to the client"
        );
    }
}

#[actix_web::test]
async fn a_valid_token_reaches_the_handler_with_its_claims() {
    let (key, authd, verifier) = setup().await;
    let app = app!(verifier);
    let request = test::TestRequest::get()
        .uri("/hello")
        .insert_header((
            "Authorization",
            format!("bearer {}", key.token(&user_claims(&authd.issuer, SID))),
        ))
        .to_request();
    let body = test::call_and_read_body(&app, request).await;
    assert_eq!(
        body,
        format!("hello 0190a0d4-7c1e-7b31-9a52-2f6f0c8d9e10 in Some(\"{SID}\")")
    );
}

#[actix_web::test]
async fn a_token_without_the_needed_scope_gets_403_insufficient_scope() {
    let (key, authd, verifier) = setup().await;
    let app = app!(verifier);
    let call = |scope: &str| {
        test::TestRequest::get()
            .uri("/reports")
            .insert_header((
                "Authorization",
                format!(
                    "Bearer {}",
                    key.token(&service_claims(&authd.issuer, scope))
                ),
            ))
            .to_request()
    };

    let response = test::call_service(&app, call("orders:write")).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        challenge(&response).as_deref(),
        Some(r#"Bearer error="insufficient_scope", scope="reports:read""#)
    );

    let response = test::call_service(&app, call("orders:write reports:read")).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[actix_web::test]
async fn a_verifier_given_as_plain_app_data_works_too() {
    let (key, authd, verifier) = setup().await;
    let app = test::init_service(
        App::new()
            .app_data(verifier.clone())
            .route("/hello", web::get().to(hello)),
    )
    .await;
    let request = test::TestRequest::get()
        .uri("/hello")
        .insert_header((
            "Authorization",
            format!("Bearer {}", key.token(&user_claims(&authd.issuer, SID))),
        ))
        .to_request();
    assert_eq!(
        test::call_service(&app, request).await.status(),
        StatusCode::OK
    );
}

macro_rules! typed_app {
    ($verifier:expr) => {
        test::init_service(
            App::new()
                .app_data(web::Data::new($verifier.clone()))
                .route("/any", web::get().to(hello))
                .route("/user", web::get().to(user_hello))
                .route("/client", web::get().to(client_reports)),
        )
        .await
    };
}

fn bearer(path: &str, token: &str) -> test::TestRequest {
    test::TestRequest::get()
        .uri(path)
        .insert_header(("Authorization", format!("Bearer {token}")))
}

async fn assert_refused_as_invalid(response: actix_web::dev::ServiceResponse) {
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        challenge(&response).as_deref(),
        Some(r#"Bearer error="invalid_token""#)
    );
    let body: Value = test::read_body_json(response).await;
    assert_eq!(body["error"], "invalid_token");
}

#[actix_web::test]
async fn a_machine_token_on_a_user_route_gets_401_invalid_token() {
    let (key, authd, verifier) = setup().await;
    let app = typed_app!(verifier);
    let machine = key.token(&service_claims(&authd.issuer, "reports:read"));

    assert_refused_as_invalid(
        test::call_service(&app, bearer("/user", &machine).to_request()).await,
    )
    .await;
    // The same token is fine where either kind is accepted.
    let response = test::call_service(&app, bearer("/any", &machine).to_request()).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[actix_web::test]
async fn a_user_token_on_a_user_route_reaches_the_handler() {
    let (key, authd, verifier) = setup().await;
    let app = typed_app!(verifier);
    let user = key.token(&user_claims(&authd.issuer, SID));
    let body = test::call_and_read_body(&app, bearer("/user", &user).to_request()).await;
    assert_eq!(body, "hello 0190a0d4-7c1e-7b31-9a52-2f6f0c8d9e10");
}

#[actix_web::test]
async fn a_user_token_on_a_client_route_gets_401_invalid_token() {
    let (key, authd, verifier) = setup().await;
    let app = typed_app!(verifier);
    let mut claims = user_claims(&authd.issuer, SID);
    // Even with the scope the route asks for, a user's token is not a client's.
    claims["scope"] = serde_json::json!("reports:read");
    let user = key.token(&claims);
    assert_refused_as_invalid(
        test::call_service(&app, bearer("/client", &user).to_request()).await,
    )
    .await;
}

#[actix_web::test]
async fn a_client_token_on_a_client_route_is_checked_for_its_scope() {
    let (key, authd, verifier) = setup().await;
    let app = typed_app!(verifier);
    let scoped = key.token(&service_claims(&authd.issuer, "reports:read"));
    let body = test::call_and_read_body(&app, bearer("/client", &scoped).to_request()).await;
    assert_eq!(body, "reports for client_0f3a");

    let unscoped = key.token(&service_claims(&authd.issuer, "orders:write"));
    let response = test::call_service(&app, bearer("/client", &unscoped).to_request()).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

struct Admin;
impl authd_verify::RequiredRole for Admin {
    const ROLE: &'static str = "admin";
}

struct NamespacedAdmin;
impl authd_verify::RequiredRole for NamespacedAdmin {
    const ROLE: &'static str = "admin";
    const CLAIM: &'static str = "https://example.com/roles";
}

struct ReportsRead;
impl authd_verify::RequiredScope for ReportsRead {
    const SCOPE: &'static str = "reports:read";
}

async fn admin_only(user: authd_verify::RequireRole<Admin>) -> HttpResponse {
    HttpResponse::Ok().body(format!("admin {}", user.sub))
}

async fn namespaced_admin(user: authd_verify::RequireRole<NamespacedAdmin>) -> HttpResponse {
    HttpResponse::Ok().body(format!("admin {}", user.sub))
}

async fn reports_by_type(token: authd_verify::RequireScope<ReportsRead>) -> HttpResponse {
    HttpResponse::Ok().body(format!("reports for {}", token.client_id))
}

async fn support_by_hand(
    user: AuthenticatedUser,
) -> Result<HttpResponse, authd_verify::InsufficientRole> {
    user.require_role("support")?;
    Ok(HttpResponse::Ok().body("support"))
}

#[actix_web::test]
async fn a_route_demanding_a_role_or_a_scope_refuses_tokens_without_it() {
    let (key, authd, verifier) = setup().await;
    let app = test::init_service(
        App::new()
            .app_data(web::Data::new(verifier.clone()))
            .route("/admin", web::get().to(admin_only))
            .route("/ns-admin", web::get().to(namespaced_admin))
            .route("/typed-reports", web::get().to(reports_by_type))
            .route("/support", web::get().to(support_by_hand)),
    )
    .await;
    let call = |path: &str, claims: &Value| {
        test::TestRequest::get()
            .uri(path)
            .insert_header(("Authorization", format!("Bearer {}", key.token(claims))))
            .to_request()
    };
    let with_roles = |claim: &str, roles: Value| {
        let mut claims = user_claims(&authd.issuer, SID);
        claims[claim] = roles;
        claims
    };

    // The role: the handler runs.
    let admin = with_roles("roles", serde_json::json!(["admin", "support"]));
    let response = test::call_service(&app, call("/admin", &admin)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let response = test::call_service(&app, call("/support", &admin)).await;
    assert_eq!(response.status(), StatusCode::OK);

    // Without it, or with no roles at all: 403 insufficient_role.
    let other = with_roles("roles", serde_json::json!(["support"]));
    let none = user_claims(&authd.issuer, SID);
    for claims in [&other, &none] {
        let response = test::call_service(&app, call("/admin", claims)).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        let body: Value = test::read_body_json(response).await;
        assert_eq!(body["error"], "insufficient_role");
        assert_eq!(body["role"], "admin");
    }
    let response = test::call_service(&app, call("/support", &none)).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    // The role under another claim counts only where the route reads it.
    let namespaced = with_roles("https://example.com/roles", serde_json::json!(["admin"]));
    let response = test::call_service(&app, call("/ns-admin", &namespaced)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let response = test::call_service(&app, call("/admin", &namespaced)).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = test::call_service(&app, call("/ns-admin", &admin)).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    // A machine client's token on a role route: 401, as on any user route.
    let mut machine = service_claims(&authd.issuer, "reports:read");
    machine["roles"] = serde_json::json!(["admin"]);
    let response = test::call_service(&app, call("/admin", &machine)).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    // The scope by type: present, the handler runs; absent, 403 with the
    // RFC 6750 challenge.
    let response = test::call_service(&app, call("/typed-reports", &machine)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let orders = service_claims(&authd.issuer, "orders:write reports");
    let response = test::call_service(&app, call("/typed-reports", &orders)).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        challenge(&response).as_deref(),
        Some(r#"Bearer error="insufficient_scope", scope="reports:read""#)
    );
    // An invalid token is still 401, before any scope or role is looked at.
    let request = test::TestRequest::get()
        .uri("/typed-reports")
        .insert_header(("Authorization", "Bearer not-a-jwt"))
        .to_request();
    let response = test::call_service(&app, request).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}
