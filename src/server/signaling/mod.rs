//! The Socket.IO side of the server: turns client events into room operations and room outcomes
//! into server events, per the contract in [`crate::protocol`].
//!
//! - [`inbox`]: the read path; rate-limits, decodes and queues each socket's events.
//! - [`session`]: one task per socket that applies its events in order.
//! - [`delivery`]: sends events to rooms and sockets; evicts receivers that cannot keep up.
//!
//! # Why every socket has its own queue
//! socketioxide runs each async event handler as its own task, so two messages from one client
//! can be handled out of order under load. Here the only handler is the synchronous
//! [`inbox::Inbox`], which decodes the event on the socket's read path and pushes it onto that
//! socket's bounded queue; one task per socket drains the queue in order. A sender's events
//! therefore take effect in the order they were sent.

mod delivery;
mod inbox;
mod session;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use socketioxide::adapter::Adapter;
use socketioxide::extract::{SocketRef, State};
use socketioxide::handler::ConnectHandler;
use socketioxide::socket::{DisconnectReason, Sid};
use socketioxide::SocketIo;
use tokio::sync::mpsc;
use tracing::{debug, warn};

use super::ice::IceConfig;
use super::rooms::{JoinLimits, RoomRegistry};
use super::Config;
use inbox::{Command, Inbox};
use session::Session;

/// State shared by every connection: a cheap-to-clone handle.
#[derive(Clone)]
pub struct Hub {
    rooms: RoomRegistry<Sid>,
    /// Sessions running, for `max_connections`.
    connections: Arc<AtomicUsize>,
    settings: Arc<Settings>,
}

/// The limits and ICE settings, from [`Config`].
struct Settings {
    queue_capacity: usize,
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
            settings: Arc::new(Settings {
                queue_capacity: config.event_queue.max(1),
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
    pub fn attach(io: &SocketIo) {
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
    let (tx, rx) = mpsc::channel(hub.settings.queue_capacity);
    socket.on_fallback(Inbox::new(tx.clone(), hub.clone()));
    socket.on_disconnect(async move |reason: DisconnectReason| {
        // Awaited, not `try_send`: the session must learn of the disconnect even when its queue
        // is full, or the socket's rooms would never be cleaned up.
        let _ = tx.send(Command::Disconnect(reason)).await;
    });
    tokio::spawn(Session::new(&socket, hub).run(rx));
    Ok(())
}

async fn on_connect<A: Adapter>(socket: SocketRef<A>) {
    debug!(id = %socket.id, transport = ?socket.transport_type(), protocol = ?socket.protocol(), "connected");
}
