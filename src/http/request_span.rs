//! The request log's root span: tracing-actix-web's default fields, with
//! `http.client_ip` chosen by the trusted-proxy rule that limits, sessions and
//! audit events use, instead of believing `X-Forwarded-For` from any peer.

use std::net::{IpAddr, SocketAddr};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Version;
use actix_web::http::header::{HeaderMap, USER_AGENT};
use actix_web::{Error, HttpMessage, web};
use tracing::Span;
use tracing_actix_web::{DefaultRootSpanBuilder, RequestId, RootSpanBuilder};

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
            http.target = %request.uri().path_and_query().map(|p| p.as_str()).unwrap_or(""),
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
