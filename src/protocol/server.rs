//! Events the server sends to a client. `id` and `from` are Socket.IO socket ids.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{event, Closing, IceServer, Refusal, Removal, ResumeFailure, ResumeGrant, Signal};

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
    /// To the rest of the room when someone joins.
    OtherJoin {
        room: String,
        id: String,
        name: String,
    },
    /// To a joiner the room has no seat for; it was not added.
    Full { room: String, id: String },
    /// To the joiner, right after `joined`: who was already in the room.
    Roster { room: String, peers: Vec<Peer> },
    /// To the one peer a signaling payload was addressed to.
    Signal {
        room: String,
        from: String,
        signal: Signal,
    },
    /// To a client that asked: the ICE servers to use.
    IceServers(Vec<IceServer>),
    /// To a member the server took out of a room, and why; `leaved` follows, as if it had left.
    Removed { room: String, reason: Removal },
    /// To everyone in the room when a moderator locks it (no new joins) or unlocks it.
    Locked { room: String, locked: bool },
    /// To a client that asked to be resumable, once connected: its token.
    Resumable(ResumeGrant),
    /// To a client that resumed: its peer id, rooms and next token; what it missed follows.
    Resumed(ResumeGrant),
    /// To a client whose resume could not be done: it has a new session.
    ResumeFailed(ResumeFailure),
    /// To the rest of the room when `id`'s connection dropped: it may come back within the
    /// grace period (then nothing more is said), or `bye` follows.
    Away { room: String, id: String },
    /// To the rest of the room when `id`, which was away, resumed.
    Back { room: String, id: String },
}

/// A room member as the roster lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Peer {
    pub id: String,
    pub name: String,
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
            Self::OtherJoin { .. } => event::OTHERJOIN,
            Self::Full { .. } => event::FULL,
            Self::Roster { .. } => event::ROSTER,
            Self::Signal { .. } => event::SIGNAL,
            Self::IceServers(_) => event::ICE_SERVERS,
            Self::Removed { .. } => event::REMOVED,
            Self::Locked { .. } => event::LOCKED,
            Self::Resumable(_) => event::RESUMABLE,
            Self::Resumed(_) => event::RESUMED,
            Self::ResumeFailed(_) => event::RESUME_FAILED,
            Self::Away { .. } => event::AWAY,
            Self::Back { .. } => event::BACK,
        }
    }

    /// The event as a Socket.IO event array, `["name", arg, ...]`, as servers encode it: how a
    /// `signal` travels between cluster instances, which hand the text to the socket as it is.
    pub fn to_json_array(&self) -> String {
        let mut items = match serde_json::to_value(self) {
            Ok(Value::Array(args)) => args,
            _ => Vec::new(), // Every event serializes as its arguments' array.
        };
        items.insert(0, Value::from(self.name()));
        Value::Array(items).to_string()
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
            event::REFUSED => Self::Refused(typed(args, 0)?),
            event::CLOSING => Self::Closing(typed(args, 0)?),
            event::OTHERJOIN => Self::OtherJoin {
                room: text(0)?,
                id: text(1)?,
                name: text(2)?,
            },
            event::FULL => Self::Full {
                room: text(0)?,
                id: text(1)?,
            },
            event::ROSTER => Self::Roster {
                room: text(0)?,
                peers: typed(args, 1)?,
            },
            event::SIGNAL => Self::Signal {
                room: text(0)?,
                from: text(1)?,
                signal: typed(args, 2)?,
            },
            event::ICE_SERVERS => Self::IceServers(typed(args, 0)?),
            event::REMOVED => Self::Removed {
                room: text(0)?,
                reason: typed(args, 1)?,
            },
            event::LOCKED => Self::Locked {
                room: text(0)?,
                locked: args.get(1)?.as_bool()?,
            },
            event::RESUMABLE => Self::Resumable(typed(args, 0)?),
            event::RESUMED => Self::Resumed(typed(args, 0)?),
            event::RESUME_FAILED => Self::ResumeFailed(typed(args, 0)?),
            event::AWAY => Self::Away {
                room: text(0)?,
                id: text(1)?,
            },
            event::BACK => Self::Back {
                room: text(0)?,
                id: text(1)?,
            },
            _ => return None,
        })
    }
}

/// Argument `i`, read as a `T`.
fn typed<T: serde::de::DeserializeOwned>(args: &[Value], i: usize) -> Option<T> {
    T::deserialize(args.get(i)?).ok()
}

/// Serializes as the tuple of the event's arguments, which Socket.IO servers send as separate
/// arguments: `joined(room, id)`, not `joined([room, id])`.
impl Serialize for ServerEvent {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple;
        // Each arm lists its arguments once; the macro writes them as one tuple.
        macro_rules! args {
            ($($arg:expr),+) => {{
                let mut t = s.serialize_tuple([$(stringify!($arg)),+].len())?;
                $(t.serialize_element($arg)?;)+
                t.end()
            }};
        }
        match self {
            Self::Joined { room, id }
            | Self::Leaved { room, id }
            | Self::Bye { room, id }
            | Self::Full { room, id }
            | Self::Away { room, id }
            | Self::Back { room, id } => args!(room, id),
            Self::Message { room, from, data } => args!(room, from, data),
            Self::Refused(refusal) => args!(refusal),
            Self::Closing(closing) => args!(closing),
            Self::OtherJoin { room, id, name } => args!(room, id, name),
            Self::Roster { room, peers } => args!(room, peers),
            Self::Signal { room, from, signal } => args!(room, from, signal),
            Self::IceServers(servers) => args!(servers),
            Self::Removed { room, reason } => args!(room, reason),
            Self::Locked { room, locked } => args!(room, locked),
            Self::Resumable(grant) | Self::Resumed(grant) => args!(grant),
            Self::ResumeFailed(failure) => args!(failure),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{CloseCode, RefusalCode, RemovalCode};
    use serde_json::json;

    /// Serializes `event` and reads it back as the browser does.
    fn round_trip(event: ServerEvent) -> Value {
        let args = serde_json::to_value(&event).unwrap();
        let decoded = ServerEvent::decode(event.name(), args.as_array().unwrap());
        assert_eq!(decoded, Some(event));
        args
    }

    #[test]
    fn events_serialize_as_separate_arguments_and_read_back() {
        let message = round_trip(ServerEvent::Message {
            room: "r".into(),
            from: "id".into(),
            data: json!("d"),
        });
        assert_eq!(message, json!(["r", "id", "d"]));
        let other = round_trip(ServerEvent::OtherJoin {
            room: "r".into(),
            id: "id".into(),
            name: "Ada".into(),
        });
        assert_eq!(other, json!(["r", "id", "Ada"]));
        let full = round_trip(ServerEvent::Full {
            room: "r".into(),
            id: "id".into(),
        });
        assert_eq!(full, json!(["r", "id"]));
        let roster = round_trip(ServerEvent::Roster {
            room: "r".into(),
            peers: vec![Peer {
                id: "a".into(),
                name: "Ada".into(),
            }],
        });
        assert_eq!(roster, json!(["r", [{"id": "a", "name": "Ada"}]]));
        let signal = round_trip(ServerEvent::Signal {
            room: "r".into(),
            from: "a".into(),
            signal: Signal::Hangup,
        });
        assert_eq!(signal, json!(["r", "a", {"type": "hangup"}]));
        let ice = round_trip(ServerEvent::IceServers(vec![IceServer {
            urls: vec!["stun:stun.example.com".into()],
            username: None,
            credential: None,
        }]));
        assert_eq!(ice, json!([[{"urls": ["stun:stun.example.com"]}]]));
    }

    #[test]
    fn the_json_array_is_the_name_then_the_arguments() {
        let signal = ServerEvent::Signal {
            room: "r".into(),
            from: "a".into(),
            signal: Signal::Hangup,
        };
        let array: Value = serde_json::from_str(&signal.to_json_array()).unwrap();
        assert_eq!(array, json!(["signal", "r", "a", {"type": "hangup"}]));
    }

    #[test]
    fn refusals_and_closings_carry_their_code() {
        let refused = round_trip(ServerEvent::Refused(Refusal::new(
            "leave",
            RefusalCode::NotMember,
        )));
        assert_eq!(refused[0]["code"], "not_member");
        let closing = round_trip(ServerEvent::Closing(Closing::new(CloseCode::SlowReceiver)));
        assert_eq!(closing[0]["code"], "slow_receiver");
        let removed = round_trip(ServerEvent::Removed {
            room: "r".into(),
            reason: Removal::new(RemovalCode::Kicked),
        });
        assert_eq!(removed[1]["code"], "kicked");
        let locked = round_trip(ServerEvent::Locked {
            room: "r".into(),
            locked: true,
        });
        assert_eq!(locked, json!(["r", true]));
    }

    #[test]
    fn resume_events_read_back() {
        let grant = ResumeGrant {
            id: "p".into(),
            token: "t".into(),
            grace: 30,
            rooms: vec![],
            gap: false,
        };
        let resumable = round_trip(ServerEvent::Resumable(grant.clone()));
        assert_eq!(resumable, json!([{"id": "p", "token": "t", "grace": 30}]));
        let rooms = vec!["a".to_owned()];
        round_trip(ServerEvent::Resumed(ResumeGrant {
            rooms: rooms.clone(),
            ..grant.clone()
        }));
        let adopted = round_trip(ServerEvent::Resumed(ResumeGrant {
            rooms,
            gap: true,
            ..grant
        }));
        assert_eq!(adopted[0]["gap"], true);
        let failed = round_trip(ServerEvent::ResumeFailed(ResumeFailure::new(
            crate::protocol::ResumeFailureCode::TooFarBehind,
        )));
        assert_eq!(failed[0]["code"], "too_far_behind");
        let away = round_trip(ServerEvent::Away {
            room: "r".into(),
            id: "p".into(),
        });
        assert_eq!(away, json!(["r", "p"]));
        round_trip(ServerEvent::Back {
            room: "r".into(),
            id: "p".into(),
        });
    }
}
