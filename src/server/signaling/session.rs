//! What one connected socket's events do: room operations and the server events they send.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use socketioxide::adapter::Adapter;
use socketioxide::extract::SocketRef;
use socketioxide::socket::Sid;
use tokio::sync::oneshot;
use tracing::{debug, info};

use super::delivery::{self, Audience, Reach, Sockets};
use super::{moderation, Hub};
use crate::dashboard::snapshot::HappeningKind;
use crate::protocol::{
    event, wire_name, ClientEvent, DisplayName, JoinOptions, Peer, Refusal, RefusalCode,
    RemovalCode, RoomName, ServerEvent, Signal,
};
use crate::server::activity::happening;
use crate::server::auth::Grant;
use crate::server::clock::now_ms;
use crate::server::cluster::{self, Cluster, Reason, Seating};
use crate::server::resume;
use crate::server::rooms::{Joined, Left, Member, Seat};

/// A join waiting for the cluster to seat it: resolves once it is done, and the socket's
/// next events may go on.
pub(super) type Pending = oneshot::Receiver<()>;

/// Cheap to clone: a join waiting for the cluster keeps one, and so does a dropped connection's
/// grace period.
pub(super) struct Session<A: Adapter> {
    /// The peer: the member id the rooms know. The socket's own id, unless the socket resumed
    /// a peer whose connection dropped (see [`crate::server::resume`]).
    sid: Sid,
    /// The socket this session speaks through.
    socket: Sid,
    /// `sid` as sent in events, formatted once rather than per event.
    id: Arc<str>,
    /// The socket is looked up when needed, not held: the session lives in the socket's
    /// handlers, and holding the socket there would keep both alive forever.
    sockets: Sockets<A>,
    hub: Hub,
    /// Cleared, under the rooms' lock, when the connection ends (see [`Session::seated`]).
    open: Arc<AtomicBool>,
    /// What its join token allows (everything but moderation on an open server).
    grant: Arc<Grant>,
}

impl<A: Adapter> Clone for Session<A> {
    fn clone(&self) -> Self {
        Self {
            sid: self.sid,
            socket: self.socket,
            id: self.id.clone(),
            sockets: self.sockets.clone(),
            hub: self.hub.clone(),
            open: self.open.clone(),
            grant: self.grant.clone(),
        }
    }
}

impl<A: Adapter> Session<A> {
    /// The session of `socket`, speaking for `peer` (its own id, or the one it resumed).
    pub(super) fn new(socket: &SocketRef<A>, peer: Sid, hub: Hub, grant: Arc<Grant>) -> Self {
        Self {
            sid: peer,
            socket: socket.id,
            id: peer.to_string().into(),
            sockets: Sockets::of(socket),
            hub,
            open: Arc::new(AtomicBool::new(true)),
            grant,
        }
    }

    pub(super) fn hub(&self) -> &Hub {
        &self.hub
    }

    /// Applies `event`; a join the cluster must seat first returns what to wait for.
    pub(super) fn handle(&self, event: ClientEvent) -> Option<Pending> {
        match event {
            ClientEvent::Join { room, options } => return self.join(room, options),
            ClientEvent::Leave { room } => self.leave(room),
            ClientEvent::Message { room, data } => self.message(room, data),
            ClientEvent::Signal { room, to, signal } => self.signal(room, &to, signal),
            ClientEvent::IceServers => {
                let servers = self
                    .hub
                    .settings
                    .ice
                    .servers_for(&self.id, SystemTime::now());
                if servers.iter().any(|server| server.credential.is_some()) {
                    self.hub.metrics.turn_credentials();
                }
                self.reply(ServerEvent::IceServers(servers));
            }
            ClientEvent::Kick { room, peer } => self.kick(room, &peer),
            ClientEvent::Lock { room, locked } => self.lock(room, locked),
        }
        None
    }

    fn message(&self, room: RoomName, data: serde_json::Value) {
        if !self.is_member(&room) {
            return self.refuse(Refusal::new(event::MESSAGE, RefusalCode::NotMember));
        }
        let message = ServerEvent::Message {
            room: room.to_string(),
            from: self.id.to_string(),
            data,
        };
        let everyone = (Audience::Everyone, Reach::Cluster);
        if delivery::to_room(&self.hub, &self.sockets, &room, everyone, &message).is_err() {
            self.refuse(Refusal::new(
                event::MESSAGE,
                RefusalCode::ClusterUnavailable,
            ));
        }
    }

    fn join(&self, room: RoomName, options: JoinOptions) -> Option<Pending> {
        if !self.grant.may_join(&room) {
            debug!(id = %self.id, %room, "join refused: the token does not grant the room");
            self.refuse(Refusal::new(event::JOIN, RefusalCode::Forbidden));
            return None;
        }
        let name = self
            .grant
            .name_for(options.name)
            .unwrap_or_else(|| DisplayName::guest(&self.id));
        // The token's seats, when it says, are the application's choice over the joiner's.
        let asked = self.grant.capacity.or(options.capacity);
        let limits = self.hub.settings.join;
        let token = self.grant.token.clone();
        let since = now_ms();
        let Some(cluster) = self.hub.cluster() else {
            if token.as_ref().is_some_and(|t| self.hub.is_banned(&room, t)) {
                self.refuse(Refusal::new(event::JOIN, RefusalCode::Kicked));
                return None;
            }
            let seat = Seat {
                name: name.clone(),
                capacity: asked,
                since,
                sub: self.sub(),
            };
            let joined = self
                .hub
                .rooms
                .with(|rooms| rooms.join(&self.sid, &room, seat, limits));
            self.joined(room, name, joined);
            return None;
        };
        let admission = self
            .hub
            .rooms
            .with(|rooms| rooms.admission(&self.sid, &room, limits.max_rooms));
        if let Some(refused) = admission {
            self.joined(room, name, refused);
            return None;
        }
        let (done, pending) = oneshot::channel();
        let (session, seats) = (self.clone(), cluster.clone());
        let seat = cluster::Seat {
            name: name.clone(),
            capacity: limits.capacity_for(asked),
            token,
            sub: self.grant.sub.as_deref().map(str::to_owned),
            since,
        };
        cluster.seat(
            self.sid,
            room.clone(),
            seat,
            Box::new(move |seating| {
                session.seated(&seats, room, name, since, seating);
                let _ = done.send(());
            }),
        );
        Some(pending)
    }

    /// The cluster's answer to a join, on its inbox task (see `cluster::inbox`): seats the
    /// joiner here and welcomes it, unless its connection ended meanwhile, in which case the
    /// seat is given back (the disconnect could not free a seat it did not know of yet).
    fn seated(
        &self,
        cluster: &Cluster,
        room: RoomName,
        name: DisplayName,
        since: u64,
        seating: Seating,
    ) {
        let (order, capacity) = match seating {
            Seating::Seated { order, capacity } => (order, capacity),
            Seating::Full { capacity } => {
                return self.joined(room, name, Joined::Full { capacity })
            }
            Seating::Locked => return self.joined(room, name, Joined::Locked),
            Seating::Banned => return self.refuse(Refusal::new(event::JOIN, RefusalCode::Kicked)),
            Seating::Unavailable => {
                debug!(id = %self.id, %room, "join refused: the cluster is unreachable");
                return self.refuse(Refusal::new(event::JOIN, RefusalCode::ClusterUnavailable));
            }
        };
        let seated = self.hub.rooms.with(|rooms| {
            self.open.load(Ordering::SeqCst).then(|| {
                let seated = Member {
                    order,
                    name: name.clone(),
                    since,
                    sub: self.sub(),
                };
                let here = rooms.seat(&self.sid, &room, seated.clone(), capacity);
                (here, rooms.others_in_order(&self.sid, &room), seated)
            })
        });
        let Some((here, local, seated)) = seated else {
            return cluster.unseat(self.sid, vec![room], false, Reason::Disconnected);
        };
        let remote = cluster.remote_members(room.as_str());
        let members = here + remote.len();
        info!(id = %self.id, %room, members, "joined; the number of users in the room is {members}");
        self.hub.joined_hook(self.sid, &room, &seated, members);
        self.welcome(&room, &name, roster(local, remote), true);
    }

    /// Tells the joiner (and, if it `arrived`, the rest of the room) what a join did.
    fn joined(&self, room: RoomName, name: DisplayName, joined: Joined<Sid>) {
        let id = &self.id;
        let (peers, arrived) = match joined {
            Joined::Added { members, others } => {
                info!(%id, %room, members, "joined; the number of users in the room is {members}");
                if self.hub.hooked() {
                    let seated = self.hub.rooms.with(|r| r.member(&self.sid, &room).cloned());
                    if let Some(seated) = seated {
                        self.hub.joined_hook(self.sid, &room, &seated, members);
                    }
                }
                (peers_of(others), true)
            }
            Joined::AlreadyMember { others, .. } => {
                debug!(%id, %room, "join of a room already joined");
                let peers = match self.hub.cluster() {
                    Some(cluster) => {
                        let local = self
                            .hub
                            .rooms
                            .with(|rooms| rooms.others_in_order(&self.sid, &room));
                        roster(local, cluster.remote_members(room.as_str()))
                    }
                    None => peers_of(others),
                };
                (peers, false)
            }
            Joined::Full { capacity } => {
                info!(%id, %room, capacity, "join refused: the room is full");
                self.hub.metrics.full();
                self.hub.activity.record(|| {
                    let (kind, who) = (HappeningKind::Full, Some(id.to_string()));
                    happening(now_ms(), kind, Some(room.as_str()), who, None, None)
                });
                return self.reply(ServerEvent::Full {
                    room: room.to_string(),
                    id: id.to_string(),
                });
            }
            Joined::TooManyRooms { limit } => {
                debug!(%id, %room, limit, "join refused: too many rooms");
                return self.refuse(Refusal::new(event::JOIN, RefusalCode::TooManyRooms));
            }
            Joined::Locked => {
                debug!(%id, %room, "join refused: the room is locked");
                return self.refuse(Refusal::new(event::JOIN, RefusalCode::RoomLocked));
            }
            Joined::Closing => return,
        };
        self.welcome(&room, &name, peers, arrived);
    }

    /// `joined` and `roster` to the joiner; `otherjoin` to this instance's other members if it
    /// `arrived` (the other instances tell theirs what the cluster announced).
    fn welcome(&self, room: &RoomName, name: &DisplayName, peers: Vec<Peer>, arrived: bool) {
        self.reply(ServerEvent::Joined {
            room: room.to_string(),
            id: self.id.to_string(),
        });
        self.reply(ServerEvent::Roster {
            room: room.to_string(),
            peers,
        });
        if !arrived {
            return;
        }
        self.hub.metrics.joined();
        let arrival = ServerEvent::OtherJoin {
            room: room.to_string(),
            id: self.id.to_string(),
            name: name.as_str().to_owned(),
        };
        delivery::announce_here(&self.hub, &self.sockets, room, Audience::Others, &arrival);
    }

    /// Relays `signal` to the one peer `to`, if sender and peer are both in `room`, on this
    /// instance or another.
    fn signal(&self, room: RoomName, to: &str, signal: Signal) {
        let peer = to.parse::<Sid>().ok().filter(|&sid| sid != self.sid);
        let here = self.hub.rooms.with(|rooms| {
            if !rooms.is_member(&self.sid, &room) {
                return Err(RefusalCode::NotMember);
            }
            Ok(peer.filter(|sid| rooms.is_member(sid, &room)))
        });
        let local_peer = match here {
            Ok(local_peer) => local_peer,
            Err(code) => return self.refuse(Refusal::new(event::SIGNAL, code)),
        };
        let event = ServerEvent::Signal {
            room: room.to_string(),
            from: self.id.to_string(),
            signal,
        };
        if let Some(local_peer) = local_peer {
            return delivery::to_peer(&self.hub, &self.sockets, local_peer, &event);
        }
        let remote = self.hub.cluster().and_then(|cluster| {
            let peer = peer?;
            Some((cluster, cluster.node_of(room.as_str(), &peer)?, peer))
        });
        let Some((cluster, node, peer)) = remote else {
            return self.refuse(Refusal::new(event::SIGNAL, RefusalCode::UnknownPeer));
        };
        if cluster
            .signal(node, &room, peer, self.sid, &event.to_json_array())
            .is_err()
        {
            self.refuse(Refusal::new(event::SIGNAL, RefusalCode::ClusterUnavailable));
        }
    }

    /// A moderator removes `peer` from `room`, on this instance or another.
    fn kick(&self, room: RoomName, peer: &str) {
        let refuse = |code| self.refuse(Refusal::new(event::KICK, code));
        if !self.is_member(&room) {
            return refuse(RefusalCode::NotMember);
        }
        if !self.grant.may_moderate(&room) {
            return refuse(RefusalCode::Forbidden);
        }
        let Some(peer) = peer.parse::<Sid>().ok().filter(|&sid| sid != self.sid) else {
            return refuse(RefusalCode::UnknownPeer);
        };
        info!(id = %self.id, %room, %peer, "kick");
        if moderation::remove(&self.hub, &self.sockets, peer, &room, RemovalCode::Kicked) {
            return;
        }
        let remote = self
            .hub
            .cluster()
            .and_then(|cluster| Some((cluster, cluster.node_of(room.as_str(), &peer)?)));
        match remote {
            Some((cluster, node)) => {
                let kicked = RemovalCode::Kicked;
                if cluster.remove(node, &room, peer, self.sid, kicked).is_err() {
                    refuse(RefusalCode::ClusterUnavailable);
                }
            }
            None => refuse(RefusalCode::UnknownPeer),
        }
    }

    /// A moderator locks `room` to new joins on every instance, or unlocks it; the room is told.
    fn lock(&self, room: RoomName, locked: bool) {
        let name = if locked { event::LOCK } else { event::UNLOCK };
        if !self.is_member(&room) {
            return self.refuse(Refusal::new(name, RefusalCode::NotMember));
        }
        if !self.grant.may_moderate(&room) {
            return self.refuse(Refusal::new(name, RefusalCode::Forbidden));
        }
        if let Err(code) = moderation::lock(&self.hub, &room, locked, self.sid) {
            return self.refuse(Refusal::new(name, code));
        }
        info!(id = %self.id, %room, locked, "room lock");
        let event = ServerEvent::Locked {
            room: room.to_string(),
            locked,
        };
        let everyone = (Audience::Everyone, Reach::Cluster);
        if delivery::to_room(&self.hub, &self.sockets, &room, everyone, &event).is_err() {
            self.refuse(Refusal::new(name, RefusalCode::ClusterUnavailable));
        }
    }

    /// Its token's subject, as the rooms keep it.
    fn sub(&self) -> Option<Arc<str>> {
        self.grant.sub.clone()
    }

    fn is_member(&self, room: &RoomName) -> bool {
        self.hub
            .rooms
            .with(|rooms| rooms.is_member(&self.sid, room))
    }

    fn leave(&self, room: RoomName) {
        match self.hub.leave(self.sid, &room, Reason::Left) {
            Left::Removed { remaining } => {
                info!(id = %self.id, %room, remaining, "left; the number of users in the room is {remaining}");
                self.bye(&room);
                self.reply(ServerEvent::Leaved {
                    room: room.to_string(),
                    id: self.id.to_string(),
                });
            }
            Left::NotMember => self.refuse(Refusal::new(event::LEAVE, RefusalCode::NotMember)),
        }
    }

    /// The connection is gone, `dropped` (its transport failed, rather than the client or the
    /// server ending it). A resumable peer whose connection dropped is away for the grace
    /// period; one whose socket another resumed already is not this connection's any more;
    /// anyone else leaves every room now.
    pub(super) fn disconnected(&self, dropped: bool) {
        self.hub.connection_closed();
        let (Some(resumes), Some(log)) = (self.hub.resumes(), self.hub.resume_log(self.sid)) else {
            return self.leave_everything();
        };
        if dropped && !self.hub.stopping() {
            if let Some(generation) = resumes.dropped(self.sid, self.socket) {
                return self.away(generation, resumes.grace());
            }
        }
        if resume::lock(&log).socket() != Some(self.socket) {
            return; // Resumed on another socket: the peer lives on there.
        }
        resumes.forget(self.sid);
        self.leave_everything();
    }

    /// Out of every room it was still in; the others get `bye`.
    fn leave_everything(&self) {
        let left = self.hub.remove(self.sid, &self.open);
        if self.hub.stopping() {
            // Everyone is being disconnected: no one needs to hear who left.
            return info!(id = %self.id, rooms = left.len(), "disconnected at shutdown");
        }
        delivery::byes(&self.hub, &self.sockets, self.sid, &left, "disconnected");
    }

    /// The connection dropped, and the peer may come back within `grace`: its rooms are told it
    /// is `away` now, and `bye` only if the grace period ends first (`generation` says whether
    /// it came back meanwhile).
    fn away(&self, generation: u64, grace: Duration) {
        let rooms = self.hub.rooms.with(|rooms| rooms.rooms_of(&self.sid));
        info!(id = %self.id, rooms = rooms.len(), seconds = grace.as_secs(), "connection dropped; keeping its seats for the grace period");
        for room in &rooms {
            let away = ServerEvent::Away {
                room: room.to_string(),
                id: self.id.to_string(),
            };
            let others = (Audience::Others, Reach::Cluster);
            let _ = delivery::to_room(&self.hub, &self.sockets, room, others, &away);
        }
        let session = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(grace).await;
            let expired = session
                .hub
                .resumes()
                .is_some_and(|resumes| resumes.expired(session.sid, generation));
            if expired {
                info!(id = %session.id, "did not come back within the grace period");
                session.leave_everything();
            }
        });
    }

    fn bye(&self, room: &RoomName) {
        let event = ServerEvent::Bye {
            room: room.to_string(),
            id: self.id.to_string(),
        };
        delivery::announce_here(&self.hub, &self.sockets, room, Audience::Others, &event);
    }

    fn reply(&self, event: ServerEvent) {
        delivery::to_peer(&self.hub, &self.sockets, self.sid, &event);
    }

    pub(super) fn refuse(&self, refusal: Refusal) {
        debug!(id = %self.id, event = %refusal.event, code = ?refusal.code, "refused");
        self.hub.metrics.refused(refusal.code);
        self.hub.activity.record(|| {
            let (kind, id) = (HappeningKind::Refused, Some(self.id.to_string()));
            let detail = format!("{} {}", refusal.event, wire_name(&refusal.code));
            happening(now_ms(), kind, None, id, None, Some(detail.trim_start()))
        });
        self.reply(ServerEvent::Refused(refusal));
    }
}

/// The others in `room` as `peer`'s `roster` lists them: in join order, on every instance.
pub(super) fn roster_of(hub: &Hub, peer: Sid, room: &RoomName) -> Vec<Peer> {
    let local = hub.rooms.with(|rooms| rooms.others_in_order(&peer, room));
    let remote = hub
        .cluster()
        .map(|cluster| cluster.remote_members(room.as_str()))
        .unwrap_or_default();
    roster(local, remote)
}

fn peers_of(others: Vec<(Sid, DisplayName)>) -> Vec<Peer> {
    others
        .into_iter()
        .map(|(sid, name)| Peer {
            id: sid.to_string(),
            name: name.as_str().to_owned(),
        })
        .collect()
}

/// A cluster room's roster: this instance's other members and the other instances', merged in
/// join order.
fn roster(local: Vec<(u64, Sid, DisplayName)>, remote: Vec<cluster::Member>) -> Vec<Peer> {
    let mut others: Vec<(u64, Sid, DisplayName)> = local
        .into_iter()
        .chain(remote.into_iter().map(|m| (m.order, m.sid, m.name)))
        .collect();
    others.sort_unstable_by_key(|(order, ..)| *order);
    peers_of(
        others
            .into_iter()
            .map(|(_, sid, name)| (sid, name))
            .collect(),
    )
}
