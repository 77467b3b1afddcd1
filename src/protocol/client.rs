//! Events a client sends to the server.

use serde::Deserialize as _;
use serde_json::{Map, Value};

use super::{event, DisplayName, Refusal, RefusalCode, RoomName, Signal};

/// Largest room capacity a client may ask for.
pub const MAX_REQUESTED_CAPACITY: usize = 10_000;

#[derive(Debug, Clone, PartialEq)]
pub enum ClientEvent {
    Join {
        room: RoomName,
        options: JoinOptions,
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
    /// A signaling payload for one peer (`to`, a socket id) in a room both are in.
    Signal {
        room: RoomName,
        to: String,
        signal: Signal,
    },
    /// Asks for the ICE servers to use, with fresh TURN credentials.
    IceServers,
    /// A moderator removes peer `peer` (a socket id) from a room both are in.
    Kick {
        room: RoomName,
        peer: String,
    },
    /// A moderator closes (`locked`) or reopens a room it is in to new joins: `lock` / `unlock`.
    Lock {
        room: RoomName,
        locked: bool,
    },
}

/// The optional second argument of `join`: a display name as a string, or
/// `{"name": ..., "capacity": ...}`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JoinOptions {
    pub name: Option<DisplayName>,
    /// The most members the room may hold, asked by its first joiner (e.g. 2 for a 1:1 call);
    /// the server's `--room-capacity` still bounds it.
    pub capacity: Option<usize>,
}

impl JoinOptions {
    fn decode(arg: Option<&Value>) -> Result<Self, RefusalCode> {
        let name = |v: &Value| match v {
            Value::String(s) => DisplayName::parse(s).map(Some),
            Value::Null => Ok(None),
            _ => Err(RefusalCode::BadArguments),
        };
        match arg {
            None | Some(Value::Null) => Ok(Self::default()),
            Some(text @ Value::String(_)) => Ok(Self {
                name: name(text)?,
                capacity: None,
            }),
            Some(Value::Object(fields)) => {
                let capacity = match fields.get("capacity") {
                    None | Some(Value::Null) => None,
                    Some(n) => Some(
                        n.as_u64()
                            .and_then(|n| usize::try_from(n).ok())
                            .filter(|n| (1..=MAX_REQUESTED_CAPACITY).contains(n))
                            .ok_or(RefusalCode::BadArguments)?,
                    ),
                };
                Ok(Self {
                    name: fields.get("name").map(name).transpose()?.flatten(),
                    capacity,
                })
            }
            Some(_) => Err(RefusalCode::BadArguments),
        }
    }

    /// The argument as sent, or `None` when there is nothing to say.
    fn encode(&self) -> Option<Value> {
        let mut fields = Map::new();
        if let Some(name) = &self.name {
            fields.insert("name".into(), name.as_str().into());
        }
        if let Some(capacity) = self.capacity {
            fields.insert("capacity".into(), capacity.into());
        }
        (!fields.is_empty()).then_some(Value::Object(fields))
    }
}

impl ClientEvent {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Join { .. } => event::JOIN,
            Self::Leave { .. } => event::LEAVE,
            Self::Message { .. } => event::MESSAGE,
            Self::Signal { .. } => event::SIGNAL,
            Self::IceServers => event::ICE_SERVERS,
            Self::Kick { .. } => event::KICK,
            Self::Lock { locked: true, .. } => event::LOCK,
            Self::Lock { locked: false, .. } => event::UNLOCK,
        }
    }

    /// The event as a Socket.IO event array: `[name, arg, ...]`.
    pub fn to_array(&self) -> Value {
        let mut items = vec![Value::from(self.name())];
        match self {
            Self::Join { room, options } => {
                items.push(room.as_str().into());
                items.extend(options.encode());
            }
            Self::Leave { room } => items.push(room.as_str().into()),
            Self::Message { room, data } => {
                items.push(room.as_str().into());
                items.push(data.clone());
            }
            Self::Signal { room, to, signal } => {
                items.push(room.as_str().into());
                items.push(to.as_str().into());
                items.push(serde_json::to_value(signal).unwrap_or_default());
            }
            Self::IceServers => {}
            Self::Kick { room, peer } => {
                items.push(room.as_str().into());
                items.push(peer.as_str().into());
            }
            Self::Lock { room, .. } => items.push(room.as_str().into()),
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
        let bad = || refuse(RefusalCode::BadArguments);
        let peer = |i: usize| {
            args.get(i)
                .and_then(Value::as_str)
                .filter(|id| (1..=64).contains(&id.len()))
                .map(str::to_owned)
                .ok_or_else(bad)
        };
        match name {
            event::JOIN => Ok(Self::Join {
                room: room(0)?,
                options: JoinOptions::decode(args.get(1)).map_err(refuse)?,
            }),
            event::LEAVE => Ok(Self::Leave { room: room(0)? }),
            event::MESSAGE => {
                let room = room(0)?;
                let data = args.get(1).cloned().ok_or_else(bad)?;
                Ok(Self::Message { room, data })
            }
            event::SIGNAL => {
                let room = room(0)?;
                let to = peer(1)?;
                let signal = args
                    .get(2)
                    .and_then(|v| Signal::deserialize(v).ok())
                    .ok_or_else(bad)?;
                Ok(Self::Signal { room, to, signal })
            }
            event::ICE_SERVERS => Ok(Self::IceServers),
            event::KICK => Ok(Self::Kick {
                room: room(0)?,
                peer: peer(1)?,
            }),
            event::LOCK | event::UNLOCK => Ok(Self::Lock {
                room: room(0)?,
                locked: name == event::LOCK,
            }),
            _ => Err(refuse(RefusalCode::UnknownEvent)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn room(name: &str) -> RoomName {
        RoomName::parse(name).unwrap()
    }

    #[test]
    fn decodes_the_tutorial_events() {
        assert_eq!(
            ClientEvent::decode("join", &[json!("112222")]),
            Ok(ClientEvent::Join {
                room: room("112222"),
                options: JoinOptions::default(),
            })
        );
        let msg = ClientEvent::decode("message", &[json!("r"), json!("Chrome:hi")]).unwrap();
        assert_eq!(msg.to_array(), json!(["message", "r", "Chrome:hi"]));
    }

    #[test]
    fn join_takes_a_name_or_options() {
        let options = |arg: Value| match ClientEvent::decode("join", &[json!("r"), arg]) {
            Ok(ClientEvent::Join { options, .. }) => Ok(options),
            Ok(other) => panic!("{other:?}"),
            Err(refusal) => Err(refusal.code),
        };
        let ada = DisplayName::parse("Ada").unwrap();
        assert_eq!(options(json!("Ada")).unwrap().name, Some(ada.clone()));
        let both = options(json!({"name": "Ada", "capacity": 2})).unwrap();
        assert_eq!((both.name, both.capacity), (Some(ada), Some(2)));
        assert_eq!(options(json!(null)), Ok(JoinOptions::default()));
        assert_eq!(options(json!({})), Ok(JoinOptions::default()));
        assert_eq!(options(json!("")), Err(RefusalCode::InvalidName));
        assert_eq!(options(json!(7)), Err(RefusalCode::BadArguments));
        for capacity in [json!(0), json!(-1), json!(1.5), json!("2"), json!(10_001)] {
            assert_eq!(
                options(json!({ "capacity": capacity })),
                Err(RefusalCode::BadArguments)
            );
        }
        let join = ClientEvent::decode("join", &[json!("r"), json!({"capacity": 2})]).unwrap();
        assert_eq!(join.to_array(), json!(["join", "r", {"capacity": 2}]));
    }

    #[test]
    fn signal_needs_a_room_a_peer_and_a_well_formed_payload() {
        let ok = ClientEvent::decode(
            "signal",
            &[json!("r"), json!("peer"), json!({"type": "hangup"})],
        )
        .unwrap();
        assert_eq!(
            ok.to_array(),
            json!(["signal", "r", "peer", {"type": "hangup"}])
        );
        let code = |args: &[Value]| ClientEvent::decode("signal", args).unwrap_err().code;
        assert_eq!(
            code(&[json!("r"), json!("peer")]),
            RefusalCode::BadArguments
        );
        assert_eq!(
            code(&[json!("r"), json!(1), json!({"type": "hangup"})]),
            RefusalCode::BadArguments
        );
        assert_eq!(
            code(&[json!("r"), json!("peer"), json!({"type": "offer"})]),
            RefusalCode::BadArguments
        );
        assert_eq!(
            code(&[json!(""), json!("peer"), json!({"type": "hangup"})]),
            RefusalCode::InvalidRoom
        );
    }

    #[test]
    fn moderation_events_name_a_room_and_for_kick_a_peer() {
        let kick = ClientEvent::decode("kick", &[json!("r"), json!("peer")]).unwrap();
        assert_eq!(kick.to_array(), json!(["kick", "r", "peer"]));
        let lock = ClientEvent::decode("lock", &[json!("r")]).unwrap();
        assert_eq!(lock.to_array(), json!(["lock", "r"]));
        let unlock = ClientEvent::decode("unlock", &[json!("r")]).unwrap();
        assert_eq!(
            unlock,
            ClientEvent::Lock {
                room: room("r"),
                locked: false
            }
        );
        let code = |name, args: &[Value]| ClientEvent::decode(name, args).unwrap_err().code;
        assert_eq!(code("kick", &[json!("r")]), RefusalCode::BadArguments);
        assert_eq!(
            code("kick", &[json!("r"), json!(3)]),
            RefusalCode::BadArguments
        );
        assert_eq!(code("lock", &[]), RefusalCode::BadArguments);
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
}
