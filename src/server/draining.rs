//! At shutdown, Socket.IO long-polls end at once instead of holding the server open.
//!
//! Shutdown tells every client it is disconnected (a Socket.IO disconnect, which a polling
//! client receives on its open poll), but the Engine.IO session behind each client stays open
//! until the client closes it. Browsers do; a client that polls again instead (rust_socketio
//! does) left that poll waiting, and the server with it, until `--shutdown-timeout` ran out.
//! Once the disconnects are sent, [`Drain::finish`] ends the polls still waiting and refuses new
//! ones.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::watch;

/// Whether the server has finished with its clients: a cheap-to-clone handle.
#[derive(Clone)]
pub struct Drain(watch::Sender<bool>);

impl Drain {
    pub fn new() -> Self {
        Self(watch::Sender::new(false))
    }

    /// Every client has been told it is disconnected: Socket.IO requests end now.
    pub fn finish(&self) {
        self.0.send_replace(true);
    }
}

/// Middleware: a `/socket.io/` request still waiting when the drain finishes, or arriving after,
/// gets `503 Service Unavailable`. A response already there (the disconnect itself, on a poll
/// that was waiting for it) goes out first.
pub async fn end_at_shutdown(State(drain): State<Drain>, request: Request, next: Next) -> Response {
    if !request.uri().path().starts_with("/socket.io") {
        return next.run(request).await;
    }
    let mut finished = drain.0.subscribe();
    tokio::select! {
        biased;
        response = next.run(request) => response,
        _ = finished.wait_for(|&done| done) => {
            (StatusCode::SERVICE_UNAVAILABLE, "the server is shutting down\n").into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::body::Body;
    use axum::routing::get;
    use axum::Router;
    use tower::ServiceExt;

    use super::*;

    /// `/socket.io/wait` waits forever, like a poll with nothing to send; `/socket.io/now` and
    /// `/page` answer at once.
    fn app(drain: &Drain) -> Router {
        Router::new()
            .route("/socket.io/wait", get(std::future::pending::<&str>))
            .route("/socket.io/now", get(|| async { "sent" }))
            .route("/page", get(std::future::pending::<&str>))
            .layer(axum::middleware::from_fn_with_state(
                drain.clone(),
                end_at_shutdown,
            ))
    }

    fn request(path: &str) -> Request {
        Request::get(path).body(Body::empty()).unwrap()
    }

    async fn within_a_second(app: Router, path: &str) -> Option<Response> {
        tokio::time::timeout(Duration::from_secs(1), app.oneshot(request(path)))
            .await
            .ok()
            .map(Result::unwrap)
    }

    #[tokio::test]
    async fn a_waiting_poll_ends_when_the_drain_finishes() {
        let drain = Drain::new();
        let waiting = tokio::spawn(within_a_second(app(&drain), "/socket.io/wait"));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished());
        drain.finish();
        let response = waiting.await.unwrap().expect("answered");
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    }

    #[tokio::test]
    async fn after_the_drain_polls_are_refused_but_ready_answers_still_go_out() {
        let drain = Drain::new();
        drain.finish();
        let refused = within_a_second(app(&drain), "/socket.io/wait")
            .await
            .unwrap();
        assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
        let ready = within_a_second(app(&drain), "/socket.io/now")
            .await
            .unwrap();
        assert_eq!(ready.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn other_requests_are_left_alone() {
        let drain = Drain::new();
        drain.finish();
        assert!(within_a_second(app(&drain), "/page").await.is_none());
    }
}
