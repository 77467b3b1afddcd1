//! What the rest of the cluster asks of the link, one operation at a time, in order.

use redis::Value;
use socketioxide::socket::Sid;
use tokio::sync::oneshot;

use super::wire::Reason;
use super::SeatDone;
use crate::protocol::{DisplayName, RoomName};
use crate::server::auth::TokenId;

/// One thing for the link to do.
pub(crate) enum Op {
    Seat {
        sid: Sid,
        room: RoomName,
        name: DisplayName,
        /// Seats for the room should this join create it; 0: unlimited.
        capacity: usize,
        /// The digest of the joiner's token, checked against the room's bans.
        token: Option<TokenId>,
        /// Its token's subject and when it joined, kept for the server API.
        sub: Option<String>,
        since: u64,
        done: SeatDone,
    },
    /// A read for the server API; `None` answers a failure.
    Query {
        query: Query,
        reply: oneshot::Sender<Option<Value>>,
    },
    /// A moderator (`origin`, told if Redis cannot be reached) locks or unlocks a room.
    Lock {
        room: RoomName,
        locked: bool,
        origin: Sid,
    },
    /// A kicked member's token may not rejoin `room` for `ms`.
    Ban {
        room: RoomName,
        token: TokenId,
        ms: u64,
    },
    Unseat {
        sid: Sid,
        rooms: Vec<RoomName>,
        everywhere: bool,
        reason: Reason,
    },
    Publish {
        channel: String,
        /// One line per message (several once merged: see [`super::coalesce`]).
        payload: String,
        /// The member that sent it and its event's name, told if it cannot be published.
        origin: Option<(Sid, &'static str)>,
        /// The same for the publishes merged into this one.
        merged: Vec<(Sid, &'static str)>,
    },
    Depart {
        done: oneshot::Sender<()>,
    },
    /// Writes (or, with `None`, removes) resumable `peer`'s session record (`sessions:NODE`).
    Record {
        peer: Sid,
        record: Option<String>,
    },
}

/// A call whose answer someone awaits: the server API's reads, a resume's adoption.
#[derive(Debug, Clone)]
pub(crate) enum Query {
    /// Every room with its member count and lock (`rooms.lua`).
    Rooms,
    /// One room's members with their profiles (`room.lua`).
    Room(RoomName),
    /// The URL an instance registered (`urls`).
    Url(super::NodeId),
    /// A resume adopts `peer`, an orphan of instance `issuer` (`adopt.lua`).
    Adopt {
        issuer: super::NodeId,
        peer: Sid,
        digest: String,
        sub: String,
    },
}
