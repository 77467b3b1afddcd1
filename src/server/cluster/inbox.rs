//! The inbox: one task that handles, one at a time and in arrival order, what Redis pushes to
//! this instance and what the link learnt from Redis's answers.
//!
//! It is the only place that changes the rooms' views and tells this instance's members about
//! the cluster's joins and departures, and it seats this instance's joiners. So a joiner's
//! roster and the `otherjoin` / `bye` its room-mates get are read from the same state, with
//! nothing in between: no one is both in a joiner's roster and announced to it, and no one is
//! missed.

use std::ops::Range;
use std::sync::Arc;

use redis::{PushInfo, PushKind, Value};
use socketioxide_core::Str;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, warn};

use super::view::{Authority, Event, RoomView};
use super::wire::{self, Member, NodeMessage, RoomMessage, Undelivered};
use super::{LocalMembers, NodeId, Registration, SeatDone, Seating, Shared};
use socketioxide::socket::Sid;

use crate::protocol::{RefusalCode, RoomName};

/// What the inbox handles.
pub(crate) enum Inbound {
    /// Something Redis pushed.
    Push(PushInfo),
    /// The link is about to subscribe to a room's channel for a join: its view starts.
    Expect(RoomName),
    /// The instance has no member and no join left in a room: its view goes.
    Forget(RoomName),
    /// A join took its seat: its roster (the remote members, read at `seq`) applies, then
    /// `done` seats the joiner here.
    Seated {
        /// The joiner: never in its room's view, even if it was a remote member before (an
        /// orphan this instance adopted).
        sid: Sid,
        room: RoomName,
        seq: u64,
        remote: Vec<Member>,
        seating: Seating,
        done: SeatDone,
    },
    /// Rosters read in one go after a reconnection, at `seq`; `registered` names the instances
    /// whose members they may remove, or `None` for all.
    Rosters {
        seq: u64,
        rosters: Vec<(RoomName, Vec<Member>)>,
        registered: Option<Vec<NodeId>>,
    },
    /// Redis may have lost its data: every view's sequence may start again.
    Restart,
    /// The link registers the instance: its members, once everything before is applied.
    Registrations(oneshot::Sender<Vec<Registration>>),
}

pub(super) async fn run(
    shared: Arc<Shared>,
    members: Arc<dyn LocalMembers>,
    mut inbound: mpsc::UnboundedReceiver<Inbound>,
) {
    let inbox = Inbox { shared, members };
    while let Some(item) = inbound.recv().await {
        inbox.handle(item);
    }
}

struct Inbox {
    shared: Arc<Shared>,
    members: Arc<dyn LocalMembers>,
}

impl Inbox {
    fn handle(&self, item: Inbound) {
        match item {
            Inbound::Push(push) => self.push(push),
            Inbound::Expect(room) => {
                self.shared
                    .views()
                    .entry(room)
                    .or_insert_with(RoomView::awaiting_roster);
            }
            Inbound::Forget(room) => {
                self.shared.views().remove(&room);
            }
            Inbound::Seated {
                sid,
                room,
                seq,
                remote,
                seating,
                done,
            } => {
                let changes = {
                    let mut views = self.shared.views();
                    let view = views
                        .entry(room.clone())
                        .or_insert_with(RoomView::awaiting_roster);
                    let mut changes: Vec<_> = view.forget(&sid).into_iter().collect();
                    changes.extend(view.roster(seq, remote, Authority::Full));
                    changes
                };
                self.tell(&room, changes);
                done(seating);
            }
            Inbound::Rosters {
                seq,
                rosters,
                registered,
            } => {
                let authority = match &registered {
                    Some(nodes) => Authority::Registered(nodes),
                    None => Authority::Full,
                };
                for (room, remote) in rosters {
                    let changes = match self.shared.views().get_mut(&room) {
                        Some(view) => view.roster(seq, remote, authority),
                        None => continue,
                    };
                    self.tell(&room, changes);
                }
            }
            Inbound::Restart => self.restart(),
            Inbound::Registrations(reply) => {
                let _ = reply.send(self.members.registrations());
            }
        }
    }

    fn restart(&self) {
        for view in self.shared.views().values_mut() {
            view.restart_sequence();
        }
    }

    fn holds(&self, room: &str, sid: Sid) -> bool {
        RoomName::parse(room).is_ok_and(|room| self.members.holds(&room, sid))
    }

    fn tell(&self, room: &RoomName, changes: Vec<super::Change>) {
        if !changes.is_empty() {
            self.members.changed(room, changes);
        }
    }

    fn push(&self, push: PushInfo) {
        match push.kind {
            PushKind::Disconnection => {
                warn!("the connection to Redis dropped; reconnecting");
                self.restart();
                self.shared.lost();
            }
            PushKind::Message => {
                let mut data = push.data.into_iter();
                if let (Some(Value::BulkString(channel)), Some(Value::BulkString(payload))) =
                    (data.next(), data.next())
                {
                    match (String::from_utf8(channel), String::from_utf8(payload)) {
                        (Ok(channel), Ok(text)) => self.message(&channel, text),
                        _ => debug!("a cluster message that is not UTF-8"),
                    }
                }
            }
            // Subscription confirmations, and pushes signalroom does not ask for.
            _ => {}
        }
    }

    /// One Redis message: one or more lines, handled in order. The events handed on share its
    /// text rather than copy it.
    fn message(&self, channel: &str, text: String) {
        let room = self.shared.keys.room_of_channel(channel);
        let text = Str::from(text);
        for (at, line) in wire::lines(text.as_str()) {
            let within = |event: Range<usize>| text.slice(at + event.start..at + event.end);
            match room {
                Some(room) => self.room_message(room, line, within),
                None => self.node_message(line, within),
            }
        }
    }

    /// `within` turns a range of `line` into the event it holds.
    fn room_message(&self, room: &str, line: &str, within: impl Fn(Range<usize>) -> Str) {
        let event = match RoomMessage::decode(line) {
            Some(RoomMessage::Event { node, event }) => {
                if node != self.shared.node {
                    self.members.room_event(room, within(event));
                }
                return;
            }
            // This instance's own members are in its rooms, not in its views: one it adopted
            // leaves its view (and is back).
            Some(RoomMessage::Joined { member, .. }) if member.node == self.shared.node => {
                let back = self
                    .shared
                    .views()
                    .get_mut(room)
                    .and_then(|view| view.forget(&member.sid));
                if let (Some(back), Ok(room)) = (back, RoomName::parse(room)) {
                    self.members.changed(&room, vec![back]);
                }
                return;
            }
            // This instance was taken for dead while it lived (it stood still longer than its
            // timeout): its own members, orphaned meanwhile, are its again once it registers.
            Some(RoomMessage::Joined { member, .. })
                if member.node == NodeId::ORPHAN && self.holds(room, member.sid) =>
            {
                return
            }
            Some(message) => Event::of(message),
            None => None,
        };
        let Some(event) = event else {
            debug!(%room, %line, "an undecodable room message");
            return;
        };
        let change = match self.shared.views().get_mut(room) {
            Some(view) => view.apply(event),
            // No member here: sent before this instance unsubscribed.
            None => return,
        };
        if let (Some(change), Ok(room)) = (change, RoomName::parse(room)) {
            self.members.changed(&room, vec![change]);
        }
    }

    fn node_message(&self, line: &str, within: impl Fn(Range<usize>) -> Str) {
        match NodeMessage::decode(line) {
            Some(NodeMessage::Signal {
                reply_to,
                room,
                to,
                from,
                event,
            }) => {
                if !self.members.signal(&room, to, within(event)) {
                    self.undeliverable(reply_to, from, &room, Undelivered::Signal);
                }
            }
            Some(NodeMessage::Kick {
                reply_to,
                room,
                to,
                from,
                code,
            }) => {
                if !self.members.remove(&room, to, code) {
                    self.undeliverable(reply_to, from, &room, Undelivered::Kick);
                }
            }
            Some(NodeMessage::Undeliverable { from, event, .. }) => {
                self.members
                    .refuse(from, event.event(), RefusalCode::UnknownPeer);
            }
            None => debug!(%line, "an undecodable instance message"),
        }
    }

    /// Tells `from`'s instance that what `from` sent found no peer here.
    fn undeliverable(&self, reply_to: NodeId, from: Sid, room: &RoomName, event: Undelivered) {
        let channel = self.shared.keys.node_channel(reply_to);
        let line = wire::undeliverable(from, room, event);
        let _ = self.shared.publish(channel, line, None);
    }
}
