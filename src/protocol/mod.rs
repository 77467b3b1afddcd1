//! The wire contract: every Socket.IO event name and payload signalroom speaks, defined once and
//! shared by the server (`server::signaling`) and the browser client (`client`).
//!
//! The tutorial's events are kept exactly: a client emits `join(room)`, `leave(room)` and
//! `message(room, data)`; the server answers `joined(room, id)`, `leaved(room, id)`, `bye(room, id)`
//! and `message(room, senderId, data)`. Everything else is an addition old clients can ignore:
//! the course's `otherjoin` and `full`, a `roster`, directed `signal`s and `ice_servers` for
//! WebRTC calls, `refused` and `closing`, so a client always learns why the server did not
//! act or is ending its connection, moderation (`kick`, `lock`, `unlock`; `removed` and
//! `locked`) for servers that check join tokens, and resuming a dropped connection for clients
//! that ask.
//!
//! - [`names`]: room and display names, validated.
//! - [`client`]: what clients send; [`server`]: what the server sends.
//! - [`signal`]: WebRTC payloads relayed between peers, and ICE servers.
//! - [`errors`]: refusal and close codes.
//! - [`resume`]: resuming a dropped connection as the same peer (`resumable`, `resumed`,
//!   `resume_failed`, `away`, `back`, and the position each event carries).

mod client;
mod errors;
mod names;
mod resume;
mod server;
mod signal;

pub use client::{ClientEvent, JoinOptions, MAX_REQUESTED_CAPACITY};
pub use errors::{wire_name, CloseCode, Closing, Refusal, RefusalCode, Removal, RemovalCode};
pub use names::{DisplayName, RoomName, MAX_NAME_CHARS, MAX_ROOM_CHARS};
pub use resume::{take_seq, with_seq, ResumeAsk, ResumeFailure, ResumeFailureCode, ResumeGrant};
pub use server::{Peer, ServerEvent};
pub use signal::{IceCandidate, IceServer, Signal};

/// Event names, as they appear on the wire.
pub mod event {
    pub const JOIN: &str = "join";
    pub const LEAVE: &str = "leave";
    pub const MESSAGE: &str = "message";
    pub const JOINED: &str = "joined";
    pub const LEAVED: &str = "leaved";
    pub const BYE: &str = "bye";
    pub const REFUSED: &str = "refused";
    pub const CLOSING: &str = "closing";
    pub const OTHERJOIN: &str = "otherjoin";
    pub const FULL: &str = "full";
    pub const ROSTER: &str = "roster";
    pub const SIGNAL: &str = "signal";
    pub const ICE_SERVERS: &str = "ice_servers";
    pub const KICK: &str = "kick";
    pub const LOCK: &str = "lock";
    pub const UNLOCK: &str = "unlock";
    pub const REMOVED: &str = "removed";
    pub const LOCKED: &str = "locked";
    pub const RESUMABLE: &str = "resumable";
    pub const RESUMED: &str = "resumed";
    pub const RESUME_FAILED: &str = "resume_failed";
    pub const AWAY: &str = "away";
    pub const BACK: &str = "back";
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;
    use serde_json::Value;

    /// Any JSON value, nested a few levels.
    fn json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<String>().prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::hash_map(any::<String>(), inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    const CLIENT_EVENTS: [&str; 10] = [
        event::JOIN,
        event::KICK,
        event::LOCK,
        event::UNLOCK,
        event::LEAVE,
        event::MESSAGE,
        event::SIGNAL,
        event::ICE_SERVERS,
        "other",
        "",
    ];
    const SERVER_EVENTS: [&str; 14] = [
        event::JOINED,
        event::REMOVED,
        event::LOCKED,
        event::LEAVED,
        event::BYE,
        event::MESSAGE,
        event::REFUSED,
        event::CLOSING,
        event::OTHERJOIN,
        event::FULL,
        event::ROSTER,
        event::SIGNAL,
        event::ICE_SERVERS,
        "x",
    ];

    proptest! {
        #[test]
        fn client_event_decoding_never_panics_and_refusals_name_the_event(
            name in prop::sample::select(CLIENT_EVENTS.to_vec()),
            args in prop::collection::vec(json(), 0..4),
        ) {
            match ClientEvent::decode(name, &args) {
                Ok(event) => prop_assert_eq!(event.name(), name),
                Err(refusal) => prop_assert_eq!(refusal.event, name),
            }
        }

        #[test]
        fn server_event_decoding_never_panics(
            name in prop::sample::select(SERVER_EVENTS.to_vec()),
            args in prop::collection::vec(json(), 0..4),
        ) {
            let _ = ServerEvent::decode(name, &args);
        }
    }
}
