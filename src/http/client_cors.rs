//! CORS for the web origins of registered clients: a page of an SPA that
//! signs its users in through authd calls the token, userinfo and revocation
//! endpoints from its own origin. Those answers name the origin and never
//! allow credentials, so no cookie of authd's is ever sent or read on behalf
//! of another origin; authd's own origins (`server.allowed_origins` and the
//! issuer's) keep the credentialed CORS of `app.rs`.
//!
//! Which origins are allowed is a rule of `clients` (`origin_allowed`); this
//! middleware only answers the preflight and adds the headers.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};

use super::state::AppState;
use crate::clients;

/// The endpoints a client's page may call.
pub const PATHS: &[&str] = &["/oauth/token", "/oauth/userinfo", "/oauth/revoke"];

/// Answers a preflight from a client's web origin to one of [`PATHS`], and
/// names the origin on the answer to its request. Any other request goes on
/// untouched (to the first-party CORS, which refuses unknown origins).
pub async fn client_cors(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let Some(origin) = client_origin(&req).await else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    let preflight = req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if preflight {
        let answer = HttpResponse::NoContent()
            .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.as_str()))
            .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, "GET, POST"))
            .insert_header((
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                "authorization, content-type",
            ))
            .insert_header((header::ACCESS_CONTROL_MAX_AGE, "600"))
            .insert_header((header::VARY, "Origin"))
            .finish();
        return Ok(req.into_response(answer).map_into_right_body());
    }
    // The first-party CORS would refuse this origin: it is answered here.
    req.headers_mut().remove(header::ORIGIN);
    let mut response = next.call(req).await?;
    let headers = response.headers_mut();
    // Whatever the first-party CORS added for a request without an Origin.
    headers.remove(header::ACCESS_CONTROL_ALLOW_CREDENTIALS);
    if let Ok(value) = header::HeaderValue::from_str(&origin) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
    }
    headers.insert(header::VARY, header::HeaderValue::from_static("Origin"));
    Ok(response.map_into_left_body())
}

/// The request's `Origin` when it goes to one of [`PATHS`], is not one of
/// authd's own origins, and is a registered client's web origin.
async fn client_origin(req: &ServiceRequest) -> Option<String> {
    if !PATHS.contains(&req.path()) {
        return None;
    }
    let origin = req.headers().get(header::ORIGIN)?.to_str().ok()?.to_owned();
    let state = req.app_data::<web::Data<AppState>>()?;
    if state.is_own_origin(&origin) {
        return None;
    }
    match clients::origin_allowed(&state.services.store, &origin).await {
        Ok(allowed) => allowed.then_some(origin),
        Err(e) => {
            tracing::warn!(error = %e, "client web origins could not be read");
            None
        }
    }
}
