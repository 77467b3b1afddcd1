//! Resuming on another instance of the cluster: the session is carried, not moved.
//!
//! A resume token names the instance that issued it (see [`crate::server::resume`]). A client
//! that presents one here, where it was not issued, is resumed *at its issuer*: this instance
//! opens a WebSocket (over TLS for an `https://` URL) to the issuer's `--instance-url`
//! (registered in Redis) and resumes the session there over the ordinary Socket.IO protocol, as
//! the client itself would have. If the issuer answers `resumed`, the client's socket here
//! becomes a tunnel: its events go to the issuer as they came, and the issuer's events
//! (`resumed`, the replay, then live events) come back byte for byte. The handshake names the
//! instance it means to reach ([`arriving`]), so a URL that leads elsewhere is refused there,
//! and nothing carried in is carried further.
//!
//! Nothing about the session moves: its seats, rooms, numbered log, rate limit and grace period
//! stay with the instance that holds them, whose code handles the tunnel as any socket. So the
//! resume keeps every guarantee it has on one instance (each missed event once, in order), and
//! a drop here is a drop there: the next resume may go through any instance again. What the
//! tunnel adds is a hop for this one client's events, and its own ends:
//!
//! | here | at the issuer |
//! |---|---|
//! | the client disconnects | a Socket.IO disconnect: the peer leaves, the room hears `bye` |
//! | the client's transport drops | the tunnel is dropped too: the peer is `away`, resumable |
//! | this instance shuts down (`closing(shutdown)` to the client) | the same: a drop |
//! | the client reads too slowly to take the issuer's events | `closing(slow_receiver)` here, a disconnect there |
//! | the issuer disconnects the tunnel (after its `closing` notice, say) | the client is disconnected |
//! | the tunnel breaks (the issuer died) | the client gets `closing(shutdown)` and may connect again |

use std::io;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rustls::{ClientConfig, RootCertStore};
use serde_json::Value as Json;
use socketioxide::adapter::Adapter;
use socketioxide::extract::SocketRef;
use socketioxide::handler::{DisconnectHandler, MessageHandler, Value};
use socketioxide::socket::{DisconnectReason, Sid, Socket};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Bytes, Error as WsError, Message};
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};
use tracing::{debug, info, warn};

use super::connection::{is_drop, reason_name, Inline};
use super::delivery::{self, Sockets};
use super::{ConnectRefused, Hub};
use crate::client::frame::{self, Incoming};
use crate::protocol::{CloseCode, ResumeAsk, ResumeFailureCode, ServerEvent};
use crate::server::cluster::NodeId;
use crate::server::resume;

/// How long opening a tunnel may take, the issuer's answer included: the client's connect waits
/// for it. An issuer that does not answer in time is taken as unable to resume the session.
const OPEN_TIMEOUT: Duration = Duration::from_secs(5);
/// Tunnels being opened at once, at most; beyond, a resume is refused here as unknown. Each
/// costs a connection to another instance, and a client presenting made-up tokens that name
/// one must not make this instance open them without bound.
static OPENING: Semaphore = Semaphore::const_new(64);
/// The client's events waiting to go through the tunnel at most; beyond, the client is cut off
/// as rate limited (the issuer limits its rate too, so only a flood gets here).
const MAX_WAITING: usize = 1024;

/// Bytes a tunnel reads from the issuer at a time. tungstenite's default, 128 KiB, is filled on
/// reads and held by every carried client; an event is usually well under 4 KiB, and a larger one
/// (an SDP offer) simply takes several reads.
const TUNNEL_READ_BUFFER: usize = 4 * 1024;

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A session resumed at its issuer, ready to carry a socket.
struct Opened {
    ws: Ws,
    /// The issuer's `resumed` event (its encoded arguments array), the client's first event.
    resumed: String,
}

/// Why a tunnel was not opened.
#[derive(Debug, thiserror::Error)]
enum OpenError {
    #[error("the issuing instance refused the resume ({0:?})")]
    Refused(ResumeFailureCode),
    #[error("cannot reach the issuing instance: {0}")]
    Unreachable(String),
    /// Its host answered that nothing listens there (or that it is gone): it may have died.
    #[error("nothing listens at the issuing instance's address: {0}")]
    NothingListens(String),
    /// Another instance answers at its URL: one restarted on its address after it died (or a
    /// misconfigured `--instance-url`).
    #[error("another instance answers at the issuing instance's address")]
    Replaced,
    #[error("the issuing instance did not answer in time")]
    TimedOut,
    #[error("too many tunnels are being opened")]
    Busy,
    #[error("unexpected answer from the issuing instance: {0}")]
    Protocol(String),
}

/// What became of a resume whose session may be held by another instance.
pub(super) enum Elsewhere {
    /// The session was resumed at its issuer, and `socket` carries it.
    Carried,
    /// The issuer refused it: the client starts fresh here, told why.
    Refused(ResumeFailureCode),
    /// The issuer is not in the cluster, or nothing answers for it at its URL: it may have died,
    /// and its sessions become orphans this instance may adopt (see [`super::adopting`]).
    /// `suspected`: its URL refused, so it is worth waiting for it to be taken for dead.
    Gone { issuer: NodeId, suspected: bool },
    /// No other instance issued it, or the issuer cannot be reached: it is resumed (or refused)
    /// here.
    No,
}

/// If another instance of the cluster issued the resume token of `ask`, resumes the session
/// there for a client presenting `join_token`, and makes `socket` carry it.
pub(super) async fn resume_elsewhere<A: Adapter>(
    hub: &Hub,
    socket: &SocketRef<A>,
    ask: &ResumeAsk,
    join_token: Option<String>,
) -> Elsewhere {
    let ResumeAsk::Resume { token, .. } = ask else {
        return Elsewhere::No;
    };
    let (Some(cluster), Some(holder)) = (hub.cluster(), issuer(hub, token)) else {
        return Elsewhere::No;
    };
    let Some(url) = cluster.url_of(holder).await else {
        let (issuer, suspected) = (holder, false);
        return Elsewhere::Gone { issuer, suspected };
    };
    match open((holder, &url), ask, join_token).await {
        Ok(opened) => {
            info!(socket = %socket.id, issuer = %url, "resuming through the instance that holds the session");
            hub.metrics.resumed("carried");
            carry(hub, socket, opened);
            Elsewhere::Carried
        }
        Err(OpenError::Refused(code)) => Elsewhere::Refused(code),
        Err(err @ (OpenError::NothingListens(_) | OpenError::Replaced)) => {
            // It may have died: see `Cluster::suspect`.
            cluster.suspect(holder);
            info!(socket = %socket.id, issuer = %url, %err, "the instance that issued the token may have died");
            Elsewhere::Gone {
                issuer: holder,
                suspected: true,
            }
        }
        Err(err) => {
            warn!(socket = %socket.id, issuer = %url, %err, "cannot resume through the instance that issued the token");
            Elsewhere::No
        }
    }
}

/// The handshake field in which a carrier names the instance it means to reach, so that a URL
/// leading elsewhere (a misconfigured `--instance-url`) is refused rather than carried on.
const HOLDER: &str = "holder";

/// For a connection presenting handshake `auth`: whether another instance carries it here
/// (its `holder` names this instance; it must not be carried further), or why it is refused
/// (its `holder` names another).
pub(super) fn arriving(hub: &Hub, auth: Option<&Json>) -> Result<bool, ConnectRefused> {
    let Some(holder) = auth.and_then(|a| a.get(HOLDER)) else {
        return Ok(false);
    };
    let here = hub.cluster().map(|c| c.node().to_string());
    match (holder.as_str(), here) {
        (Some(holder), Some(here)) if holder == here => Ok(true),
        _ => Err(ConnectRefused::NotHolder),
    }
}

/// The instance that issued resume `token`, if it is another instance of the cluster.
fn issuer(hub: &Hub, token: &str) -> Option<NodeId> {
    let cluster = hub.cluster()?;
    let issuer: NodeId = resume::issuer_of(token)?.parse().ok()?;
    (issuer != cluster.node() && issuer != NodeId::ORPHAN).then_some(issuer)
}

/// Resumes the session `ask` names at instance `holder`, at `url`, for a client presenting the
/// join token `join_token`.
async fn open(
    (holder, url): (NodeId, &str),
    ask: &ResumeAsk,
    join_token: Option<String>,
) -> Result<Opened, OpenError> {
    let _permit = OPENING.try_acquire().map_err(|_| OpenError::Busy)?;
    let mut auth = frame::auth(join_token.as_deref(), Some(ask));
    auth.insert(HOLDER.into(), holder.to_string().into());
    tokio::time::timeout(OPEN_TIMEOUT, handshake(url, frame::connect_with(auth)))
        .await
        .map_err(|_| OpenError::TimedOut)?
}

/// Engine.IO open, the Socket.IO `connect` packet given, then the issuer's first event.
async fn handshake(url: &str, connect: String) -> Result<Opened, OpenError> {
    let (ws_url, connector) = match url.split_once("://") {
        Some(("https", host)) => (format!("wss://{host}"), Some(Connector::Rustls(tls()?))),
        Some((_, host)) => (format!("ws://{host}"), None),
        None => (format!("ws://{url}"), None),
    };
    let ws_url = format!("{ws_url}/socket.io/?EIO=4&transport=websocket");
    let config = WebSocketConfig::default().read_buffer_size(TUNNEL_READ_BUFFER);
    let (mut ws, _) =
        tokio_tungstenite::connect_async_tls_with_config(ws_url, Some(config), false, connector)
            .await
            .map_err(unreachable)?;
    match next(&mut ws).await? {
        (_, Incoming::Open(_)) => send(&mut ws, connect).await?,
        (text, _) => return Err(OpenError::Protocol(text)),
    }
    match next(&mut ws).await? {
        (_, Incoming::Connected { .. }) => {}
        (_, Incoming::ConnectError { message })
            if message == ConnectRefused::NotHolder.to_string() =>
        {
            return Err(OpenError::Replaced)
        }
        (_, Incoming::ConnectError { message }) => return Err(OpenError::Protocol(message)),
        (text, _) => return Err(OpenError::Protocol(text)),
    }
    let (first, incoming) = next(&mut ws).await?;
    let event = match incoming {
        Incoming::Event { name, args } => ServerEvent::decode(&name, &args),
        _ => None,
    };
    match event {
        // Its arguments array as sent: the client gets it as it gets the events that follow.
        Some(ServerEvent::Resumed(_)) => match first.strip_prefix(frame::EVENT) {
            Some(resumed) => Ok(Opened {
                resumed: resumed.to_owned(),
                ws,
            }),
            None => Err(OpenError::Protocol(first)),
        },
        Some(ServerEvent::ResumeFailed(failure)) => {
            // The issuer started a fresh session for the tunnel: end it at once.
            let _ = send(&mut ws, frame::DISCONNECT.to_owned()).await;
            Err(OpenError::Refused(failure.code))
        }
        _ => Err(OpenError::Protocol(first)),
    }
}

/// Why the issuer could not be reached: a refused connection (or an unreachable host) says
/// that it may be dead; anything else (a timeout, a TLS failure) says nothing about that.
fn unreachable(err: WsError) -> OpenError {
    match &err {
        WsError::Io(io)
            if matches!(
                io.kind(),
                io::ErrorKind::ConnectionRefused | io::ErrorKind::HostUnreachable
            ) =>
        {
            OpenError::NothingListens(err.to_string())
        }
        _ => OpenError::Unreachable(err.to_string()),
    }
}

/// What a carrier trusts on an instance that serves HTTPS: the system's certificate authorities
/// (`SSL_CERT_FILE` names another bundle), as for `rediss://`. Read once.
fn tls() -> Result<Arc<ClientConfig>, OpenError> {
    static CONFIG: OnceLock<Result<Arc<ClientConfig>, String>> = OnceLock::new();
    let config = CONFIG.get_or_init(|| {
        let mut roots = RootCertStore::empty();
        let found = rustls_native_certs::load_native_certs();
        let (added, _) = roots.add_parsable_certificates(found.certs);
        if added == 0 {
            return Err(format!("no trusted certificate found: {:?}", found.errors));
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|err| err.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Arc::new(config))
    });
    config.clone().map_err(OpenError::Unreachable)
}

/// The next text frame, as sent and decoded, answering pings on the way.
async fn next(ws: &mut Ws) -> Result<(String, Incoming), OpenError> {
    loop {
        let text = match ws.next().await {
            Some(Ok(Message::Text(text))) => text.as_str().to_owned(),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(other)) => return Err(OpenError::Protocol(format!("{other:?}"))),
            Some(Err(err)) => return Err(OpenError::Unreachable(err.to_string())),
            None => return Err(OpenError::Unreachable("closed".into())),
        };
        match frame::decode(&text) {
            Ok(Incoming::Ping) => send(ws, frame::PONG.to_owned()).await?,
            Ok(incoming) => return Ok((text, incoming)),
            Err(err) => return Err(OpenError::Protocol(format!("{err}: {text}"))),
        }
    }
}

async fn send(ws: &mut Ws, text: String) -> Result<(), OpenError> {
    ws.send(Message::text(text))
        .await
        .map_err(|err| OpenError::Unreachable(err.to_string()))
}

/// Makes `socket` the client's end of `opened`: its events go through from now on, and the
/// issuer's once the socket is connected (see [`Ready`]).
fn carry<A: Adapter>(hub: &Hub, socket: &SocketRef<A>, opened: Opened) {
    let (up, waiting) = mpsc::channel(MAX_WAITING);
    let (ended, end) = oneshot::channel();
    let (ready, connected) = oneshot::channel();
    let handler = ClientEnd(Arc::new(Shared {
        hub: hub.clone(),
        up,
        ended: Mutex::new(Some(ended)),
    }));
    socket
        .extensions
        .insert(Ready(Arc::new(Mutex::new(Some(ready)))));
    socket.on_fallback(handler.clone());
    socket.on_disconnect(handler);
    let carrier = Carrier {
        hub: hub.clone(),
        sockets: Sockets::of(socket),
        sid: socket.id,
        ws: opened.ws,
    };
    tokio::spawn(carrier.run(opened.resumed, waiting, end, connected));
}

/// Fired by the connect handler once the socket is connected: until then nothing can be sent
/// to it (see [`super::connection::Connected`]).
#[derive(Clone)]
pub(super) struct Ready(Arc<Mutex<Option<oneshot::Sender<()>>>>);

impl Ready {
    pub(super) fn fire(&self) {
        if let Some(ready) = self.0.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = ready.send(());
        }
    }
}

/// The socket's handlers: a cheap-to-clone handle, kept by socketioxide as both.
struct ClientEnd(Arc<Shared>);

impl Clone for ClientEnd {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

/// One of the client's events, for the issuer: its encoded array, and a binary event's
/// attachments.
enum Up {
    Event(String),
    Binary(String, Vec<Bytes>),
}

impl Up {
    /// The WebSocket messages that carry it: an EVENT packet, or a BINARY_EVENT packet and its
    /// attachments.
    fn messages(self) -> Vec<Message> {
        match self {
            Self::Event(args) => vec![Message::text(format!("{}{args}", frame::EVENT))],
            Self::Binary(args, attachments) => {
                let count = attachments.len();
                let head = Message::text(format!("{}{count}-{args}", frame::BINARY_EVENT));
                std::iter::once(head)
                    .chain(attachments.into_iter().map(Message::binary))
                    .collect()
            }
        }
    }
}

struct Shared {
    hub: Hub,
    /// The client's events, in order, for the carrier.
    up: mpsc::Sender<Up>,
    /// Tells the carrier how the client's connection ended: `true` for a disconnect, `false`
    /// for a drop.
    ended: Mutex<Option<oneshot::Sender<bool>>>,
}

impl Drop for Shared {
    /// A socket whose Socket.IO connect failed is dropped without a disconnect: its connection
    /// slot is freed here, and the carrier, finding no end sent, drops the tunnel (a drop at the
    /// issuer).
    fn drop(&mut self) {
        let ended = self.ended.get_mut().unwrap_or_else(|p| p.into_inner());
        if ended.take().is_some() {
            self.hub.connection_closed();
        }
    }
}

impl<A: Adapter> MessageHandler<A, Inline> for ClientEnd {
    fn call(&self, socket: Arc<Socket<A>>, value: Value, _ack_id: Option<i64>) {
        let hub = &self.0.hub;
        // Binary events go through too: the issuer refuses them, numbered like its other events.
        let event = match value {
            Value::Str(raw, None) => Up::Event(raw.as_str().to_owned()),
            Value::Str(raw, Some(attachments)) => {
                Up::Binary(raw.as_str().to_owned(), attachments.into())
            }
            // A bare binary packet (not an event) is not forwarded: the issuer would see nothing.
            Value::Bytes(_) => return,
        };
        match self.0.up.try_send(event) {
            Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                delivery::evict(hub, SocketRef::from(socket), CloseCode::RateLimited);
            }
        }
    }
}

impl<A: Adapter> DisconnectHandler<A, Inline> for ClientEnd {
    fn call_with_defer(
        &self,
        socket: Arc<Socket<A>>,
        reason: DisconnectReason,
        defer: fn(Arc<Socket<A>>),
    ) {
        let ended = self
            .0
            .ended
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(ended) = ended {
            debug!(id = %socket.id, ?reason, "tunnelled client disconnected");
            // Disconnected by this instance's shutdown, the client may resume elsewhere: to
            // the issuer it is a drop.
            let _ = ended.send(!is_drop(reason) && !self.0.hub.stopping());
            self.0.hub.connection_closed();
            self.0.hub.metrics.disconnected(reason_name(reason));
        }
        defer(socket);
    }
}

/// The task that carries one session between its client here and its issuer.
struct Carrier<A: Adapter> {
    hub: Hub,
    sockets: Sockets<A>,
    sid: Sid,
    ws: Ws,
}

/// How the carrier's loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// The client disconnected (`true`) or its transport dropped (`false`).
    Client(bool),
    /// The issuer ended the session: the client is disconnected.
    Issuer,
    /// The tunnel broke.
    Lost,
    /// The client could not take the issuer's events in time.
    Slow,
}

impl<A: Adapter> Carrier<A> {
    async fn run(
        mut self,
        resumed: String,
        mut waiting: mpsc::Receiver<Up>,
        mut end: oneshot::Receiver<bool>,
        connected: oneshot::Receiver<()>,
    ) {
        let ending = tokio::select! {
            connected = connected => match connected {
                Ok(()) if self.to_client(resumed) => self.relay(&mut waiting, &mut end).await,
                Ok(()) => Ending::Slow,
                // The connect failed: the socket is gone without a disconnect.
                Err(_) => Ending::Client(false),
            },
            clean = &mut end => Ending::Client(clean.unwrap_or(false)),
        };
        self.finish(ending).await;
    }

    /// Carries events both ways until one end stops.
    async fn relay(
        &mut self,
        waiting: &mut mpsc::Receiver<Up>,
        end: &mut oneshot::Receiver<bool>,
    ) -> Ending {
        loop {
            // In this order: the client's last events go through before its end does.
            tokio::select! {
                biased;
                frame = self.ws.next() => match frame {
                    // Classified by prefix, not decoded: events go through as they are.
                    Some(Ok(Message::Text(text))) => match text.as_str() {
                        frame::PING => {
                            if self.ws.send(Message::text(frame::PONG)).await.is_err() {
                                return Ending::Lost;
                            }
                        }
                        frame::DISCONNECT | frame::CLOSE => return Ending::Issuer,
                        text => {
                            if let Some(args) = text.strip_prefix(frame::EVENT) {
                                if !self.to_client(args.to_owned()) {
                                    return Ending::Slow;
                                }
                            }
                        }
                    },
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return Ending::Lost,
                    Some(Ok(_)) => {}
                },
                event = waiting.recv() => {
                    let Some(event) = event else {
                        // The handlers are gone: the end says how.
                        return Ending::Client((&mut *end).await.unwrap_or(false));
                    };
                    for message in event.messages() {
                        if self.ws.send(message).await.is_err() {
                            return Ending::Lost;
                        }
                    }
                }
                clean = &mut *end => return Ending::Client(clean.unwrap_or(false)),
            }
        }
    }

    /// Sends an event the issuer sent (its encoded arguments array) to the client; false if
    /// the client's buffer is full.
    fn to_client(&self, event: String) -> bool {
        match self.hub.adapter() {
            Some(adapter) => adapter.send_text(self.sid, event),
            None => true,
        }
    }

    async fn finish(mut self, ending: Ending) {
        let socket = self.sockets.get(self.sid);
        match (ending, socket) {
            // Dropping the tunnel is a drop at the issuer: the peer is away, resumable.
            (Ending::Client(false), _) => {}
            (Ending::Client(true), _) => self.end_at_issuer().await,
            (Ending::Slow, socket) => {
                self.end_at_issuer().await;
                if let Some(socket) = socket {
                    delivery::evict(&self.hub, socket, CloseCode::SlowReceiver);
                }
            }
            (Ending::Issuer, Some(socket)) => {
                let _ = socket.disconnect();
            }
            (Ending::Lost, socket) => {
                info!(id = %self.sid, "the instance holding a tunnelled session is gone");
                if let Some(socket) = socket {
                    delivery::close(socket, CloseCode::Shutdown).await;
                }
            }
            (Ending::Issuer, None) => {}
        }
    }

    /// Ends the session at the issuer at once: its rooms hear `bye`.
    async fn end_at_issuer(&mut self) {
        let _ = self.ws.send(Message::text(frame::DISCONNECT)).await;
        let _ = self.ws.close(None).await;
    }
}
