//! signalroom's socketioxide adapter: a room event is encoded once, and a full send buffer is
//! traced to its socket.
//!
//! socketioxide's own local adapter also encodes a room broadcast once, but when some member's
//! send buffer is full it reports only that one was full, not whose. signalroom must evict exactly
//! that slow receiver (see [`super::delivery`]), so this adapter takes the room's members from
//! signalroom's registry and hands the encoded event to each member in turn: a full buffer then
//! names its socket, which leaves its rooms at once and is queued for [`super::delivery`] to
//! tell the rooms and close.
//!
//! In a cluster, a room broadcast without socketioxide's `local` flag is also published, its
//! encoded bytes as they are, for the other instances' members; what they publish comes back
//! through [`RoomAdapter::deliver`] to this instance's members, along the same per-socket path.
//!
//! Only broadcasts to rooms are handled here; the rest (an emit with no room, acknowledgements,
//! disconnects) is socketioxide's local adapter, whose own rooms signalroom does not use.

use std::convert::Infallible;
use std::future::{self, Future};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use socketioxide::adapter::Emitter;
use socketioxide_core::adapter::errors::{AdapterError, BroadcastError, SocketError};
use socketioxide_core::adapter::{
    BroadcastFlags, BroadcastOptions, CoreAdapter, CoreLocalAdapter, DefinedAdapter, Room,
    SocketEmitter,
};
use socketioxide_core::packet::{Packet, PacketData};
use socketioxide_core::{Sid, Str, Value};
use tracing::debug;

use super::Hub;
use crate::server::resume;
use crate::server::rooms::Rooms;

/// What became of one send.
enum Sent {
    Delivered,
    /// Kept for a resumable member that is away, or for a socket found closed.
    Held,
    /// The socket's buffer is full: a slow receiver.
    Full,
}

/// The adapter: socketioxide's local adapter, with room broadcasts delivered member by member.
pub struct RoomAdapter {
    local: CoreLocalAdapter<Emitter>,
    hub: Hub,
}

impl RoomAdapter {
    /// Sends `packet` to the members of `opts.rooms`, less those of `opts.except` and the
    /// sender if the broadcast flag is set; publishes it for the other instances of a cluster
    /// unless the local flag is set (an error then means it reached this instance's only).
    fn to_rooms(&self, packet: Packet, opts: &BroadcastOptions) -> Result<(), BroadcastError> {
        let published = match self.hub.cluster() {
            Some(cluster) if !opts.has_flag(BroadcastFlags::Local) => match &packet.inner {
                PacketData::Event(Value::Str(event, None), None) => opts
                    .rooms
                    .iter()
                    .try_for_each(|room| cluster.publish(room, opts.sid, event.as_str()))
                    .map_err(|e| BroadcastError::Adapter(AdapterError(Box::new(e)))),
                _ => Ok(()), // Only plain events are room events; nothing else is sent here.
            },
            _ => Ok(()),
        };
        // The sender is a peer as the rooms know it, whichever socket it speaks through now.
        let sender = opts
            .sid
            .filter(|_| opts.has_flag(BroadcastFlags::Broadcast))
            .map(|socket| self.hub.peer_of(socket));
        let members = self.hub.rooms.with(|rooms| targets(rooms, opts, sender));
        self.send_each(&packet, members);
        published
    }

    /// Hands `packet` to each member in turn: one socket per call, so an error is that socket's.
    /// The packet's data is encoded already; each copy only adds the framing, and a resumable
    /// member's its number (see [`crate::server::resume`]). Full buffers evict their members; a
    /// socket found closed is already leaving.
    fn send_each(&self, packet: &Packet, peers: Vec<Sid>) {
        let mut delivered = 0;
        for peer in peers {
            let sent = match self.hub.resume_log(peer) {
                Some(log) => self.send_numbered(&log, packet),
                None => self.send_to(peer, packet.clone()),
            };
            match sent {
                Sent::Delivered => delivered += 1,
                Sent::Held => {}
                Sent::Full => self.hub.slow_receiver(peer),
            }
        }
        self.hub.metrics.delivered(delivered);
    }

    /// Numbers `packet` in a resumable member's `log`, keeps it, and sends it to the member's
    /// socket if it has one: all under the log's lock, so its events go out in number order.
    fn send_numbered(&self, log: &Mutex<resume::Log>, packet: &Packet) -> Sent {
        let PacketData::Event(Value::Str(event, None), None) = &packet.inner else {
            return Sent::Held; // Room events are plain text events; nothing else comes here.
        };
        let mut log = resume::lock(log);
        match log.sequence(event.as_str()) {
            (Some(socket), numbered) => {
                self.send_to(socket, self.packet(numbered.to_owned().into()))
            }
            (None, _) => Sent::Held,
        }
    }

    /// Sends `packet` to `socket`.
    fn send_to(&self, socket: Sid, packet: Packet) -> Sent {
        let Err(errors) = self.local.broadcast(packet, BroadcastOptions::new(socket)) else {
            return Sent::Delivered;
        };
        if errors
            .iter()
            .any(|e| matches!(e, SocketError::InternalChannelFull))
        {
            Sent::Full
        } else {
            debug!(id = %socket, ?errors, "room event not sent");
            Sent::Held
        }
    }

    /// Sends an event (its encoded JSON) to `socket` as it is: a resume's `resumed` and replay.
    /// False if its buffer is full.
    pub(super) fn send_text(&self, socket: Sid, event: String) -> bool {
        !matches!(self.send_to(socket, self.packet(event.into())), Sent::Full)
    }

    /// A room event another instance published (`event`, its encoded JSON), for this
    /// instance's members of `room`.
    pub(super) fn deliver(&self, room: &str, event: Str) {
        let members = self
            .hub
            .rooms
            .with(|rooms| rooms.members(room).copied().collect());
        self.send_each(&self.packet(event), members);
    }

    /// An event (its encoded JSON) for one socket of this instance.
    pub(super) fn deliver_to(&self, sid: Sid, event: Str) {
        self.send_each(&self.packet(event), vec![sid]);
    }

    fn packet(&self, event: Str) -> Packet {
        Packet::event(self.local.path().clone(), Value::Str(event, None))
    }
}

/// The members `opts` addresses in `rooms`, each once: the members of `opts.rooms`, less those
/// of `opts.except`, less `sender` (the sender of a broadcast, `socket.to(room)`).
fn targets(rooms: &Rooms<Sid>, opts: &BroadcastOptions, sender: Option<Sid>) -> Vec<Sid> {
    // Looked up by the name as given: an invalid one was never joined, so it has no members.
    let members_of = |names: &[Room]| -> Vec<Sid> {
        names
            .iter()
            .flat_map(|name| rooms.members(name))
            .copied()
            .collect()
    };
    let mut targets = members_of(&opts.rooms);
    if opts.rooms.len() > 1 {
        targets.sort_unstable();
        targets.dedup();
    }
    let excluded = members_of(&opts.except);
    targets.retain(|sid| Some(*sid) != sender && !excluded.contains(sid));
    targets
}

impl CoreAdapter<Emitter> for RoomAdapter {
    type Error = Infallible;
    type State = Hub;
    type AckStream = <Emitter as SocketEmitter>::AckStream;
    type InitRes = ();

    fn new(hub: &Hub, local: CoreLocalAdapter<Emitter>) -> Self {
        Self {
            local,
            hub: hub.clone(),
        }
    }

    fn init(self: Arc<Self>, on_success: impl FnOnce() + Send + 'static) -> Self::InitRes {
        self.hub.adapter_created(&self);
        on_success();
    }

    fn broadcast(
        &self,
        packet: Packet,
        opts: BroadcastOptions,
    ) -> impl Future<Output = Result<(), BroadcastError>> + Send {
        future::ready(if opts.rooms.is_empty() {
            self.local
                .broadcast(packet, opts)
                .map_err(BroadcastError::from)
        } else {
            self.to_rooms(packet, &opts)
        })
    }

    async fn broadcast_with_ack(
        &self,
        packet: Packet,
        opts: BroadcastOptions,
        timeout: Option<Duration>,
    ) -> Result<Self::AckStream, Self::Error> {
        Ok(self.local.broadcast_with_ack(packet, opts, timeout).0)
    }

    fn get_local(&self) -> &CoreLocalAdapter<Emitter> {
        &self.local
    }
}

/// Namespaces are set up synchronously, as with socketioxide's local adapter.
impl DefinedAdapter for RoomAdapter {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{DisplayName, RoomName};
    use crate::server::rooms::{JoinLimits, Seat};

    const OPEN: JoinLimits = JoinLimits {
        max_rooms: 8,
        capacity: None,
    };

    /// Rooms "a" (members 0, 1, 2) and "b" (members 2, 3), and the four sids.
    fn two_rooms() -> (Rooms<Sid>, Vec<Sid>) {
        let mut sids: Vec<Sid> = (0..4).map(|_| Sid::new()).collect();
        sids.sort_unstable();
        let mut rooms = Rooms::default();
        for (member, room) in [(0, "a"), (1, "a"), (2, "a"), (2, "b"), (3, "b")] {
            let seat = Seat {
                name: DisplayName::guest("test"),
                capacity: None,
                since: 0,
                sub: None,
            };
            rooms.join(&sids[member], &RoomName::parse(room).unwrap(), seat, OPEN);
        }
        (rooms, sids)
    }

    fn options(
        sender: Option<Sid>,
        rooms: &[&'static str],
        except: &[&'static str],
    ) -> BroadcastOptions {
        let mut opts = BroadcastOptions::default();
        opts.rooms = rooms.iter().copied().map(Room::Borrowed).collect();
        opts.except = except.iter().copied().map(Room::Borrowed).collect();
        opts.sid = sender;
        opts
    }

    fn sorted(mut sids: Vec<Sid>) -> Vec<Sid> {
        sids.sort_unstable();
        sids
    }

    #[test]
    fn a_room_event_reaches_every_member_the_sender_included() {
        let (rooms, sids) = two_rooms();
        let opts = options(Some(sids[0]), &["a"], &[]);
        assert_eq!(sorted(targets(&rooms, &opts, None)), sids[..3]);
    }

    #[test]
    fn a_broadcast_leaves_out_its_sender() {
        let (rooms, sids) = two_rooms();
        assert_eq!(
            sorted(targets(&rooms, &options(None, &["a"], &[]), Some(sids[0]))),
            sids[1..3]
        );
    }

    #[test]
    fn several_rooms_reach_each_member_once() {
        let (rooms, sids) = two_rooms();
        assert_eq!(
            targets(&rooms, &options(None, &["a", "b"], &[]), None),
            sids
        );
    }

    #[test]
    fn members_of_an_excepted_room_are_left_out() {
        let (rooms, sids) = two_rooms();
        assert_eq!(
            sorted(targets(&rooms, &options(None, &["a"], &["b"]), None)),
            sids[..2]
        );
    }

    #[test]
    fn unknown_and_invalid_rooms_have_no_members() {
        let (rooms, _) = two_rooms();
        assert!(targets(&rooms, &options(None, &["nobody", ""], &[]), None).is_empty());
    }
}
