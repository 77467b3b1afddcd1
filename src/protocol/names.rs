//! Names people choose: rooms and display names, validated once, on the way in.

use serde::Serialize;

use super::RefusalCode;

/// Longest room name accepted, in characters.
pub const MAX_ROOM_CHARS: usize = 128;
/// Longest display name accepted, in characters.
pub const MAX_NAME_CHARS: usize = 64;

/// A room name that passed validation: non-empty, at most [`MAX_ROOM_CHARS`] characters, no
/// control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct RoomName(String);

impl RoomName {
    pub fn parse(name: &str) -> Result<Self, RefusalCode> {
        let chars = name.chars().count();
        if chars == 0 || chars > MAX_ROOM_CHARS || name.chars().any(char::is_control) {
            return Err(RefusalCode::InvalidRoom);
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Maps keyed by room name can be looked up by a plain `&str` (a name that never passed
/// validation is simply not found), with no copy and no second validation.
impl std::borrow::Borrow<str> for RoomName {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for RoomName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The name shown beside a peer's video: plain text, trimmed, 1 to [`MAX_NAME_CHARS`]
/// characters, no control characters. Pages must still show it as text, never as HTML.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct DisplayName(String);

impl DisplayName {
    pub fn parse(name: &str) -> Result<Self, RefusalCode> {
        let name = name.trim();
        let chars = name.chars().count();
        if chars == 0 || chars > MAX_NAME_CHARS || name.chars().any(char::is_control) {
            return Err(RefusalCode::InvalidName);
        }
        Ok(Self(name.to_owned()))
    }

    /// The name of someone who gave none: `guest-` and the start of their socket id.
    pub fn guest(id: &str) -> Self {
        Self(format!("guest-{}", id.chars().take(4).collect::<String>()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn display_names_are_trimmed_plain_text() {
        assert_eq!(DisplayName::parse("  Ada ").unwrap().as_str(), "Ada");
        assert_eq!(DisplayName::parse("   "), Err(RefusalCode::InvalidName));
        assert_eq!(DisplayName::parse("a\u{7}b"), Err(RefusalCode::InvalidName));
        assert!(DisplayName::parse(&"n".repeat(MAX_NAME_CHARS)).is_ok());
        assert!(DisplayName::parse(&"n".repeat(MAX_NAME_CHARS + 1)).is_err());
        assert_eq!(DisplayName::guest("Ab3xYz").as_str(), "guest-Ab3x");
    }

    proptest! {
        #[test]
        fn room_names_are_accepted_exactly_when_valid(name in any::<String>()) {
            let valid = (1..=MAX_ROOM_CHARS).contains(&name.chars().count())
                && !name.chars().any(char::is_control);
            prop_assert_eq!(RoomName::parse(&name).is_ok(), valid);
        }
    }
}
