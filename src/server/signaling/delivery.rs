//! Getting server events to sockets, and closing the ones that cannot keep up.
//!
//! Room events go to each member in turn rather than through socketioxide's room broadcast:
//! a broadcast reports that *some* send buffer was full but not whose, and a receiver that
//! silently misses an event in the middle of a stream is worse off than one that is told and
//! disconnected. So a full buffer evicts that socket: it leaves every room at once (the others
//! get `bye`), then it is sent `closing(slow_receiver)` and a Socket.IO disconnect as soon as
//! its buffer has room.

use std::time::Duration;

use socketioxide::adapter::Adapter;
use socketioxide::extract::SocketRef;
use socketioxide::operators::BroadcastOperators;
use socketioxide::socket::Sid;
use socketioxide::{SendError, SocketError};
use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::Hub;
use crate::protocol::{event, CloseCode, Closing, RoomName, ServerEvent};

/// How long an evicted socket is given to take its `closing` notice and disconnect. After
/// that, engineioxide's heartbeat closes it: a ping that finds the buffer full ends the session.
const CLOSE_WAIT: Duration = Duration::from_secs(10);
/// How often a full buffer is retried while closing.
const CLOSE_RETRY: Duration = Duration::from_millis(50);

/// Finds the namespace's sockets by id without keeping any of them alive.
pub(super) struct Sockets<A: Adapter>(BroadcastOperators<A>);

impl<A: Adapter> Sockets<A> {
    pub(super) fn of(socket: &SocketRef<A>) -> Self {
        Self(socket.broadcast())
    }

    pub(super) fn get(&self, sid: Sid) -> Option<SocketRef<A>> {
        self.0.get_socket(sid)
    }
}

/// Sends `event` to every member of `room`, except `except`.
pub(super) fn to_room<A: Adapter>(
    hub: &Hub,
    sockets: &Sockets<A>,
    room: &RoomName,
    event: &ServerEvent,
    except: Option<Sid>,
) {
    for sid in hub.rooms.with(|rooms| rooms.members(room)) {
        if Some(sid) == except {
            continue;
        }
        // A member whose socket is gone is being removed by its own session.
        if let Some(socket) = sockets.get(sid) {
            to_socket(hub, &socket, event);
        }
    }
}

/// Relays `message(room, from, data)` to every member of `room`, sender included.
///
/// The hot path: `data` is serialized once, not once per member, and each member's packet
/// then only copies it (socketioxide's serializer passes a `RawValue` through). The wire form
/// is the same as [`ServerEvent::Message`]'s.
pub(super) fn message_to_room<A: Adapter>(
    hub: &Hub,
    sockets: &Sockets<A>,
    room: &RoomName,
    from: &str,
    data: &serde_json::Value,
) {
    let Ok(data) = serde_json::value::to_raw_value(data) else {
        return; // A `Value` always serializes.
    };
    let args = (room.as_str(), from, &*data);
    for sid in hub.rooms.with(|rooms| rooms.members(room)) {
        if let Some(socket) = sockets.get(sid) {
            emit_or_evict(hub, &socket, event::MESSAGE, &args);
        }
    }
}

/// Sends `event` to one socket, evicting it if its send buffer is full.
pub(super) fn to_socket<A: Adapter>(hub: &Hub, socket: &SocketRef<A>, event: &ServerEvent) {
    emit_or_evict(hub, socket, event.name(), event);
}

/// Emits `name(args...)` to `socket`; a full send buffer makes it a slow receiver, evicted.
fn emit_or_evict<A: Adapter, T: serde::Serialize + ?Sized>(
    hub: &Hub,
    socket: &SocketRef<A>,
    name: &str,
    args: &T,
) {
    match socket.emit(name, args) {
        Ok(()) => {}
        Err(SendError::Socket(SocketError::InternalChannelFull)) => {
            evict(hub, socket.clone(), CloseCode::SlowReceiver);
        }
        Err(err) => debug!(id = %socket.id, %err, event = name, "not sent"),
    }
}

/// Takes `socket` out of its rooms now and disconnects it with `code` as soon as it can.
pub(super) fn evict<A: Adapter>(hub: &Hub, socket: SocketRef<A>, code: CloseCode) {
    let Some(left) = hub.rooms.with(|rooms| rooms.evict(&socket.id)) else {
        return; // Already on its way out.
    };
    warn!(id = %socket.id, ?code, rooms = left.len(), "disconnecting a client: {}", code.describe());
    let hub = hub.clone();
    // Spawned: telling the rooms may evict others in turn, and closing may have to wait.
    tokio::spawn(async move {
        let sockets = Sockets::of(&socket);
        let id = socket.id.to_string();
        for (room, remaining) in left {
            info!(%id, %room, remaining, "evicted; the number of users in the room is {remaining}");
            let bye = ServerEvent::Bye {
                room: room.to_string(),
                id: id.clone(),
            };
            to_room(&hub, &sockets, &room, &bye, None);
        }
        close(socket, code).await;
    });
}

/// Sends `closing(code)` then a Socket.IO disconnect, waiting for buffer room for each.
pub(super) async fn close<A: Adapter>(socket: SocketRef<A>, code: CloseCode) {
    let notice = ServerEvent::Closing(Closing::new(code));
    let deadline = Instant::now() + CLOSE_WAIT;
    let mut told = false;
    while socket.connected() {
        if !told {
            match socket.emit(notice.name(), &notice) {
                Ok(()) => told = true,
                Err(SendError::Socket(SocketError::InternalChannelFull)) => {}
                Err(_) => return,
            }
        }
        if told {
            match socket.clone().disconnect() {
                Err(SocketError::InternalChannelFull) => {}
                Ok(()) | Err(_) => return,
            }
        }
        if Instant::now() >= deadline {
            warn!(id = %socket.id, "client still not reading; leaving it to the heartbeat");
            return;
        }
        tokio::time::sleep(CLOSE_RETRY).await;
    }
}
