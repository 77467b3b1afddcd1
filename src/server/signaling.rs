//! The Socket.IO side of the server: turns client events into room operations and room outcomes
//! into server events, per the contract in [`crate::protocol`].
//!
//! # Why every socket has its own queue
//! socketioxide runs each async event handler as its own task, so two messages from one client
//! can be handled out of order under load. Here the only handler is [`Inbox`], a synchronous
//! [`MessageHandler`] that decodes the event on the socket's read path and pushes it onto that
//! socket's bounded queue; one task per socket ([`Session::run`]) drains the queue in order. A
//! sender's events therefore take effect in the order they were sent, and because each
//! broadcast is awaited before the next starts, that also holds for an adapter whose broadcasts
//! really are asynchronous (a Redis one).

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::Value as Json;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{SocketRef, State};
use socketioxide::handler::{ConnectHandler, MessageHandler, Value};
use socketioxide::socket::{DisconnectReason, Sid, Socket};
use socketioxide::SocketIo;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use super::limits::TokenBucket;
use super::rooms::{Joined, Left, RoomRegistry};
use super::Config;
use crate::protocol::{event, ClientEvent, Refusal, RefusalCode, RoomName, ServerEvent};

/// State shared by every connection: a cheap-to-clone handle.
#[derive(Clone)]
pub struct Hub {
    rooms: RoomRegistry<Sid>,
    /// Connected sockets, for `max_connections`.
    connections: Arc<AtomicUsize>,
    settings: Arc<Settings>,
}

/// The per-connection limits, from [`Config`].
struct Settings {
    queue_capacity: usize,
    event_rate: f64,
    event_burst: u32,
    max_rooms: usize,
    max_connections: usize,
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
                max_rooms: config.max_rooms_per_client,
                max_connections: config.max_connections,
            }),
        }
    }

    /// Registers the namespace on `io`. The session is set up in a connect middleware, which
    /// socketioxide awaits *before* it tells the client it is connected, so no early event can
    /// arrive before the socket's handler exists.
    pub fn attach(io: &SocketIo) {
        io.ns("/", on_connect.with(open_session));
    }
}

async fn open_session<A: Adapter>(
    socket: SocketRef<A>,
    State(hub): State<Hub>,
) -> Result<(), ConnectRefused> {
    let limits = &hub.settings;
    if hub.connections.fetch_add(1, Ordering::SeqCst) >= limits.max_connections {
        hub.connections.fetch_sub(1, Ordering::SeqCst);
        warn!(
            limit = limits.max_connections,
            "connection refused: the server is full"
        );
        return Err(ConnectRefused::Full);
    }
    let (tx, rx) = mpsc::channel(limits.queue_capacity);
    socket.on_fallback(Inbox {
        tx: tx.clone(),
        bucket: Mutex::new(TokenBucket::new(
            limits.event_rate,
            limits.event_burst,
            Instant::now(),
        )),
        strikes: AtomicU32::new(0),
        strike_limit: limits.event_burst,
    });
    socket.on_disconnect(async move |reason: DisconnectReason| {
        // Awaited, not `try_send`: the session must learn of the disconnect even when its queue
        // is full, or the socket's rooms would never be cleaned up.
        let _ = tx.send(Command::Disconnect(reason)).await;
    });
    let id = socket.id.to_string();
    tokio::spawn(Session { socket, id, hub }.run(rx));
    Ok(())
}

async fn on_connect<A: Adapter>(socket: SocketRef<A>) {
    debug!(id = %socket.id, transport = ?socket.transport_type(), protocol = ?socket.protocol(), "connected");
}

/// What a session task is asked to do, in arrival order.
#[derive(Debug)]
enum Command {
    Event(Result<ClientEvent, Refusal>),
    Disconnect(DisconnectReason),
}

/// The socket's one event handler: decodes synchronously and queues, keeping arrival order.
struct Inbox {
    tx: mpsc::Sender<Command>,
    /// The event rate limit. Only this socket's read path takes the lock: never contended.
    bucket: Mutex<TokenBucket>,
    /// Events refused in a row for the rate; past `strike_limit` the client is disconnected.
    strikes: AtomicU32,
    strike_limit: u32,
}

impl Inbox {
    /// Whether the rate limit lets one more event in; refuses or disconnects when not.
    fn admit<A: Adapter>(&self, socket: &Arc<Socket<A>>, value: &Value) -> bool {
        let allowed = self
            .bucket
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take(Instant::now());
        if allowed {
            self.strikes.store(0, Ordering::Relaxed);
            return true;
        }
        if self.strikes.fetch_add(1, Ordering::Relaxed) + 1 > self.strike_limit {
            warn!(id = %socket.id, "disconnecting a client that kept exceeding the event rate");
            let _ = socket.clone().disconnect();
        } else {
            refuse_now(
                socket,
                &event_name(value).unwrap_or_default(),
                RefusalCode::RateLimited,
            );
        }
        false
    }
}

/// Refuses from the read path, ahead of the queue: used only when the event cannot be queued.
fn refuse_now<A: Adapter>(socket: &Socket<A>, event: &str, code: RefusalCode) {
    let refusal = ServerEvent::Refused(Refusal::new(event, code));
    let _ = socket.emit(refusal.name(), &refusal);
}

/// The event name of a raw event packet, if it has one.
fn event_name(value: &Value) -> Option<String> {
    match serde_json::from_str::<Json>(value.as_str()?).ok()? {
        Json::Array(items) => items.into_iter().next()?.as_str().map(str::to_owned),
        _ => None,
    }
}

/// Marker type for [`Inbox`]'s [`MessageHandler`] impl.
pub struct Ordered;

impl<A: Adapter> MessageHandler<A, Ordered> for Inbox {
    fn call(&self, socket: Arc<Socket<A>>, value: Value, _ack_id: Option<i64>) {
        if !self.admit(&socket, &value) {
            return;
        }
        let command = Command::Event(decode(&value));
        match self.tx.try_send(command) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(Command::Event(event))) => {
                let name = event
                    .as_ref()
                    .map_or_else(|r| r.event.clone(), |e| e.name().into());
                warn!(id = %socket.id, event = %name, "event queue full; refusing event");
                refuse_now(&socket, &name, RefusalCode::Overloaded);
            }
            Err(_) => {} // The session has ended: the socket is going away.
        }
    }
}

/// Reads one Socket.IO event packet (`["name", arg, ...]`) into a contract event.
fn decode(value: &Value) -> Result<ClientEvent, Refusal> {
    let raw = match value {
        Value::Str(raw, None) => raw.as_str(),
        Value::Str(_, Some(_)) | Value::Bytes(_) => {
            return Err(Refusal::new("", RefusalCode::BinaryUnsupported));
        }
    };
    let items: Vec<Json> =
        serde_json::from_str(raw).map_err(|_| Refusal::new("", RefusalCode::BadArguments))?;
    match items.split_first() {
        Some((Json::String(name), args)) => ClientEvent::decode(name, args),
        _ => Err(Refusal::new("", RefusalCode::BadArguments)),
    }
}

/// One connected socket's event loop.
struct Session<A: Adapter> {
    socket: SocketRef<A>,
    /// `socket.id` as sent in events, formatted once rather than per event.
    id: String,
    hub: Hub,
}

impl<A: Adapter> Session<A> {
    async fn run(self, mut rx: mpsc::Receiver<Command>) {
        while let Some(command) = rx.recv().await {
            match command {
                Command::Event(Ok(event)) => self.handle(event).await,
                Command::Event(Err(refusal)) => self.refuse(refusal),
                Command::Disconnect(reason) => {
                    self.disconnected(reason).await;
                    break;
                }
            }
        }
        self.hub.connections.fetch_sub(1, Ordering::SeqCst);
    }

    async fn handle(&self, event: ClientEvent) {
        let id = self.socket.id;
        match event {
            ClientEvent::Join { room } => {
                let max_rooms = self.hub.settings.max_rooms;
                match self
                    .hub
                    .rooms
                    .with(|rooms| rooms.join(&id, &room, max_rooms))
                {
                    Joined::Added { members } => {
                        self.socket.join(room.to_string());
                        info!(%id, %room, members, "joined; the number of users in the room is {members}");
                    }
                    Joined::AlreadyMember { members } => {
                        debug!(%id, %room, members, "join of a room already joined");
                    }
                    Joined::TooManyRooms { limit } => {
                        debug!(%id, %room, limit, "join refused: too many rooms");
                        return self.refuse(Refusal::new(event::JOIN, RefusalCode::TooManyRooms));
                    }
                }
                self.reply(ServerEvent::Joined {
                    room: room.to_string(),
                    id: self.id.clone(),
                });
            }
            ClientEvent::Leave { room } => {
                match self.hub.rooms.with(|rooms| rooms.leave(&id, &room)) {
                    Left::Removed { remaining } => {
                        self.socket.leave(room.to_string());
                        info!(%id, %room, remaining, "left; the number of users in the room is {remaining}");
                        self.bye(&room).await;
                        self.reply(ServerEvent::Leaved {
                            room: room.to_string(),
                            id: self.id.clone(),
                        });
                    }
                    Left::NotMember => {
                        self.refuse(Refusal::new(event::LEAVE, RefusalCode::NotMember))
                    }
                }
            }
            ClientEvent::Message { room, data } => {
                if !self.hub.rooms.with(|rooms| rooms.is_member(&id, &room)) {
                    return self.refuse(Refusal::new(event::MESSAGE, RefusalCode::NotMember));
                }
                let event = ServerEvent::Message {
                    room: room.to_string(),
                    from: self.id.clone(),
                    data,
                };
                if let Err(err) = self
                    .socket
                    .within(room.to_string())
                    .emit(event.name(), &event)
                    .await
                {
                    warn!(%id, %room, %err, "message not delivered to every member");
                }
            }
        }
    }

    /// A socket that goes away without leaving is removed from its rooms; the others get `bye`.
    async fn disconnected(&self, reason: DisconnectReason) {
        let id = self.socket.id;
        let left = self.hub.rooms.with(|rooms| rooms.leave_all(&id));
        for (room, remaining) in &left {
            info!(%id, %room, remaining, "disconnected; the number of users in the room is {remaining}");
            self.bye(room).await;
        }
        debug!(%id, ?reason, rooms = left.len(), "session closed");
    }

    async fn bye(&self, room: &RoomName) {
        let event = ServerEvent::Bye {
            room: room.to_string(),
            id: self.id.clone(),
        };
        if let Err(err) = self
            .socket
            .to(room.to_string())
            .emit(event.name(), &event)
            .await
        {
            warn!(%room, %err, "bye not delivered to every member");
        }
    }

    fn reply(&self, event: ServerEvent) {
        if let Err(err) = self.socket.emit(event.name(), &event) {
            debug!(id = %self.socket.id, %err, event = event.name(), "reply not sent");
        }
    }

    fn refuse(&self, refusal: Refusal) {
        debug!(id = %self.socket.id, event = %refusal.event, code = ?refusal.code, "refused");
        self.reply(ServerEvent::Refused(refusal));
    }
}
