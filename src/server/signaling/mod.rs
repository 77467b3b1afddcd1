//! The Socket.IO side of the server: turns client events into room operations and room outcomes
//! into server events, per the contract in [`crate::protocol`].
//!
//! - [`adapter`]: socketioxide's room broadcasts, delivered member by member from [`Hub`]'s rooms.
//! - [`connection`]: each socket's handler; rate-limits and decodes its events on the read path.
//! - [`session`]: what each event does to rooms, and what it sends.
//! - [`delivery`]: sends events to rooms and sockets; evicts receivers that cannot keep up.
//! - [`members`]: this instance's members as the cluster sees them (with `--redis-url`).
//! - [`moderation`]: members removed from rooms (`kick`), and rooms locked to new joins.
//! - [`control`]: the same, and the room lists, for the server API.
//! - [`hooks`]: the webhook events of members joining and leaving (with `--webhook-url`).
//! - [`resuming`]: a connection that begins resumable, or resumes a dropped one.
//! - [`tunnel`]: a resume whose session another instance holds, carried through to it.
//!
//! Rooms live in [`Hub`]: this instance's members in [`crate::server::rooms`], always, and the
//! seats of the whole cluster in [`crate::server::cluster`] when there is one. The handlers go
//! through the Hub's few room operations, which keep the two in step.
//!
//! # Why events are handled on the read path
//! socketioxide runs each async event handler as its own task, so two messages from one client
//! could be handled out of order under load. Here the only handler is the synchronous
//! [`connection::Connection`], which socketioxide calls on the socket's read path, one event at
//! a time; nothing in handling an event waits. A sender's events therefore take effect in the
//! order they were sent, with no queue or task per connection (each cost memory on every idle
//! connection, and a wake-up on every event). In a cluster a join waits for Redis to seat it;
//! a socket's later events wait behind it, in order, and only then.

pub mod adapter;
mod adopting;
mod connection;
pub mod control;
mod delivery;
mod hooks;
mod members;
mod moderation;
mod resuming;
mod session;
mod tunnel;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::{Duration, Instant};

use serde_json::Value as Json;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{SocketRef, State, TryData};
use socketioxide::handler::ConnectHandler;
use socketioxide::socket::Sid;
use socketioxide::SocketIo;

use adapter::RoomAdapter;
pub(crate) use delivery::close_all;
use tracing::{debug, info, warn};

use super::activity::{happening, Activity};
use super::auth::{Grant, TokenError, TokenId, Tokens};
use super::bans::Bans;
use super::cluster::{Cluster, Reason, StartError, Starter};
use super::ice::IceConfig;
use super::metrics::Metrics;
use super::resume::{self, Resumes};
use super::rooms::{JoinLimits, Left, RoomRegistry};
use super::webhooks::Webhooks;
use super::Config;
use crate::dashboard::snapshot::HappeningKind;
use crate::protocol::RoomName;
use crate::server::clock::now_ms;
use connection::Connection;

/// State shared by every connection: a cheap-to-clone handle.
#[derive(Clone)]
pub struct Hub {
    /// This instance's members.
    rooms: RoomRegistry<Sid>,
    /// The seats of the whole cluster, with `--redis-url`.
    cluster: Option<Cluster>,
    /// The adapter socketioxide made, for the cluster to deliver what other instances send.
    adapter: Arc<OnceLock<Weak<RoomAdapter>>>,
    /// Sessions running, for `max_connections`.
    connections: Arc<AtomicUsize>,
    /// Set when the server begins shutting down.
    stopping: Arc<AtomicBool>,
    /// Slow receivers the adapter took out of their rooms, for [`delivery`] to announce and
    /// close (that needs their sockets, which the adapter cannot look up).
    evicted: Arc<Mutex<Evictions>>,
    /// Kicked tokens, without a cluster (with one, Redis holds them). Taken only by a kick and
    /// by a join with a token.
    bans: Arc<Mutex<Bans>>,
    /// With `--webhook-url`.
    webhooks: Option<Webhooks>,
    /// Empty without `--metrics-addr`.
    metrics: Metrics,
    /// What the dashboard shows besides the rooms; empty without `--api-key`.
    activity: Activity,
    /// Resumable peers; `None` with `--resume-grace 0`.
    resumes: Option<Resumes>,
    settings: Arc<Settings>,
}

/// Members taken out of their rooms for being slow, each with its socket (if it has one) and
/// the rooms it left with the number of members each still has.
type Evictions = Vec<(Sid, Option<Sid>, Vec<(RoomName, usize)>)>;

/// The limits and ICE settings, from [`Config`].
struct Settings {
    event_rate: f64,
    event_burst: u32,
    join: JoinLimits,
    max_connections: usize,
    ice: IceConfig,
    /// With `--auth-secret`: every connection presents a token.
    tokens: Option<Tokens>,
    kick_ban: Duration,
}

/// Why a connection was refused before its session began.
#[derive(Debug, thiserror::Error)]
pub enum ConnectRefused {
    #[error("the server is full")]
    Full,
    #[error(transparent)]
    Token(#[from] TokenError),
    /// A connection carried from another instance reached one that does not hold its session.
    #[error("this instance does not hold that session")]
    NotHolder,
}

impl Hub {
    /// The hub of a single process, or of a cluster instance given its [`Cluster`].
    pub fn new(
        config: &Config,
        cluster: Option<Cluster>,
        webhooks: Option<Webhooks>,
        metrics: Metrics,
    ) -> Self {
        let issuer = cluster.as_ref().map(|c| c.node().to_string());
        Self {
            rooms: RoomRegistry::default(),
            cluster,
            adapter: Arc::default(),
            connections: Arc::default(),
            stopping: Arc::default(),
            evicted: Arc::default(),
            bans: Arc::default(),
            webhooks,
            metrics,
            activity: match config.api_key {
                Some(_) => Activity::enabled(),
                None => Activity::default(),
            },
            resumes: Resumes::new(
                Duration::from_secs(config.resume_grace),
                config.resume_buffer as usize,
                issuer,
            ),
            settings: Arc::new(Settings {
                event_rate: config.event_rate,
                event_burst: config.event_burst,
                join: JoinLimits {
                    max_rooms: config.max_rooms_per_client,
                    capacity: (config.room_capacity > 0).then_some(config.room_capacity),
                },
                max_connections: config.max_connections,
                ice: IceConfig::new(config),
                tokens: config
                    .auth_secret
                    .as_ref()
                    .map(|secret| Tokens::new(secret.as_bytes(), config.auth_leeway)),
                kick_ban: Duration::from_secs(config.kick_ban),
            }),
        }
    }

    /// Registers the namespace on `io`. The session is set up in a connect middleware, which
    /// socketioxide awaits *before* it tells the client it is connected, so no early event can
    /// arrive before the socket's handler exists.
    pub fn attach(io: &SocketIo<RoomAdapter>) {
        io.ns("/", on_connect.with(open_session));
    }

    /// Registers this instance in the cluster (if there is one) and starts its tasks; the
    /// namespace must be attached already.
    pub async fn start_cluster(
        &self,
        io: &SocketIo<RoomAdapter>,
        starter: Option<Starter>,
    ) -> Result<(), StartError> {
        match (&self.cluster, starter) {
            (Some(cluster), Some(starter)) => {
                if let Some(resumes) = self.resumes() {
                    resumes.mirror(Arc::new(cluster.clone()));
                }
                let members = members::Members::new(self.clone(), io);
                cluster.start(starter, Arc::new(members)).await
            }
            _ => Ok(()),
        }
    }

    pub fn cluster(&self) -> Option<&Cluster> {
        self.cluster.as_ref()
    }

    fn resumes(&self) -> Option<&Resumes> {
        self.resumes.as_ref()
    }

    /// The peer (the member id the rooms know) `socket` speaks for: itself, unless it resumed
    /// another.
    fn peer_of(&self, socket: Sid) -> Sid {
        self.resumes.as_ref().map_or(socket, |r| r.peer_of(socket))
    }

    /// The socket `peer` speaks through now: its own, unless it resumed on another; none while
    /// it is away.
    fn socket_of(&self, peer: Sid) -> Option<Sid> {
        match self.resume_log(peer) {
            Some(log) => resume::lock(&log).socket(),
            None => Some(peer),
        }
    }

    /// `peer`'s resume log, if it is resumable.
    fn resume_log(&self, peer: Sid) -> Option<Arc<Mutex<resume::Log>>> {
        self.resumes.as_ref()?.log(peer)
    }

    fn adapter_created(&self, adapter: &Arc<RoomAdapter>) {
        let _ = self.adapter.set(Arc::downgrade(adapter));
    }

    fn adapter(&self) -> Option<Arc<RoomAdapter>> {
        self.adapter.get()?.upgrade()
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
        let socket = self.socket_of(sid);
        if let Some(left) = self.evict(sid) {
            self.evicted().push((sid, socket, left));
        }
    }

    /// `sid` leaves `room` (for `reason`: it left, or was kicked); `remaining` counts every
    /// instance's members.
    fn leave(&self, sid: Sid, room: &RoomName, reason: Reason) -> Left {
        let hooked = self.hooked();
        let (left, member) = self.rooms.with(|rooms| {
            let member = rooms.member(&sid, room).filter(|_| hooked).cloned();
            (rooms.leave(&sid, room), member)
        });
        match left {
            Left::Removed { remaining } => {
                self.metrics.left(reason.as_str(), 1);
                let mut remote = 0;
                if let Some(cluster) = &self.cluster {
                    cluster.unseat(sid, vec![room.clone()], false, reason);
                    remote = cluster.remote_count(room.as_str());
                }
                let remaining = remaining + remote;
                if let Some(member) = member {
                    self.left_hook(sid, room, member, reason, remaining);
                }
                Left::Removed { remaining }
            }
            Left::NotMember => Left::NotMember,
        }
    }

    /// `sid`'s connection ended: it leaves every room, here and in the cluster. `open` is the
    /// session's flag, cleared under the rooms' lock, so a seat the cluster grants from now on
    /// is given back rather than taken (see `session::Session::seated`).
    fn remove(&self, sid: Sid, open: &AtomicBool) -> Vec<(RoomName, usize)> {
        let hooked = self.hooked();
        let (left, memberships) = self.rooms.with(|rooms| {
            open.store(false, Ordering::SeqCst);
            let memberships = if hooked {
                rooms.memberships(&sid)
            } else {
                Vec::new()
            };
            (rooms.remove(&sid), memberships)
        });
        self.metrics.left(Reason::Disconnected.as_str(), left.len());
        let left = self.unseat_everywhere(sid, left, Reason::Disconnected);
        self.left_hooks(sid, memberships, &left, Reason::Disconnected);
        left
    }

    /// Takes `sid` out of every room and keeps it out until its connection ends (see
    /// [`crate::server::rooms::Rooms::evict`]), and it cannot resume; `None` if it was evicted
    /// already.
    fn evict(&self, sid: Sid) -> Option<Vec<(RoomName, usize)>> {
        if let Some(resumes) = &self.resumes {
            resumes.forget(sid);
        }
        let hooked = self.hooked();
        let (left, memberships) = self.rooms.with(|rooms| {
            let memberships = if hooked {
                rooms.memberships(&sid)
            } else {
                Vec::new()
            };
            Some((rooms.evict(&sid)?, memberships))
        })?;
        self.metrics.left(Reason::Evicted.as_str(), left.len());
        let left = self.unseat_everywhere(sid, left, Reason::Evicted);
        self.left_hooks(sid, memberships, &left, Reason::Evicted);
        Some(left)
    }

    /// Frees `sid`'s seats in the cluster after it `left` these rooms here; counts every
    /// instance's members in what remains.
    fn unseat_everywhere(
        &self,
        sid: Sid,
        left: Vec<(RoomName, usize)>,
        reason: Reason,
    ) -> Vec<(RoomName, usize)> {
        let Some(cluster) = self.cluster.as_ref().filter(|_| !left.is_empty()) else {
            return left;
        };
        let rooms = left.iter().map(|(room, _)| room.clone()).collect();
        cluster.unseat(sid, rooms, true, reason);
        left.into_iter()
            .map(|(room, here)| {
                let remote = cluster.remote_count(room.as_str());
                (room, here + remote)
            })
            .collect()
    }

    /// `token` may not rejoin `room` for `--kick-ban`, on any instance.
    fn ban(&self, room: &RoomName, token: TokenId) {
        let length = self.settings.kick_ban;
        match &self.cluster {
            Some(cluster) => cluster.ban(room, token, length),
            None => {
                let now = Instant::now();
                self.bans().ban(room.clone(), token, now + length, now);
            }
        }
    }

    /// Whether `token` was kicked from `room` and may not rejoin yet (without a cluster; with
    /// one, the join's script checks).
    fn is_banned(&self, room: &RoomName, token: &TokenId) -> bool {
        self.bans().is_banned(room, token, Instant::now())
    }

    fn bans(&self) -> MutexGuard<'_, Bans> {
        self.bans.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What `socket` may do: its token's grant, or why it may not connect.
    fn authenticate<A: Adapter>(
        &self,
        socket: &SocketRef<A>,
        auth: Option<&Json>,
    ) -> Result<Grant, TokenError> {
        let Some(tokens) = &self.settings.tokens else {
            return Ok(Grant::open());
        };
        let token = presented_token(auth, socket.req_parts().uri.query());
        let grant = tokens.verify(&token.ok_or(TokenError::Missing)?)?;
        info!(id = %socket.id, sub = grant.sub.as_deref().unwrap_or(""), role = ?grant.role, "authenticated");
        Ok(grant)
    }

    fn take_evicted(&self) -> Evictions {
        std::mem::take(&mut *self.evicted())
    }

    fn evicted(&self) -> MutexGuard<'_, Evictions> {
        self.evicted.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn connection_closed(&self) {
        self.connections.fetch_sub(1, Ordering::SeqCst);
        self.activity.changed();
    }

    /// For the dashboard: `sid` was refused at connect, `why`.
    fn connection_refused(&self, sid: &Sid, why: &str) {
        self.activity.record(|| {
            let (kind, id) = (HappeningKind::ConnectionRefused, Some(sid.to_string()));
            happening(now_ms(), kind, None, id, None, Some(why))
        });
    }

    /// What the dashboard shows besides the rooms.
    pub fn activity(&self) -> &Activity {
        &self.activity
    }
}

async fn open_session<A: Adapter>(
    socket: SocketRef<A>,
    State(hub): State<Hub>,
    TryData(auth): TryData<Json>,
) -> Result<(), ConnectRefused> {
    let auth = auth.ok();
    let grant = hub.authenticate(&socket, auth.as_ref()).map_err(|err| {
        info!(id = %socket.id, %err, "connection refused: bad join token");
        hub.metrics.connection_refused("token");
        hub.connection_refused(&socket.id, &err.to_string());
        err
    })?;
    let carried = tunnel::arriving(&hub, auth.as_ref()).inspect_err(|err| {
        info!(id = %socket.id, %err, "connection refused: carried to the wrong instance");
        hub.metrics.connection_refused("not_holder");
    })?;
    let limit = hub.settings.max_connections;
    if hub.connections.fetch_add(1, Ordering::SeqCst) >= limit {
        hub.connection_closed();
        warn!(limit, "connection refused: the server is full");
        hub.metrics.connection_refused("server_full");
        hub.connection_refused(&socket.id, &ConnectRefused::Full.to_string());
        return Err(ConnectRefused::Full);
    }
    hub.metrics.connected();
    hub.activity.changed();
    let query = socket.req_parts().uri.query();
    let asked = resuming::asked(auth.as_ref(), query);
    // A session another instance holds is resumed there, and this socket carries it (unless
    // this socket is itself carried from another instance).
    // One whose instance died is adopted here (see `adopting`).
    let elsewhere = match &asked {
        Some(ask) if !carried => {
            let join_token = presented_token(auth.as_ref(), query);
            match tunnel::resume_elsewhere(&hub, &socket, ask, join_token).await {
                tunnel::Elsewhere::Carried => return Ok(()),
                tunnel::Elsewhere::Refused(code) => Some(Err(code)),
                tunnel::Elsewhere::Gone { issuer, suspected } => Some(
                    adopting::adopt(&hub, &socket, &grant, ask, (issuer, suspected))
                        .await
                        .map(|(peer, start)| (peer, Some(start))),
                ),
                tunnel::Elsewhere::No => None,
            }
        }
        _ => None,
    };
    let (peer, start) = match elsewhere {
        Some(Ok(adopted)) => adopted,
        Some(Err(code)) => resuming::refused(&hub, &socket, &grant, code),
        None => resuming::begin(&hub, &socket, &grant, asked),
    };
    if let Some(start) = start {
        socket.extensions.insert(start);
    }
    let grant = Arc::new(grant);
    // For a kick, which finds the member's token through its socket.
    socket.extensions.insert(grant.clone());
    let connection = Connection::new(&socket, peer, hub, grant);
    socket.on_fallback(connection.clone());
    socket.on_disconnect(connection);
    Ok(())
}

/// The value of the query parameter `name`, percent-decoded.
fn query_param(query: &str, name: &str) -> Option<String> {
    let value = query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == name).then_some(value)
    })?;
    Some(
        percent_encoding::percent_decode_str(value)
            .decode_utf8_lossy()
            .into_owned(),
    )
}

/// The token a client presented: `auth: {token}` in the Socket.IO handshake (socket.io 3+), or
/// the `token` query parameter (socket.io 2.x clients have no handshake auth).
fn presented_token(auth: Option<&Json>, query: Option<&str>) -> Option<String> {
    if let Some(token) = auth.and_then(|a| a.get("token")).and_then(Json::as_str) {
        return Some(token.to_owned());
    }
    query_param(query?, "token")
}

/// Runs once the client is told it is connected (a task of its own): a resumable client learns its
/// session (see [`resuming`]).
async fn on_connect<A: Adapter>(socket: SocketRef<A>, State(hub): State<Hub>) {
    debug!(id = %socket.id, transport = ?socket.transport_type(), protocol = ?socket.protocol(), "connected");
    if let Some(start) = socket.extensions.get::<resuming::Start>() {
        resuming::announce(&hub, &socket, &start);
    }
    // After the announcement: a resumed session's replay comes before the answers to the
    // events that waited.
    if let Some(connected) = socket.extensions.remove::<connection::Connected<A>>() {
        connected.fire();
    }
    if let Some(ready) = socket.extensions.remove::<tunnel::Ready>() {
        ready.fire();
    }
}

#[cfg(test)]
mod tests {
    use super::presented_token;
    use serde_json::json;

    #[test]
    fn the_handshake_token_wins_over_the_query() {
        let auth = json!({"token": "from-auth"});
        assert_eq!(
            presented_token(Some(&auth), Some("EIO=4&token=from-query")).as_deref(),
            Some("from-auth")
        );
        assert_eq!(
            presented_token(None, Some("EIO=3&token=a%2Eb&transport=polling")).as_deref(),
            Some("a.b")
        );
        assert_eq!(presented_token(Some(&json!({})), Some("EIO=4")), None);
        assert_eq!(presented_token(Some(&json!({"token": 7})), None), None);
        assert_eq!(presented_token(None, Some("xtoken=a")), None);
    }
}
