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

use std::convert::Infallible;
use std::sync::Arc;

use serde_json::Value as Json;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{SocketRef, State};
use socketioxide::handler::{ConnectHandler, MessageHandler, Value};
use socketioxide::socket::{DisconnectReason, Sid, Socket};
use socketioxide::SocketIo;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use super::rooms::{Joined, Left, RoomRegistry};
use crate::protocol::{ClientEvent, Refusal, RefusalCode, RoomName, ServerEvent};

/// State shared by every connection: a cheap-to-clone handle.
#[derive(Clone)]
pub struct Hub {
    rooms: RoomRegistry<Sid>,
    queue_capacity: usize,
}

impl Hub {
    /// `queue_capacity` bounds how many received events may wait for one socket's session task.
    pub fn new(queue_capacity: usize) -> Self {
        Self {
            rooms: RoomRegistry::default(),
            queue_capacity: queue_capacity.max(1),
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
) -> Result<(), Infallible> {
    let (tx, rx) = mpsc::channel(hub.queue_capacity);
    socket.on_fallback(Inbox { tx: tx.clone() });
    socket.on_disconnect(async move |reason: DisconnectReason| {
        // Awaited, not `try_send`: the session must learn of the disconnect even when its queue
        // is full, or the socket's rooms would never be cleaned up.
        let _ = tx.send(Command::Disconnect(reason)).await;
    });
    tokio::spawn(Session { socket, hub }.run(rx));
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
#[derive(Clone)]
struct Inbox {
    tx: mpsc::Sender<Command>,
}

/// Marker type for [`Inbox`]'s [`MessageHandler`] impl.
pub struct Ordered;

impl<A: Adapter> MessageHandler<A, Ordered> for Inbox {
    fn call(&self, socket: Arc<Socket<A>>, value: Value, _ack_id: Option<i64>) {
        let command = Command::Event(decode(&value));
        match self.tx.try_send(command) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(Command::Event(event))) => {
                let name = event
                    .as_ref()
                    .map_or_else(|r| r.event.clone(), |e| e.name().into());
                warn!(id = %socket.id, event = %name, "event queue full; refusing event");
                let refusal = ServerEvent::Refused(Refusal::new(&name, RefusalCode::Overloaded));
                let _ = socket.emit(refusal.name(), &refusal);
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
    }

    async fn handle(&self, event: ClientEvent) {
        let id = self.socket.id;
        match event {
            ClientEvent::Join { room } => {
                match self.hub.rooms.with(|rooms| rooms.join(&id, &room)) {
                    Joined::Added { members } => {
                        self.socket.join(room.to_string());
                        info!(%id, %room, members, "joined; the number of users in the room is {members}");
                    }
                    Joined::AlreadyMember { members } => {
                        debug!(%id, %room, members, "join of a room already joined");
                    }
                }
                self.reply(ServerEvent::Joined {
                    room: room.to_string(),
                    id: id.to_string(),
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
                            id: id.to_string(),
                        });
                    }
                    Left::NotMember => self.refuse(Refusal::new("leave", RefusalCode::NotMember)),
                }
            }
            ClientEvent::Message { room, data } => {
                if !self.hub.rooms.with(|rooms| rooms.is_member(&id, &room)) {
                    return self.refuse(Refusal::new("message", RefusalCode::NotMember));
                }
                let event = ServerEvent::Message {
                    room: room.to_string(),
                    from: id.to_string(),
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
        let id = self.socket.id.to_string();
        let event = ServerEvent::Bye {
            room: room.to_string(),
            id,
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
