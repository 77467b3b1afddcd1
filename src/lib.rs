//! signalroom: a WebRTC signaling server and browser chat room in one binary.
//!
//! - [`protocol`]: the wire contract (event names and payloads), shared by server and browser.
//! - [`app`], [`chat`], [`members`], [`call`]: the Leptos page (chat room, its members and
//!   their moderation, video call), rendered on the server and hydrated in the browser.
//! - [`dashboard`]: the operator's page at `/admin`, the same way.
//! - [`client`]: the browser's Socket.IO client over `web_sys::WebSocket`; [`browser`]: small
//!   helpers for code running in the browser.
//! - `server` (feature `ssr`): config, logging, room rules, Socket.IO handlers, the axum router.

pub mod app;
pub mod browser;
pub mod call;
pub mod chat;
pub mod client;
pub mod dashboard;
pub mod members;
pub mod protocol;
#[cfg(feature = "ssr")]
pub mod server;

/// The WASM entry point: attaches the page's behaviour to the server-rendered HTML, the
/// dashboard's or the chat room's, by the page's path.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    let path = web_sys::window().and_then(|w| w.location().pathname().ok());
    if path.as_deref() == Some(app::ADMIN_PATH) {
        wasm_bindgen_futures::spawn_local(hydrate_dashboard());
    } else {
        leptos::mount::hydrate_body(app::App);
    }
}

/// The dashboard, in a WASM file of its own (`cargo leptos build --split`) that only `/admin`
/// loads: the chat page's bundle stays as small as it was.
#[cfg(feature = "hydrate")]
#[leptos::lazy]
fn hydrate_dashboard() {
    leptos::mount::hydrate_body(dashboard::Dashboard);
}
