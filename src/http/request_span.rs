//! The request log's root span: tracing-actix-web's default fields, with
//! `http.client_ip` chosen by the trusted-proxy rule that limits, sessions and
//! audit events use, instead of believing `X-Forwarded-For` from any peer, and
//! `http.target` without the secret of an emailed link.

use std::net::{IpAddr, SocketAddr};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderMap, USER_AGENT};
use actix_web::http::{Uri, Version};
use actix_web::{Error, HttpMessage, web};
use tracing::Span;
use tracing_actix_web::{DefaultRootSpanBuilder, RequestId, RootSpanBuilder};

use super::ApiError;
use super::extractors::client_ip;
use super::state::AppState;

/// The root span of every request (`TracingLogger<RequestSpan>`).
pub struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let trusted = request
            .app_data::<web::Data<AppState>>()
            .map(|state| state.trusted_proxies.clone())
            .unwrap_or_default();
        let client_ip = logged_client_ip(request.peer_addr(), request.headers(), &trusted);
        let user_agent = request
            .headers()
            .get(USER_AGENT)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        let route = request.match_pattern().unwrap_or_else(|| "default".into());
        let method = request.method().as_str();
        let connection = request.connection_info();
        let request_id = request
            .extensions()
            .get::<RequestId>()
            .map(|id| id.to_string())
            .unwrap_or_default();
        // The same fields as tracing-actix-web's `root_span!`, so that
        // `DefaultRootSpanBuilder::on_request_end` fills in the outcome.
        tracing::info_span!(
            "HTTP request",
            http.method = %method,
            http.route = %route,
            http.flavor = %flavor(request.version()),
            http.scheme = %connection.scheme(),
            http.host = %connection.host(),
            http.client_ip = %client_ip,
            http.user_agent = %user_agent,
            http.target = %logged_target(request.uri()),
            http.status_code = tracing::field::Empty,
            otel.name = %format!("{method} {route}"),
            otel.kind = "server",
            otel.status_code = tracing::field::Empty,
            trace_id = tracing::field::Empty,
            request_id = %request_id,
            exception.message = tracing::field::Empty,
            exception.details = tracing::field::Empty,
        )
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        DefaultRootSpanBuilder::on_request_end(span, outcome);
        log_error_answer(outcome);
    }
}

/// The event tracing-actix-web emits for an error answer (its
/// `emit_event_on_error`, turned off in Cargo.toml): a warning for a 4xx, an
/// error for a 5xx, in the request's span. Except for a 503
/// `temporarily_unavailable`: shed load, which under a login flood is
/// hundreds of answers a second that must cost as little as possible. Its
/// cause is logged where it is known (a database outage as a warning, in
/// `From<StoreError> for ApiError`); a full hashing queue is not an error of
/// the request, and is logged at debug only.
fn log_error_answer<B>(outcome: &Result<ServiceResponse<B>, Error>) {
    let (error, status) = match outcome {
        Ok(response) => match response.response().error() {
            Some(error) => (error, response.status()),
            None => return,
        },
        Err(error) => (error, error.as_response_error().status_code()),
    };
    const PREFIX: &str = "Error encountered while processing the incoming HTTP request";
    let error_debug = error.as_response_error();
    if let Some(ApiError::Unavailable { .. }) = error.as_error::<ApiError>() {
        tracing::debug!("{PREFIX}: {error_debug:?}");
    } else if status.is_client_error() {
        tracing::warn!("{PREFIX}: {error_debug:?}");
    } else {
        tracing::error!("{PREFIX}: {error_debug:?}");
    }
}

/// The HTTP version as the default builder spells it (`1.1`, `2.0`).
fn flavor(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 => "0.9",
        Version::HTTP_10 => "1.0",
        Version::HTTP_11 => "1.1",
        Version::HTTP_2 => "2.0",
        Version::HTTP_3 => "3.0",
        _ => "other",
    }
}

/// Query parameters whose value the log never shows: an emailed link is
/// `email.link_base?action=<kind>&token=<token>`, and its page is authd's own
/// by default (`/account`, `http::pages`; or the demo's, `/demo/`), so
/// opening the link sends the token here. An authorization's redirect carries
/// `code`; RP-initiated logout, the ID token (`id_token_hint`); and
/// `login_hint` is an email address, which the log never holds either.
const SECRET_PARAMS: [&str; 4] = ["token", "code", "id_token_hint", "login_hint"];

/// The request's path and query as the log shows them, the value of each
/// [`SECRET_PARAMS`] parameter replaced by `[redacted]`.
fn logged_target(uri: &Uri) -> String {
    let path = uri.path();
    let Some(query) = uri.query() else {
        return path.to_owned();
    };
    let query = query
        .split('&')
        .map(|pair| {
            let name = pair.split_once('=').map_or(pair, |(name, _)| name);
            let decoded: String = form_urlencoded::parse(name.as_bytes())
                .map(|(k, _)| k.into_owned())
                .collect();
            if SECRET_PARAMS.contains(&decoded.as_str()) {
                format!("{name}=[redacted]")
            } else {
                pair.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("&");
    format!("{path}?{query}")
}

/// The client as the log names it: the rule of [`client_ip`]; when a trusted
/// proxy's header does not parse (the request is refused with 400), the peer.
fn logged_client_ip(peer: Option<SocketAddr>, headers: &HeaderMap, trusted: &[IpAddr]) -> String {
    let peer_ip = peer.map(|p| p.ip().to_canonical());
    client_ip(peer, headers, trusted)
        .unwrap_or(peer_ip)
        .map(|ip| ip.to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderValue, X_FORWARDED_FOR};

    fn headers(lines: &[&'static str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for line in lines {
            map.append(X_FORWARDED_FOR, HeaderValue::from_static(line));
        }
        map
    }

    #[test]
    fn the_logged_target_hides_the_token_and_code_of_a_link() {
        let target = |s: &str| logged_target(&s.parse::<Uri>().unwrap());
        assert_eq!(
            target("/demo/?action=password_reset&token=s3cr3t"),
            "/demo/?action=password_reset&token=[redacted]"
        );
        assert_eq!(
            target("/demo/?tok%65n=s3cr3t&code=123456"),
            "/demo/?tok%65n=[redacted]&code=[redacted]"
        );
        assert_eq!(
            target("/oauth/logout?id_token_hint=eyJ.x.y&state=s"),
            "/oauth/logout?id_token_hint=[redacted]&state=s"
        );
        assert_eq!(
            target("/oauth/authorize?client_id=c&login_hint=ada%40example.org"),
            "/oauth/authorize?client_id=c&login_hint=[redacted]"
        );
        assert_eq!(target("/demo/?token"), "/demo/?token=[redacted]");
        assert_eq!(
            target("/account?action=verify_email&token=s3cr3t"),
            "/account?action=verify_email&token=[redacted]"
        );
        assert_eq!(
            target("/account?token=a&token=b&action=email_change_confirm"),
            "/account?token=[redacted]&token=[redacted]&action=email_change_confirm"
        );
        assert_eq!(
            target("/auth/revocations?after=5&limit=2"),
            "/auth/revocations?after=5&limit=2"
        );
        assert_eq!(target("/demo/"), "/demo/");
        assert_eq!(target("/demo/?"), "/demo/?");
    }

    #[test]
    fn the_logged_client_ip_follows_the_trusted_proxy_rule() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let from = |peer: &str| Some(SocketAddr::new(peer.parse().unwrap(), 4711));
        let spoofed = headers(&["198.51.100.1"]);
        assert_eq!(
            logged_client_ip(from("203.0.113.9"), &spoofed, &[proxy]),
            "203.0.113.9",
            "an untrusted peer's header is ignored"
        );
        assert_eq!(
            logged_client_ip(from("10.0.0.1"), &spoofed, &[proxy]),
            "198.51.100.1"
        );
        assert_eq!(
            logged_client_ip(
                from("::ffff:10.0.0.1"),
                &headers(&["198.51.100.1", "203.0.113.9"]),
                &[proxy]
            ),
            "203.0.113.9",
            "every line, a mapped peer"
        );
        assert_eq!(
            logged_client_ip(from("10.0.0.1"), &headers(&["garbage"]), &[proxy]),
            "10.0.0.1",
            "refused; the log names the proxy"
        );
        assert_eq!(logged_client_ip(None, &spoofed, &[proxy]), "");
    }
}
