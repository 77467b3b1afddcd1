//! What is told of this instance's members joining and leaving rooms: the webhook events (with
//! `--webhook-url`), queued without waiting, and the dashboard's recent activity (with
//! `--api-key`). Built where the Hub changes the rooms.

use socketioxide::socket::Sid;

use super::Hub;
use crate::dashboard::snapshot::HappeningKind;
use crate::protocol::RoomName;
use crate::server::activity::happening;
use crate::server::clock::now_ms;
use crate::server::cluster::Reason;
use crate::server::rooms::Member;
use crate::server::webhooks::{Event, Kind, Peer, WebhookHealth, Webhooks};

impl Hub {
    /// Whether anyone is told of joins and leaves: the rooms' member records are then read
    /// for them.
    pub(super) fn hooked(&self) -> bool {
        self.webhooks.is_some() || self.activity.is_enabled()
    }

    /// `sid` joined `room` (as `member`), which now has `members` on every instance; with the
    /// first, the room started.
    pub(super) fn joined_hook(&self, sid: Sid, room: &RoomName, member: &Member, members: usize) {
        self.activity.record(|| {
            let name = Some(member.name.as_str());
            let id = Some(sid.to_string());
            happening(
                member.since,
                HappeningKind::Joined,
                Some(room.as_str()),
                id,
                name,
                None,
            )
        });
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

    /// `sid` left `room` for `reason`; `remaining` are still in it on every instance; with
    /// none, the room finished.
    pub(super) fn left_hook(
        &self,
        sid: Sid,
        room: &RoomName,
        member: Member,
        reason: Reason,
        remaining: usize,
    ) {
        let now = now_ms();
        self.activity.record(|| {
            let (name, id) = (Some(member.name.as_str()), Some(sid.to_string()));
            let why = Some(reason.as_str());
            happening(now, HappeningKind::Left, Some(room.as_str()), id, name, why)
        });
        let Some(webhooks) = &self.webhooks else {
            return;
        };
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
            let now = now_ms();
            webhooks.send(Event::new(
                Kind::RoomFinished,
                room.as_str(),
                None,
                None,
                now,
            ));
        }
    }

    /// For `sid` having left each of `rooms` (each with its remaining count) for
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
