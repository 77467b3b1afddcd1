//! The wire contract: every Socket.IO event name and payload signalroom speaks, defined once and
//! shared by the server (`server::signaling`) and the browser client (`client`).
//!
//! The tutorial's events are kept exactly: a client emits `join(room)`, `leave(room)` and
//! `message(room, data)`; the server answers `joined(room, id)`, `leaved(room, id)`, `bye(room, id)`
//! and `message(room, senderId, data)`. `refused` and `closing` are signalroom's own additions:
//! the one answer to an event the server will not act on, and the one notice before the server
//! ends a connection, so a client always learns why.

use serde::{Deserialize, Serialize};
use serde_json::Value;

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
}

/// Longest room name accepted, in characters.
pub const MAX_ROOM_CHARS: usize = 128;

/// A room name that passed validation: non-empty, at most [`MAX_ROOM_CHARS`] characters, no
/// control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct RoomName(String);

impl RoomName {
    pub fn parse(name: &str) -> Result<Self, RefusalCode> {
        let chars = name.chars().count();
        if chars == 0 || chars > MAX_ROOM_CHARS || name.chars().any(char::is_control) {
            return Err(RefusalCode::InvalidRoom);
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for RoomName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// An event a client sends to the server.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientEvent {
    Join {
        room: RoomName,
    },
    Leave {
        room: RoomName,
    },
    /// `data` is relayed as it came: the tutorial's page sends `"username:text"`, other clients
    /// may send any JSON value.
    Message {
        room: RoomName,
        data: Value,
    },
}

impl ClientEvent {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Join { .. } => event::JOIN,
            Self::Leave { .. } => event::LEAVE,
            Self::Message { .. } => event::MESSAGE,
        }
    }

    /// The event as a Socket.IO event array: `[name, arg, ...]`.
    pub fn to_array(&self) -> Value {
        let mut items = vec![Value::from(self.name())];
        match self {
            Self::Join { room } | Self::Leave { room } => items.push(room.as_str().into()),
            Self::Message { room, data } => {
                items.push(room.as_str().into());
                items.push(data.clone());
            }
        }
        Value::Array(items)
    }

    /// Reads an event from its name and arguments, refusing anything that is not exactly one of
    /// the contract's events. Extra trailing arguments are ignored, as socket.io does.
    pub fn decode(name: &str, args: &[Value]) -> Result<Self, Refusal> {
        let refuse = |code: RefusalCode| Refusal::new(name, code);
        let room = |i: usize| -> Result<RoomName, Refusal> {
            match args.get(i) {
                Some(Value::String(s)) => RoomName::parse(s).map_err(refuse),
                Some(_) | None => Err(refuse(RefusalCode::BadArguments)),
            }
        };
        match name {
            event::JOIN => Ok(Self::Join { room: room(0)? }),
            event::LEAVE => Ok(Self::Leave { room: room(0)? }),
            event::MESSAGE => {
                let room = room(0)?;
                let data = args
                    .get(1)
                    .cloned()
                    .ok_or_else(|| refuse(RefusalCode::BadArguments))?;
                Ok(Self::Message { room, data })
            }
            _ => Err(refuse(RefusalCode::UnknownEvent)),
        }
    }
}

/// An event the server sends to a client. `id` and `from` are Socket.IO socket ids.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerEvent {
    /// To the joiner.
    Joined { room: String, id: String },
    /// To the leaver.
    Leaved { room: String, id: String },
    /// To the rest of the room when someone leaves or disconnects.
    Bye { room: String, id: String },
    /// To everyone in the room, sender included.
    Message {
        room: String,
        from: String,
        data: Value,
    },
    /// To the sender of an event the server did not act on.
    Refused(Refusal),
    /// To a client the server is about to disconnect, just before the Socket.IO disconnect.
    Closing(Closing),
}

impl ServerEvent {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Joined { .. } => event::JOINED,
            Self::Leaved { .. } => event::LEAVED,
            Self::Bye { .. } => event::BYE,
            Self::Message { .. } => event::MESSAGE,
            Self::Refused(_) => event::REFUSED,
            Self::Closing(_) => event::CLOSING,
        }
    }

    /// Reads a server event from its name and arguments (used by the browser client).
    pub fn decode(name: &str, args: &[Value]) -> Option<Self> {
        let text = |i: usize| args.get(i).and_then(Value::as_str).map(str::to_owned);
        Some(match name {
            event::JOINED => Self::Joined {
                room: text(0)?,
                id: text(1)?,
            },
            event::LEAVED => Self::Leaved {
                room: text(0)?,
                id: text(1)?,
            },
            event::BYE => Self::Bye {
                room: text(0)?,
                id: text(1)?,
            },
            event::MESSAGE => Self::Message {
                room: text(0)?,
                from: text(1)?,
                data: args.get(2)?.clone(),
            },
            event::REFUSED => Self::Refused(serde_json::from_value(args.first()?.clone()).ok()?),
            event::CLOSING => Self::Closing(serde_json::from_value(args.first()?.clone()).ok()?),
            _ => return None,
        })
    }
}

/// Serializes as the tuple of the event's arguments, which Socket.IO servers send as separate
/// arguments: `joined(room, id)`, not `joined([room, id])`.
impl Serialize for ServerEvent {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple;
        match self {
            Self::Joined { room, id } | Self::Leaved { room, id } | Self::Bye { room, id } => {
                let mut t = s.serialize_tuple(2)?;
                t.serialize_element(room)?;
                t.serialize_element(id)?;
                t.end()
            }
            Self::Message { room, from, data } => {
                let mut t = s.serialize_tuple(3)?;
                t.serialize_element(room)?;
                t.serialize_element(from)?;
                t.serialize_element(data)?;
                t.end()
            }
            Self::Refused(refusal) => {
                let mut t = s.serialize_tuple(1)?;
                t.serialize_element(refusal)?;
                t.end()
            }
            Self::Closing(closing) => {
                let mut t = s.serialize_tuple(1)?;
                t.serialize_element(closing)?;
                t.end()
            }
        }
    }
}

/// Why the server did not act on an event: the single argument of `refused`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    /// The refused event's name.
    pub event: String,
    pub code: RefusalCode,
    /// For people; the code is for programs.
    pub message: String,
}

impl Refusal {
    pub fn new(event: &str, code: RefusalCode) -> Self {
        // Event names come from the client: bound what we echo back.
        let event: String = event.chars().take(64).collect();
        Self {
            message: code.describe().to_owned(),
            event,
            code,
        }
    }
}

/// Machine-readable refusal reasons; documented in the README's event table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalCode {
    BadArguments,
    InvalidRoom,
    UnknownEvent,
    NotMember,
    BinaryUnsupported,
    Overloaded,
    RateLimited,
    TooManyRooms,
}

impl RefusalCode {
    pub fn describe(self) -> &'static str {
        match self {
            Self::BadArguments => "the event's arguments are missing or of the wrong type",
            Self::InvalidRoom => {
                "room names are strings of 1 to 128 characters without control characters"
            }
            Self::UnknownEvent => "the server does not know this event",
            Self::NotMember => "you are not in that room",
            Self::BinaryUnsupported => "binary payloads are not supported",
            Self::Overloaded => "too many events queued for this connection; slow down",
            Self::RateLimited => "too many events per second; slow down or be disconnected",
            Self::TooManyRooms => "you are in as many rooms as one connection may be",
        }
    }
}

/// Why the server is ending a connection: the single argument of `closing`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Closing {
    pub code: CloseCode,
    /// For people; the code is for programs.
    pub message: String,
}

impl Closing {
    pub fn new(code: CloseCode) -> Self {
        Self {
            message: code.describe().to_owned(),
            code,
        }
    }
}

/// Machine-readable reasons for a server-side disconnect; documented in the README.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CloseCode {
    /// The client did not read fast enough: its send buffer filled, so it would have missed
    /// events in the middle of the stream.
    SlowReceiver,
    /// The client kept sending over the event rate.
    RateLimited,
}

impl CloseCode {
    pub fn describe(self) -> &'static str {
        match self {
            Self::SlowReceiver => {
                "you were not reading fast enough and would have missed events; reconnect"
            }
            Self::RateLimited => "you kept sending events faster than the rate limit",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn decodes_the_tutorial_events() {
        assert_eq!(
            ClientEvent::decode("join", &[json!("112222")]),
            Ok(ClientEvent::Join {
                room: RoomName::parse("112222").unwrap()
            })
        );
        let msg = ClientEvent::decode("message", &[json!("r"), json!("Chrome:hi")]).unwrap();
        assert_eq!(msg.to_array(), json!(["message", "r", "Chrome:hi"]));
    }

    #[test]
    fn refuses_wrong_shapes_with_a_code() {
        let code = |name, args: &[Value]| ClientEvent::decode(name, args).unwrap_err().code;
        assert_eq!(code("join", &[]), RefusalCode::BadArguments);
        assert_eq!(code("join", &[json!(["a"])]), RefusalCode::BadArguments);
        assert_eq!(code("join", &[json!(1)]), RefusalCode::BadArguments);
        assert_eq!(code("join", &[json!("")]), RefusalCode::InvalidRoom);
        assert_eq!(
            code("join", &[json!("x".repeat(129))]),
            RefusalCode::InvalidRoom
        );
        assert_eq!(code("leave", &[json!("a\nb")]), RefusalCode::InvalidRoom);
        assert_eq!(code("message", &[json!("r")]), RefusalCode::BadArguments);
        assert_eq!(code("dance", &[]), RefusalCode::UnknownEvent);
    }

    #[test]
    fn server_events_serialize_as_separate_arguments() {
        let ev = ServerEvent::Message {
            room: "r".into(),
            from: "id".into(),
            data: json!("d"),
        };
        assert_eq!(serde_json::to_value(&ev).unwrap(), json!(["r", "id", "d"]));
        let args = [json!("r"), json!("id"), json!("d")];
        assert_eq!(ServerEvent::decode("message", &args), Some(ev));
    }

    #[test]
    fn refusal_round_trips() {
        let ev = ServerEvent::Refused(Refusal::new("leave", RefusalCode::NotMember));
        let args = serde_json::to_value(&ev).unwrap();
        assert_eq!(args[0]["code"], "not_member");
        assert_eq!(
            ServerEvent::decode("refused", args.as_array().unwrap()),
            Some(ev)
        );
    }

    #[test]
    fn closing_round_trips() {
        let ev = ServerEvent::Closing(Closing::new(CloseCode::SlowReceiver));
        let args = serde_json::to_value(&ev).unwrap();
        assert_eq!(args[0]["code"], "slow_receiver");
        assert_eq!(
            ServerEvent::decode("closing", args.as_array().unwrap()),
            Some(ev)
        );
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

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

    proptest! {
        #[test]
        fn client_event_decoding_never_panics_and_refusals_name_the_event(
            name in prop::sample::select(vec!["join", "leave", "message", "other", ""]),
            args in prop::collection::vec(json(), 0..4),
        ) {
            match ClientEvent::decode(name, &args) {
                Ok(event) => prop_assert_eq!(event.name(), name),
                Err(refusal) => prop_assert_eq!(refusal.event, name),
            }
        }

        #[test]
        fn server_event_decoding_never_panics(
            name in prop::sample::select(vec!["joined", "leaved", "bye", "message", "refused", "closing", "x"]),
            args in prop::collection::vec(json(), 0..4),
        ) {
            let _ = ServerEvent::decode(name, &args);
        }

        #[test]
        fn room_names_are_accepted_exactly_when_valid(name in any::<String>()) {
            let valid = (1..=MAX_ROOM_CHARS).contains(&name.chars().count())
                && !name.chars().any(char::is_control);
            prop_assert_eq!(RoomName::parse(&name).is_ok(), valid);
        }
    }
}
