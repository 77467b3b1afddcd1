//! The browser's Socket.IO client, in Rust: [`frame`] is the wire codec (pure, tested natively),
//! [`socket`] drives a `web_sys::WebSocket` with it.

pub mod frame;
pub mod socket;

pub use socket::{claims_moderator, page_token, Socket, SocketEvent};
