//! A microservice that trusts authd's access tokens without calling authd on
//! each request, using the `authd-verify` crate.
//!
//!   AUTHD_ISSUER=http://127.0.0.1:8080 cargo run --example microservice
//!
//! Routes:
//! - `GET /health`: no token needed.
//! - `GET /hello`: a user's access token (one with a session, `sid`); greets
//!   the user's `sub`. A machine client's token gets 401.
//! - `GET /reports`: a machine client's client-credentials token whose
//!   `scope` includes `reports:read` (a client created with
//!   `authd clients create --name reporting --scopes reports:read`). A user's
//!   token gets 401, a client token without the scope 403.
//!
//! Settings (environment):
//! - `AUTHD_ISSUER` (required): authd's issuer URL, exactly as its tokens'
//!   `iss` claim names it; discovery is read from
//!   `{AUTHD_ISSUER}/.well-known/openid-configuration`.
//! - `AUTHD_AUDIENCE` (default `authd`): the `aud` tokens must carry.
//! - `AUTHD_CLIENT_ID` and `AUTHD_CLIENT_SECRET` (optional): a registered
//!   client with the permission `authd:revocations` (`authd clients create
//!   --name this-service --scopes authd:revocations`); when both are set, the
//!   service polls authd's revocation feed and refuses tokens of revoked
//!   sessions within one poll interval plus one request.
//! - `AUTHD_REVOCATION_POLL_SECS` (default 5): how often the feed is polled.
//! - `AUTHD_JWKS_URL`, `AUTHD_REVOCATION_FEED_URL` (optional): fetch keys or
//!   the feed from these URLs instead of the discovered ones (when the issuer
//!   URL is not where authd can be reached from here).
//! - `AUTHD_ALLOW_INSECURE_HTTP` (optional, `true` to set): accept `http://`
//!   issuer and URLs to hosts other than loopback (`localhost`, `127.0.0.1`
//!   and `[::1]` are always accepted). Only on a network you trust: over plain
//!   http anyone on the path can swap the keys.
//! - `MICROSERVICE_PORT` (default 8081): the port on 127.0.0.1; `0` picks a
//!   free one. The service prints `listening on http://127.0.0.1:PORT`.

use actix_web::{App, HttpResponse, HttpServer, web};
use authd_verify::{AuthenticatedClient, AuthenticatedUser, InsufficientScope, Verifier};
use serde_json::json;

async fn health() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

async fn hello(user: AuthenticatedUser) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "message": format!("hello, {}", user.sub),
        "sub": user.sub,
        "sid": user.sid,
        "client_id": user.client_id,
    }))
}

async fn reports(client: AuthenticatedClient) -> Result<HttpResponse, InsufficientScope> {
    client.require_scope("reports:read")?;
    Ok(HttpResponse::Ok().json(json!({"reports": [], "requested_by": client.sub})))
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

#[actix_web::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();

    let issuer = env("AUTHD_ISSUER").ok_or("AUTHD_ISSUER is required (authd's issuer URL)")?;
    let mut builder =
        Verifier::builder(issuer).audience(env("AUTHD_AUDIENCE").unwrap_or("authd".into()));
    if let Some(url) = env("AUTHD_JWKS_URL") {
        builder = builder.jwks_url(url);
    }
    if env("AUTHD_ALLOW_INSECURE_HTTP").is_some_and(|v| v == "true") {
        builder = builder.allow_insecure_http();
    }
    match (env("AUTHD_CLIENT_ID"), env("AUTHD_CLIENT_SECRET")) {
        (Some(id), Some(secret)) => {
            builder = builder.revocation(id, secret);
            if let Some(url) = env("AUTHD_REVOCATION_FEED_URL") {
                builder = builder.revocation_feed_url(url);
            }
            if let Some(secs) = env("AUTHD_REVOCATION_POLL_SECS") {
                let secs = std::time::Duration::try_from_secs_f64(secs.parse()?)?;
                builder = builder.revocation_poll_interval(secs);
            }
        }
        (None, None) => {}
        _ => return Err("set both AUTHD_CLIENT_ID and AUTHD_CLIENT_SECRET, or neither".into()),
    }
    let verifier = builder.build().await?;
    tracing::info!(?verifier, "verifier ready");

    let port: u16 = env("MICROSERVICE_PORT").map_or(Ok(8081), |p| p.parse())?;
    let data = web::Data::new(verifier);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/health", web::get().to(health))
            .route("/hello", web::get().to(hello))
            .route("/reports", web::get().to(reports))
    })
    .bind(("127.0.0.1", port))?;
    for address in server.addrs() {
        println!("listening on http://{address}");
    }
    server.run().await?;
    Ok(())
}
