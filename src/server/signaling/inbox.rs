//! The read path: each socket's one event handler, which rate-limits, decodes and queues.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::Value as Json;
use socketioxide::adapter::Adapter;
use socketioxide::extract::SocketRef;
use socketioxide::handler::{MessageHandler, Value};
use socketioxide::socket::{DisconnectReason, Socket};
use tokio::sync::mpsc;
use tracing::warn;

use super::{delivery, Hub};
use crate::protocol::{ClientEvent, CloseCode, Refusal, RefusalCode, ServerEvent};
use crate::server::limits::TokenBucket;

/// What a session task is asked to do, in arrival order.
#[derive(Debug)]
pub(super) enum Command {
    /// Boxed: a queue allocates room for 32 commands up front, for every connection, so a small
    /// command saves about 4 KiB per idle connection for one allocation per event.
    Event(Box<Result<ClientEvent, Refusal>>),
    Disconnect(DisconnectReason),
}

/// The socket's one event handler: decodes synchronously and queues, keeping arrival order.
pub(super) struct Inbox {
    tx: mpsc::Sender<Command>,
    hub: Hub,
    /// The event rate limit. Only this socket's read path takes the lock: never contended.
    rate: Mutex<Rate>,
}

/// Events admitted, and refusals forgiven, each at `--event-rate` with `--event-burst` at once.
/// A client refused more often than that is not slowing down: it is disconnected.
struct Rate {
    events: TokenBucket,
    strikes: TokenBucket,
}

impl Inbox {
    pub(super) fn new(tx: mpsc::Sender<Command>, hub: Hub) -> Self {
        let (limits, now) = (&hub.settings, Instant::now());
        let bucket = || TokenBucket::new(limits.event_rate, limits.event_burst, now);
        let rate = Rate {
            events: bucket(),
            strikes: bucket(),
        };
        Self {
            tx,
            rate: Mutex::new(rate),
            hub,
        }
    }

    /// Whether the rate limit lets one more event in; refuses or disconnects when not.
    fn admit<A: Adapter>(&self, socket: &Arc<Socket<A>>, value: &Value) -> bool {
        let (allowed, forgiven) = {
            let mut rate = self.rate.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            if rate.events.take(now) {
                (true, true)
            } else {
                (false, rate.strikes.take(now))
            }
        };
        if allowed {
            return true;
        }
        if !forgiven {
            let socket = SocketRef::from(socket.clone());
            delivery::evict(&self.hub, socket, CloseCode::RateLimited);
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
        let command = Command::Event(Box::new(decode(&value)));
        match self.tx.try_send(command) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(Command::Event(event))) => {
                let name = match &*event {
                    Ok(event) => event.name().to_owned(),
                    Err(refusal) => refusal.event.clone(),
                };
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
