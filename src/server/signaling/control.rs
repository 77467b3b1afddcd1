//! What the server API asks of the rooms, on behalf of the application's backend rather than a
//! socket: list rooms and members, remove a member, close a room, speak into it. In a cluster
//! the lists come from Redis, so any instance answers for all of them, and a removal goes to
//! the instance holding the member.

use std::time::Duration;

use serde::Serialize;
use socketioxide::socket::Sid;
use socketioxide::{SocketIo, TransportType};

use super::adapter::RoomAdapter;
use super::delivery::{self, Audience, Reach, Sockets};
use super::{moderation, Hub};
use crate::dashboard::snapshot::{Person, RoomRow, Snapshot, MAX_ROOMS};
use crate::protocol::{RemovalCode, RoomName, ServerEvent};
use crate::server::clock::now_ms;
use crate::server::cluster::{self, Cluster, RoomDetail};
use crate::server::rooms::Member;

/// The sender id of messages the server API sends into a room: never a socket's id (those are
/// 16 characters).
pub const SERVER_SENDER: &str = "server";

/// How long a dashboard request waits for a change before it answers anyway.
pub const DASHBOARD_WAIT: Duration = Duration::from_secs(1);

/// A room as the API lists it.
#[derive(Debug, Clone, Serialize)]
pub struct RoomInfo {
    pub room: String,
    pub members: usize,
    pub locked: bool,
}

/// A member as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct MemberInfo {
    pub id: String,
    pub name: String,
    pub sub: Option<String>,
    /// When it joined, in milliseconds since the epoch.
    pub joined_at: u64,
}

/// One room's members, in join order.
#[derive(Debug, Clone, Serialize)]
pub struct RoomMembers {
    pub room: String,
    pub locked: bool,
    pub members: Vec<MemberInfo>,
}

/// Why the API could not do it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    #[error("no such room: it has no members")]
    NoSuchRoom,
    #[error("no such member in that room")]
    NoSuchMember,
    #[error("the cluster's Redis cannot be reached")]
    Unavailable,
}

/// The API's handle on the rooms: cheap to clone.
#[derive(Clone)]
pub struct Control {
    hub: Hub,
    sockets: Sockets<RoomAdapter>,
}

impl Control {
    pub fn new(hub: Hub, io: &SocketIo<RoomAdapter>) -> Self {
        Self {
            hub,
            sockets: Sockets::of_namespace(io.broadcast()),
        }
    }

    /// Whether tokens can be minted (`--auth-secret` is set).
    pub fn tokens(&self) -> Option<&crate::server::auth::Tokens> {
        self.hub.settings.tokens.as_ref()
    }

    /// Every room with members, by name.
    pub async fn rooms(&self) -> Result<Vec<RoomInfo>, ControlError> {
        let mut rooms: Vec<RoomInfo> = match self.hub.cluster() {
            Some(cluster) => cluster
                .rooms()
                .await
                .ok_or(ControlError::Unavailable)?
                .into_iter()
                .map(|r| RoomInfo {
                    room: r.room,
                    members: r.members,
                    locked: r.locked,
                })
                .collect(),
            None => self.hub.rooms.with(|rooms| {
                rooms
                    .summaries()
                    .map(|(room, members, locked)| RoomInfo {
                        room: room.to_string(),
                        members,
                        locked,
                    })
                    .collect()
            }),
        };
        rooms.sort_unstable_by(|a, b| a.room.cmp(&b.room));
        Ok(rooms)
    }

    /// `room`'s members in join order.
    pub async fn room(&self, room: &RoomName) -> Result<RoomMembers, ControlError> {
        let (locked, members) = match self.hub.cluster() {
            Some(cluster) => {
                let detail = read_room(cluster, room).await?;
                let members = detail
                    .members
                    .into_iter()
                    .map(|p| MemberInfo {
                        id: p.member.sid.to_string(),
                        name: p.member.name.as_str().to_owned(),
                        sub: p.sub,
                        joined_at: p.since,
                    })
                    .collect();
                (detail.locked, members)
            }
            None => {
                let (locked, seated) = self
                    .hub
                    .rooms
                    .with(|rooms| {
                        Some((
                            rooms.is_locked(room.as_str()),
                            rooms.members_of(room.as_str())?,
                        ))
                    })
                    .ok_or(ControlError::NoSuchRoom)?;
                let members = seated
                    .into_iter()
                    .map(|(sid, member)| MemberInfo {
                        id: sid.to_string(),
                        name: member.name.as_str().to_owned(),
                        sub: member.sub.as_deref().map(str::to_owned),
                        joined_at: member.since,
                    })
                    .collect();
                (locked, members)
            }
        };
        Ok(RoomMembers {
            room: room.to_string(),
            locked,
            members,
        })
    }

    /// Removes member `id` from `room`, as a moderator's `kick` does (`code` says why: a kick
    /// bans its token for a while, a room's closing does not). In a cluster, a member on
    /// another instance is removed there a moment later.
    pub async fn remove(
        &self,
        room: &RoomName,
        id: &str,
        code: RemovalCode,
    ) -> Result<(), ControlError> {
        let sid = id.parse::<Sid>().map_err(|_| ControlError::NoSuchMember)?;
        if moderation::remove(&self.hub, &self.sockets, sid, room, code) {
            return Ok(());
        }
        let Some(cluster) = self.hub.cluster() else {
            return Err(ControlError::NoSuchMember);
        };
        let detail = read_room(cluster, room).await.map_err(|err| match err {
            ControlError::NoSuchRoom => ControlError::NoSuchMember,
            other => other,
        })?;
        self.remove_seated(cluster, &detail, room, sid, code)
    }

    /// Takes everyone out of `room`, each told `removed` with `room_closed`; returns how many.
    /// In a cluster the room is read once, and each member removed by its own instance.
    pub async fn close(&self, room: &RoomName) -> Result<usize, ControlError> {
        let code = RemovalCode::RoomClosed;
        let Some(cluster) = self.hub.cluster() else {
            let members = self
                .hub
                .rooms
                .with(|rooms| rooms.members_of(room.as_str()))
                .ok_or(ControlError::NoSuchRoom)?;
            let removed = members
                .into_iter()
                .filter(|(sid, _)| moderation::remove(&self.hub, &self.sockets, *sid, room, code))
                .count();
            return Ok(removed);
        };
        let detail = read_room(cluster, room).await?;
        let mut removed = 0;
        for profile in &detail.members {
            match self.remove_seated(cluster, &detail, room, profile.member.sid, code) {
                Ok(()) => removed += 1,
                // Left meanwhile.
                Err(ControlError::NoSuchMember) => {}
                Err(err) => return Err(err),
            }
        }
        Ok(removed)
    }

    /// Removes `sid`, a member of `room` as `detail` (read from Redis) lists it: here if it is
    /// this instance's, else by the instance holding it.
    fn remove_seated(
        &self,
        cluster: &Cluster,
        detail: &RoomDetail,
        room: &RoomName,
        sid: Sid,
        code: RemovalCode,
    ) -> Result<(), ControlError> {
        if moderation::remove(&self.hub, &self.sockets, sid, room, code) {
            return Ok(());
        }
        let node = detail
            .members
            .iter()
            .find(|p| p.member.sid == sid && p.member.node != cluster.node())
            .map(|p| p.member.node)
            .ok_or(ControlError::NoSuchMember)?;
        // No socket asked: an answer that it found no one goes nowhere.
        cluster
            .remove(node, room, sid, Sid::new(), code)
            .map_err(|_| ControlError::Unavailable)
    }

    /// The dashboard's view of this instance, once it is newer than `after` (or after
    /// [`DASHBOARD_WAIT`], for the charts' next second): the page asks again at once, so a
    /// change shows as soon as it happens, and an idle server answers once a second.
    pub async fn dashboard(&self, after: Option<u64>) -> Snapshot {
        let activity = self.hub.activity();
        if let Some(after) = after {
            activity.newer_than(after, DASHBOARD_WAIT).await;
        }
        // Read first: a change from now on makes the next snapshot newer than this one.
        let version = activity.version();
        let cluster = self.hub.cluster();
        let (listed, more_rooms, locals) = self.hub.rooms.with(|rooms| {
            let mut listed: Vec<(RoomName, usize, bool)> = rooms
                .summaries()
                .map(|(room, here, locked)| {
                    let everywhere = here + cluster.map_or(0, |c| c.remote_count(room.as_str()));
                    (room.clone(), everywhere, locked)
                })
                .collect();
            listed.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            let more = listed.len().saturating_sub(MAX_ROOMS);
            listed.truncate(MAX_ROOMS);
            let locals: Vec<_> = listed
                .iter()
                .map(|(room, ..)| rooms.members_of(room.as_str()).unwrap_or_default())
                .collect();
            (listed, more, locals)
        });
        let rows = listed
            .into_iter()
            .zip(locals)
            .map(|((room, members, locked), local)| {
                let remote = cluster.map(|c| c.remote_members(room.as_str()));
                RoomRow {
                    people: self.people(local, remote.unwrap_or_default()),
                    room: room.to_string(),
                    locked,
                    members,
                }
            })
            .collect();
        Snapshot {
            version,
            now: now_ms(),
            node: cluster.map(|c| c.node().to_string()),
            redis_up: cluster.map(Cluster::is_up),
            connections: self.hub.connections(),
            rooms: rows,
            more_rooms,
            recent: activity.recent(),
            series: activity.series(),
        }
    }

    /// A room's members as the dashboard lists them, in join order: this instance's `local`
    /// ones with their transports, and the `remote` ones this instance knows of.
    fn people(&self, local: Vec<(Sid, Member)>, remote: Vec<cluster::Member>) -> Vec<Person> {
        let here = local.into_iter().map(|(sid, member)| {
            let socket = self.hub.socket_of(sid).and_then(|s| self.sockets.get(s));
            let transport = match socket {
                Some(socket) => match socket.transport_type() {
                    TransportType::Websocket => Some("websocket"),
                    TransportType::Polling => Some("polling"),
                },
                // A resumable member whose connection dropped: it may come back.
                None => self.hub.resume_log(sid).map(|_| "away"),
            };
            let transport = transport.map(str::to_owned);
            let person = Person {
                id: sid.to_string(),
                name: member.name.as_str().to_owned(),
                sub: member.sub.as_deref().map(str::to_owned),
                joined_at: Some(member.since),
                transport,
                instance: None,
            };
            (member.order, person)
        });
        let there = remote.into_iter().map(|member| {
            let person = Person {
                id: member.sid.to_string(),
                name: member.name.as_str().to_owned(),
                sub: None,
                joined_at: None,
                transport: None,
                instance: Some(member.node.to_string()),
            };
            (member.order, person)
        });
        let mut people: Vec<(u64, Person)> = here.chain(there).collect();
        people.sort_unstable_by_key(|(order, _)| *order);
        people.into_iter().map(|(_, person)| person).collect()
    }

    /// Sends `data` into `room` as a `message` from [`SERVER_SENDER`], to every member on
    /// every instance.
    pub async fn say(&self, room: &RoomName, data: serde_json::Value) -> Result<(), ControlError> {
        // The room must exist somewhere, or the message would go to no one.
        self.room(room).await?;
        let message = ServerEvent::Message {
            room: room.to_string(),
            from: SERVER_SENDER.to_owned(),
            data,
        };
        let everyone = (Audience::Everyone, Reach::Cluster);
        delivery::to_room(&self.hub, &self.sockets, room, everyone, &message)
            .map_err(|_| ControlError::Unavailable)
    }
}

/// `room` as Redis holds it: `NoSuchRoom` without members, `Unavailable` without Redis.
async fn read_room(cluster: &Cluster, room: &RoomName) -> Result<RoomDetail, ControlError> {
    cluster
        .room(room)
        .await
        .ok_or(ControlError::Unavailable)?
        .ok_or(ControlError::NoSuchRoom)
}
