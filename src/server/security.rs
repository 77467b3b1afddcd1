//! Browser-facing protection: a Content Security Policy on the page and headers on every
//! response.

use axum::http::header::{
    HeaderName, HeaderValue, CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
};
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
