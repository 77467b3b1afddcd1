//! The server API for the application's backend (`--api-key`): HTTP and JSON under `/api/` on
//! the same port, every route behind `Authorization: Bearer KEY`. Without a key the routes do
//! not exist (404). The README's "Server API" table lists the routes; `/api/openapi.json`
//! describes them (served without the key, so tools can read it).
//!
//! - [`error`]: the JSON error body, with its status.
//! - [`routes`]: the handlers, each a thin call into [`Control`].

mod error;
mod routes;

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::Router;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::signaling::control::Control;
pub use error::ApiError;

/// Largest request body, in bytes: the biggest is a server message, and a chat line is far less.
pub const MAX_BODY: usize = 64 * 1024;

/// The API's routes, under `/api`, for a server whose key is `key`.
pub fn router(control: Control, key: &str) -> Router {
    let key = ApiKey(Sha256::digest(key.as_bytes()).into());
    let guarded = Router::new()
        .route("/rooms", get(routes::rooms))
        .route("/rooms/{room}", get(routes::room).delete(routes::close))
        .route("/rooms/{room}/members/{id}", delete(routes::remove))
        .route("/rooms/{room}/messages", post(routes::say))
        .route("/tokens", post(routes::mint))
        .route("/dashboard", get(routes::dashboard))
        .fallback(routes::not_found)
        .layer(axum::middleware::from_fn_with_state(key, authorize))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .with_state(control);
    Router::new()
        .route("/openapi.json", get(routes::openapi))
        .merge(guarded)
}

/// `/api/` without `--api-key`: every path is 404, whatever the method.
pub fn off() -> Router {
    Router::new().fallback(|| async { ApiError::not_found("the server API is off (no --api-key)") })
}

/// The configured key's SHA-256: what a presented key is compared with.
#[derive(Clone)]
struct ApiKey([u8; 32]);

/// Lets a request through only with `Authorization: Bearer KEY`. Both keys are hashed first, so
/// the constant-time comparison does not leak the key's length either.
async fn authorize(State(key): State<ApiKey>, request: Request, next: Next) -> Response {
    let presented = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match presented {
        None => ApiError::unauthorized().into_response(),
        Some(presented) => {
            let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
            if bool::from(digest.ct_eq(&key.0)) {
                next.run(request).await
            } else {
                ApiError::forbidden().into_response()
            }
        }
    }
}
