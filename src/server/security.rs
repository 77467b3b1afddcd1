//! Browser-facing protection: which origins may open Socket.IO connections, a Content
//! Security Policy on the page and headers on every response.

use std::sync::Arc;

use axum::extract::Request;
use axum::http::header::{
    HeaderName, HeaderValue, CONTENT_SECURITY_POLICY, HOST, ORIGIN, REFERRER_POLICY,
    X_CONTENT_TYPE_OPTIONS,
};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Router;
use leptos::prelude::use_context;
use leptos_axum::ResponseOptions;
use tower_http::set_header::SetResponseHeaderLayer;

/// The page's policy: everything from this server only; inline scripts only with this
/// response's nonce (Leptos puts it on the hydration scripts); WASM may be compiled.
/// `connect-src 'self'` covers the Socket.IO WebSocket to the same host.
pub fn content_security_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// Sets the page's CSP header; call while rendering the shell on the server.
pub fn set_content_security_policy() {
    let (Some(nonce), Some(response)) =
        (leptos::nonce::use_nonce(), use_context::<ResponseOptions>())
    else {
        return;
    };
    match HeaderValue::from_str(&content_security_policy(&nonce)) {
        Ok(value) => response.insert_header(CONTENT_SECURITY_POLICY, value),
        Err(err) => tracing::error!(%err, "invalid Content-Security-Policy; page sent without one"),
    }
}

/// Headers for every response of `router` (the page and the site's files).
pub fn headers(router: Router) -> Router {
    let always = |name: HeaderName, value: &'static str| {
        SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
    };
    router
        .layer(always(X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(always(REFERRER_POLICY, "no-referrer"))
}

/// The browser origins allowed to open Socket.IO connections (a defence against other sites'
/// pages using a visitor's browser to connect).
#[derive(Debug, Clone, Default)]
pub struct AllowedOrigins {
    any: bool,
    listed: Arc<[String]>,
}

impl AllowedOrigins {
    /// From `--allowed-origins`: exact origins such as `https://chat.example.com`, or `*`.
    pub fn new(origins: &[String]) -> Self {
        let normal = |o: &String| o.trim().trim_end_matches('/').to_ascii_lowercase();
        Self {
            any: origins.iter().any(|o| o.trim() == "*"),
            listed: origins
                .iter()
                .map(normal)
                .filter(|o| !o.is_empty())
                .collect(),
        }
    }

    /// Whether a request with this `Origin`, made to this `Host`, may connect.
    pub fn allows(&self, origin: &str, host: Option<&str>) -> bool {
        let origin = origin.to_ascii_lowercase();
        let Some((_scheme, authority)) = origin.split_once("://") else {
            return self.any; // `null` and other opaque origins
        };
        self.any
            || host.is_some_and(|host| host.eq_ignore_ascii_case(authority))
            || is_loopback(authority)
            || self.listed.contains(&origin)
    }
}

/// `localhost`, `127.x.y.z` or `[::1]`, with or without a port: development pages.
fn is_loopback(authority: &str) -> bool {
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    host == "localhost"
        || host == "::1"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A Socket.IO request from a browser origin that is not allowed gets `403`, before any session
/// exists (see `socketio_gate`). Requests without an `Origin` (non-browser clients) pass.
pub fn refuse_foreign_origin(allowed: &AllowedOrigins, request: &Request) -> Option<Response> {
    let header = |name| {
        request
            .headers()
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    let origin = header(ORIGIN)?;
    if allowed.allows(origin, header(HOST)) {
        return None;
    }
    tracing::warn!(
        origin,
        "refused a Socket.IO connection from a foreign origin"
    );
    Some((StatusCode::FORBIDDEN, "origin not allowed\n").into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_loopback_and_listed_origins_are_allowed() {
        let allowed = AllowedOrigins::new(&["https://Chat.Example.com/".into()]);
        let host = Some("signal.example.org:8443");
        assert!(allowed.allows("https://signal.example.org:8443", host));
        assert!(allowed.allows("https://chat.example.com", host));
        assert!(allowed.allows("http://localhost:3000", host));
        assert!(allowed.allows("http://127.0.0.1:9980", host));
        assert!(allowed.allows("http://[::1]:9980", host));
        assert!(!allowed.allows("https://evil.example", host));
        assert!(!allowed.allows("https://signal.example.org", host)); // other port
        assert!(!allowed.allows("https://localhost.evil.example", host));
        assert!(!allowed.allows("null", host));
    }

    #[test]
    fn a_star_allows_any_origin() {
        let allowed = AllowedOrigins::new(&["*".into()]);
        assert!(allowed.allows("https://anywhere.example", None));
        assert!(allowed.allows("null", None));
    }
}
