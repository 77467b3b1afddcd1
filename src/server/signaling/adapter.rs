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
//! Only broadcasts to rooms are handled here; the rest (an emit with no room, acknowledgements,
//! disconnects) is socketioxide's local adapter, whose own rooms signalroom does not use.

use std::convert::Infallible;
use std::future::{self, Future};
use std::sync::Arc;
use std::time::Duration;

use socketioxide::adapter::Emitter;
use socketioxide_core::adapter::errors::{BroadcastError, SocketError};
use socketioxide_core::adapter::{
    BroadcastFlags, BroadcastOptions, CoreAdapter, CoreLocalAdapter, DefinedAdapter, Room,
    SocketEmitter,
};
use socketioxide_core::packet::Packet;
use socketioxide_core::Sid;
use tracing::debug;

use super::Hub;
use crate::protocol::RoomName;

/// The adapter: socketioxide's local adapter, with room broadcasts delivered member by member.
pub struct RoomAdapter {
    local: CoreLocalAdapter<Emitter>,
    hub: Hub,
}

impl RoomAdapter {
    /// Sends `packet` to the members of `opts.rooms`, less those of `opts.except` and the
    /// sender if the broadcast flag is set. Full buffers evict their sockets; a socket found
    /// closed is already leaving.
    fn to_rooms(&self, packet: Packet, opts: &BroadcastOptions) -> Result<(), BroadcastError> {
        for sid in self.targets(opts) {
            // One socket per call, so an error is this socket's. The packet's data is already
            // encoded; each member's copy only adds the framing.
            let Err(errors) = self
                .local
                .broadcast(packet.clone(), BroadcastOptions::new(sid))
            else {
                continue;
            };
            if errors
                .iter()
                .any(|e| matches!(e, SocketError::InternalChannelFull))
            {
                self.hub.slow_receiver(sid);
            } else {
                debug!(id = %sid, ?errors, "room event not sent");
            }
        }
        Ok(())
    }

    /// The sockets `opts` addresses, each once, from signalroom's rooms.
    fn targets(&self, opts: &BroadcastOptions) -> Vec<Sid> {
        let sender = opts
            .sid
            .filter(|_| opts.has_flag(BroadcastFlags::Broadcast));
        self.hub.rooms.with(|rooms| {
            // An invalid name was never joined: no members.
            let members_of = |names: &[Room]| -> Vec<Sid> {
                names
                    .iter()
                    .filter_map(|name| RoomName::parse(name).ok())
                    .flat_map(|name| rooms.members(&name))
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
        })
    }
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
