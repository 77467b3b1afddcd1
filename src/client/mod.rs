//! The browser's Socket.IO client, in Rust: [`frame`] is the wire codec (pure, tested natively),
//! [`socket`] drives a `web_sys::WebSocket` with it, and [`connection`] keeps one session across
//! dropped WebSockets by resuming it.

pub mod connection;
pub mod frame;
pub mod socket;

pub use connection::Connection;
pub use socket::{page_token, unchecked_claims, SocketEvent};
