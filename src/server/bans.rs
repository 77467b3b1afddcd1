//! Who was kicked from which room, and until when: a kicked token's holder may not rejoin that
//! room with the same token until its ban ends. This process's bans; in a cluster Redis holds
//! them instead (`cluster/scripts/ban.lua`), so a ban holds on every instance.

use std::collections::HashMap;
use std::time::Instant;

use super::auth::TokenId;
use crate::protocol::RoomName;

#[derive(Debug, Default)]
pub struct Bans {
    until: HashMap<(RoomName, TokenId), Instant>,
    /// Bans kept after the last sweep of ended ones; the next sweep comes at twice as many, so
    /// sweeping costs a constant per ban.
    swept: usize,
}

impl Bans {
    pub fn ban(&mut self, room: RoomName, token: TokenId, until: Instant, now: Instant) {
        if self.until.len() >= 2 * self.swept.max(512) {
            self.until.retain(|_, end| *end > now);
            self.swept = self.until.len();
        }
        self.until.insert((room, token), until);
    }

    pub fn is_banned(&self, room: &RoomName, token: &TokenId, now: Instant) -> bool {
        self.until
            .get(&(room.clone(), token.clone()))
            .is_some_and(|end| *end > now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_ban_holds_for_its_room_and_token_until_it_ends() {
        let (room, other) = (RoomName::parse("a").unwrap(), RoomName::parse("b").unwrap());
        let (token, another) = (TokenId::of("t1"), TokenId::of("t2"));
        let now = Instant::now();
        let mut bans = Bans::default();
        bans.ban(
            room.clone(),
            token.clone(),
            now + Duration::from_secs(60),
            now,
        );
        assert!(bans.is_banned(&room, &token, now));
        assert!(!bans.is_banned(&other, &token, now));
        assert!(!bans.is_banned(&room, &another, now));
        assert!(!bans.is_banned(&room, &token, now + Duration::from_secs(61)));
    }

    #[test]
    fn ended_bans_are_swept() {
        let room = RoomName::parse("a").unwrap();
        let now = Instant::now();
        let mut bans = Bans::default();
        for i in 0..5000 {
            let t = now + Duration::from_millis(i);
            bans.ban(
                room.clone(),
                TokenId::of(&i.to_string()),
                t + Duration::from_millis(1),
                t,
            );
        }
        assert!(bans.until.len() < 1100, "{} kept", bans.until.len());
    }
}
