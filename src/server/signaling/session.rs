//! What one connected socket's events do: room operations and the server events they send.

use std::time::SystemTime;

use socketioxide::adapter::Adapter;
use socketioxide::extract::SocketRef;
use socketioxide::socket::Sid;
use tracing::{debug, info};

use super::delivery::{self, Audience, Sockets};
use super::Hub;
use crate::protocol::{
    event, ClientEvent, DisplayName, JoinOptions, Peer, Refusal, RefusalCode, RoomName,
    ServerEvent, Signal,
};
use crate::server::rooms::{Joined, Left, Seat};

pub(super) struct Session<A: Adapter> {
    sid: Sid,
    /// `sid` as sent in events, formatted once rather than per event.
    id: String,
    /// The socket is looked up when needed, not held: the session lives in the socket's
    /// handlers, and holding the socket there would keep both alive forever.
    sockets: Sockets<A>,
    hub: Hub,
}

impl<A: Adapter> Session<A> {
    pub(super) fn new(socket: &SocketRef<A>, hub: Hub) -> Self {
        Self {
            sid: socket.id,
            id: socket.id.to_string(),
            sockets: Sockets::of(socket),
            hub,
        }
    }

    pub(super) fn hub(&self) -> &Hub {
        &self.hub
    }

    pub(super) fn handle(&self, event: ClientEvent) {
        match event {
            ClientEvent::Join { room, options } => self.join(room, options),
            ClientEvent::Leave { room } => self.leave(room),
            ClientEvent::Message { room, data } => {
                if !self
                    .hub
                    .rooms
                    .with(|rooms| rooms.is_member(&self.sid, &room))
                {
                    return self.refuse(Refusal::new(event::MESSAGE, RefusalCode::NotMember));
                }
                let message = ServerEvent::Message {
                    room: room.to_string(),
                    from: self.id.clone(),
                    data,
                };
                delivery::to_room(
                    &self.hub,
                    &self.sockets,
                    &room,
                    Audience::Everyone,
                    &message,
                );
            }
            ClientEvent::Signal { room, to, signal } => self.signal(room, &to, signal),
            ClientEvent::IceServers => {
                let servers = self
                    .hub
                    .settings
                    .ice
                    .servers_for(&self.id, SystemTime::now());
                self.reply(ServerEvent::IceServers(servers));
            }
        }
    }

    fn join(&self, room: RoomName, options: JoinOptions) {
        let id = &self.id;
        let name = options.name.unwrap_or_else(|| DisplayName::guest(id));
        let seat = Seat {
            name: name.clone(),
            capacity: options.capacity,
        };
        let limits = self.hub.settings.join;
        let (others, arrived) = match self
            .hub
            .rooms
            .with(|rooms| rooms.join(&self.sid, &room, seat, limits))
        {
            Joined::Added { members, others } => {
                info!(%id, %room, members, "joined; the number of users in the room is {members}");
                (others, true)
            }
            Joined::AlreadyMember { members, others } => {
                debug!(%id, %room, members, "join of a room already joined");
                (others, false)
            }
            Joined::Full { capacity } => {
                info!(%id, %room, capacity, "join refused: the room is full");
                return self.reply(ServerEvent::Full {
                    room: room.to_string(),
                    id: id.clone(),
                });
            }
            Joined::TooManyRooms { limit } => {
                debug!(%id, %room, limit, "join refused: too many rooms");
                return self.refuse(Refusal::new(event::JOIN, RefusalCode::TooManyRooms));
            }
            Joined::Closing => return,
        };
        self.reply(ServerEvent::Joined {
            room: room.to_string(),
            id: id.clone(),
        });
        let peers = others
            .iter()
            .map(|(sid, name)| Peer {
                id: sid.to_string(),
                name: name.as_str().to_owned(),
            })
            .collect();
        self.reply(ServerEvent::Roster {
            room: room.to_string(),
            peers,
        });
        if !arrived {
            return;
        }
        let arrival = ServerEvent::OtherJoin {
            room: room.to_string(),
            id: id.clone(),
            name: name.as_str().to_owned(),
        };
        delivery::to_room(&self.hub, &self.sockets, &room, Audience::Others, &arrival);
    }

    /// Relays `signal` to the one peer `to`, if sender and peer are both in `room`.
    fn signal(&self, room: RoomName, to: &str, signal: Signal) {
        let peer = to.parse::<Sid>().ok().filter(|&sid| sid != self.sid);
        let target = self.hub.rooms.with(|rooms| {
            if !rooms.is_member(&self.sid, &room) {
                return Err(RefusalCode::NotMember);
            }
            peer.filter(|sid| rooms.is_member(sid, &room))
                .ok_or(RefusalCode::UnknownPeer)
        });
        let socket = match target.map(|sid| self.sockets.get(sid)) {
            Ok(Some(socket)) => socket,
            Ok(None) => return self.refuse(Refusal::new(event::SIGNAL, RefusalCode::UnknownPeer)),
            Err(code) => return self.refuse(Refusal::new(event::SIGNAL, code)),
        };
        let event = ServerEvent::Signal {
            room: room.to_string(),
            from: self.id.clone(),
            signal,
        };
        delivery::to_socket(&self.hub, &socket, &event);
    }

    fn leave(&self, room: RoomName) {
        match self.hub.rooms.with(|rooms| rooms.leave(&self.sid, &room)) {
            Left::Removed { remaining } => {
                info!(id = %self.id, %room, remaining, "left; the number of users in the room is {remaining}");
                self.bye(&room);
                self.reply(ServerEvent::Leaved {
                    room: room.to_string(),
                    id: self.id.clone(),
                });
            }
            Left::NotMember => self.refuse(Refusal::new(event::LEAVE, RefusalCode::NotMember)),
        }
    }

    /// The connection is gone: out of every room it was still in, the others get `bye`.
    pub(super) fn ended(&self) {
        let left = self.hub.rooms.with(|rooms| rooms.remove(&self.sid));
        let stopping = self.hub.stopping();
        for (room, remaining) in &left {
            info!(id = %self.id, %room, remaining, "disconnected; the number of users in the room is {remaining}");
            if !stopping {
                self.bye(room);
            }
        }
        self.hub.connection_closed();
    }

    fn bye(&self, room: &RoomName) {
        let event = ServerEvent::Bye {
            room: room.to_string(),
            id: self.id.clone(),
        };
        delivery::to_room(&self.hub, &self.sockets, room, Audience::Others, &event);
    }

    fn reply(&self, event: ServerEvent) {
        if let Some(socket) = self.sockets.get(self.sid) {
            delivery::to_socket(&self.hub, &socket, &event);
        }
    }

    pub(super) fn refuse(&self, refusal: Refusal) {
        debug!(id = %self.id, event = %refusal.event, code = ?refusal.code, "refused");
        self.reply(ServerEvent::Refused(refusal));
    }
}
