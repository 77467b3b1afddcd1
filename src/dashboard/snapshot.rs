//! What `GET /api/dashboard` answers and the `/admin` page shows: defined once, written by the
//! server, read by the page.

use serde::{Deserialize, Serialize};

/// The dashboard's view of one instance, at one moment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Grows whenever something shown changes; `?after=VERSION` waits for a newer one.
    pub version: u64,
    /// The server's clock, in milliseconds since the epoch: how long members have been in is
    /// reckoned against it, not against the browser's clock.
    pub now: u64,
    /// In a cluster: this instance's name, and whether Redis answers.
    pub node: Option<String>,
    pub redis_up: Option<bool>,
    /// Socket.IO sessions open on this instance.
    pub connections: usize,
    /// Rooms with a member on this instance, the fullest first, at most [`MAX_ROOMS`].
    pub rooms: Vec<RoomRow>,
    /// Rooms with a member on this instance beyond those listed.
    pub more_rooms: usize,
    /// What happened lately, newest first.
    pub recent: Vec<Happening>,
    /// One sample a second, oldest first, at most [`SERIES_SECONDS`].
    pub series: Vec<Sample>,
}

/// How far back the charts go, in one-second samples: five minutes.
pub const SERIES_SECONDS: usize = 300;

/// The most rooms a snapshot lists: enough to watch, few enough to send twice a second.
pub const MAX_ROOMS: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RoomRow {
    pub room: String,
    pub locked: bool,
    /// Members on every instance.
    pub members: usize,
    /// Who, in join order: this instance's members, and in a cluster the others it knows of.
    pub people: Vec<Person>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Person {
    pub id: String,
    pub name: String,
    pub sub: Option<String>,
    /// When it joined (milliseconds since the epoch); for this instance's members.
    pub joined_at: Option<u64>,
    /// `websocket` or `polling`, or `away` (its connection dropped and it may resume); for
    /// this instance's members.
    pub transport: Option<String>,
    /// The instance it is connected to, when that is another one.
    pub instance: Option<String>,
}

/// Something that happened to a member or a connection.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Happening {
    /// Milliseconds since the epoch.
    pub at: u64,
    pub kind: HappeningKind,
    pub room: Option<String>,
    /// The socket id, and the member's name where it had one.
    pub id: Option<String>,
    pub name: Option<String>,
    /// Why: a leave's reason, a refusal's or an eviction's code.
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HappeningKind {
    Joined,
    Left,
    /// A join the room had no seat for.
    Full,
    Refused,
    /// Disconnected by the server (a slow receiver, or over the event rate).
    Evicted,
    /// Refused at connect (a bad join token, a full server).
    ConnectionRefused,
}

impl HappeningKind {
    /// How the page labels it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Joined => "joined",
            Self::Left => "left",
            Self::Full => "full",
            Self::Refused => "refused",
            Self::Evicted => "evicted",
            Self::ConnectionRefused => "connection refused",
        }
    }

    /// Whether it is something an operator may need to look into.
    pub fn is_trouble(self) -> bool {
        matches!(
            self,
            Self::Refused | Self::Evicted | Self::ConnectionRefused
        )
    }
}

/// One second of this instance's life.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// The end of the second, in milliseconds since the epoch.
    pub at: u64,
    /// Client events received during it.
    pub events: u64,
    /// Sessions open at its end.
    pub connections: usize,
}
