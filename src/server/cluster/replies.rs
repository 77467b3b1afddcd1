//! Reading the scripts' answers (their shapes are written at the top of each script).

use redis::Value;
use socketioxide::socket::Sid;

use super::wire::Member;
use super::NodeId;
use crate::protocol::{DisplayName, RoomName};

pub(super) enum Join {
    Seated {
        seq: u64,
        capacity: usize,
        roster: Vec<Member>,
    },
    Full {
        capacity: usize,
    },
    Locked,
    Banned,
}

fn items(value: &Value) -> Option<&[Value]> {
    match value {
        Value::Array(items) => Some(items),
        _ => None,
    }
}

fn text(value: &Value) -> Option<&str> {
    match value {
        Value::BulkString(bytes) => std::str::from_utf8(bytes).ok(),
        Value::SimpleString(s) => Some(s),
        _ => None,
    }
}

fn number(value: &Value) -> Option<u64> {
    match value {
        Value::Int(n) => u64::try_from(*n).ok(),
        other => text(other)?.parse().ok(),
    }
}

/// Four fields per member, as `lib.lua`'s `roster` writes them.
fn roster(fields: &[Value]) -> Option<Vec<Member>> {
    fields
        .chunks(4)
        .map(|m| match m {
            [sid, order, node, name] => Some(Member {
                sid: text(sid)?.parse().ok()?,
                order: number(order)?,
                node: text(node)?.parse::<NodeId>().ok()?,
                name: DisplayName::parse(text(name)?).ok()?,
            }),
            _ => None,
        })
        .collect()
}

pub(super) fn join(reply: &Value) -> Option<Join> {
    let items = items(reply)?;
    match (text(items.first()?)?, items.get(1..)?) {
        ("seated", [seq, capacity, rest @ ..]) => Some(Join::Seated {
            seq: number(seq)?,
            capacity: usize::try_from(number(capacity)?).ok()?,
            roster: roster(rest)?,
        }),
        ("full", [capacity]) => Some(Join::Full {
            capacity: usize::try_from(number(capacity)?).ok()?,
        }),
        ("locked", []) => Some(Join::Locked),
        ("banned", []) => Some(Join::Banned),
        _ => None,
    }
}

/// What a resume's adoption of an orphan found (`adopt.lua`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Adoption {
    /// Adopted: its seats, each room with its name and join time (ms) there.
    Adopted(Vec<(RoomName, DisplayName, u64)>),
    /// The instance that issued the token is still registered: it is not (yet) taken for dead.
    Alive,
    /// No orphan matches the token.
    Unknown,
}

pub(super) fn adoption(reply: &Value) -> Option<Adoption> {
    let items = items(reply)?;
    match (text(items.first()?)?, items.get(1..)?) {
        ("adopted", rest) => rest
            .chunks(3)
            .map(|seat| match seat {
                [room, name, since] => Some((
                    RoomName::parse(text(room)?).ok()?,
                    DisplayName::parse(text(name)?).ok()?,
                    number(since)?,
                )),
                _ => None,
            })
            .collect::<Option<_>>()
            .map(Adoption::Adopted),
        ("alive", []) => Some(Adoption::Alive),
        ("unknown", []) => Some(Adoption::Unknown),
        _ => None,
    }
}

/// A room as the server API lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomSummary {
    pub room: String,
    pub members: usize,
    pub locked: bool,
}

/// A member as the server API shows it, on whichever instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub member: Member,
    pub sub: Option<String>,
    /// When it joined, ms since the epoch.
    pub since: u64,
}

/// A room's members in join order, and its lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomDetail {
    pub locked: bool,
    pub members: Vec<Profile>,
}

/// `rooms.lua`'s answer: three fields per room.
pub(super) fn rooms(reply: &Value) -> Option<Vec<RoomSummary>> {
    items(reply)?
        .chunks(3)
        .map(|r| match r {
            [room, members, locked] => Some(RoomSummary {
                room: text(room)?.to_owned(),
                members: usize::try_from(number(members)?).ok()?,
                locked: number(locked)? == 1,
            }),
            _ => None,
        })
        .collect()
}

/// `room.lua`'s answer: the lock, then six fields per member; `Some(None)` for no room.
pub(super) fn room(reply: &Value) -> Option<Option<RoomDetail>> {
    let Some((locked, fields)) = items(reply)?.split_first() else {
        return Some(None);
    };
    let members = fields
        .chunks(6)
        .map(|m| match m {
            [sid, order, node, name, sub, since] => Some(Profile {
                member: Member {
                    sid: text(sid)?.parse().ok()?,
                    order: number(order)?,
                    node: text(node)?.parse::<NodeId>().ok()?,
                    name: DisplayName::parse(text(name)?).ok()?,
                },
                sub: Some(text(sub)?.to_owned()).filter(|s| !s.is_empty()),
                since: number(since).unwrap_or(0),
            }),
            _ => None,
        })
        .collect::<Option<Vec<_>>>()?;
    Some(Some(RoomDetail {
        locked: number(locked)? == 1,
        members,
    }))
}

/// `leave.lua`'s answer: the rooms left, each with its remaining members; returns those left
/// empty.
pub(super) fn left(reply: &Value) -> Option<Vec<String>> {
    items(reply)?
        .chunks(2)
        .filter_map(|pair| match pair {
            [room, remaining] => Some((text(room)?, number(remaining)?)),
            _ => None,
        })
        .filter(|(_, remaining)| *remaining == 0)
        .map(|(room, _)| Some(room.to_owned()))
        .collect()
}

/// `sync.lua`'s answer.
pub(super) struct Synced {
    pub epoch: String,
    pub seated: u64,
    pub removed: u64,
    /// Members the instance registered that another instance holds now.
    pub taken: Vec<Sid>,
}

pub(super) fn sync(reply: &Value) -> Option<Synced> {
    match items(reply)? {
        [epoch, seated, removed, taken] => Some(Synced {
            epoch: text(epoch)?.to_owned(),
            seated: number(seated)?,
            removed: number(removed)?,
            taken: items(taken)?
                .iter()
                .map(|sid| text(sid)?.parse().ok())
                .collect::<Option<_>>()?,
        }),
        _ => None,
    }
}

pub(super) fn heartbeat(reply: &Value) -> Option<(bool, u64)> {
    match items(reply)? {
        [renewed, freed] => Some((number(renewed)? == 1, number(freed)?)),
        _ => None,
    }
}

/// The sequence, the registered instances, and `rooms` rosters in the order asked.
pub(super) fn snapshot(
    reply: &Value,
    rooms: usize,
) -> Option<(u64, Vec<NodeId>, Vec<Vec<Member>>)> {
    let items = items(reply)?;
    let seq = number(items.first()?)?;
    let nodes = usize::try_from(number(items.get(1)?)?).ok()?;
    let live = items
        .get(2..2 + nodes)?
        .iter()
        .map(|n| text(n)?.parse().ok())
        .collect::<Option<Vec<NodeId>>>()?;
    let mut rest = items.get(2 + nodes..)?;
    let mut rosters = Vec::with_capacity(rooms);
    for _ in 0..rooms {
        let count = usize::try_from(number(rest.first()?)?).ok()?;
        let fields = rest.get(1..1 + 4 * count)?;
        rosters.push(roster(fields)?);
        rest = &rest[1 + 4 * count..];
    }
    Some((seq, live, rosters))
}
