//! Who may connect, and what they may do once connected (`--auth-secret`).
//!
//! - [`token`]: join tokens (JWTs, HS256) checked at connect, and minted for `signalroom token`.
//! - [`grant`]: what a checked token allows: which rooms, which role, which name. Pure rules,
//!   asked at each join, kick and lock.
//!
//! Authentication happens once, in the Socket.IO connect middleware (a refused token is a
//! `connect_error`); each connection then carries its [`Grant`]. Without a secret every
//! connection gets [`Grant::open`]: every room, no moderation, as before tokens existed.

pub mod grant;
pub mod token;

pub use grant::{Grant, Role, RoomGrant, TokenId};
pub use token::{Claims, TokenError, Tokens};
