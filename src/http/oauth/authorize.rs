//! `GET` and `POST /oauth/authorize` (RFC 6749 section 4.1.1, OpenID Connect
//! Core section 3.1.2): the parameters from the query or the form, in order
//! and with their repeats, and the browser session cookie, handed to
//! `oauth::authorize`; its answer is a 303 (the login or consent page, or the
//! client's redirect URI with a code or an error, `state` and `iss`), or an
//! HTML error page when the client or its redirect URI is not known.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::http::pages::{PageError, flow_answer, session_cookie};
use crate::http::state::AppState;
use crate::oauth::authorize;

/// The largest form read.
const MAX_FORM_BYTES: usize = 16 * 1024;

/// Starts an authorization (the code flow, PKCE S256).
///
/// Parameters: `response_type=code`, `client_id`, `redirect_uri` (optional
/// when the client registered exactly one), `scope`, `state`, `nonce`,
/// `code_challenge` with `code_challenge_method=S256` (required unless the
/// client is exempted), `prompt` (`none`, `login`, `consent`), `max_age`,
/// `login_hint`, `acr_values`, or `request_uri` of a pushed request. Each at
/// most once.
#[utoipa::path(
    get,
    path = "/oauth/authorize",
    operation_id = "authorize_get",
    tag = "oauth",
    params(
        ("response_type" = String, Query, description = "`code`"),
        ("client_id" = String, Query, description = "The registered client"),
        ("redirect_uri" = Option<String>, Query, description = "Exactly one of the client's redirect URIs; optional when it has one"),
        ("scope" = String, Query, description = "Space-separated; each one the client may be granted (`openid` for OpenID Connect)"),
        ("state" = Option<String>, Query, description = "Returned unchanged"),
        ("nonce" = Option<String>, Query, description = "Put in the ID token"),
        ("code_challenge" = Option<String>, Query, description = "PKCE: BASE64URL(SHA256(code_verifier))"),
        ("code_challenge_method" = Option<String>, Query, description = "`S256` (plain is refused)"),
        ("prompt" = Option<String>, Query, description = "`none`, or `login` and/or `consent`"),
        ("max_age" = Option<u32>, Query, description = "Seconds since the user's last sign-in beyond which the password is asked again"),
        ("login_hint" = Option<String>, Query, description = "The email to fill in on the login page"),
        ("acr_values" = Option<String>, Query, description = "`1` or `2` (README, Second factors): `acr_values=2` demands a second factor (step-up at the login page, or `unmet_authentication_requirements`)"),
        ("request_uri" = Option<String>, Query, description = "A pushed request's `urn:ietf:params:oauth:request_uri:...`"),
    ),
    responses(
        (status = 303, description = "To `/login?request=<id>` or `/consent?request=<id>`; or to the redirect URI with `code`, `state` and `iss`; or with `error` (`invalid_request`, `unsupported_response_type`, `invalid_scope`, `login_required`, `consent_required`, `unmet_authentication_requirements`, `access_denied`, `invalid_request_uri`, `server_error`), `error_description`, `state` and `iss` (RFC 9207)",
            headers(("Location" = String, description = "Where the browser goes next"))),
        (status = 400, description = "An HTML error page (`invalid_request`), never a redirect: no or an unknown `client_id`, a `redirect_uri` the client did not register exactly, or either given twice", content_type = "text/html"),
        (status = "5XX", description = "An HTML error page (`server_error`, `temporarily_unavailable`)", content_type = "text/html"),
    ),
    security(())
)]
#[tracing::instrument(skip_all)]
pub async fn get(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let params = form_urlencoded::parse(req.query_string().as_bytes())
        .into_owned()
        .collect();
    answer(&state, &req, params).await
}

/// The same as `GET`, with the parameters in a form body.
///
/// The body is `application/x-www-form-urlencoded`, at most 16 KiB.
#[utoipa::path(
    post,
    path = "/oauth/authorize",
    operation_id = "authorize_post",
    tag = "oauth",
    request_body(content = String, content_type = "application/x-www-form-urlencoded",
        description = "The parameters of `GET /oauth/authorize`"),
    responses(
        (status = 303, description = "As for `GET /oauth/authorize`",
            headers(("Location" = String, description = "Where the browser goes next"))),
        (status = 400, description = "An HTML error page (`invalid_request`), never a redirect: as for `GET`, or a body that is not a form", content_type = "text/html"),
        (status = "5XX", description = "An HTML error page (`server_error`, `temporarily_unavailable`)", content_type = "text/html"),
    ),
    security(())
)]
#[tracing::instrument(skip_all)]
pub async fn post(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let urlencoded = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !urlencoded {
        return PageError::InvalidForm(
            "an authorization request is sent as application/x-www-form-urlencoded".into(),
        )
        .render(&state);
    }
    let body = match crate::http::body::read_body(&req, payload, MAX_FORM_BYTES).await {
        Ok(body) => body,
        Err(e) => return PageError::Api(e).render(&state),
    };
    let params = form_urlencoded::parse(&body).into_owned().collect();
    answer(&state, &req, params).await
}

async fn answer(
    state: &AppState,
    req: &HttpRequest,
    params: Vec<(String, String)>,
) -> HttpResponse {
    let cookie = session_cookie(req);
    let outcome = authorize::authorize(&state.services, &params, cookie.as_deref()).await;
    flow_answer(state, outcome)
}
