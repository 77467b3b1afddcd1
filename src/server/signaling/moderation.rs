//! Moderation: a member taken out of a room (a moderator's `kick`), and rooms locked to new
//! joins. Whether the one asking may is the session's check ([`crate::server::auth::Grant`]);
//! here is what it does.

use std::sync::Arc;

use socketioxide::adapter::Adapter;
use socketioxide::socket::Sid;
use tracing::info;

use super::delivery::{self, Audience, Sockets};
use super::Hub;
use crate::protocol::{RefusalCode, Removal, RemovalCode, RoomName, ServerEvent};
use crate::server::auth::Grant;
use crate::server::cluster::Reason;
use crate::server::resume;
use crate::server::rooms::Left;

/// Takes `sid`, a member of `room` on this instance, out of it: if it was kicked, its token may
/// not rejoin for `--kick-ban`; it is told why (`removed`, then `leaved` as if it had left, which is what
/// the tutorial's page understands), and the room `bye`. False if `sid` is no member here.
pub(super) fn remove<A: Adapter>(
    hub: &Hub,
    sockets: &Sockets<A>,
    sid: Sid,
    room: &RoomName,
    code: RemovalCode,
) -> bool {
    if !hub.rooms.with(|rooms| rooms.is_member(&sid, room)) {
        return false;
    }
    // A kick bans the token; a room's closing does not. Banned first: in a cluster the ban
    // then reaches Redis before the seat is freed, so no rejoin can come in between. A member
    // that is away (resumable, its connection dropped) has no socket, but its log the token.
    let token = match hub.socket_of(sid).and_then(|socket| sockets.get(socket)) {
        Some(socket) => socket
            .extensions
            .get::<Arc<Grant>>()
            .and_then(|g| g.token.clone()),
        None => hub
            .resume_log(sid)
            .and_then(|log| resume::lock(&log).ban_key().cloned()),
    };
    if let Some(token) = token.filter(|_| code == RemovalCode::Kicked) {
        hub.ban(room, token);
    }
    let reason = match code {
        RemovalCode::Kicked => Reason::Kicked,
        RemovalCode::RoomClosed => Reason::Closed,
    };
    let Left::Removed { remaining } = hub.leave(sid, room, reason) else {
        return false;
    };
    info!(id = %sid, %room, remaining, ?code, "removed; the number of users in the room is {remaining}");
    let (room_name, id) = (room.to_string(), sid.to_string());
    let removed = ServerEvent::Removed {
        room: room_name.clone(),
        reason: Removal::new(code),
    };
    delivery::to_peer(hub, sockets, sid, &removed);
    delivery::to_peer(
        hub,
        sockets,
        sid,
        &ServerEvent::Leaved {
            room: room_name.clone(),
            id: id.clone(),
        },
    );
    let bye = ServerEvent::Bye {
        room: room_name,
        id,
    };
    delivery::announce_here(hub, sockets, room, Audience::Everyone, &bye);
    true
}

/// Locks `room` to new joins, or unlocks it: here, or for the whole cluster in Redis (where
/// every instance's joins check it). `origin` asked, and is told if Redis cannot be reached.
pub(super) fn lock(
    hub: &Hub,
    room: &RoomName,
    locked: bool,
    origin: Sid,
) -> Result<(), RefusalCode> {
    match hub.cluster() {
        Some(cluster) => cluster
            .lock(room, locked, origin)
            .map_err(|_| RefusalCode::ClusterUnavailable),
        None => {
            hub.rooms.with(|rooms| rooms.set_locked(room, locked));
            Ok(())
        }
    }
}
