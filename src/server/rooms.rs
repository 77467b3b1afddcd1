//! Room rules: who is in which room and what a join or leave does. Pure data, no I/O, so the
//! rules can be tested alone and later steps (capacity, presence, a shared store) change only
//! this module; `signaling` turns the outcomes into Socket.IO events.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use crate::protocol::RoomName;

/// What a join did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Joined {
    /// The member was added; `members` counts it.
    Added { members: usize },
    /// The member was already in the room; nothing changed.
    AlreadyMember { members: usize },
    /// The member is in `limit` rooms already; nothing changed.
    TooManyRooms { limit: usize },
    /// The member is being disconnected (see [`Rooms::evict`]); nothing changed.
    Closing,
}

/// What a leave did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Left {
    /// The member was removed; `remaining` are still in the room.
    Removed { remaining: usize },
    /// The member was not in the room; nothing changed.
    NotMember,
}

/// Room membership, indexed both ways so a disconnect finds its rooms without a scan.
#[derive(Debug)]
pub struct Rooms<M> {
    members: HashMap<RoomName, BTreeSet<M>>,
    rooms_of: HashMap<M, BTreeSet<RoomName>>,
    /// Members taken out of every room while their connection closes; they may not rejoin.
    evicted: HashSet<M>,
}

impl<M> Default for Rooms<M> {
    fn default() -> Self {
        Self {
            members: HashMap::new(),
            rooms_of: HashMap::new(),
            evicted: HashSet::new(),
        }
    }
}

impl<M: Ord + Hash + Clone> Rooms<M> {
    /// Adds `member` to `room`, unless that would put it in more than `max_rooms` rooms.
    pub fn join(&mut self, member: &M, room: &RoomName, max_rooms: usize) -> Joined {
        if let Some(set) = self.members.get(room).filter(|set| set.contains(member)) {
            return Joined::AlreadyMember { members: set.len() };
        }
        if self.evicted.contains(member) {
            return Joined::Closing;
        }
        if self.rooms_of.get(member).map_or(0, BTreeSet::len) >= max_rooms {
            return Joined::TooManyRooms { limit: max_rooms };
        }
        let set = self.members.entry(room.clone()).or_default();
        set.insert(member.clone());
        self.rooms_of
            .entry(member.clone())
            .or_default()
            .insert(room.clone());
        Joined::Added { members: set.len() }
    }

    pub fn leave(&mut self, member: &M, room: &RoomName) -> Left {
        let Some(set) = self.members.get_mut(room) else {
            return Left::NotMember;
        };
        if !set.remove(member) {
            return Left::NotMember;
        }
        let remaining = set.len();
        if remaining == 0 {
            self.members.remove(room);
        }
        if let Some(rooms) = self.rooms_of.get_mut(member) {
            rooms.remove(room);
            if rooms.is_empty() {
                self.rooms_of.remove(member);
            }
        }
        Left::Removed { remaining }
    }

    /// Forgets `member` entirely (its connection ended), returning each room it was still in
    /// with how many remain there.
    pub fn remove(&mut self, member: &M) -> Vec<(RoomName, usize)> {
        self.evicted.remove(member);
        self.leave_all(member)
    }

    /// Takes `member` out of every room and keeps it out until [`Rooms::remove`], so nothing more
    /// is delivered to a connection being closed. `None` if it was already evicted.
    pub fn evict(&mut self, member: &M) -> Option<Vec<(RoomName, usize)>> {
        if !self.evicted.insert(member.clone()) {
            return None;
        }
        Some(self.leave_all(member))
    }

    /// Removes `member` from every room, returning each room with how many remain in it.
    fn leave_all(&mut self, member: &M) -> Vec<(RoomName, usize)> {
        let rooms = self.rooms_of.remove(member).unwrap_or_default();
        rooms
            .into_iter()
            .map(|room| {
                let set = self.members.get_mut(&room).expect("indexes agree");
                set.remove(member);
                let remaining = set.len();
                if remaining == 0 {
                    self.members.remove(&room);
                }
                (room, remaining)
            })
            .collect()
    }

    pub fn is_member(&self, member: &M, room: &RoomName) -> bool {
        self.members
            .get(room)
            .is_some_and(|set| set.contains(member))
    }

    /// Everyone in `room`, in a stable order.
    pub fn members(&self, room: &RoomName) -> Vec<M> {
        self.members
            .get(room)
            .map_or_else(Vec::new, |set| set.iter().cloned().collect())
    }

    pub fn member_count(&self, room: &RoomName) -> usize {
        self.members.get(room).map_or(0, BTreeSet::len)
    }

    /// Rooms with at least one member.
    pub fn room_count(&self) -> usize {
        self.members.len()
    }
}

/// The server's shared room table: a cheap-to-clone handle.
///
/// A std `Mutex` because every operation is a few map updates and is never held across an
/// `.await`; an async lock would only add overhead.
#[derive(Debug, Clone)]
pub struct RoomRegistry<M>(Arc<Mutex<Rooms<M>>>);

impl<M> Default for RoomRegistry<M> {
    fn default() -> Self {
        Self(Arc::default())
    }
}

impl<M: Ord + Hash + Clone> RoomRegistry<M> {
    /// Runs `f` with the table locked. A panic elsewhere cannot leave the maps half-updated (each
    /// operation finishes before it returns), so a poisoned lock is safe to keep using.
    pub fn with<R>(&self, f: impl FnOnce(&mut Rooms<M>) -> R) -> R {
        let mut rooms = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut rooms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(name: &str) -> RoomName {
        RoomName::parse(name).unwrap()
    }

    #[test]
    fn join_counts_members_and_is_idempotent() {
        let mut rooms = Rooms::default();
        assert_eq!(rooms.join(&1, &room("a"), 8), Joined::Added { members: 1 });
        assert_eq!(rooms.join(&2, &room("a"), 8), Joined::Added { members: 2 });
        assert_eq!(
            rooms.join(&2, &room("a"), 8),
            Joined::AlreadyMember { members: 2 }
        );
        assert!(rooms.is_member(&1, &room("a")));
        assert!(!rooms.is_member(&1, &room("b")));
    }

    #[test]
    fn a_member_can_be_in_at_most_max_rooms() {
        let mut rooms = Rooms::default();
        assert_eq!(rooms.join(&1, &room("a"), 2), Joined::Added { members: 1 });
        assert_eq!(rooms.join(&1, &room("b"), 2), Joined::Added { members: 1 });
        assert_eq!(
            rooms.join(&1, &room("c"), 2),
            Joined::TooManyRooms { limit: 2 }
        );
        assert_eq!(
            rooms.join(&1, &room("a"), 2),
            Joined::AlreadyMember { members: 1 }
        );
        assert_eq!(rooms.member_count(&room("c")), 0);
        rooms.leave(&1, &room("a"));
        assert_eq!(rooms.join(&1, &room("c"), 2), Joined::Added { members: 1 });
    }

    #[test]
    fn leave_of_a_room_not_joined_changes_nothing() {
        let mut rooms = Rooms::default();
        assert_eq!(rooms.leave(&1, &room("a")), Left::NotMember);
        rooms.join(&1, &room("a"), 8);
        assert_eq!(rooms.leave(&2, &room("a")), Left::NotMember);
        assert_eq!(rooms.member_count(&room("a")), 1);
    }

    #[test]
    fn last_leave_drops_the_room() {
        let mut rooms = Rooms::default();
        rooms.join(&1, &room("a"), 8);
        rooms.join(&2, &room("a"), 8);
        assert_eq!(rooms.leave(&1, &room("a")), Left::Removed { remaining: 1 });
        assert_eq!(rooms.leave(&1, &room("a")), Left::NotMember);
        assert_eq!(rooms.leave(&2, &room("a")), Left::Removed { remaining: 0 });
        assert_eq!(rooms.room_count(), 0);
    }

    #[test]
    fn remove_reports_every_room_and_leaves_no_trace() {
        let mut rooms = Rooms::default();
        rooms.join(&1, &room("a"), 8);
        rooms.join(&1, &room("b"), 8);
        rooms.join(&2, &room("b"), 8);
        assert_eq!(rooms.remove(&1), vec![(room("a"), 0), (room("b"), 1)]);
        assert_eq!(rooms.remove(&1), vec![]);
        assert_eq!(rooms.room_count(), 1);
        assert_eq!(rooms.members(&room("b")), vec![2]);
        assert!(!rooms.rooms_of.contains_key(&1));
    }

    #[test]
    fn an_evicted_member_is_out_of_every_room_until_removed() {
        let mut rooms = Rooms::default();
        rooms.join(&1, &room("a"), 8);
        rooms.join(&2, &room("a"), 8);
        assert_eq!(rooms.evict(&1), Some(vec![(room("a"), 1)]));
        assert_eq!(rooms.evict(&1), None, "evicted once only");
        assert_eq!(rooms.members(&room("a")), vec![2]);
        assert_eq!(rooms.join(&1, &room("b"), 8), Joined::Closing);
        assert_eq!(rooms.remove(&1), vec![]);
        assert!(rooms.evicted.is_empty());
        assert_eq!(rooms.join(&1, &room("b"), 8), Joined::Added { members: 1 });
    }
}
