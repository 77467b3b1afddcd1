//! What the rest of the cluster asks of the link, one operation at a time, in order.

use socketioxide::socket::Sid;
use tokio::sync::oneshot;

use super::wire::Reason;
use super::SeatDone;
use crate::protocol::{DisplayName, RoomName};

/// One thing for the link to do.
pub(crate) enum Op {
    Seat {
        sid: Sid,
        room: RoomName,
        name: DisplayName,
        /// Seats for the room should this join create it; 0: unlimited.
        capacity: usize,
        done: SeatDone,
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
}
