//! This instance's members as the cluster sees them: what other instances send is handed to
//! them here, along the same per-socket paths as this instance's own events.

use socketioxide::socket::Sid;
use socketioxide::SocketIo;
use socketioxide_core::Str;

use super::adapter::RoomAdapter;
use super::delivery::{self, Audience, Sockets};
use super::{moderation, Hub};
use crate::protocol::{Refusal, RefusalCode, RemovalCode, RoomName, ServerEvent};
use crate::server::cluster::{session_record, Change, LocalMembers, Registration};

/// [`LocalMembers`] for a [`Hub`].
pub(super) struct Members {
    hub: Hub,
    sockets: Sockets<RoomAdapter>,
}

impl Members {
    pub(super) fn new(hub: Hub, io: &SocketIo<RoomAdapter>) -> Self {
        Self {
            hub,
            sockets: Sockets::of_namespace(io.broadcast()),
        }
    }
}

impl LocalMembers for Members {
    fn room_event(&self, room: &str, event: Str) {
        if let Some(adapter) = self.hub.adapter() {
            adapter.deliver(room, event);
        }
        delivery::finish_evictions(&self.hub, &self.sockets);
    }

    fn sessions(&self) -> Vec<(Sid, String)> {
        let Some(resumes) = self.hub.resumes() else {
            return Vec::new();
        };
        resumes
            .records()
            .into_iter()
            .map(|(peer, digest, sub)| {
                let record = session_record(resumes.grace(), &digest, sub.as_deref());
                (peer, record)
            })
            .collect()
    }

    fn taken(&self, sid: Sid) {
        if let Some(resumes) = self.hub.resumes() {
            resumes.forget(sid);
        }
        self.hub.rooms.with(|rooms| rooms.remove(&sid));
    }

    fn holds(&self, room: &RoomName, sid: Sid) -> bool {
        self.hub.rooms.with(|rooms| rooms.is_member(&sid, room))
    }

    fn signal(&self, room: &RoomName, to: Sid, event: Str) -> bool {
        if !self.holds(room, to) {
            return false;
        }
        if let Some(adapter) = self.hub.adapter() {
            adapter.deliver_to(to, event);
        }
        delivery::finish_evictions(&self.hub, &self.sockets);
        true
    }

    fn changed(&self, room: &RoomName, changes: Vec<Change>) {
        for change in changes {
            let event = match change {
                Change::Arrived(member) => ServerEvent::OtherJoin {
                    room: room.to_string(),
                    id: member.sid.to_string(),
                    name: member.name.as_str().to_owned(),
                },
                Change::Departed(sid) => ServerEvent::Bye {
                    room: room.to_string(),
                    id: sid.to_string(),
                },
                Change::Orphaned(sid) => ServerEvent::Away {
                    room: room.to_string(),
                    id: sid.to_string(),
                },
                Change::Back(sid) => ServerEvent::Back {
                    room: room.to_string(),
                    id: sid.to_string(),
                },
            };
            delivery::announce_here(&self.hub, &self.sockets, room, Audience::Everyone, &event);
        }
    }

    fn remove(&self, room: &RoomName, sid: Sid, code: RemovalCode) -> bool {
        moderation::remove(&self.hub, &self.sockets, sid, room, code)
    }

    fn emptied(&self, room: &RoomName) {
        self.hub.finished_hook(room);
    }

    fn refuse(&self, sid: Sid, event: &'static str, code: RefusalCode) {
        let refused = ServerEvent::Refused(Refusal::new(event, code));
        delivery::to_peer(&self.hub, &self.sockets, sid, &refused);
    }

    fn registrations(&self) -> Vec<Registration> {
        self.hub.rooms.with(|rooms| {
            rooms
                .seats()
                .map(|(room, sid, seated, capacity)| Registration {
                    room: room.clone(),
                    sid: *sid,
                    name: seated.name.clone(),
                    order: seated.order,
                    capacity,
                    sub: seated.sub.as_deref().map(str::to_owned),
                    since: seated.since,
                })
                .collect()
        })
    }
}
