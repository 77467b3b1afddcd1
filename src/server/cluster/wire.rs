//! What travels on the cluster's channels: one line of tab-separated fields per message, the
//! first naming its kind. Room and display names, socket ids and node ids have no control
//! characters, so a tab never occurs inside a field; a Socket.IO event, JSON without raw control
//! characters too, is always the last field and is passed on byte for byte. One Redis message
//! may hold several such lines, separated by `\n` (no field holds one either), handled in order:
//! see [`super::coalesce`] and [`lines`].
//!
//! On a room's channel (`room:ROOM`):
//!
//! | kind | fields | sent by | meaning |
//! |---|---|---|---|
//! | `J` | seq, node, sid, order, name | the Lua scripts | `sid`, connected to `node`, took a seat (or was registered again after Redis lost its data) |
//! | `L` | seq, sid, reason | the Lua scripts | `sid` left the room |
//! | `E` | node, event | [`super::Cluster::publish`] | a room event for every member; `node` already delivered it to its own |
//!
//! On an instance's channel (`node:NODE`):
//!
//! | kind | fields | meaning |
//! |---|---|---|
//! | `S` | reply node, room, to, from, event | a `signal` for member `to` of `room`; if it is not there, `U` goes back to the reply node |
//! | `K` | reply node, room, to, from, code | `from` (a moderator, or the server API) removes member `to` of `room` for `code` (`kicked`, `room_closed`); if it is not there, `U` goes back |
//! | `U` | from, room, event | the `signal` or `kick` `from` sent in `room` found no peer: `from` is told `unknown_peer` |

use std::ops::Range;

use socketioxide::socket::Sid;

use super::NodeId;
use crate::protocol::{DisplayName, RemovalCode, RoomName};

/// Why a member left a room, as the scripts record it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// It sent `leave`.
    Left,
    /// Its connection ended.
    Disconnected,
    /// Its instance cut it off (a slow receiver, or over the event rate).
    Evicted,
    /// Its instance stopped renewing its heartbeat and was taken for dead.
    Timeout,
    /// Its instance shut down.
    Shutdown,
    /// Redis held it, but its instance no longer did (a join whose answer was lost).
    Gone,
    /// A moderator (or the server API) removed it.
    Kicked,
    /// The server API closed its room.
    Closed,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Left => "left",
            Self::Disconnected => "disconnected",
            Self::Evicted => "evicted",
            Self::Timeout => "timeout",
            Self::Shutdown => "shutdown",
            Self::Gone => "gone",
            Self::Kicked => "kicked",
            Self::Closed => "closed",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [
            Self::Left,
            Self::Disconnected,
            Self::Evicted,
            Self::Timeout,
            Self::Shutdown,
            Self::Gone,
            Self::Kicked,
            Self::Closed,
        ]
        .into_iter()
        .find(|r| r.as_str() == text)
    }
}

/// A member connected to another instance, as a room's channel or a roster names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub sid: Sid,
    pub node: NodeId,
    pub name: DisplayName,
    /// Join order: smaller joined earlier, across the whole cluster.
    pub order: u64,
}

/// A message on a room's channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoomMessage {
    Joined {
        seq: u64,
        member: Member,
    },
    Left {
        seq: u64,
        sid: Sid,
        reason: Reason,
    },
    /// `event`: the byte range of the Socket.IO event in the message.
    Event {
        node: NodeId,
        event: Range<usize>,
    },
}

/// A message on an instance's channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeMessage {
    Signal {
        reply_to: NodeId,
        room: RoomName,
        to: Sid,
        from: Sid,
        event: Range<usize>,
    },
    Kick {
        reply_to: NodeId,
        room: RoomName,
        to: Sid,
        from: Sid,
        code: RemovalCode,
    },
    /// `event` (`signal` or `kick`) found no peer.
    Undeliverable {
        from: Sid,
        room: RoomName,
        event: Undelivered,
    },
}

/// What found no peer on the instance it was sent to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Undelivered {
    Signal,
    Kick,
}

impl Undelivered {
    /// The event's name, as the sender is told in `refused`.
    pub fn event(self) -> &'static str {
        match self {
            Self::Signal => crate::protocol::event::SIGNAL,
            Self::Kick => crate::protocol::event::KICK,
        }
    }
}

/// `E`: a room event for the other instances' members.
pub fn event(node: NodeId, event: &str) -> String {
    format!("E\t{node}\t{event}")
}

/// `S`: a signal for member `to` of `room`, connected to another instance.
pub fn signal(reply_to: NodeId, room: &RoomName, to: Sid, from: Sid, event: &str) -> String {
    format!("S\t{reply_to}\t{room}\t{to}\t{from}\t{event}")
}

/// `K`: `from` removes member `to` of `room`, connected to another instance, for `code`.
pub fn remove(reply_to: NodeId, room: &RoomName, to: Sid, from: Sid, code: RemovalCode) -> String {
    format!(
        "K\t{reply_to}\t{room}\t{to}\t{from}\t{}",
        removal_name(code)
    )
}

const REMOVALS: [RemovalCode; 2] = [RemovalCode::Kicked, RemovalCode::RoomClosed];

fn removal_name(code: RemovalCode) -> &'static str {
    match code {
        RemovalCode::Kicked => "kicked",
        RemovalCode::RoomClosed => "room_closed",
    }
}

/// `U`: the `event` `from` sent in `room` found no peer.
pub fn undeliverable(from: Sid, room: &RoomName, event: Undelivered) -> String {
    format!("U\t{from}\t{room}\t{}", event.event())
}

/// The lines of a channel message, each with the offset where it starts in `text`.
pub fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split('\n').scan(0, |start, line| {
        let at = *start;
        *start += line.len() + 1;
        Some((at, line))
    })
}

/// Splits `text` into its kind and `n` fields, the last taking the rest of the line; returns the
/// fields with the offset where the last one starts.
fn fields(text: &str, n: usize) -> Option<(&str, Vec<&str>, usize)> {
    let mut parts = text.splitn(n + 1, '\t');
    let kind = parts.next()?;
    let fields: Vec<&str> = parts.collect();
    if fields.len() != n {
        return None;
    }
    let last = text.len() - fields[n - 1].len();
    Some((kind, fields, last))
}

impl RoomMessage {
    pub fn decode(text: &str) -> Option<Self> {
        match text.split('\t').next()? {
            "J" => {
                let (_, f, _) = fields(text, 5)?;
                Some(Self::Joined {
                    seq: f[0].parse().ok()?,
                    member: Member {
                        node: f[1].parse().ok()?,
                        sid: f[2].parse().ok()?,
                        order: f[3].parse().ok()?,
                        name: DisplayName::parse(f[4]).ok()?,
                    },
                })
            }
            "L" => {
                let (_, f, _) = fields(text, 3)?;
                Some(Self::Left {
                    seq: f[0].parse().ok()?,
                    sid: f[1].parse().ok()?,
                    reason: Reason::parse(f[2])?,
                })
            }
            "E" => {
                let (_, f, start) = fields(text, 2)?;
                Some(Self::Event {
                    node: f[0].parse().ok()?,
                    event: start..text.len(),
                })
            }
            _ => None,
        }
    }
}

impl NodeMessage {
    pub fn decode(text: &str) -> Option<Self> {
        match text.split('\t').next()? {
            "S" => {
                let (_, f, start) = fields(text, 5)?;
                Some(Self::Signal {
                    reply_to: f[0].parse().ok()?,
                    room: RoomName::parse(f[1]).ok()?,
                    to: f[2].parse().ok()?,
                    from: f[3].parse().ok()?,
                    event: start..text.len(),
                })
            }
            "K" => {
                let (_, f, _) = fields(text, 5)?;
                Some(Self::Kick {
                    reply_to: f[0].parse().ok()?,
                    room: RoomName::parse(f[1]).ok()?,
                    to: f[2].parse().ok()?,
                    from: f[3].parse().ok()?,
                    code: REMOVALS.into_iter().find(|c| removal_name(*c) == f[4])?,
                })
            }
            "U" => {
                let (_, f, _) = fields(text, 3)?;
                let event = [Undelivered::Signal, Undelivered::Kick]
                    .into_iter()
                    .find(|e| e.event() == f[2])?;
                Some(Self::Undeliverable {
                    from: f[0].parse().ok()?,
                    room: RoomName::parse(f[1]).ok()?,
                    event,
                })
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn room(name: &str) -> RoomName {
        RoomName::parse(name).unwrap()
    }

    #[test]
    fn what_the_scripts_publish_reads_back() {
        let sid = Sid::new();
        let joined = format!("J\t7\t00000000000000ff\t{sid}\t5\tAda Lovelace");
        assert_eq!(
            RoomMessage::decode(&joined),
            Some(RoomMessage::Joined {
                seq: 7,
                member: Member {
                    sid,
                    node: NodeId(255),
                    name: DisplayName::parse("Ada Lovelace").unwrap(),
                    order: 5,
                },
            })
        );
        assert_eq!(
            RoomMessage::decode(&format!("L\t8\t{sid}\ttimeout")),
            Some(RoomMessage::Left {
                seq: 8,
                sid,
                reason: Reason::Timeout,
            })
        );
    }

    #[test]
    fn events_keep_their_bytes_tabs_and_all() {
        let json = "[\"message\",\"r\",\"id\",\"a\\tb\"]";
        let text = event(NodeId(1), json);
        let Some(RoomMessage::Event { node, event }) = RoomMessage::decode(&text) else {
            panic!("not an event");
        };
        assert_eq!((node, &text[event]), (NodeId(1), json));

        let (from, to) = (Sid::new(), Sid::new());
        let text = signal(NodeId(2), &room("call 1"), to, from, "[\"signal\"]");
        let Some(NodeMessage::Signal {
            reply_to,
            room: r,
            to: t,
            from: f,
            event,
        }) = NodeMessage::decode(&text)
        else {
            panic!("not a signal");
        };
        assert_eq!((reply_to, r, t, f), (NodeId(2), room("call 1"), to, from));
        assert_eq!(&text[event], "[\"signal\"]");
        for event in [Undelivered::Signal, Undelivered::Kick] {
            assert_eq!(
                NodeMessage::decode(&undeliverable(from, &room("x"), event)),
                Some(NodeMessage::Undeliverable {
                    from,
                    room: room("x"),
                    event,
                })
            );
        }
        for code in REMOVALS {
            assert_eq!(
                NodeMessage::decode(&remove(NodeId(3), &room("r"), to, from, code)),
                Some(NodeMessage::Kick {
                    reply_to: NodeId(3),
                    room: room("r"),
                    to,
                    from,
                    code,
                })
            );
        }
    }

    #[test]
    fn several_lines_come_apart_with_their_offsets() {
        let text = format!("{}\n{}", event(NodeId(1), "[1]"), event(NodeId(1), "[2]"));
        let events: Vec<&str> = lines(&text)
            .map(|(at, line)| match RoomMessage::decode(line) {
                Some(RoomMessage::Event { event, .. }) => &text[at + event.start..at + event.end],
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(events, ["[1]", "[2]"]);
    }

    #[test]
    fn malformed_messages_are_none() {
        for text in [
            "",
            "J",
            "J\t1\t2",
            "J\tx\t00000000000000ff\tAAAAAAAAAAAAAAAA\t5\tn",
            "L\t1\tAAAAAAAAAAAAAAAA\tnonsense",
            "E\tnot-a-node\t[]",
            "Q\t1",
        ] {
            assert_eq!(RoomMessage::decode(text), None, "{text:?}");
        }
        assert_eq!(NodeMessage::decode("S\t1\t2"), None);
        assert_eq!(
            NodeMessage::decode("U\tAAAAAAAAAAAAAAAA\t\tsignal"),
            None,
            "empty room"
        );
        assert_eq!(
            NodeMessage::decode("U\tAAAAAAAAAAAAAAAA\tr\tmessage"),
            None,
            "not an event that is relayed"
        );
    }

    proptest! {
        #[test]
        fn decoding_never_panics(text in ".{0,200}") {
            let _ = RoomMessage::decode(&text);
            let _ = NodeMessage::decode(&text);
        }
    }
}
