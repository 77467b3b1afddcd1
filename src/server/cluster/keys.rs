//! Every Redis key and channel the cluster uses, written once.
//!
//! Each name is `PREFIX:` (`--redis-prefix`) followed by one entry of [`LAYOUT`], a room, node
//! or socket id last, so no two names collide whatever a room is called. The Lua scripts get
//! the same layout as a generated prelude ([`Keys::lua_prelude`]): neither side spells a name of
//! its own.
//!
//! | entry | kind | holds |
//! |---|---|---|
//! | `seq` | string | the last sequence number: each membership change takes the next, and a member's join order is its join's number |
//! | `epoch` | string | a random name of this Redis dataset; a new one means Redis lost its data |
//! | `nodes` | sorted set | live instances, scored with the Redis time (ms) their heartbeat expires |
//! | `timeouts` | hash | instance → its `--node-timeout` (ms): when it last beat, and how often it beats |
//! | `urls` | hash | instance → the URL other instances reach it at (`--instance-url`), for clients resuming through them |
//! | `rooms` | set | rooms with at least one member |
//! | `members:ROOM` | sorted set | the room's members (socket ids), scored by join order |
//! | `info:ROOM` | hash | socket id → `NODE\nNAME\nSUB\nSINCE`: the member's instance (`0000000000000000`, [`NodeId::ORPHAN`], for an orphan), display name, token subject (or empty) and join time (ms) |
//! | `capacity:ROOM` | string | the room's seats, when limited |
//! | `locked:ROOM` | string | present while a moderator has the room locked to new joins |
//! | `bans:ROOM` | sorted set | digests of kicked members' join tokens, scored with the Redis time (ms) their ban ends |
//! | `rooms-of:SID` | set | the rooms a member is in |
//! | `node-members:NODE` | set | the members (socket ids) connected to an instance |
//! | `sessions:NODE` | hash | an instance's resumable peers → `GRACE\nDIGEST\nSUB`: the grace period (ms), the SHA-256 of the peer's current resume token (hex) and its join token's subject (or empty), so the peer can be adopted if the instance dies |
//! | `orphans` | sorted set | peers of dead instances, keeping their seats, scored with the Redis time (ms) their grace period ends |
//! | `orphan-sessions` | hash | an orphan → its `sessions:NODE` entry, for the instance that adopts it |
//! | `room:ROOM` | channel | the room's membership changes and events, for instances with members there |
//! | `node:NODE` | channel | events for one instance: signals to its members, refusals for them |

use std::fmt::Write as _;

use super::NodeId;

/// One entry of the layout.
struct Entry {
    /// Its name in the Lua prelude's table `K`.
    lua: &'static str,
    /// What follows the prefix (and precedes the id, if it takes one).
    suffix: &'static str,
    /// Whether a room, node or socket id follows.
    takes_id: bool,
}

const fn fixed(lua: &'static str, suffix: &'static str) -> Entry {
    Entry {
        lua,
        suffix,
        takes_id: false,
    }
}

const fn with_id(lua: &'static str, suffix: &'static str) -> Entry {
    Entry {
        lua,
        suffix,
        takes_id: true,
    }
}

const ROOM_CHANNEL: Entry = with_id("room_channel", "room:");
const NODE_CHANNEL: Entry = with_id("node_channel", "node:");
const URLS: Entry = fixed("urls", "urls");
const SESSIONS: Entry = with_id("sessions", "sessions:");

/// The whole layout; the table in the module's documentation says what each holds.
const LAYOUT: [Entry; 18] = [
    fixed("seq", "seq"),
    fixed("epoch", "epoch"),
    fixed("nodes", "nodes"),
    fixed("timeouts", "timeouts"),
    URLS,
    fixed("rooms", "rooms"),
    with_id("members", "members:"),
    with_id("info", "info:"),
    with_id("capacity", "capacity:"),
    with_id("locked", "locked:"),
    with_id("bans", "bans:"),
    with_id("rooms_of", "rooms-of:"),
    with_id("node_members", "node-members:"),
    SESSIONS,
    fixed("orphans", "orphans"),
    fixed("orphan_sessions", "orphan-sessions"),
    ROOM_CHANNEL,
    NODE_CHANNEL,
];

/// The names, under one prefix.
#[derive(Debug, Clone)]
pub struct Keys {
    /// `--redis-prefix` and its colon.
    prefix: String,
}

impl Keys {
    /// `prefix` is `--redis-prefix`, already checked to need no escaping in Lua or Redis.
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: format!("{prefix}:"),
        }
    }

    pub fn room_channel(&self, room: &str) -> String {
        format!("{}{}{room}", self.prefix, ROOM_CHANNEL.suffix)
    }

    /// The hash of the instances' URLs.
    pub fn urls(&self) -> String {
        format!("{}{}", self.prefix, URLS.suffix)
    }

    /// Instance `node`'s resumable sessions.
    pub fn sessions(&self, node: NodeId) -> String {
        format!("{}{}{node}", self.prefix, SESSIONS.suffix)
    }

    pub fn node_channel(&self, node: NodeId) -> String {
        format!("{}{}{node}", self.prefix, NODE_CHANNEL.suffix)
    }

    /// The room whose channel `channel` is, or `None` for another channel.
    pub fn room_of_channel<'a>(&self, channel: &'a str) -> Option<&'a str> {
        channel
            .strip_prefix(self.prefix.as_str())?
            .strip_prefix(ROOM_CHANNEL.suffix)
    }

    /// The layout as Lua: a table `K` with a string for each fixed name and a function of the
    /// id for the others, e.g. `K.members(room)`; and `K.orphan`, an orphan's instance.
    pub fn lua_prelude(&self) -> String {
        let mut lua = String::from("local K = {}\n");
        let _ = writeln!(lua, "K.orphan = '{}'", NodeId::ORPHAN);
        for entry in &LAYOUT {
            let (name, full) = (entry.lua, format!("{}{}", self.prefix, entry.suffix));
            let _ = if entry.takes_id {
                writeln!(lua, "K.{name} = function(id) return '{full}' .. id end")
            } else {
                writeln!(lua, "K.{name} = '{full}'")
            };
        }
        lua
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_put_the_id_last_after_the_prefix() {
        let keys = Keys::new("app-1");
        assert_eq!(keys.room_channel("a:b"), "app-1:room:a:b");
        assert_eq!(
            keys.node_channel(NodeId(0xab)),
            "app-1:node:00000000000000ab"
        );
        assert_eq!(keys.room_of_channel("app-1:room:a:b"), Some("a:b"));
        assert_eq!(keys.room_of_channel("app-2:room:a"), None);
        assert_eq!(keys.room_of_channel("app-1:node:00000000000000ab"), None);
    }

    #[test]
    fn the_lua_prelude_spells_the_same_names() {
        let keys = Keys::new("p");
        let lua = keys.lua_prelude();
        assert!(lua.contains("K.seq = 'p:seq'\n"));
        assert!(lua.contains("K.members = function(id) return 'p:members:' .. id end\n"));
        let channel = keys.room_channel("");
        assert!(lua.contains(&format!(
            "K.room_channel = function(id) return '{channel}' .. id end\n"
        )));
        assert!(lua.contains("K.orphan = '0000000000000000'\n"));
        assert_eq!(lua.lines().count(), LAYOUT.len() + 2);
    }

    #[test]
    fn no_two_names_can_collide() {
        // `a` (+ id) can equal `b` + id only if `a`'s suffix begins with `b`'s.
        for (i, a) in LAYOUT.iter().enumerate() {
            for (j, b) in LAYOUT.iter().enumerate() {
                if i != j && b.takes_id {
                    assert!(!a.suffix.starts_with(b.suffix), "{} and {}", a.lua, b.lua);
                }
                if i != j && !a.takes_id && !b.takes_id {
                    assert_ne!(a.suffix, b.suffix);
                }
            }
        }
    }
}
