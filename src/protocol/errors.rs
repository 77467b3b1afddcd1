//! Why the server did not act (`refused`) and why it is ending a connection (`closing`).

use serde::{Deserialize, Serialize};

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
    InvalidName,
    UnknownEvent,
    NotMember,
    UnknownPeer,
    BinaryUnsupported,
    RateLimited,
    TooManyRooms,
    /// A cluster instance cannot reach Redis: it cannot check a join's seat, nor reach the
    /// members on other instances.
    ClusterUnavailable,
    /// The join token does not grant this room, or this role (`kick`, `lock` need `moderator`).
    Forbidden,
    /// A moderator locked the room: no new joins until it is unlocked or empties.
    RoomLocked,
    /// A moderator removed this token's holder from the room a short while ago.
    Kicked,
}

impl RefusalCode {
    pub fn describe(self) -> &'static str {
        match self {
            Self::BadArguments => "the event's arguments are missing or of the wrong type",
            Self::InvalidRoom => {
                "room names are strings of 1 to 128 characters without control characters"
            }
            Self::InvalidName => {
                "display names are 1 to 64 characters of plain text without control characters"
            }
            Self::UnknownEvent => "the server does not know this event",
            Self::NotMember => "you are not in that room",
            Self::UnknownPeer => "that peer is not in the room with you",
            Self::BinaryUnsupported => "binary payloads are not supported",
            Self::RateLimited => "too many events per second; slow down or be disconnected",
            Self::TooManyRooms => "you are in as many rooms as one connection may be",
            Self::ClusterUnavailable => {
                "the server cannot reach the rest of its cluster: joins are refused, and messages \
                 and signals reach only members on this server; try again shortly"
            }
            Self::Forbidden => "your join token does not allow this",
            Self::RoomLocked => "the room is locked: it takes no new members for now",
            Self::Kicked => "you were removed from this room recently; try again later",
        }
    }
}

/// A code's name as the wire writes it (`rate_limited`, `slow_receiver`).
pub fn wire_name(code: &impl Serialize) -> String {
    match serde_json::to_value(code) {
        Ok(serde_json::Value::String(name)) => name,
        _ => "unknown".to_owned(),
    }
}

/// Why the server took a member out of a room: the second argument of `removed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Removal {
    pub code: RemovalCode,
    /// For people; the code is for programs.
    pub message: String,
}

impl Removal {
    pub fn new(code: RemovalCode) -> Self {
        Self {
            message: code.describe().to_owned(),
            code,
        }
    }
}

/// Machine-readable reasons for a removal from a room; documented in the README.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RemovalCode {
    /// A moderator (or the application, through the server API) removed the member.
    Kicked,
    /// The application closed the room (the server API): everyone was removed.
    RoomClosed,
}

impl RemovalCode {
    pub fn describe(self) -> &'static str {
        match self {
            Self::Kicked => "a moderator removed you from the room",
            Self::RoomClosed => "the room was closed",
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
    /// The server is shutting down (a restart, a deploy): nothing is wrong with the client,
    /// which may connect again, to another instance or to this one once it is back.
    Shutdown,
}

impl CloseCode {
    pub fn describe(self) -> &'static str {
        match self {
            Self::SlowReceiver => {
                "you were not reading fast enough and would have missed events; reconnect"
            }
            Self::RateLimited => "you kept sending events faster than the rate limit",
            Self::Shutdown => "the server is shutting down; reconnect",
        }
    }
}
