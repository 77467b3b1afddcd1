//! signalroom: a WebRTC signaling server and browser chat room in one binary.
//!
//! - [`protocol`]: the wire contract (event names and payloads), shared by server and browser.
//! - [`app`], [`chat`], [`members`], [`call`]: the Leptos page (chat room, its members and
//!   their moderation, video call), rendered on the server and hydrated in the browser.
//! - [`client`]: the browser's Socket.IO client over `web_sys::WebSocket`.
//! - `server` (feature `ssr`): config, logging, room rules, Socket.IO handlers, the axum router.

pub mod app;
pub mod call;
pub mod chat;
pub mod client;
pub mod members;
pub mod protocol;
#[cfg(feature = "ssr")]
pub mod server;

/// The WASM entry point: attaches the page's behaviour to the server-rendered HTML.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
