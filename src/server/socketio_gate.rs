//! What a Socket.IO request goes through before socketioxide: the origin check
//! ([`security`](super::security)), the trimmed request parts
//! ([`request_parts`](super::request_parts)) and the end at shutdown
//! ([`draining`](super::draining)).
//!
//! One middleware rather than three: axum's `from_fn` clones the whole inner service for every
//! request, once per layer, and so did three layers for every connect and every page request.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use super::draining::Drain;
use super::request_parts;
use super::security::{self, AllowedOrigins};

/// The paths socketioxide answers (engineioxide matches this prefix).
const SOCKET_IO: &str = "/socket.io";

/// The gate's settings: a cheap-to-clone handle.
#[derive(Clone)]
pub struct Gate {
    pub origins: AllowedOrigins,
    pub drain: Drain,
}

/// Middleware: applies the three steps to Socket.IO requests; other requests pass untouched.
pub async fn socketio_gate(State(gate): State<Gate>, request: Request, next: Next) -> Response {
    if !request.uri().path().starts_with(SOCKET_IO) {
        return next.run(request).await;
    }
    if let Some(refusal) = security::refuse_foreign_origin(&gate.origins, &request) {
        return refusal;
    }
    let (mut parts, body) = request.into_parts();
    request_parts::detach(&mut parts);
    gate.drain
        .or_refusal(next.run(Request::from_parts(parts, body)))
        .await
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::body::Body;
    use axum::http::StatusCode;
    use axum::routing::get;
    use axum::Router;
    use tower::ServiceExt;

    use super::*;

    /// Every path waits forever, like a poll with nothing to send; the gate is set to refuse
    /// `https://evil.example` and its drain has finished.
    fn app() -> Router {
        let gate = Gate {
            origins: AllowedOrigins::new(&[]),
            drain: Drain::new(),
        };
        gate.drain.finish();
        Router::new()
            .route("/{*path}", get(std::future::pending::<&str>))
            .layer(axum::middleware::from_fn_with_state(gate, socketio_gate))
    }

    async fn status(path: &str, origin: Option<&str>) -> Option<StatusCode> {
        let mut request = Request::get(path).header("host", "chat.example");
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        let response = app().oneshot(request.body(Body::empty()).unwrap());
        let response = tokio::time::timeout(Duration::from_secs(1), response).await;
        response.ok().map(|r| r.unwrap().status())
    }

    #[tokio::test]
    async fn socket_io_requests_meet_the_origin_check_and_the_drain() {
        let foreign = Some("https://evil.example");
        assert_eq!(
            status("/socket.io/?EIO=4", foreign).await,
            Some(StatusCode::FORBIDDEN)
        );
        let own = Some("https://chat.example");
        let drained = Some(StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(status("/socket.io/?EIO=4", own).await, drained);
        assert_eq!(status("/socket.io/?EIO=4", None).await, drained);
    }

    #[tokio::test]
    async fn other_requests_pass_untouched() {
        assert_eq!(status("/page", Some("https://evil.example")).await, None);
    }
}
