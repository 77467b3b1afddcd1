//! The dashboard's calls to the server API, from the browser: the snapshot it shows, and the
//! removals and closings it asks for. Each carries the API key as `Authorization: Bearer`.
//!
//! Only runs in a browser (like [`crate::client`]); it compiles everywhere so the page does.

use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, Request, RequestInit, Response};

use super::snapshot::Snapshot;

/// Why a call did not work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// 401 or 403: no key, or a wrong one.
    #[error("the server refused this API key")]
    Refused,
    #[error("the server cannot be reached: {0}")]
    Unreachable(String),
    #[error("the server answered {status}: {message}")]
    Failed { status: u16, message: String },
}

/// The instance's snapshot, once it is newer than `after`.
pub async fn snapshot(key: &str, after: Option<u64>) -> Result<Snapshot, CallError> {
    let path = match after {
        Some(version) => format!("/api/dashboard?after={version}"),
        None => "/api/dashboard".to_owned(),
    };
    let response = call("GET", &path, key).await?;
    let text = read_text(&response).await?;
    serde_json::from_str(&text).map_err(|err| CallError::Failed {
        status: response.status(),
        message: format!("an answer the page cannot read: {err}"),
    })
}

/// Removes member `id` from `room`, as a moderator's kick.
pub async fn remove(key: &str, room: &str, id: &str) -> Result<(), CallError> {
    let path = format!("/api/rooms/{}/members/{}", encode(room), encode(id));
    call("DELETE", &path, key).await.map(drop)
}

/// Closes `room`: everyone in it is told and taken out.
pub async fn close(key: &str, room: &str) -> Result<(), CallError> {
    call("DELETE", &format!("/api/rooms/{}", encode(room)), key)
        .await
        .map(drop)
}

fn encode(segment: &str) -> String {
    String::from(js_sys::encode_uri_component(segment))
}

async fn call(method: &str, path: &str, key: &str) -> Result<Response, CallError> {
    let unreachable = |err: JsValue| CallError::Unreachable(describe(err));
    let headers = Headers::new().map_err(unreachable)?;
    headers
        .set("Authorization", &format!("Bearer {key}"))
        .map_err(unreachable)?;
    let init = RequestInit::new();
    init.set_method(method);
    init.set_headers(&headers);
    let request = Request::new_with_str_and_init(path, &init).map_err(unreachable)?;
    let window = web_sys::window().ok_or_else(|| CallError::Unreachable("no window".into()))?;
    let response: Response = JsFuture::from(window.fetch_with_request(&request))
        .await
        .map_err(unreachable)?
        .dyn_into()
        .map_err(unreachable)?;
    match response.status() {
        200..=299 => Ok(response),
        401 | 403 => Err(CallError::Refused),
        status => {
            let body = read_text(&response).await.unwrap_or_default();
            // The API's errors are `{"error", "message"}`.
            let message = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["message"].as_str().map(str::to_owned))
                .unwrap_or(body);
            Err(CallError::Failed { status, message })
        }
    }
}

async fn read_text(response: &Response) -> Result<String, CallError> {
    let unreachable = |err: JsValue| CallError::Unreachable(describe(err));
    let text = JsFuture::from(response.text().map_err(unreachable)?)
        .await
        .map_err(unreachable)?;
    Ok(text.as_string().unwrap_or_default())
}

fn describe(err: JsValue) -> String {
    err.as_string().unwrap_or_else(|| format!("{err:?}"))
}
