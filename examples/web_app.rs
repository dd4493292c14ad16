//! A confidential web app that signs its users in with authd, through the
//! authorization code flow with PKCE, using the stock `openidconnect` crate.
//!
//!   authd clients create --name "web app" --kind confidential \
//!       --redirect-uri http://127.0.0.1:8082/callback \
//!       --post-logout-redirect-uri http://127.0.0.1:8082/signed-out
//!   AUTHD_ISSUER=http://127.0.0.1:8080 AUTHD_CLIENT_ID=client_… \
//!       AUTHD_CLIENT_SECRET=… cargo run --example web_app
//!
//! Routes:
//! - `GET /`: a link "Sign in with authd".
//! - `GET /login`: redirects the browser to authd's authorization endpoint,
//!   with a fresh `state`, nonce and PKCE verifier kept in a short-lived
//!   `HttpOnly` cookie of this app (so the app keeps no state between the two
//!   requests). `GET /login?prompt=login` passes `prompt=login` on, for a
//!   "sign in again" link: authd shows its login form even to a browser
//!   signed in there already (`prompt=consent` is passed on the same way;
//!   any other value is refused).
//! - `GET /callback`: where authd sends the browser back. Checks `iss` and
//!   `state`, exchanges the code (client_secret_basic, PKCE verifier),
//!   verifies the ID token (signature through authd's JWKS, issuer, audience,
//!   expiry, nonce), reads userinfo and shows the user's email and a "Sign
//!   out" button. The ID token is kept in an `HttpOnly`, `SameSite=Strict`
//!   cookie of this app, for the logout's `id_token_hint`.
//! - `POST /logout`: RP-initiated logout. Clears the ID token's cookie and
//!   sends the browser to authd's `end_session_endpoint` (from discovery)
//!   with `client_id`, `post_logout_redirect_uri` = `{WEB_APP_URL}/signed-out`
//!   and the ID token as `id_token_hint` when this browser still holds it:
//!   authd then ends its browser session at once. Without it (the cookie
//!   expired, or a POST from another site, which a `Strict` cookie does not
//!   follow) authd asks the user to confirm first. A POST, so that a link on
//!   another site cannot start it.
//! - `GET /signed-out`: where authd sends the browser once signed out. It
//!   changes nothing, so no `state` is bound to it.
//!
//! Settings (environment):
//! - `AUTHD_ISSUER` (required): authd's issuer URL; discovery is read from
//!   `{AUTHD_ISSUER}/.well-known/openid-configuration`.
//! - `AUTHD_CLIENT_ID`, `AUTHD_CLIENT_SECRET` (required): the confidential
//!   client registered for this app.
//! - `WEB_APP_PORT` (default 8082): the port on 127.0.0.1. The app prints
//!   `listening on http://127.0.0.1:PORT`.
//! - `WEB_APP_URL` (default `http://127.0.0.1:PORT`): this app's URL as the
//!   browser sees it; the redirect URI registered at authd is
//!   `{WEB_APP_URL}/callback`, the post-logout redirect URI
//!   `{WEB_APP_URL}/signed-out`. Behind https, the app's cookies are `Secure`.

use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::{Cookie, SameSite, time::Duration};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, http::header, web};
use openidconnect::core::{
    CoreAuthPrompt, CoreAuthenticationFlow, CoreClient, CoreIdToken, CoreUserInfoClaims,
};
use openidconnect::{
    AsyncHttpClient, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndSessionUrl,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl, LogoutRequest, Nonce,
    PkceCodeChallenge, PkceCodeVerifier, PostLogoutRedirectUrl, ProviderMetadataWithLogout,
    RedirectUrl, Scope, TokenResponse,
};
use serde::Deserialize;

/// The cookie holding `state`, the PKCE verifier and the nonce of one login.
const LOGIN_COOKIE: &str = "web_app_login";

/// The cookie holding the ID token of the last sign-in, for the logout's
/// `id_token_hint`.
const ID_TOKEN_COOKIE: &str = "web_app_id_token";

/// `openidconnect`'s HTTP client: reqwest, without following redirects (an
/// endpoint that redirects would otherwise send the app anywhere).
struct Http(reqwest::Client);

impl<'c> AsyncHttpClient<'c> for Http {
    type Error = reqwest::Error;
    type Future =
        Pin<Box<dyn Future<Output = Result<openidconnect::HttpResponse, Self::Error>> + Send + 'c>>;

    fn call(&'c self, request: openidconnect::HttpRequest) -> Self::Future {
        Box::pin(async move {
            let response = self.0.execute(reqwest::Request::try_from(request)?).await?;
            let status = response.status();
            let headers = response.headers().clone();
            let mut reply = openidconnect::HttpResponse::new(response.bytes().await?.to_vec());
            *reply.status_mut() = status;
            *reply.headers_mut() = headers;
            Ok(reply)
        })
    }
}

type Oidc = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

struct WebApp {
    oidc: Oidc,
    http: Http,
    issuer: String,
    client_id: ClientId,
    end_session: EndSessionUrl,
    signed_out: PostLogoutRedirectUrl,
    secure_cookie: bool,
}

fn page(status: actix_web::http::StatusCode, body: &str) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>web app</title></head>\
             <body>{body}</body></html>"
        ))
}

fn escape(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '&' => "&amp;".to_owned(),
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&#39;".to_owned(),
            c => c.to_string(),
        })
        .collect()
}

fn refuse(status: actix_web::http::StatusCode, why: &str) -> HttpResponse {
    page(
        status,
        &format!(
            "<p>Sign-in failed: {}</p><p><a href=\"/\">Back</a></p>",
            escape(why)
        ),
    )
}

async fn home() -> HttpResponse {
    page(
        actix_web::http::StatusCode::OK,
        "<p><a href=\"/login\">Sign in with authd</a></p>",
    )
}

#[derive(Deserialize)]
struct Login {
    prompt: Option<String>,
}

async fn login(app: web::Data<WebApp>, query: web::Query<Login>) -> HttpResponse {
    let prompt = match query.prompt.as_deref() {
        None => None,
        Some("login") => Some(CoreAuthPrompt::Login),
        Some("consent") => Some(CoreAuthPrompt::Consent),
        Some(_) => {
            return refuse(
                actix_web::http::StatusCode::BAD_REQUEST,
                "prompt may be login or consent",
            );
        }
    };
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = app
        .oidc
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge);
    if let Some(prompt) = prompt {
        request = request.add_prompt(prompt);
    }
    let (url, state, nonce) = request.url();
    // All three are base64url: '.' cannot occur in them.
    let value = format!(
        "{}.{}.{}",
        state.secret(),
        verifier.secret(),
        nonce.secret()
    );
    let cookie = Cookie::build(LOGIN_COOKIE, value)
        .path("/callback")
        .http_only(true)
        .secure(app.secure_cookie)
        .same_site(SameSite::Lax)
        .max_age(Duration::minutes(10))
        .finish();
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, url.to_string()))
        .cookie(cookie)
        .finish()
}

#[derive(Deserialize)]
struct Callback {
    code: Option<String>,
    state: Option<String>,
    iss: Option<String>,
    error: Option<String>,
}

async fn callback(
    app: web::Data<WebApp>,
    request: HttpRequest,
    query: web::Query<Callback>,
) -> HttpResponse {
    use actix_web::http::StatusCode;
    let mut removal = Cookie::build(LOGIN_COOKIE, "").path("/callback").finish();
    removal.make_removal();
    let mut answer = match sign_in(&app, &request, query.into_inner()).await {
        Ok((email, id_token)) => {
            let mut shown = page(
                StatusCode::OK,
                &format!(
                    "<p>Signed in as <b>{}</b></p>\
                     <form method=\"post\" action=\"/logout\"><button>Sign out</button></form>",
                    escape(&email)
                ),
            );
            // Strict: only this app's own pages send it back (its logout form).
            let kept = Cookie::build(ID_TOKEN_COOKIE, id_token)
                .path("/")
                .http_only(true)
                .secure(app.secure_cookie)
                .same_site(SameSite::Strict)
                .max_age(Duration::hours(8))
                .finish();
            let _ = shown.add_cookie(&kept);
            shown
        }
        Err((status, why)) => refuse(status, &why),
    };
    // The login cookie is spent, whatever the outcome.
    let _ = answer.add_cookie(&removal);
    answer
}

/// `POST /logout`: to authd's end-session endpoint, with the ID token of this
/// browser's sign-in as the hint when it still holds it.
async fn logout(app: web::Data<WebApp>, request: HttpRequest) -> HttpResponse {
    let hint = request
        .cookie(ID_TOKEN_COOKIE)
        .and_then(|c| c.value().parse::<CoreIdToken>().ok());
    let mut to = LogoutRequest::from(app.end_session.clone())
        .set_client_id(app.client_id.clone())
        .set_post_logout_redirect_uri(app.signed_out.clone());
    if let Some(hint) = &hint {
        to = to.set_id_token_hint(hint);
    }
    let mut removal = Cookie::build(ID_TOKEN_COOKIE, "").path("/").finish();
    removal.make_removal();
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to.http_get_url().to_string()))
        .cookie(removal)
        .finish()
}

async fn signed_out() -> HttpResponse {
    page(
        actix_web::http::StatusCode::OK,
        "<p>Signed out</p><p><a href=\"/login\">Sign in with authd</a></p>",
    )
}

type Refusal = (actix_web::http::StatusCode, String);

/// The email of the user authd signed in and the ID token, or why not.
async fn sign_in(
    app: &WebApp,
    request: &HttpRequest,
    query: Callback,
) -> Result<(String, String), Refusal> {
    use actix_web::http::StatusCode;
    let bad = |why: &str| (StatusCode::BAD_REQUEST, why.to_owned());
    let upstream = |why: String| (StatusCode::BAD_GATEWAY, why);
    // RFC 9207: the answer comes from the authorization server we asked.
    if query.iss.as_deref() != Some(app.issuer.as_str()) {
        return Err(bad("the answer does not come from authd (iss)"));
    }
    if let Some(error) = query.error {
        return Err(bad(&format!("authd answered {error}")));
    }
    let cookie = request
        .cookie(LOGIN_COOKIE)
        .ok_or_else(|| bad("no login under way in this browser"))?;
    let mut parts = cookie.value().split('.');
    let (Some(state), Some(verifier), Some(nonce)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("a damaged login cookie"));
    };
    // Binds the answer to the login this browser started (login CSRF).
    if query.state.as_deref() != Some(state) {
        return Err(bad("the state does not match this browser's login"));
    }
    let code = query.code.ok_or_else(|| bad("no code"))?;
    let tokens = app
        .oidc
        .exchange_code(AuthorizationCode::new(code))
        .map_err(|e| upstream(format!("no token endpoint: {e}")))?
        .set_pkce_verifier(PkceCodeVerifier::new(verifier.to_owned()))
        .request_async(&app.http)
        .await
        .map_err(|e| upstream(format!("the code exchange failed: {e}")))?;
    let id_token = tokens
        .id_token()
        .ok_or_else(|| upstream("no ID token".into()))?;
    let claims = id_token
        .claims(&app.oidc.id_token_verifier(), &Nonce::new(nonce.to_owned()))
        .map_err(|e| upstream(format!("the ID token is not valid: {e}")))?;
    let userinfo: CoreUserInfoClaims = app
        .oidc
        .user_info(
            openidconnect::OAuth2TokenResponse::access_token(&tokens).clone(),
            Some(claims.subject().clone()),
        )
        .map_err(|e| upstream(format!("no userinfo endpoint: {e}")))?
        .request_async(&app.http)
        .await
        .map_err(|e| upstream(format!("userinfo failed: {e}")))?;
    let email = userinfo
        .email()
        .map(|e| e.as_str().to_owned())
        .ok_or_else(|| upstream("userinfo has no email".into()))?;
    Ok((email, id_token.to_string()))
}

fn env(name: &str) -> Result<Option<String>, String> {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => Ok(Some(v)),
        Ok(_) | Err(std::env::VarError::NotPresent) => Ok(None),
        Err(e) => Err(format!("{name}: {e}")),
    }
}

fn required(name: &str) -> Result<String, String> {
    env(name)?.ok_or_else(|| format!("{name} is required"))
}

#[actix_web::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let issuer = required("AUTHD_ISSUER")?;
    let client_id = required("AUTHD_CLIENT_ID")?;
    let client_secret = required("AUTHD_CLIENT_SECRET")?;
    let port: u16 = env("WEB_APP_PORT")?.map_or(Ok(8082), |p| p.parse())?;
    let base = env("WEB_APP_URL")?.unwrap_or_else(|| format!("http://127.0.0.1:{port}"));
    let base = base.trim_end_matches('/').to_owned();

    let http = Http(
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(30))
            .build()?,
    );
    let metadata =
        ProviderMetadataWithLogout::discover_async(IssuerUrl::new(issuer.clone())?, &http)
            .await
            .map_err(|e| format!("discovery at {issuer}: {e}"))?;
    let end_session = metadata
        .additional_metadata()
        .end_session_endpoint
        .clone()
        .ok_or_else(|| format!("discovery at {issuer} names no end_session_endpoint"))?;
    let client_id = ClientId::new(client_id);
    let oidc = CoreClient::from_provider_metadata(
        metadata,
        client_id.clone(),
        Some(ClientSecret::new(client_secret)),
    )
    .set_redirect_uri(RedirectUrl::new(format!("{base}/callback"))?);
    let app = web::Data::new(WebApp {
        oidc,
        http,
        issuer,
        client_id,
        end_session,
        signed_out: PostLogoutRedirectUrl::new(format!("{base}/signed-out"))?,
        secure_cookie: base.starts_with("https://"),
    });

    let server = HttpServer::new(move || {
        App::new()
            .app_data(app.clone())
            .route("/", web::get().to(home))
            .route("/login", web::get().to(login))
            .route("/callback", web::get().to(callback))
            .route("/logout", web::post().to(logout))
            .route("/signed-out", web::get().to(signed_out))
    })
    .workers(1)
    .bind(("127.0.0.1", port))?;
    for address in server.addrs() {
        println!("listening on http://{address}");
    }
    server.run().await?;
    Ok(())
}
