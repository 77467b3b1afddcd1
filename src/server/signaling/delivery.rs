//! Getting server events to sockets, and closing the ones that cannot keep up.
//!
//! A receiver that silently misses an event in the middle of a stream is worse off than one that
//! is told and disconnected. So a full send buffer evicts that socket: it leaves every room at
//! once (the others get `bye`), then it is sent `closing(slow_receiver)` and a Socket.IO
//! disconnect as soon as its buffer has room. Room events are encoded once and go through
//! [`super::adapter::RoomAdapter`], which traces a full buffer to its socket and queues the
//! eviction; the functions here finish queued evictions after every room event.
//!
//! In a cluster, a room event either [`Reach`]es every instance's members (a `message`) or
//! only this one's (`otherjoin` and `bye`, which each instance tells its own members from what
//! the cluster announces).

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use socketioxide::adapter::Adapter;
use socketioxide::extract::SocketRef;
use socketioxide::operators::BroadcastOperators;
use socketioxide::socket::Sid;
use socketioxide::{BroadcastError, SendError, SocketError, SocketIo, TransportType};
use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::Hub;
use crate::dashboard::snapshot::HappeningKind;
use crate::protocol::{wire_name, CloseCode, Closing, RoomName, ServerEvent};
use crate::server::activity::happening;
use crate::server::clock::now_ms;
use crate::server::cluster::Unavailable;

/// How long an evicted socket is given to take its `closing` notice and disconnect. After
/// that, engineioxide's heartbeat closes it: a ping that finds the buffer full ends the session.
const CLOSE_WAIT: Duration = Duration::from_secs(10);
/// How often a full buffer is retried while closing.
const CLOSE_RETRY: Duration = Duration::from_millis(50);
/// How long [`close_all`] keeps the engine open after closing long-polling clients, for their
/// next poll to fetch the disconnect that follows the `closing` notice.
const POLL_FLUSH: Duration = Duration::from_millis(250);

/// One socket's view of the namespace (or the namespace's own): finds sockets by id and
/// addresses rooms, without keeping any socket alive.
pub(super) struct Sockets<A: Adapter>(BroadcastOperators<A>);

impl<A: Adapter> Clone for Sockets<A> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<A: Adapter> Sockets<A> {
    pub(super) fn of(socket: &SocketRef<A>) -> Self {
        // No room and no flag yet: without the broadcast flag the socket itself is included
        // unless an emit says otherwise, and each emit says how far it reaches.
        Self(socket.within(Vec::<String>::new()))
    }

    /// The namespace's view, for what no socket of this instance sent (the cluster's events).
    pub(super) fn of_namespace(operators: BroadcastOperators<A>) -> Self {
        Self(operators)
    }

    pub(super) fn get(&self, sid: Sid) -> Option<SocketRef<A>> {
        self.0.get_socket(sid)
    }
}

/// Who in a room gets an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Audience {
    Everyone,
    /// Everyone but the socket the [`Sockets`] belong to.
    Others,
}

/// Which instances' members a room event reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reach {
    /// This instance's.
    Here,
    /// Every instance's (the same as [`Reach::Here`] without a cluster).
    Cluster,
}

/// Sends `event` to the members of `room`: encoded once, then handed by the adapter to each
/// member here (and published once for the other instances); finishes the evictions it found.
/// `Err` if it could not be published for the other instances: it reached the members here.
pub(super) fn to_room<A: Adapter>(
    hub: &Hub,
    sockets: &Sockets<A>,
    room: &RoomName,
    (audience, reach): (Audience, Reach),
    event: &ServerEvent,
) -> Result<(), Unavailable> {
    let operators = sockets.0.clone();
    let operators = match reach {
        Reach::Here => operators.local(),
        Reach::Cluster => operators,
    };
    let operators = match audience {
        Audience::Everyone => operators.within(room.as_str().to_owned()),
        Audience::Others => operators.to(room.as_str().to_owned()),
    };
    let name = event.name();
    let sent = match now(operators.emit(name, event)) {
        Some(Ok(())) => Ok(()),
        Some(Err(BroadcastError::Adapter(_))) => Err(Unavailable),
        Some(Err(err)) => {
            debug!(%room, %err, event = name, "room event not sent");
            Ok(())
        }
        // The adapter's broadcast is ready at once; a future that is not would be a bug.
        None => {
            warn!(%room, event = name, "room event not sent: the adapter did not finish");
            Ok(())
        }
    };
    finish_evictions(hub, sockets);
    sent
}

/// This instance's members of `room` are told `event` (`otherjoin` or `bye`), but for the
/// socket `sockets` belongs to if `audience` says so.
pub(super) fn announce_here<A: Adapter>(
    hub: &Hub,
    sockets: &Sockets<A>,
    room: &RoomName,
    audience: Audience,
    event: &ServerEvent,
) {
    // Nothing is published, so nothing can fail to be.
    let _ = to_room(hub, sockets, room, (audience, Reach::Here), event);
}

/// Polls `future` once: socketioxide's emits are futures, but signalroom's adapter completes
/// them without waiting, and handlers run on the read path where nothing may wait.
fn now<F: Future>(future: F) -> Option<F::Output> {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => Some(output),
        Poll::Pending => None,
    }
}

/// Tells the rooms of each socket the adapter evicted, and closes it.
pub(super) fn finish_evictions<A: Adapter>(hub: &Hub, sockets: &Sockets<A>) {
    for (sid, socket, left) in hub.take_evicted() {
        let socket = socket.and_then(|socket| sockets.get(socket));
        announce(
            hub,
            sockets.clone(),
            sid,
            socket,
            left,
            CloseCode::SlowReceiver,
        );
    }
}

/// Sends `event` to `peer`, a member id: numbered and kept first if it is resumable (see
/// [`crate::server::resume`]), to whichever socket it has now, if any; a full buffer evicts it.
pub(super) fn to_peer<A: Adapter>(hub: &Hub, sockets: &Sockets<A>, peer: Sid, event: &ServerEvent) {
    if hub.resume_log(peer).is_some() {
        if let Some(adapter) = hub.adapter() {
            adapter.deliver_to(peer, event.to_json_array().into());
            finish_evictions(hub, sockets);
        }
    } else if let Some(socket) = sockets.get(peer) {
        to_socket(hub, &socket, event);
    }
}

/// Sends `event` to one socket, evicting it if its send buffer is full.
pub(super) fn to_socket<A: Adapter>(hub: &Hub, socket: &SocketRef<A>, event: &ServerEvent) {
    match socket.emit(event.name(), event) {
        Ok(()) => hub.metrics.delivered(1),
        Err(SendError::Socket(SocketError::InternalChannelFull)) => {
            evict(hub, socket.clone(), CloseCode::SlowReceiver);
        }
        Err(err) => debug!(id = %socket.id, %err, event = event.name(), "not sent"),
    }
}

/// Takes `socket`'s member out of its rooms now and disconnects it with `code` as soon as it
/// can.
pub(super) fn evict<A: Adapter>(hub: &Hub, socket: SocketRef<A>, code: CloseCode) {
    let peer = hub.peer_of(socket.id);
    let Some(left) = hub.evict(peer) else {
        return; // Already on its way out.
    };
    announce(hub, Sockets::of(&socket), peer, Some(socket), left, code);
}

/// For a socket `sid` already taken out of the rooms it `left`: tells them `bye` through
/// `sockets` (any socket's view), then closes the socket unless it is gone already.
fn announce<A: Adapter>(
    hub: &Hub,
    sockets: Sockets<A>,
    sid: Sid,
    socket: Option<SocketRef<A>>,
    left: Vec<(RoomName, usize)>,
    code: CloseCode,
) {
    warn!(id = %sid, ?code, rooms = left.len(), "disconnecting a client: {}", code.describe());
    hub.metrics.evicted(code);
    hub.activity.record(|| {
        let (kind, id) = (HappeningKind::Evicted, Some(sid.to_string()));
        let detail = wire_name(&code);
        happening(now_ms(), kind, None, id, None, Some(&detail))
    });
    let hub = hub.clone();
    // Spawned: telling the rooms may evict others in turn, and closing may have to wait.
    tokio::spawn(async move {
        byes(&hub, &sockets, sid, &left, "evicted");
        if let Some(socket) = socket {
            close(socket, code).await;
        }
    });
}

/// Tells each room `peer` `left` (with the members it still has) `bye`, logging each as the
/// tutorial's server did, prefixed with `how` it went.
pub(super) fn byes<A: Adapter>(
    hub: &Hub,
    sockets: &Sockets<A>,
    peer: Sid,
    left: &[(RoomName, usize)],
    how: &str,
) {
    let id = peer.to_string();
    for (room, remaining) in left {
        info!(%id, %room, remaining, "{how}; the number of users in the room is {remaining}");
        let bye = ServerEvent::Bye {
            room: room.to_string(),
            id: id.clone(),
        };
        announce_here(hub, sockets, room, Audience::Everyone, &bye);
    }
}

/// Closes every socket of `io` with `code` (see [`close`]), all at once, and returns when each
/// is closed or given up on. A long-polling client's waiting request may take the notice alone;
/// if any client polls, the engine stays open [`POLL_FLUSH`] more for the next request, sent at
/// once, to take the disconnect.
pub(crate) async fn close_all<A: Adapter>(io: &SocketIo<A>, code: CloseCode) {
    let mut closing = tokio::task::JoinSet::new();
    let mut polling = false;
    for socket in io.sockets() {
        polling |= socket.transport_type() == TransportType::Polling;
        closing.spawn(close(socket, code));
    }
    closing.join_all().await;
    if polling {
        tokio::time::sleep(POLL_FLUSH).await;
    }
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
