//! Room rules: who is in which room, under which name, how many seats a room has, and what a
//! join or leave does. Pure data, no I/O, so the rules can be tested alone; `signaling` turns
//! the outcomes into Socket.IO events.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use crate::protocol::{DisplayName, RoomName};

/// What a join asks for.
#[derive(Debug, Clone)]
pub struct Seat {
    pub name: DisplayName,
    /// Seats for the room, if this join creates it; ignored for a room that exists.
    pub capacity: Option<usize>,
    /// When it joins, in milliseconds since the epoch, and its token's subject: for the server
    /// API and webhooks.
    pub since: u64,
    pub sub: Option<Arc<str>>,
}

/// A member as a room holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Its join order: smaller joined earlier.
    pub order: u64,
    pub name: DisplayName,
    /// When it joined, in milliseconds since the epoch.
    pub since: u64,
    /// Its token's subject.
    pub sub: Option<Arc<str>>,
}

/// The server's limits on joins.
#[derive(Debug, Clone, Copy)]
pub struct JoinLimits {
    /// Rooms one member may be in.
    pub max_rooms: usize,
    /// Seats in any room (`None`: unlimited); a room's first joiner may ask for fewer.
    pub capacity: Option<usize>,
}

impl JoinLimits {
    /// The seats of a room created by a join that asks for `asked`: the fewer of the server's
    /// and the joiner's.
    pub fn capacity_for(&self, asked: Option<usize>) -> Option<usize> {
        match (self.capacity, asked) {
            (Some(server), Some(asked)) => Some(server.min(asked)),
            (server, asked) => server.or(asked),
        }
    }
}

/// What a join did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Joined<M> {
    /// The member was added; `members` counts it, `others` are who was there already.
    Added {
        members: usize,
        others: Vec<(M, DisplayName)>,
    },
    /// The member was already in the room; nothing changed. `others` as for `Added`.
    AlreadyMember {
        members: usize,
        others: Vec<(M, DisplayName)>,
    },
    /// The member is in `limit` rooms already; nothing changed.
    TooManyRooms { limit: usize },
    /// Every one of the room's `capacity` seats is taken; nothing changed.
    Full { capacity: usize },
    /// The member is being disconnected (see [`Rooms::evict`]); nothing changed.
    Closing,
    /// A moderator locked the room (see [`Rooms::set_locked`]); nothing changed.
    Locked,
}

/// What a leave did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Left {
    /// The member was removed; `remaining` are still in the room.
    Removed { remaining: usize },
    /// The member was not in the room; nothing changed.
    NotMember,
}

#[derive(Debug)]
struct Room<M> {
    capacity: Option<usize>,
    /// No new joins; forgotten with the room when it empties.
    locked: bool,
    members: BTreeMap<M, Member>,
    joins: u64,
}

impl<M: Ord + Clone> Room<M> {
    /// Everyone in the room but `member`, with their names, in the order they joined.
    fn others(&self, member: &M) -> Vec<(M, DisplayName)> {
        self.others_in_order(member)
            .into_iter()
            .map(|(_, m, name)| (m, name))
            .collect()
    }

    /// As [`Room::others`], each with its join order.
    fn others_in_order(&self, member: &M) -> Vec<(u64, M, DisplayName)> {
        let mut others: Vec<_> = self
            .members
            .iter()
            .filter(|(m, _)| *m != member)
            .map(|(m, seated)| (seated.order, m.clone(), seated.name.clone()))
            .collect();
        others.sort_unstable_by_key(|(order, ..)| *order);
        others
    }
}

/// Room membership, indexed both ways so a disconnect finds its rooms without a scan.
#[derive(Debug)]
pub struct Rooms<M> {
    rooms: HashMap<RoomName, Room<M>>,
    /// A member's rooms, in the order it joined them. A `Vec`, not a set: a client is in a few
    /// rooms at most (`JoinLimits::max_rooms`), and a B-tree set allocates a whole 11-slot node
    /// for its first room, about 250 bytes more on every connection.
    rooms_of: HashMap<M, Vec<RoomName>>,
    /// Members taken out of every room while their connection closes; they may not rejoin.
    evicted: HashSet<M>,
}

impl<M> Default for Rooms<M> {
    fn default() -> Self {
        Self {
            rooms: HashMap::new(),
            rooms_of: HashMap::new(),
            evicted: HashSet::new(),
        }
    }
}

impl<M: Ord + Hash + Clone> Rooms<M> {
    /// Adds `member` to `room` if it has a free seat and `member` is not in too many rooms.
    pub fn join(
        &mut self,
        member: &M,
        room: &RoomName,
        seat: Seat,
        limits: JoinLimits,
    ) -> Joined<M> {
        if let Some(refused) = self.admission(member, room, limits.max_rooms) {
            return refused;
        }
        let entry = self.rooms.entry(room.clone()).or_insert_with(|| Room {
            capacity: limits.capacity_for(seat.capacity),
            locked: false,
            members: BTreeMap::new(),
            joins: 0,
        });
        if entry.locked {
            return Joined::Locked;
        }
        // Capacities are at least 1, so a room just created is never full.
        if let Some(capacity) = entry.capacity.filter(|&c| entry.members.len() >= c) {
            return Joined::Full { capacity };
        }
        let others = entry.others(member);
        let order = entry.joins + 1;
        let capacity = entry.capacity;
        let seated = Member {
            order,
            name: seat.name,
            since: seat.since,
            sub: seat.sub,
        };
        let members = self.seat(member, room, seated, capacity);
        Joined::Added { members, others }
    }

    /// What stops `member` joining `room` whatever its seats, if anything: it is in already
    /// ([`Joined::AlreadyMember`]), it is being disconnected, or it is in `max_rooms` rooms.
    pub fn admission(&self, member: &M, room: &RoomName, max_rooms: usize) -> Option<Joined<M>> {
        if let Some(existing) = self.rooms.get(room) {
            if existing.members.contains_key(member) {
                return Some(Joined::AlreadyMember {
                    members: existing.members.len(),
                    others: existing.others(member),
                });
            }
        }
        if self.evicted.contains(member) {
            return Some(Joined::Closing);
        }
        if self.rooms_of.get(member).map_or(0, Vec::len) >= max_rooms {
            return Some(Joined::TooManyRooms { limit: max_rooms });
        }
        None
    }

    /// Adds `member` to `room` with a join order (in `seated`) and the room's `capacity` decided
    /// already (by [`Rooms::join`], or by the cluster, which keeps the seats of several
    /// instances); returns how many members the room has here. `member` must have passed
    /// [`Rooms::admission`].
    pub fn seat(
        &mut self,
        member: &M,
        room: &RoomName,
        seated: Member,
        capacity: Option<usize>,
    ) -> usize {
        let entry = self.rooms.entry(room.clone()).or_insert_with(|| Room {
            capacity,
            locked: false,
            members: BTreeMap::new(),
            joins: 0,
        });
        entry.capacity = capacity;
        entry.joins = entry.joins.max(seated.order);
        entry.members.insert(member.clone(), seated);
        let members = entry.members.len();
        self.rooms_of
            .entry(member.clone())
            .or_default()
            .push(room.clone());
        members
    }

    pub fn leave(&mut self, member: &M, room: &RoomName) -> Left {
        let Some(entry) = self.rooms.get_mut(room) else {
            return Left::NotMember;
        };
        if entry.members.remove(member).is_none() {
            return Left::NotMember;
        }
        let remaining = entry.members.len();
        if remaining == 0 {
            self.rooms.remove(room);
        }
        if let Some(rooms) = self.rooms_of.get_mut(member) {
            rooms.retain(|r| r != room);
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
                let entry = self.rooms.get_mut(&room).expect("indexes agree");
                entry.members.remove(member);
                let remaining = entry.members.len();
                if remaining == 0 {
                    self.rooms.remove(&room);
                }
                (room, remaining)
            })
            .collect()
    }

    /// Locks `room` to new joins, or unlocks it; false if it has no member (nothing to lock).
    pub fn set_locked(&mut self, room: &RoomName, locked: bool) -> bool {
        match self.rooms.get_mut(room) {
            Some(entry) => {
                entry.locked = locked;
                true
            }
            None => false,
        }
    }

    pub fn is_member(&self, member: &M, room: &RoomName) -> bool {
        self.rooms
            .get(room)
            .is_some_and(|entry| entry.members.contains_key(member))
    }

    /// Everyone in `room`, in a stable order; nobody for a room that does not exist.
    pub fn members(&self, room: &str) -> impl Iterator<Item = &M> {
        self.rooms
            .get(room)
            .into_iter()
            .flat_map(|entry| entry.members.keys())
    }

    pub fn member_count(&self, room: &RoomName) -> usize {
        self.rooms.get(room).map_or(0, |entry| entry.members.len())
    }

    /// Everyone in `room` but `member`, each with its join order and name, in join order.
    pub fn others_in_order(&self, member: &M, room: &RoomName) -> Vec<(u64, M, DisplayName)> {
        self.rooms
            .get(room)
            .map(|entry| entry.others_in_order(member))
            .unwrap_or_default()
    }

    /// Every seat: its room, member, what the room holds of it, and the room's capacity.
    pub fn seats(&self) -> impl Iterator<Item = (&RoomName, &M, &Member, Option<usize>)> + '_ {
        self.rooms.iter().flat_map(|(room, entry)| {
            entry
                .members
                .iter()
                .map(move |(m, seated)| (room, m, seated, entry.capacity))
        })
    }

    /// Every room with its number of members and whether it is locked.
    pub fn summaries(&self) -> impl Iterator<Item = (&RoomName, usize, bool)> + '_ {
        self.rooms
            .iter()
            .map(|(room, entry)| (room, entry.members.len(), entry.locked))
    }

    /// `room`'s members in join order, with what the room holds of each; `None` if it has none.
    pub fn members_of(&self, room: &str) -> Option<Vec<(M, Member)>> {
        let entry = self.rooms.get(room)?;
        let mut members: Vec<(M, Member)> = entry
            .members
            .iter()
            .map(|(m, seated)| (m.clone(), seated.clone()))
            .collect();
        members.sort_unstable_by_key(|(_, seated)| seated.order);
        Some(members)
    }

    /// What `room` holds of `member`, if it is in it.
    pub fn member(&self, member: &M, room: &RoomName) -> Option<&Member> {
        self.rooms.get(room)?.members.get(member)
    }

    /// The rooms `member` is in.
    pub fn rooms_of(&self, member: &M) -> Vec<RoomName> {
        self.rooms_of.get(member).cloned().unwrap_or_default()
    }

    /// What each of `member`'s rooms holds of it.
    pub fn memberships(&self, member: &M) -> Vec<(RoomName, Member)> {
        let rooms = self.rooms_of.get(member).map_or(&[][..], Vec::as_slice);
        rooms
            .iter()
            .filter_map(|room| Some((room.clone(), self.member(member, room)?.clone())))
            .collect()
    }

    pub fn is_locked(&self, room: &str) -> bool {
        self.rooms.get(room).is_some_and(|entry| entry.locked)
    }

    /// Rooms with at least one member.
    pub fn room_count(&self) -> usize {
        self.rooms.len()
    }
}

/// The server's shared room table: a cheap-to-clone handle.
///
/// A std `Mutex` because every operation is a few map updates and is never held across an
/// `.await`; an async lock would only add overhead. One lock for the whole table is also what
/// makes a room's capacity exact when many clients join it at once.
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

    fn seat(name: &str) -> Seat {
        Seat {
            name: DisplayName::parse(name).unwrap(),
            capacity: None,
            since: 0,
            sub: None,
        }
    }

    const OPEN: JoinLimits = JoinLimits {
        max_rooms: 8,
        capacity: None,
    };

    fn added(members: usize) -> impl Fn(&Joined<i32>) -> bool {
        move |j| matches!(j, Joined::Added { members: m, .. } if *m == members)
    }

    #[test]
    fn join_counts_members_lists_the_others_and_is_idempotent() {
        let mut rooms = Rooms::default();
        assert!(added(1)(&rooms.join(&1, &room("a"), seat("one"), OPEN)));
        let second = rooms.join(&2, &room("a"), seat("two"), OPEN);
        assert_eq!(
            second,
            Joined::Added {
                members: 2,
                others: vec![(1, DisplayName::parse("one").unwrap())]
            }
        );
        assert_eq!(
            rooms.join(&2, &room("a"), seat("two"), OPEN),
            Joined::AlreadyMember {
                members: 2,
                others: vec![(1, DisplayName::parse("one").unwrap())]
            }
        );
        assert!(rooms.is_member(&1, &room("a")));
        assert!(!rooms.is_member(&1, &room("b")));
    }

    #[test]
    fn others_are_listed_in_the_order_they_joined() {
        let mut rooms = Rooms::default();
        for member in [5, 1, 3] {
            rooms.join(&member, &room("a"), seat(&format!("m{member}")), OPEN);
        }
        let Joined::Added { others, .. } = rooms.join(&2, &room("a"), seat("two"), OPEN) else {
            panic!("not added");
        };
        let order: Vec<i32> = others.into_iter().map(|(m, _)| m).collect();
        assert_eq!(order, vec![5, 1, 3]);
    }

    #[test]
    fn a_member_can_be_in_at_most_max_rooms() {
        let mut rooms = Rooms::default();
        let two = JoinLimits {
            max_rooms: 2,
            capacity: None,
        };
        assert!(added(1)(&rooms.join(&1, &room("a"), seat("x"), two)));
        assert!(added(1)(&rooms.join(&1, &room("b"), seat("x"), two)));
        assert_eq!(
            rooms.join(&1, &room("c"), seat("x"), two),
            Joined::TooManyRooms { limit: 2 }
        );
        assert!(matches!(
            rooms.join(&1, &room("a"), seat("x"), two),
            Joined::AlreadyMember { members: 1, .. }
        ));
        assert_eq!(rooms.member_count(&room("c")), 0);
        rooms.leave(&1, &room("a"));
        assert!(added(1)(&rooms.join(&1, &room("c"), seat("x"), two)));
    }

    #[test]
    fn capacity_is_the_smaller_of_the_servers_and_the_first_joiners() {
        let mut rooms = Rooms::default();
        let three = JoinLimits {
            max_rooms: 8,
            capacity: Some(3),
        };
        let asks = |n| Seat {
            capacity: Some(n),
            ..seat("x")
        };
        // The first joiner asks for 2 seats; later asks do not change it.
        assert!(added(1)(&rooms.join(&1, &room("call"), asks(2), three)));
        assert!(added(2)(&rooms.join(&2, &room("call"), asks(9), three)));
        assert_eq!(
            rooms.join(&3, &room("call"), seat("x"), three),
            Joined::Full { capacity: 2 }
        );
        // Asking for more than the server allows gets the server's limit.
        for member in 10..13 {
            assert!(added((member - 9) as usize)(&rooms.join(
                &member,
                &room("big"),
                asks(50),
                three
            )));
        }
        assert_eq!(
            rooms.join(&13, &room("big"), seat("x"), three),
            Joined::Full { capacity: 3 }
        );
        // A seat frees when someone leaves; an emptied room forgets its capacity.
        rooms.leave(&1, &room("call"));
        assert!(added(2)(&rooms.join(&3, &room("call"), seat("x"), three)));
        rooms.leave(&2, &room("call"));
        rooms.leave(&3, &room("call"));
        assert_eq!(rooms.room_count(), 1);
        assert!(added(1)(&rooms.join(&1, &room("call"), seat("x"), OPEN)));
        for member in 2..20 {
            assert!(added(member as usize)(&rooms.join(
                &member,
                &room("call"),
                seat("x"),
                OPEN
            )));
        }
    }

    #[test]
    fn seats_decided_elsewhere_keep_their_order_and_capacity() {
        // As the cluster seats members: join orders and capacity come from Redis.
        let mut rooms = Rooms::default();
        let name = |n: &str| DisplayName::parse(n).unwrap();
        let seated = |n: &str, order| Member {
            order,
            name: name(n),
            since: order * 10,
            sub: None,
        };
        assert_eq!(rooms.admission(&1, &room("a"), 8), None);
        assert_eq!(rooms.seat(&1, &room("a"), seated("one", 40), Some(3)), 1);
        assert_eq!(rooms.seat(&2, &room("a"), seated("two", 17), Some(3)), 2);
        assert!(matches!(
            rooms.admission(&1, &room("a"), 8),
            Some(Joined::AlreadyMember { members: 2, .. })
        ));
        assert_eq!(
            rooms.others_in_order(&3, &room("a")),
            vec![(17, 2, name("two")), (40, 1, name("one"))]
        );
        let mut seats: Vec<_> = rooms
            .seats()
            .map(|(r, m, seated, c)| (r.clone(), *m, seated.order, c))
            .collect();
        seats.sort();
        assert_eq!(
            seats,
            vec![(room("a"), 1, 40, Some(3)), (room("a"), 2, 17, Some(3))]
        );
        // A local join after them numbers after the largest order seen.
        let Joined::Added { others, .. } = rooms.join(&3, &room("a"), seat("three"), OPEN) else {
            panic!("not added");
        };
        assert_eq!(others.len(), 2);
        assert_eq!(rooms.others_in_order(&0, &room("a"))[2].0, 41);
        let listed = rooms.members_of("a").unwrap();
        let orders: Vec<(i32, u64, u64)> =
            listed.iter().map(|(m, s)| (*m, s.order, s.since)).collect();
        assert_eq!(orders, vec![(2, 17, 170), (1, 40, 400), (3, 41, 0)]);
        assert_eq!(
            rooms.summaries().collect::<Vec<_>>(),
            vec![(&room("a"), 3, false)]
        );
        assert_eq!(rooms.members_of("b"), None);
        assert_eq!(
            rooms.admission(&9, &room("b"), 0),
            Some(Joined::TooManyRooms { limit: 0 })
        );
    }

    #[test]
    fn capacity_for_takes_the_fewer_seats() {
        let limits = |capacity| JoinLimits {
            max_rooms: 8,
            capacity,
        };
        assert_eq!(limits(None).capacity_for(None), None);
        assert_eq!(limits(None).capacity_for(Some(2)), Some(2));
        assert_eq!(limits(Some(5)).capacity_for(None), Some(5));
        assert_eq!(limits(Some(5)).capacity_for(Some(9)), Some(5));
        assert_eq!(limits(Some(5)).capacity_for(Some(2)), Some(2));
    }

    #[test]
    fn leave_of_a_room_not_joined_changes_nothing() {
        let mut rooms = Rooms::default();
        assert_eq!(rooms.leave(&1, &room("a")), Left::NotMember);
        rooms.join(&1, &room("a"), seat("x"), OPEN);
        assert_eq!(rooms.leave(&2, &room("a")), Left::NotMember);
        assert_eq!(rooms.member_count(&room("a")), 1);
    }

    #[test]
    fn a_locked_room_takes_no_new_member_until_unlocked_or_emptied() {
        let mut rooms = Rooms::default();
        assert!(!rooms.set_locked(&room("a"), true), "no room to lock");
        rooms.join(&1, &room("a"), seat("x"), OPEN);
        assert!(rooms.set_locked(&room("a"), true));
        assert_eq!(rooms.join(&2, &room("a"), seat("y"), OPEN), Joined::Locked);
        assert!(matches!(
            rooms.join(&1, &room("a"), seat("x"), OPEN),
            Joined::AlreadyMember { .. }
        ));
        rooms.set_locked(&room("a"), false);
        assert!(added(2)(&rooms.join(&2, &room("a"), seat("y"), OPEN)));
        rooms.set_locked(&room("a"), true);
        rooms.leave(&1, &room("a"));
        rooms.leave(&2, &room("a"));
        assert!(
            added(1)(&rooms.join(&3, &room("a"), seat("z"), OPEN)),
            "emptied: unlocked"
        );
    }

    #[test]
    fn last_leave_drops_the_room() {
        let mut rooms = Rooms::default();
        rooms.join(&1, &room("a"), seat("x"), OPEN);
        rooms.join(&2, &room("a"), seat("x"), OPEN);
        assert_eq!(rooms.leave(&1, &room("a")), Left::Removed { remaining: 1 });
        assert_eq!(rooms.leave(&1, &room("a")), Left::NotMember);
        assert_eq!(rooms.leave(&2, &room("a")), Left::Removed { remaining: 0 });
        assert_eq!(rooms.room_count(), 0);
    }

    #[test]
    fn remove_reports_every_room_and_leaves_no_trace() {
        let mut rooms = Rooms::default();
        rooms.join(&1, &room("a"), seat("x"), OPEN);
        rooms.join(&1, &room("b"), seat("x"), OPEN);
        rooms.join(&2, &room("b"), seat("x"), OPEN);
        assert_eq!(rooms.remove(&1), vec![(room("a"), 0), (room("b"), 1)]);
        assert_eq!(rooms.remove(&1), vec![]);
        assert_eq!(rooms.room_count(), 1);
        assert_eq!(rooms.members("b").collect::<Vec<_>>(), [&2]);
        assert!(!rooms.rooms_of.contains_key(&1));
    }

    #[test]
    fn an_evicted_member_is_out_of_every_room_until_removed() {
        let mut rooms = Rooms::default();
        rooms.join(&1, &room("a"), seat("x"), OPEN);
        rooms.join(&2, &room("a"), seat("x"), OPEN);
        assert_eq!(rooms.evict(&1), Some(vec![(room("a"), 1)]));
        assert_eq!(rooms.evict(&1), None, "evicted once only");
        assert_eq!(rooms.members("a").collect::<Vec<_>>(), [&2]);
        assert_eq!(rooms.join(&1, &room("b"), seat("x"), OPEN), Joined::Closing);
        assert_eq!(rooms.remove(&1), vec![]);
        assert!(rooms.evicted.is_empty());
        assert!(added(1)(&rooms.join(&1, &room("b"), seat("x"), OPEN)));
    }
}
