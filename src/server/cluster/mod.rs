//! The cluster: instances that share rooms through one Redis (`--redis-url`).
//!
//! - [`keys`]: every Redis key and channel, written once; [`scripts`]: the Lua scripts that
//!   change them (`scripts/*.lua`).
//! - [`wire`]: what travels on the channels.
//! - [`view`]: an instance's view of a room's members on other instances (pure).
//! - [`link`]: the one connection to Redis, and the ordered stream of commands on it: each
//!   an [`op`]; [`coalesce`]: publishes waiting together merged into one Redis message per
//!   channel; [`replies`]: the scripts' answers read.
//! - [`inbox`]: what Redis pushes to this instance, handed to its members.
//! - [`reach`]: the URL the other instances reach this one at, registered in Redis.
//!
//! # Where room state lives
//! Each instance keeps its own members in [`crate::server::rooms`], as a single process does:
//! that is what it delivers to, and the truth about who is connected to it. Redis holds the
//! seats of the whole cluster: each room's members in join order with their names and
//! instances, and each room's capacity. A join takes its seat in Redis (one script: check the
//! seats, add, number the change, announce it) before the instance adds the member locally, so
//! a room's capacity is exact however many instances take joins for it at once. Each instance
//! also keeps a [`view::RoomView`] of the members on other instances for the rooms it has members
//! in, updated from the room's channel; its joiners' rosters, its `otherjoin` and `bye`, and
//! where a `signal` must go come from there.
//!
//! # How an event crosses instances
//! A room event (`message`) is delivered to the sender's instance's members at once, and
//! published on the room's channel with the sender's instance named; every other instance with
//! members in the room receives it and delivers the same bytes to its own members, through the
//! same per-socket path, so a slow receiver is still cut off by the instance that holds it.
//! Membership changes are announced by the scripts themselves, and each instance tells its own
//! members. A `signal` goes to the channel of the instance holding its peer, which checks the
//! peer is still in the room, and otherwise sends back that it found no one.
//!
//! # Order
//! An instance sends every command on one connection, in the order its members' events
//! happened (see [`link`]), and Redis delivers what one connection publishes in the order it was
//! published, to each subscriber over its one connection. So one sender's events reach every
//! member on every instance in the order sent.
//!
//! # Faults
//! Every instance renews a heartbeat in Redis every fifth of `--node-timeout`; each heartbeat also
//! takes instances whose heartbeat expired for dead and frees their members' seats, which their
//! rooms hear as departures. An instance where a client's resume found nothing listening is
//! suspected, and taken for dead as soon as its heartbeat is late ([`Cluster::suspect`]). On a
//! lost connection an instance keeps serving its own members (joins are refused
//! `cluster_unavailable`, since their seats cannot be checked, and a message reaches only its
//! members, its sender told so); when it reconnects it registers its members again
//! ([`scripts`]' `sync.lua`) and reads its rooms' rosters anew. See the README's cluster
//! section for what that means to clients.

mod coalesce;
mod inbox;
pub mod keys;
mod link;
mod op;
mod reach;
mod replies;
pub mod scripts;
pub mod view;
pub mod wire;

pub use reach::Reach;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{IntoConnectionInfo, ProtocolVersion};
use socketioxide::socket::Sid;
use socketioxide_core::Str;
use tokio::sync::{mpsc, oneshot};
use tracing::{info, warn};

use super::metrics::Metrics;

use crate::protocol::{event, DisplayName, RefusalCode, RemovalCode, RoomName};
use crate::server::auth::TokenId;
use inbox::Inbound;
use keys::Keys;
use op::{Op, Query};
pub use replies::{Adoption, Profile, RoomDetail, RoomSummary};
pub use view::Change;
use view::RoomView;
pub use wire::{Member, Reason};

/// An instance of the cluster, named at random when it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NodeId(pub u64);

impl NodeId {
    /// Not an instance: the instance of an orphan, a member of a dead instance kept in its rooms
    /// for its grace period (see `lib.lua`'s `orphan`). No instance is ever named so.
    pub const ORPHAN: Self = Self(0);

    fn random() -> Self {
        Self(rand::random::<u64>().max(1))
    }
}

impl std::fmt::Display for NodeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl std::str::FromStr for NodeId {
    type Err = std::num::ParseIntError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        u64::from_str_radix(s, 16).map(Self)
    }
}

/// What the cluster needs from the instance's own side: its members, to hand them what other
/// instances send and to register them again. `signaling` implements it.
pub trait LocalMembers: Send + Sync + 'static {
    /// A room event another instance published, for this instance's members of `room`.
    fn room_event(&self, room: &str, event: Str);
    /// A signal another instance relayed for member `to` of `room`: false if `to` is not one.
    fn signal(&self, room: &RoomName, to: Sid, event: Str) -> bool;
    /// Differences in `room`'s members on other instances, for its members here to be told.
    fn changed(&self, room: &RoomName, changes: Vec<Change>);
    /// Another instance removes member `sid` of `room` (a moderator's kick, the server API):
    /// false if it is not one.
    fn remove(&self, room: &RoomName, sid: Sid, code: RemovalCode) -> bool;
    /// A leave of this instance's left `room` with no member on any instance.
    fn emptied(&self, room: &RoomName);
    /// Something `sid` sent could not be done after all: it is told `refused` with `code`.
    fn refuse(&self, sid: Sid, event: &'static str, code: RefusalCode);
    /// This instance's members, to register them in Redis again.
    fn registrations(&self) -> Vec<Registration>;
    /// Whether `sid` is this instance's member of `room`.
    fn holds(&self, room: &RoomName, sid: Sid) -> bool;
    /// Another instance adopted member `sid` while this one was taken for dead: it is that
    /// instance's now, and no longer this one's, quietly (the rooms did not lose it).
    fn taken(&self, sid: Sid);
    /// This instance's resumable sessions, each peer with its record ([`session_record`]), to
    /// write them in Redis again.
    fn sessions(&self) -> Vec<(Sid, String)>;
}

/// A member of this instance as Redis must hold it.
#[derive(Debug, Clone)]
pub struct Registration {
    pub room: RoomName,
    pub sid: Sid,
    pub name: DisplayName,
    pub order: u64,
    /// The room's seats, restored if Redis lost them.
    pub capacity: Option<usize>,
    /// Its token's subject, and when it joined (ms since the epoch), for the server API.
    pub sub: Option<String>,
    pub since: u64,
}

/// What a join asks the cluster for.
#[derive(Debug, Clone)]
pub struct Seat {
    pub name: DisplayName,
    /// The room's seats should this join create it.
    pub capacity: Option<usize>,
    /// The joiner's token, checked against the room's bans.
    pub token: Option<TokenId>,
    /// Its token's subject, and when it joins (ms since the epoch), for the server API.
    pub sub: Option<String>,
    pub since: u64,
}

/// What a join's seat came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seating {
    /// Seated: its join order in the cluster, and the room's seats.
    Seated {
        order: u64,
        capacity: Option<usize>,
    },
    Full {
        capacity: usize,
    },
    /// A moderator locked the room.
    Locked,
    /// The joiner's token was kicked from the room a short while ago.
    Banned,
    /// Redis could not be reached: nothing changed.
    Unavailable,
}

/// Called with a join's [`Seating`] on the cluster's link task, before the link sends anything
/// else: whatever the instance does with it is ordered before every later change.
pub type SeatDone = Box<dyn FnOnce(Seating) + Send>;

/// Why the cluster could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("invalid --redis-url: {0}")]
    Url(redis::RedisError),
    #[error("cannot use Redis at {addr}: {error}")]
    Unreachable { addr: String, error: String },
}

/// Room events published at most while waiting for the link; beyond, senders are refused
/// `cluster_unavailable` rather than letting a stalled Redis grow memory without bound.
const MAX_QUEUED_PUBLISHES: usize = 65_536;
/// How long startup waits for Redis.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a command may wait for its answer before the link counts Redis unreachable.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(3);

/// The cluster: a cheap-to-clone handle.
#[derive(Clone)]
pub struct Cluster(Arc<Shared>);

pub(crate) struct Shared {
    node: NodeId,
    /// Where the other instances reach this one ([`Reach`]), registered in Redis.
    url: Option<String>,
    keys: Keys,
    node_timeout: Duration,
    /// To the link task. Unbounded because a seat's release must never be dropped; room events,
    /// the only ones that can flood, are bounded by `queued_publishes`.
    ops: mpsc::UnboundedSender<Op>,
    queued_publishes: AtomicUsize,
    /// To the inbox task, in order with what Redis pushes.
    inbox: mpsc::UnboundedSender<Inbound>,
    /// Remote members of the rooms this instance has members in (or is joining). Changed only
    /// by the inbox task; read by sessions. Taken briefly, never across an `.await`.
    views: Mutex<HashMap<RoomName, RoomView>>,
    /// Whether the link is registered with Redis and its commands are answered.
    up: AtomicBool,
    /// Set by the inbox when the connection dropped; the link registers again.
    lost: AtomicBool,
    /// To the link: instances where nothing listened when a client's resume went there
    /// ([`Cluster::suspect`]). Apart from `ops` because they send nothing by themselves.
    suspects: mpsc::UnboundedSender<NodeId>,
    metrics: Metrics,
}

/// What [`Cluster::connect`] made, for [`Cluster::start`] once the instance's side exists.
pub struct Starter {
    conn: ConnectionManager,
    ops: mpsc::UnboundedReceiver<Op>,
    suspects: mpsc::UnboundedReceiver<NodeId>,
    inbound: mpsc::UnboundedReceiver<Inbound>,
}

impl Cluster {
    /// Connects to Redis (within a few seconds, or fails saying why) and subscribes to this
    /// instance's channel. Nothing is registered until [`Cluster::start`]; `reach` says where
    /// the other instances reach this one.
    pub async fn connect(
        url: &str,
        prefix: &str,
        node_timeout: Duration,
        reach: Reach,
        metrics: Metrics,
    ) -> Result<(Self, Starter), StartError> {
        let info = url.into_connection_info().map_err(StartError::Url)?;
        let redis_addr = info.addr().clone();
        let addr = redis_addr.to_string();
        let resp3 = info
            .redis_settings()
            .clone()
            .set_protocol(ProtocolVersion::RESP3);
        let client =
            redis::Client::open(info.set_redis_settings(resp3)).map_err(StartError::Url)?;
        if url.starts_with("rediss") {
            // rustls needs one process-wide crypto provider; a second call finds it installed.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        let (inbox, inbound) = mpsc::unbounded_channel();
        let pushes = inbox.clone();
        let config = ConnectionManagerConfig::new()
            .set_push_sender(move |push| pushes.send(Inbound::Push(push)))
            .set_automatic_resubscription()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500));
        let unreachable = |error: String| StartError::Unreachable {
            addr: addr.clone(),
            error,
        };
        let connecting = ConnectionManager::new_with_config(client, config);
        let mut conn = tokio::time::timeout(CONNECT_TIMEOUT * 2, connecting)
            .await
            .map_err(|_| unreachable("timed out".into()))?
            .map_err(|e| unreachable(e.to_string()))?;
        let instance_url = reach.resolve(&redis_addr).await;
        if let Err(why) = &instance_url {
            warn!(
                redis = %addr, %why,
                "no address found for the other instances to reach this one at, so a client \
                 resumes only on the instance it began on (set --instance-url)"
            );
        }
        let (ops_tx, ops) = mpsc::unbounded_channel();
        let (suspects_tx, suspects) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            node: NodeId::random(),
            url: instance_url.ok(),
            keys: Keys::new(prefix),
            node_timeout,
            ops: ops_tx,
            queued_publishes: AtomicUsize::new(0),
            inbox,
            views: Mutex::default(),
            up: AtomicBool::new(false),
            lost: AtomicBool::new(false),
            suspects: suspects_tx,
            metrics,
        });
        conn.subscribe(shared.keys.node_channel(shared.node))
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        let url = shared.url.as_deref().unwrap_or("none (resumes stay local)");
        info!(redis = %addr, node = %shared.node, url, "connected to Redis");
        let starter = Starter {
            conn,
            ops,
            suspects,
            inbound,
        };
        Ok((Self(shared), starter))
    }

    /// Registers this instance and starts its link and inbox; `members` is its own side. Fails
    /// if Redis does not take the registration.
    pub async fn start(
        &self,
        starter: Starter,
        members: Arc<dyn LocalMembers>,
    ) -> Result<(), StartError> {
        // The inbox first: registering asks it for the members.
        tokio::spawn(inbox::run(self.0.clone(), members.clone(), starter.inbound));
        let mut link = link::Link::new(self.0.clone(), starter.conn, members);
        link.register()
            .await
            .map_err(|error| StartError::Unreachable {
                addr: "the configured Redis".into(),
                error: error.to_string(),
            })?;
        tokio::spawn(link.run(starter.ops, starter.suspects));
        Ok(())
    }

    pub fn node(&self) -> NodeId {
        self.0.node
    }

    /// Where the other instances reach this one, if one was found ([`Reach`]).
    pub fn url(&self) -> Option<&str> {
        self.0.url.as_deref()
    }

    /// `--node-timeout`: how long this instance's heartbeat lasts.
    pub fn node_timeout(&self) -> Duration {
        self.0.node_timeout
    }

    /// Whether Redis answers and this instance is registered with it.
    pub fn is_up(&self) -> bool {
        self.0.up.load(Ordering::SeqCst)
    }

    /// Asks for a seat for `sid` in `room`; `done` is called with the outcome (see [`SeatDone`]).
    /// `capacity` is the room's seats should this join create it; `token` is checked against
    /// the room's bans.
    pub fn seat(&self, sid: Sid, room: RoomName, seat: Seat, done: SeatDone) {
        let op = Op::Seat {
            sid,
            room,
            name: seat.name,
            capacity: seat.capacity.unwrap_or(0),
            token: seat.token,
            sub: seat.sub,
            since: seat.since,
            done,
        };
        if let Err(mpsc::error::SendError(Op::Seat { done, .. })) = self.0.ops.send(op) {
            done(Seating::Unavailable);
        }
    }

    /// Frees `sid`'s seats in `rooms` (its rooms on this instance), or in every room Redis has
    /// it in if `everywhere` (its connection ended). Never dropped, whatever the link's state:
    /// a seat Redis keeps would be a ghost on every instance.
    pub fn unseat(&self, sid: Sid, rooms: Vec<RoomName>, everywhere: bool, reason: Reason) {
        let _ = self.0.ops.send(Op::Unseat {
            sid,
            rooms,
            everywhere,
            reason,
        });
    }

    /// Publishes room event `event` (a Socket.IO event's JSON) for the members of `room` on
    /// other instances. `origin` sent it, and is told if it cannot reach them.
    pub fn publish(&self, room: &str, origin: Option<Sid>, event: &str) -> Result<(), Unavailable> {
        let payload = wire::event(self.0.node, event);
        self.0.publish(
            self.0.keys.room_channel(room),
            payload,
            origin.map(|sid| (sid, event::MESSAGE)),
        )
    }

    /// Relays a `signal` (`event`, its Socket.IO JSON) to `to`, a member of `room` on `node`.
    pub fn signal(
        &self,
        node: NodeId,
        room: &RoomName,
        to: Sid,
        from: Sid,
        event: &str,
    ) -> Result<(), Unavailable> {
        let payload = wire::signal(self.0.node, room, to, from, event);
        self.0.publish(
            self.0.keys.node_channel(node),
            payload,
            Some((from, event::SIGNAL)),
        )
    }

    /// Removes `to`, a member of `room` on `node`, for `from` (a moderator, told if `to` is not
    /// there) with `code`.
    pub fn remove(
        &self,
        node: NodeId,
        room: &RoomName,
        to: Sid,
        from: Sid,
        code: RemovalCode,
    ) -> Result<(), Unavailable> {
        let payload = wire::remove(self.0.node, room, to, from, code);
        self.0.publish(
            self.0.keys.node_channel(node),
            payload,
            Some((from, event::KICK)),
        )
    }

    /// Locks `room` to new joins on every instance, or unlocks it, for moderator `origin`.
    pub fn lock(&self, room: &RoomName, locked: bool, origin: Sid) -> Result<(), Unavailable> {
        if !self.is_up() {
            return Err(Unavailable);
        }
        let op = Op::Lock {
            room: room.clone(),
            locked,
            origin,
        };
        self.0.ops.send(op).map_err(|_| Unavailable)
    }

    /// `token` may not rejoin `room` on any instance for `length`.
    pub fn ban(&self, room: &RoomName, token: TokenId, length: Duration) {
        let ms = u64::try_from(length.as_millis()).unwrap_or(u64::MAX);
        let _ = self.0.ops.send(Op::Ban {
            room: room.clone(),
            token,
            ms,
        });
    }

    /// Every room of the cluster with its member count and whether it is locked, read from
    /// Redis; `None` if it cannot be reached.
    pub async fn rooms(&self) -> Option<Vec<RoomSummary>> {
        replies::rooms(&self.query(Query::Rooms).await?)
    }

    /// `room`'s members on every instance in join order, and whether it is locked; `Some(None)`
    /// if it has none, `None` if Redis cannot be reached.
    pub async fn room(&self, room: &RoomName) -> Option<Option<RoomDetail>> {
        replies::room(&self.query(Query::Room(room.clone())).await?)
    }

    /// The URL instance `node` registered ([`Reach`]), if it is in the cluster and has one;
    /// `None` too if Redis cannot be reached.
    pub async fn url_of(&self, node: NodeId) -> Option<String> {
        match self.query(Query::Url(node)).await? {
            redis::Value::BulkString(url) => String::from_utf8(url).ok(),
            _ => None,
        }
    }

    /// A client resumes `peer`, an orphan of dead instance `issuer` (see `adopt.lua`), with a
    /// resume token whose SHA-256 is `digest` and a join token of subject `sub`: on
    /// [`Adoption::Adopted`] the peer's seats are this instance's. `None` if Redis cannot be
    /// reached.
    pub async fn adopt(
        &self,
        issuer: NodeId,
        peer: Sid,
        digest: &[u8; 32],
        sub: Option<&str>,
    ) -> Option<Adoption> {
        let query = Query::Adopt {
            issuer,
            peer,
            digest: hex(digest),
            sub: sub.unwrap_or_default().to_owned(),
        };
        replies::adoption(&self.query(query).await?)
    }

    /// Writes (`Some`) or removes (`None`) resumable `peer`'s record in this instance's
    /// `sessions:NODE` (see [`keys`]): what lets another instance adopt it should this one die.
    fn record(&self, peer: Sid, record: Option<String>) {
        let _ = self.0.ops.send(Op::Record { peer, record });
    }

    /// A client's resume found nothing listening at instance `node`'s URL (the connection was
    /// refused): it may have died. Its members then leave their rooms as soon as its heartbeat
    /// is late, not only once it expires (see `heartbeat.lua`); a live instance, whose
    /// heartbeat is never late, is not harmed by a wrong suspicion.
    pub fn suspect(&self, node: NodeId) {
        let _ = self.0.suspects.send(node);
    }

    async fn query(&self, query: Query) -> Option<redis::Value> {
        if !self.is_up() {
            return None;
        }
        let (reply, answer) = oneshot::channel();
        self.0.ops.send(Op::Query { query, reply }).ok()?;
        tokio::time::timeout(RESPONSE_TIMEOUT * 2, answer)
            .await
            .ok()?
            .ok()?
    }

    /// `room`'s members on other instances, in join order.
    pub fn remote_members(&self, room: &str) -> Vec<Member> {
        self.0
            .views()
            .get(room)
            .map(RoomView::members)
            .unwrap_or_default()
    }

    /// How many members `room` has on other instances.
    pub fn remote_count(&self, room: &str) -> usize {
        self.0.views().get(room).map_or(0, RoomView::len)
    }

    /// The instance holding member `sid` of `room`, if it is on another instance (and not an
    /// orphan, which no instance holds).
    pub fn node_of(&self, room: &str, sid: &Sid) -> Option<NodeId> {
        let node = self.0.views().get(room)?.member(sid)?.node;
        (node != NodeId::ORPHAN).then_some(node)
    }

    /// Leaves the cluster (the instance is shutting down): every member of this instance leaves
    /// its rooms on the other instances at once. Waits at most `timeout`.
    pub async fn depart(&self, timeout: Duration) {
        let (done, departed) = oneshot::channel();
        if self.0.ops.send(Op::Depart { done }).is_ok()
            && tokio::time::timeout(timeout, departed).await.is_err()
        {
            warn!(
                seconds = timeout.as_secs(),
                "Redis did not confirm this instance's leaving in time: its members leave the other instances' rooms when its heartbeat expires"
            );
        }
    }
}

/// A room event or signal could not be queued for the other instances: Redis is unreachable,
/// or so slow that the queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the cluster is unreachable")]
pub struct Unavailable;

impl Shared {
    fn views(&self) -> MutexGuard<'_, HashMap<RoomName, RoomView>> {
        self.views.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn publish(
        &self,
        channel: String,
        payload: String,
        origin: Option<(Sid, &'static str)>,
    ) -> Result<(), Unavailable> {
        if !self.up.load(Ordering::SeqCst) {
            return Err(Unavailable);
        }
        if self.queued_publishes.fetch_add(1, Ordering::SeqCst) >= MAX_QUEUED_PUBLISHES {
            self.queued_publishes.fetch_sub(1, Ordering::SeqCst);
            return Err(Unavailable);
        }
        let op = Op::Publish {
            channel,
            payload,
            origin,
            merged: Vec::new(),
        };
        self.ops.send(op).map_err(|_| Unavailable)
    }

    /// Redis stopped answering: until the link registers again, room events are refused, and
    /// every view's sequence may start again (Redis may have lost its data).
    fn down(&self) {
        self.up.store(false, Ordering::SeqCst);
        let _ = self.inbox.send(Inbound::Restart);
    }

    /// The inbox saw the connection drop (and restarted the views' sequences): the link must
    /// register again.
    fn lost(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.lost.store(true, Ordering::SeqCst);
    }
}

/// A resumable session's record in `sessions:NODE`, as `lib.lua`'s `session` reads
/// it: `GRACE\nDIGEST\nSUB`, the grace period in ms, its token's SHA-256 in hex and its subject.
pub fn session_record(grace: Duration, digest: &[u8; 32], sub: Option<&str>) -> String {
    let sub = sub.unwrap_or_default();
    format!("{}\n{}\n{sub}", grace.as_millis(), hex(digest))
}

/// The cluster keeps each resumable session's record, so that another instance can adopt it.
impl crate::server::resume::Records for Cluster {
    fn put(&self, peer: Sid, grace: Duration, digest: &[u8; 32], sub: Option<&str>) {
        self.record(peer, Some(session_record(grace, digest, sub)));
    }

    fn remove(&self, peer: Sid) {
        self.record(peer, None);
    }
}

/// `bytes` in lowercase hexadecimal.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = std::fmt::Write::write_fmt(&mut out, format_args!("{b:02x}"));
        out
    })
}
