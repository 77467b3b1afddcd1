//! An instance's view of a room's members on *other* instances, kept for the rooms where it has
//! members of its own: rosters for its joiners, the instance holding a `signal`'s peer, and the
//! `otherjoin` / `bye` its members get. Pure data, no I/O.
//!
//! Redis numbers every membership change with one sequence. A view applies a room's changes in
//! that order and ignores any it has already seen, whichever way it learnt of them: from the
//! room's channel (one change at a time), or from a roster read in one go (a join's answer, or
//! a snapshot after a reconnection). A roster read at sequence `s` replaces the view if the view
//! has seen nothing after `s`; changes up to `s` that arrive afterwards are then ignored. So the
//! view converges on Redis's roster whatever the order in which the channel and the answers
//! arrive, and every difference it makes is reported once, as a [`Change`].

use std::collections::HashMap;

use socketioxide::socket::Sid;

use super::wire::{Member, RoomMessage};
use super::NodeId;

/// A difference in a room's remote members, for the instance's own members to be told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Arrived(Member),
    Departed(Sid),
    /// Its instance died: it keeps its seat as an orphan until it resumes elsewhere or its
    /// grace period ends.
    Orphaned(Sid),
    /// An orphan is held by an instance again: one that adopted it, or its own, which was
    /// taken for dead but lived.
    Back(Sid),
}

impl Change {
    /// What a member's being seated again by another instance changes: whether it became an
    /// orphan or stopped being one. Any other move (an adoption seen after a roster that had it
    /// adopted already) changes nothing the room hears.
    fn moved(was: &Member, now: &Member) -> Option<Self> {
        match (was.node == NodeId::ORPHAN, now.node == NodeId::ORPHAN) {
            (false, true) => Some(Self::Orphaned(now.sid)),
            (true, false) => Some(Self::Back(now.sid)),
            _ => None,
        }
    }
}

/// A membership change, from a room's channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Joined { seq: u64, member: Member },
    Left { seq: u64, sid: Sid },
}

impl Event {
    /// The membership change `message` announces, if it is one.
    pub fn of(message: RoomMessage) -> Option<Self> {
        match message {
            RoomMessage::Joined { seq, member } => Some(Self::Joined { seq, member }),
            RoomMessage::Left { seq, sid, .. } => Some(Self::Left { seq, sid }),
            RoomMessage::Event { .. } => None,
        }
    }

    fn seq(&self) -> u64 {
        match self {
            Self::Joined { seq, .. } | Self::Left { seq, .. } => *seq,
        }
    }
}

/// Which members a roster read in one go may remove from the view.
#[derive(Debug, Clone, Copy)]
pub enum Authority<'a> {
    /// All of them: the roster is Redis's whole truth at its sequence.
    Full,
    /// Only those of these instances. After Redis lost its data, each instance registers its
    /// members again as it reconnects; until one has, its members are missing from every roster
    /// without having left.
    Registered(&'a [NodeId]),
}

/// The remote members of one room.
#[derive(Debug, Default)]
pub struct RoomView {
    /// The last change applied; 0 before any.
    seq: u64,
    members: HashMap<Sid, Member>,
    /// Until a first roster arrives, the view has no base to apply changes to: it keeps them,
    /// to replay those the roster has not seen.
    unrostered: Option<Vec<Event>>,
}

impl RoomView {
    /// A view for a room this instance is joining: changes wait for the join's roster.
    pub fn awaiting_roster() -> Self {
        Self {
            unrostered: Some(Vec::new()),
            ..Self::default()
        }
    }

    /// Applies one change from the room's channel.
    pub fn apply(&mut self, event: Event) -> Option<Change> {
        if let Some(kept) = &mut self.unrostered {
            kept.push(event);
            return None;
        }
        self.apply_rostered(event)
    }

    fn apply_rostered(&mut self, event: Event) -> Option<Change> {
        if event.seq() <= self.seq {
            return None;
        }
        self.seq = event.seq();
        match event {
            // A member seated again is a move: to no instance (an orphan), or to an instance.
            Event::Joined { member, .. } => match self.members.insert(member.sid, member.clone()) {
                None => Some(Change::Arrived(member)),
                Some(was) => Change::moved(&was, &member),
            },
            Event::Left { sid, .. } => self.members.remove(&sid).map(|_| Change::Departed(sid)),
        }
    }

    /// Applies a roster read at sequence `seq` (the room's remote members then), with what it
    /// may remove; returns the differences, arrivals in join order.
    pub fn roster(&mut self, seq: u64, roster: Vec<Member>, authority: Authority) -> Vec<Change> {
        let kept = self.unrostered.take();
        let mut changes = Vec::new();
        if kept.is_some() || seq > self.seq {
            self.seq = seq;
            let mut incoming: HashMap<Sid, Member> =
                roster.into_iter().map(|m| (m.sid, m)).collect();
            self.members.retain(|sid, member| {
                let keep = incoming.contains_key(sid)
                    || matches!(authority, Authority::Registered(nodes) if !nodes.contains(&member.node));
                if !keep {
                    changes.push(Change::Departed(*sid));
                }
                keep
            });
            let mut arrivals: Vec<Member> = Vec::new();
            for (sid, member) in incoming.drain() {
                match self.members.insert(sid, member.clone()) {
                    Some(was) => changes.extend(Change::moved(&was, &member)),
                    None => arrivals.push(member),
                }
            }
            arrivals.sort_unstable_by_key(|m| m.order);
            changes.extend(arrivals.into_iter().map(Change::Arrived));
        }
        for event in kept.into_iter().flatten() {
            changes.extend(self.apply_rostered(event));
        }
        changes
    }

    /// Forgets member `sid`, which is this instance's own now (it seats it, or adopted it): it
    /// did not leave, but an orphan is back.
    pub fn forget(&mut self, sid: &Sid) -> Option<Change> {
        let was = self.members.remove(sid)?;
        (was.node == NodeId::ORPHAN).then_some(Change::Back(*sid))
    }

    /// Forgets which changes were seen, keeping the members: after a reconnection the sequence
    /// may have started again (Redis lost its data), and every change from then on must apply.
    pub fn restart_sequence(&mut self) {
        self.seq = 0;
    }

    /// The remote members, in join order.
    pub fn members(&self) -> Vec<Member> {
        let mut members: Vec<Member> = self.members.values().cloned().collect();
        members.sort_unstable_by_key(|m| m.order);
        members
    }

    pub fn member(&self, sid: &Sid) -> Option<&Member> {
        self.members.get(sid)
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::DisplayName;

    fn member(sid: Sid, order: u64, node: u64) -> Member {
        Member {
            sid,
            node: NodeId(node),
            name: DisplayName::parse(&format!("m{order}")).unwrap(),
            order,
        }
    }

    fn sids(n: usize) -> Vec<Sid> {
        (0..n).map(|_| Sid::new()).collect()
    }

    fn joined(seq: u64, m: &Member) -> Event {
        Event::Joined {
            seq,
            member: m.clone(),
        }
    }

    fn left(seq: u64, sid: Sid) -> Event {
        Event::Left { seq, sid }
    }

    #[test]
    fn changes_apply_once_in_sequence() {
        let s = sids(2);
        let (a, b) = (member(s[0], 1, 9), member(s[1], 2, 9));
        let mut view = RoomView::default();
        assert_eq!(view.apply(joined(1, &a)), Some(Change::Arrived(a.clone())));
        assert_eq!(view.apply(joined(1, &a)), None, "seen already");
        assert_eq!(view.apply(joined(2, &b)), Some(Change::Arrived(b.clone())));
        assert_eq!(view.apply(left(3, a.sid)), Some(Change::Departed(a.sid)));
        assert_eq!(view.apply(left(4, a.sid)), None, "not there");
        assert_eq!(view.members(), vec![b]);
    }

    #[test]
    fn changes_before_the_first_roster_are_replayed_after_it() {
        let s = sids(3);
        let (a, b, c) = (member(s[0], 1, 9), member(s[1], 2, 9), member(s[2], 5, 8));
        let mut view = RoomView::awaiting_roster();
        // Seen on the channel before the join's answer: b left (seq 4, after the answer's
        // roster at 3) and c joined (5); a's join (1) is older than the roster.
        assert_eq!(view.apply(joined(1, &a)), None);
        assert_eq!(view.apply(left(4, b.sid)), None);
        assert_eq!(view.apply(joined(5, &c)), None);
        let changes = view.roster(3, vec![a.clone(), b.clone()], Authority::Full);
        assert_eq!(
            changes,
            vec![
                Change::Arrived(a.clone()),
                Change::Arrived(b.clone()),
                Change::Departed(b.sid),
                Change::Arrived(c.clone()),
            ]
        );
        assert_eq!(view.members(), vec![a, c]);
    }

    #[test]
    fn a_roster_older_than_the_view_changes_nothing() {
        let s = sids(2);
        let (a, b) = (member(s[0], 1, 9), member(s[1], 2, 9));
        let mut view = RoomView::default();
        view.roster(2, vec![a.clone()], Authority::Full);
        view.apply(joined(6, &b));
        // A join's answer read at 4, before b's join (6), arrives after it.
        assert_eq!(view.roster(4, vec![a.clone()], Authority::Full), vec![]);
        assert_eq!(view.members(), vec![a.clone(), b.clone()]);
        // Changes the newer roster has seen are ignored when they come.
        assert_eq!(
            view.roster(9, vec![b.clone()], Authority::Full),
            vec![Change::Departed(a.sid)]
        );
        assert_eq!(view.apply(left(7, a.sid)), None);
        assert_eq!(view.apply(joined(8, &a)), None);
        assert_eq!(view.members(), vec![b]);
    }

    #[test]
    fn after_redis_lost_its_data_only_registered_instances_members_can_go() {
        let s = sids(3);
        let (a, b, c) = (member(s[0], 1, 1), member(s[1], 2, 2), member(s[2], 3, 1));
        let mut view = RoomView::default();
        view.roster(10, vec![a.clone(), b.clone(), c.clone()], Authority::Full);
        view.restart_sequence();
        // Instance 1 registered again, without c (which left meanwhile); instance 2 has not yet.
        let changes = view.roster(2, vec![a.clone()], Authority::Registered(&[NodeId(1)]));
        assert_eq!(changes, vec![Change::Departed(c.sid)]);
        assert_eq!(view.members(), vec![a.clone(), b.clone()]);
        // Instance 2 registers b again: no change; a later full roster settles the rest.
        assert_eq!(view.apply(joined(3, &b)), None);
        assert_eq!(
            view.roster(4, vec![a.clone()], Authority::Full),
            vec![Change::Departed(b.sid)]
        );
    }

    #[test]
    fn members_and_arrivals_come_in_join_order() {
        let s = sids(3);
        let mut view = RoomView::default();
        let roster = vec![
            member(s[0], 30, 1),
            member(s[1], 10, 1),
            member(s[2], 20, 2),
        ];
        let orders = |changes: Vec<Change>| -> Vec<u64> {
            changes
                .into_iter()
                .map(|c| match c {
                    Change::Arrived(m) => m.order,
                    Change::Departed(_) | Change::Orphaned(_) | Change::Back(_) => 0,
                })
                .collect()
        };
        assert_eq!(
            orders(view.roster(1, roster, Authority::Full)),
            vec![10, 20, 30]
        );
        let orders: Vec<u64> = view.members().iter().map(|m| m.order).collect();
        assert_eq!(orders, vec![10, 20, 30]);
        assert_eq!(view.len(), 3);
        assert_eq!(view.member(&s[2]).map(|m| m.node), Some(NodeId(2)));
    }

    #[test]
    fn a_member_seated_again_elsewhere_is_orphaned_or_back() {
        let s = sids(2);
        let (a, b) = (member(s[0], 1, 9), member(s[1], 2, 9));
        let mut view = RoomView::default();
        view.roster(2, vec![a.clone(), b.clone()], Authority::Full);
        let orphan = Member {
            node: NodeId::ORPHAN,
            ..a.clone()
        };
        assert_eq!(
            view.apply(joined(3, &orphan)),
            Some(Change::Orphaned(a.sid))
        );
        assert_eq!(view.member(&a.sid).map(|m| m.node), Some(NodeId::ORPHAN));
        // Adopted by instance 7.
        let adopted = Member {
            node: NodeId(7),
            ..a.clone()
        };
        assert_eq!(view.apply(joined(4, &adopted)), Some(Change::Back(a.sid)));
        assert_eq!(view.member(&a.sid).map(|m| m.node), Some(NodeId(7)));
        assert_eq!(view.apply(joined(5, &adopted)), None, "seen already");
        // b, orphaned, is adopted by this instance: it leaves the view, and is back.
        let b_orphan = Member {
            node: NodeId::ORPHAN,
            ..b.clone()
        };
        view.apply(joined(6, &b_orphan));
        assert_eq!(view.forget(&b.sid), Some(Change::Back(b.sid)));
        assert_eq!(view.forget(&a.sid), None, "not an orphan");
        assert_eq!(view.members(), vec![]);
        // A roster read in one go reports the same moves.
        view.roster(7, vec![adopted.clone(), b.clone()], Authority::Full);
        let changes = view.roster(8, vec![orphan.clone(), b.clone()], Authority::Full);
        assert_eq!(changes, vec![Change::Orphaned(a.sid)]);
        let changes = view.roster(9, vec![adopted, b], Authority::Full);
        assert_eq!(changes, vec![Change::Back(a.sid)]);
    }
}
