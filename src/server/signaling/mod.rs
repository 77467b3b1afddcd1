//! The Socket.IO side of the server: turns client events into room operations and room outcomes
//! into server events, per the contract in [`crate::protocol`].
//!
//! - [`adapter`]: socketioxide's room broadcasts, delivered member by member from [`Hub`]'s rooms.
//! - [`connection`]: each socket's handler; rate-limits and decodes its events on the read path.
//! - [`session`]: what each event does to rooms, and what it sends.
//! - [`delivery`]: sends events to rooms and sockets; evicts receivers that cannot keep up.
//!
//! # Why events are handled on the read path
//! socketioxide runs each async event handler as its own task, so two messages from one client
//! could be handled out of order under load. Here the only handler is the synchronous
//! [`connection::Connection`], which socketioxide calls on the socket's read path, one event at
//! a time; nothing in handling an event waits. A sender's events therefore take effect in the
//! order they were sent, with no queue or task per connection (each cost memory on every idle
//! connection, and a wake-up on every event).

pub mod adapter;
mod connection;
mod delivery;
mod session;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use socketioxide::adapter::Adapter;
use socketioxide::extract::{SocketRef, State};
use socketioxide::handler::ConnectHandler;
use socketioxide::socket::Sid;
use socketioxide::SocketIo;

use adapter::RoomAdapter;
use tracing::{debug, warn};

use super::ice::IceConfig;
use super::rooms::{JoinLimits, RoomRegistry};
use super::Config;
use crate::protocol::RoomName;
use connection::Connection;

/// State shared by every connection: a cheap-to-clone handle.
#[derive(Clone)]
pub struct Hub {
    rooms: RoomRegistry<Sid>,
    /// Sessions running, for `max_connections`.
    connections: Arc<AtomicUsize>,
    /// Set when the server begins shutting down.
    stopping: Arc<AtomicBool>,
    /// Slow receivers the adapter took out of their rooms, for [`delivery`] to announce and
    /// close (that needs their sockets, which the adapter cannot look up).
    evicted: Arc<Mutex<Evictions>>,
    settings: Arc<Settings>,
}

/// Sockets taken out of their rooms for being slow, each with the rooms it left and the number
/// of members each still has.
type Evictions = Vec<(Sid, Vec<(RoomName, usize)>)>;

/// The limits and ICE settings, from [`Config`].
struct Settings {
    event_rate: f64,
    event_burst: u32,
    join: JoinLimits,
    max_connections: usize,
    ice: IceConfig,
}

/// Why a connection was refused before its session began.
#[derive(Debug, thiserror::Error)]
pub enum ConnectRefused {
    #[error("the server is full")]
    Full,
}

impl Hub {
    pub fn new(config: &Config) -> Self {
        Self {
            rooms: RoomRegistry::default(),
            connections: Arc::default(),
            stopping: Arc::default(),
            evicted: Arc::default(),
            settings: Arc::new(Settings {
                event_rate: config.event_rate,
                event_burst: config.event_burst,
                join: JoinLimits {
                    max_rooms: config.max_rooms_per_client,
                    capacity: (config.room_capacity > 0).then_some(config.room_capacity),
                },
                max_connections: config.max_connections,
                ice: IceConfig::new(config),
            }),
        }
    }

    /// Registers the namespace on `io`. The session is set up in a connect middleware, which
    /// socketioxide awaits *before* it tells the client it is connected, so no early event can
    /// arrive before the socket's handler exists.
    pub fn attach(io: &SocketIo<RoomAdapter>) {
        io.ns("/", on_connect.with(open_session));
    }

    /// Sessions currently running.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// Rooms with at least one member.
    pub fn room_count(&self) -> usize {
        self.rooms.with(|rooms| rooms.room_count())
    }

    /// The server is shutting down: every socket is about to be disconnected, so none is told
    /// of the others leaving (for a room of n that would be n² `bye`s nobody needs).
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
    }

    fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// `sid`'s send buffer was full: out of its rooms now, announced and closed soon after.
    fn slow_receiver(&self, sid: Sid) {
        if let Some(left) = self.rooms.with(|rooms| rooms.evict(&sid)) {
            self.evicted().push((sid, left));
        }
    }

    fn take_evicted(&self) -> Evictions {
        std::mem::take(&mut *self.evicted())
    }

    fn evicted(&self) -> MutexGuard<'_, Evictions> {
        self.evicted.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn connection_closed(&self) {
        self.connections.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn open_session<A: Adapter>(
    socket: SocketRef<A>,
    State(hub): State<Hub>,
) -> Result<(), ConnectRefused> {
    let limit = hub.settings.max_connections;
    if hub.connections.fetch_add(1, Ordering::SeqCst) >= limit {
        hub.connection_closed();
        warn!(limit, "connection refused: the server is full");
        return Err(ConnectRefused::Full);
    }
    let connection = Connection::new(&socket, hub);
    socket.on_fallback(connection.clone());
    socket.on_disconnect(connection);
    Ok(())
}

async fn on_connect<A: Adapter>(socket: SocketRef<A>) {
    debug!(id = %socket.id, transport = ?socket.transport_type(), protocol = ?socket.protocol(), "connected");
}
