//! At shutdown, Socket.IO long-polls end at once instead of holding the server open.
//!
//! Shutdown tells every client it is disconnected (a Socket.IO disconnect, which a polling
//! client receives on its open poll), but the Engine.IO session behind each client stays open
//! until the client closes it. Browsers do; a client that polls again instead (rust_socketio
//! does) left that poll waiting, and the server with it, until `--shutdown-timeout` ran out.
//! Once the disconnects are sent, [`Drain::finish`] ends the polls still waiting and refuses new
//! ones.

use std::future::Future;

use axum::http::StatusCode;
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

    /// `response`, or `503 Service Unavailable` if it is still not ready when the drain
    /// finishes (or has finished). A response already there (the disconnect itself, on a poll
    /// that was waiting for it) goes out first.
    pub async fn or_refusal(&self, response: impl Future<Output = Response>) -> Response {
        let mut finished = self.0.subscribe();
        tokio::select! {
            biased;
            response = response => response,
            _ = finished.wait_for(|&done| done) => {
                (StatusCode::SERVICE_UNAVAILABLE, "the server is shutting down\n").into_response()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::future::{pending, ready};
    use std::time::Duration;

    use super::*;

    fn answer() -> Response {
        "sent".into_response()
    }

    #[tokio::test]
    async fn a_waiting_poll_ends_when_the_drain_finishes() {
        let drain = Drain::new();
        let waiting = tokio::spawn({
            let drain = drain.clone();
            async move { drain.or_refusal(pending()).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished());
        drain.finish();
        let response = tokio::time::timeout(Duration::from_secs(1), waiting)
            .await
            .expect("answered")
            .unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    }

    #[tokio::test]
    async fn after_the_drain_polls_are_refused_but_ready_answers_still_go_out() {
        let drain = Drain::new();
        drain.finish();
        let refused = drain.or_refusal(pending()).await;
        assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
        let ready = drain.or_refusal(ready(answer())).await;
        assert_eq!(ready.status(), StatusCode::OK);
    }
}
