//! Each socket's event and disconnect handler: rate-limits and decodes its events on the read
//! path, applies them through its [`Session`], and ends the session exactly once.
//!
//! In a cluster a join waits for Redis to seat it. The socket's events that arrive meanwhile
//! wait behind it, in order, and a task applies them once it is seated; then the read path
//! applies events itself again. Without a cluster a socket's events wait only at its start,
//! until the socket is connected (see [`Connected`]).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Instant;

use serde_json::Value as Json;
use socketioxide::adapter::Adapter;
use socketioxide::extract::SocketRef;
use socketioxide::handler::{DisconnectHandler, MessageHandler, Value};
use socketioxide::socket::{DisconnectReason, Sid, Socket};
use tracing::debug;

use super::session::{Pending, Session};
use super::{delivery, Hub};
use crate::protocol::{ClientEvent, CloseCode, Refusal, RefusalCode};
use crate::server::auth::Grant;
use crate::server::limits::TokenBucket;

/// A cheap-to-clone handle: socketioxide keeps one as the socket's event handler and one as its
/// disconnect handler.
pub(super) struct Connection<A: Adapter>(Arc<Shared<A>>);

struct Shared<A: Adapter> {
    session: Session<A>,
    /// Taken for each event on this socket's read path and once by its disconnect, so no event
    /// is applied after the session ended (a join then would leave a member no one removes).
    /// The two meet only when a disconnect races an event: practically uncontended.
    state: Mutex<State>,
}

struct State {
    rate: Rate,
    /// False once the session has ended.
    open: bool,
    /// While a join waits for the cluster: the events that arrived since, in order.
    waiting: Option<VecDeque<ClientEvent>>,
}

/// Events that may wait behind a join at most; more are refused `rate_limited`. A join waits
/// a round trip to Redis (at most its response timeout), so at the default event rate a
/// client reaches this only by flooding.
const MAX_WAITING: usize = 1024;

/// Events admitted, and refusals forgiven, each at `--event-rate` with `--event-burst` at once.
/// A client refused more often than that is not slowing down: it is disconnected.
struct Rate {
    events: TokenBucket,
    strikes: TokenBucket,
}

/// What the rate limit decides for one event.
enum Admission {
    Admit,
    Refuse,
    Disconnect,
}

impl Rate {
    fn new(hub: &Hub, now: Instant) -> Self {
        let limits = &hub.settings;
        let bucket = || TokenBucket::new(limits.event_rate, limits.event_burst, now);
        Self {
            events: bucket(),
            strikes: bucket(),
        }
    }

    fn admit(&mut self, now: Instant) -> Admission {
        if self.events.take(now) {
            Admission::Admit
        } else if self.strikes.take(now) {
            Admission::Refuse
        } else {
            Admission::Disconnect
        }
    }
}

impl<A: Adapter> Clone for Connection<A> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<A: Adapter> Connection<A> {
    /// The handlers of `socket`, speaking for `peer` (its own id, or the one it resumed). The
    /// events that arrive before the socket is [`Connected`] wait for it.
    pub(super) fn new(socket: &SocketRef<A>, peer: Sid, hub: Hub, grant: Arc<Grant>) -> Self {
        let rate = Rate::new(&hub, Instant::now());
        let connection = Self(Arc::new(Shared {
            session: Session::new(socket, peer, hub, grant),
            state: Mutex::new(State {
                rate,
                open: true,
                waiting: Some(VecDeque::new()),
            }),
        }));
        socket
            .extensions
            .insert(Connected(Arc::downgrade(&connection.0)));
        connection
    }
}

/// Fired once socketioxide counts the socket as connected, by the namespace's connect handler.
///
/// socketioxide sends the client its CONNECT answer a moment *before* it marks the socket
/// connected, and until then every emit to the socket fails as closed. A client that emits at
/// once (a `join` on connect) can be read in that moment on another thread: its join took
/// effect but the answer was lost, and the client waited forever (seen under CPU load). So a
/// socket's events wait until this fires. If the connect fails instead, the socket and its
/// handlers are dropped, and so are the events that waited. (Weak: the handlers alone decide how
/// long the session lives, and its end on a failed connect is their drop.)
pub(super) struct Connected<A: Adapter>(Weak<Shared<A>>);

impl<A: Adapter> Clone for Connected<A> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<A: Adapter> Connected<A> {
    /// Applies the events that arrived before the connect, in order. Call once: the read path
    /// applies events itself from then on (unless a join among them must wait, see
    /// [`Connection::resume`]).
    pub(super) fn fire(self) {
        if let Some(shared) = self.0.upgrade() {
            let connection = Connection(shared);
            if let Some(pending) = connection.apply_waiting() {
                tokio::spawn(connection.resume(pending));
            }
        }
    }
}

impl<A: Adapter> Shared<A> {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl<A: Adapter> Drop for Shared<A> {
    /// A socket whose Socket.IO connect failed after its session opened is dropped without a
    /// disconnect: its session ends here instead (as a drop: a resumed peer is away again), so
    /// its connection slot is freed.
    fn drop(&mut self) {
        let state = self.state.get_mut().unwrap_or_else(|p| p.into_inner());
        if std::mem::take(&mut state.open) {
            self.session.disconnected(true);
        }
    }
}

/// Marker type for [`Connection`]'s handler impls.
pub struct Inline;

impl<A: Adapter> MessageHandler<A, Inline> for Connection<A> {
    /// Called on the socket's read path, one event at a time, so a sender's events take effect
    /// in the order it sent them.
    fn call(&self, socket: Arc<Socket<A>>, value: Value, _ack_id: Option<i64>) {
        let shared = &*self.0;
        let hub = shared.session.hub();
        let metrics = &hub.metrics;
        let started = metrics.event_started();
        hub.activity.event();
        let mut state = shared.state();
        if !state.open {
            return;
        }
        match state.rate.admit(Instant::now()) {
            Admission::Admit => match decode(&value) {
                Ok(event) => match &mut state.waiting {
                    Some(waiting) if waiting.len() >= MAX_WAITING => {
                        let refusal = Refusal::new(event.name(), RefusalCode::RateLimited);
                        shared.session.refuse(refusal);
                    }
                    Some(waiting) => waiting.push_back(event),
                    None => {
                        if let Some(pending) = shared.session.handle(event) {
                            state.waiting = Some(VecDeque::new());
                            tokio::spawn(self.clone().resume(pending));
                        }
                    }
                },
                Err(refusal) => shared.session.refuse(refusal),
            },
            Admission::Refuse => {
                let event = event_name(&value).unwrap_or_default();
                shared
                    .session
                    .refuse(Refusal::new(&event, RefusalCode::RateLimited));
            }
            Admission::Disconnect => {
                let hub = shared.session.hub();
                delivery::evict(hub, SocketRef::from(socket), CloseCode::RateLimited);
            }
        }
        drop(state);
        metrics.event_handled(started);
    }
}

impl<A: Adapter> Connection<A> {
    /// Waits for `pending`, a join's seat, then applies the events that waited behind it.
    async fn resume(self, mut pending: Pending) {
        loop {
            let _ = pending.await;
            match self.apply_waiting() {
                Some(next) => pending = next,
                None => return,
            }
        }
    }

    /// Applies the waiting events, in order, until none is left (the read path applies them
    /// again) or another join must wait: what it waits for.
    fn apply_waiting(&self) -> Option<Pending> {
        let mut state = self.0.state();
        loop {
            if !state.open {
                state.waiting = None;
                return None;
            }
            let Some(event) = state.waiting.as_mut().and_then(VecDeque::pop_front) else {
                state.waiting = None;
                return None;
            };
            if let Some(next) = self.0.session.handle(event) {
                return Some(next);
            }
        }
    }
}

impl<A: Adapter> DisconnectHandler<A, Inline> for Connection<A> {
    fn call_with_defer(
        &self,
        socket: Arc<Socket<A>>,
        reason: DisconnectReason,
        defer: fn(Arc<Socket<A>>),
    ) {
        let shared = &*self.0;
        if std::mem::take(&mut shared.state().open) {
            debug!(id = %socket.id, ?reason, "disconnected");
            shared.session.disconnected(is_drop(reason));
            shared
                .session
                .hub()
                .metrics
                .disconnected(reason_name(reason));
        }
        defer(socket);
    }
}

/// Whether `reason` is the transport failing (a resumable peer may come back) rather than the
/// client or the server ending the session, or a broken client.
pub(super) fn is_drop(reason: DisconnectReason) -> bool {
    matches!(
        reason,
        DisconnectReason::TransportClose
            | DisconnectReason::TransportError
            | DisconnectReason::HeartbeatTimeout
    )
}

/// `reason` as the disconnects metric labels it.
pub(super) fn reason_name(reason: DisconnectReason) -> &'static str {
    match reason {
        DisconnectReason::TransportClose => "transport_close",
        DisconnectReason::MultipleHttpPollingError => "multiple_http_polling",
        DisconnectReason::PacketParsingError => "packet_parsing_error",
        DisconnectReason::TransportError => "transport_error",
        DisconnectReason::HeartbeatTimeout => "heartbeat_timeout",
        DisconnectReason::ClientNSDisconnect => "client_disconnect",
        DisconnectReason::ServerNSDisconnect => "server_disconnect",
        DisconnectReason::ClosingServer => "server_closing",
    }
}

/// The event name of a raw event packet, if it has one.
fn event_name(value: &Value) -> Option<String> {
    match serde_json::from_str::<Json>(value.as_str()?).ok()? {
        Json::Array(items) => items.into_iter().next()?.as_str().map(str::to_owned),
        _ => None,
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
