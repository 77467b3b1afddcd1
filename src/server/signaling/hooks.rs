//! The webhook events of this instance's members joining and leaving rooms (with
//! `--webhook-url`): built where the Hub changes the rooms, and queued without waiting.

use socketioxide::socket::Sid;

use super::{session, Hub};
use crate::protocol::RoomName;
use crate::server::cluster::Reason;
use crate::server::rooms::Member;
use crate::server::webhooks::{Event, Kind, Peer, WebhookHealth, Webhooks};

impl Hub {
    /// Webhooks: `sid` joined `room` (as `member`), which now has `members` on every instance;
    /// with the first, the room started.
    pub(super) fn joined_hook(&self, sid: Sid, room: &RoomName, member: &Member, members: usize) {
        let Some(webhooks) = &self.webhooks else {
            return;
        };
        if members == 1 {
            webhooks.send(Event::new(
                Kind::RoomStarted,
                room.as_str(),
                None,
                None,
                member.since,
            ));
        }
        let peer = peer_of(sid, member);
        webhooks.send(Event::new(
            Kind::ParticipantJoined,
            room.as_str(),
            Some(peer),
            None,
            member.since,
        ));
    }

    /// Webhooks: `sid` left `room` for `reason`; `remaining` are still in it on every instance;
    /// with none, the room finished.
    pub(super) fn left_hook(
        &self,
        sid: Sid,
        room: &RoomName,
        member: Member,
        reason: Reason,
        remaining: usize,
    ) {
        let Some(webhooks) = &self.webhooks else {
            return;
        };
        let now = session::now_ms();
        let peer = peer_of(sid, &member);
        let reason = Some(reason.as_str());
        webhooks.send(Event::new(
            Kind::ParticipantLeft,
            room.as_str(),
            Some(peer),
            reason,
            now,
        ));
        // In a cluster, Redis says when a room empties (see `finished_hook`).
        if remaining == 0 && self.cluster.is_none() {
            self.finished_hook(room);
        }
    }

    /// Webhooks: `room` has no member left (on any instance).
    pub(super) fn finished_hook(&self, room: &RoomName) {
        if let Some(webhooks) = &self.webhooks {
            let now = session::now_ms();
            webhooks.send(Event::new(
                Kind::RoomFinished,
                room.as_str(),
                None,
                None,
                now,
            ));
        }
    }

    /// Webhooks for `sid` having left each of `rooms` (each with its remaining count) for
    /// `reason`; `memberships` is what the rooms held of it before.
    pub(super) fn left_hooks(
        &self,
        sid: Sid,
        memberships: Vec<(RoomName, Member)>,
        rooms: &[(RoomName, usize)],
        reason: Reason,
    ) {
        for (room, member) in memberships {
            if let Some((_, remaining)) = rooms.iter().find(|(r, _)| *r == room) {
                self.left_hook(sid, &room, member, reason, *remaining);
            }
        }
    }

    /// `/healthz`'s webhook figures, with `--webhook-url`.
    pub fn webhook_health(&self) -> Option<WebhookHealth> {
        self.webhooks.as_ref().map(Webhooks::health)
    }
}

fn peer_of(sid: Sid, member: &Member) -> Peer {
    Peer {
        id: sid.to_string(),
        name: member.name.as_str().to_owned(),
        sub: member.sub.as_deref().map(str::to_owned),
    }
}
