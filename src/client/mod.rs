//! The browser's Socket.IO client, in Rust: [`frame`] is the wire codec (pure, tested natively),
//! [`socket`] drives a `web_sys::WebSocket` with it.

pub mod frame;
pub mod socket;

pub use socket::{page_token, unchecked_claims, Socket, SocketEvent};
