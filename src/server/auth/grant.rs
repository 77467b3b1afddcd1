//! What a connection may do, from its join token: pure rules, tested alone.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::protocol::{DisplayName, RoomName};

/// A token's role.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    #[default]
    Member,
    /// May also `kick` members and `lock` rooms it is granted.
    Moderator,
}

/// One entry of a token's `rooms`: a room's exact name, or, ending in `*`, a prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoomGrant {
    Exact(String),
    Prefix(String),
}

impl RoomGrant {
    pub fn parse(entry: &str) -> Self {
        match entry.strip_suffix('*') {
            Some(prefix) => Self::Prefix(prefix.to_owned()),
            None => Self::Exact(entry.to_owned()),
        }
    }

    pub fn allows(&self, room: &str) -> bool {
        match self {
            Self::Exact(name) => name == room,
            Self::Prefix(prefix) => room.starts_with(prefix.as_str()),
        }
    }
}

/// Names one token, for what must outlive its connection: a kicked holder may not rejoin with
/// the same token for a while. A digest, so the token itself is never kept or sent to Redis.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TokenId(Arc<str>);

impl TokenId {
    /// The first 16 bytes of the token's SHA-256, in hex.
    pub fn of(token: &str) -> Self {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(token.as_bytes());
        let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        Self(hex.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What one connection may do.
#[derive(Debug, Clone, Default)]
pub struct Grant {
    /// `None`: every room.
    pub rooms: Option<Vec<RoomGrant>>,
    pub role: Role,
    /// The name others see, whatever `join` asks for.
    pub name: Option<DisplayName>,
    /// The user's identity in the application, for logs, the server API and webhooks; shared
    /// with every room record of this connection rather than copied per join.
    pub sub: Option<Arc<str>>,
    /// Seats of a room this connection creates.
    pub capacity: Option<usize>,
    /// The token it came from; `None` on an open server.
    pub token: Option<TokenId>,
}

impl Grant {
    /// An open server's grant: every room, as a member, under any name.
    pub fn open() -> Self {
        Self::default()
    }

    pub fn may_join(&self, room: &RoomName) -> bool {
        self.rooms
            .as_ref()
            .is_none_or(|rooms| rooms.iter().any(|grant| grant.allows(room.as_str())))
    }

    /// `kick` and `lock` in `room`: a moderator's, for the rooms it is granted.
    pub fn may_moderate(&self, room: &RoomName) -> bool {
        self.role == Role::Moderator && self.may_join(room)
    }

    /// The name a join uses: the token's if it has one, else the one asked for.
    pub fn name_for(&self, asked: Option<DisplayName>) -> Option<DisplayName> {
        self.name.clone().or(asked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(name: &str) -> RoomName {
        RoomName::parse(name).unwrap()
    }

    fn granting(entries: &[&str], role: Role) -> Grant {
        Grant {
            rooms: Some(entries.iter().map(|e| RoomGrant::parse(e)).collect()),
            role,
            ..Grant::default()
        }
    }

    #[test]
    fn exact_names_and_prefixes() {
        let grant = granting(&["lobby", "team-*"], Role::Member);
        assert!(grant.may_join(&room("lobby")));
        assert!(!grant.may_join(&room("lobby2")));
        assert!(grant.may_join(&room("team-a")));
        assert!(grant.may_join(&room("team-")));
        assert!(!grant.may_join(&room("team")));
        assert!(!grant.may_join(&room("Team-a")));
    }

    #[test]
    fn no_rooms_claim_grants_every_room_and_an_empty_list_none() {
        assert!(Grant::open().may_join(&room("anything")));
        assert!(!granting(&[], Role::Member).may_join(&room("a")));
        assert!(granting(&["*"], Role::Member).may_join(&room("a")));
    }

    #[test]
    fn only_moderators_moderate_and_only_their_rooms() {
        assert!(!Grant::open().may_moderate(&room("a")));
        assert!(!granting(&["a"], Role::Member).may_moderate(&room("a")));
        let moderator = granting(&["a"], Role::Moderator);
        assert!(moderator.may_moderate(&room("a")));
        assert!(!moderator.may_moderate(&room("b")));
    }

    #[test]
    fn the_tokens_name_wins() {
        let ada = DisplayName::parse("Ada").unwrap();
        let bob = DisplayName::parse("Bob").unwrap();
        let named = Grant {
            name: Some(ada.clone()),
            ..Grant::default()
        };
        assert_eq!(named.name_for(Some(bob.clone())), Some(ada));
        assert_eq!(Grant::open().name_for(Some(bob.clone())), Some(bob));
    }

    #[test]
    fn token_ids_are_stable_short_digests() {
        let a = TokenId::of("a.b.c");
        assert_eq!(a, TokenId::of("a.b.c"));
        assert_ne!(a, TokenId::of("a.b.d"));
        assert_eq!(a.as_str().len(), 32);
    }
}
