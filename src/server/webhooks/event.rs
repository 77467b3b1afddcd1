//! The webhook events, as the receiver gets them (the README's "Webhooks" table).

use serde::Serialize;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A room got its first member.
    RoomStarted,
    /// A room's last member went.
    RoomFinished,
    ParticipantJoined,
    ParticipantLeft,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RoomStarted => "room_started",
            Self::RoomFinished => "room_finished",
            Self::ParticipantJoined => "participant_joined",
            Self::ParticipantLeft => "participant_left",
        }
    }
}

/// The member a participant event is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Peer {
    pub id: String,
    pub name: String,
    pub sub: Option<String>,
}

/// One event: the body of one POST.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    /// Unique, and the same on every retry, so a receiver can drop duplicates.
    pub id: String,
    #[serde(rename = "event")]
    pub kind: Kind,
    pub room: String,
    /// For participant events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer: Option<Peer>,
    /// For `participant_left`: `left`, `disconnected`, `kicked`, `evicted`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    /// When it happened, in milliseconds since the epoch.
    pub time: u64,
}

impl Event {
    pub fn new(
        kind: Kind,
        room: &str,
        peer: Option<Peer>,
        reason: Option<&'static str>,
        time: u64,
    ) -> Self {
        Self {
            id: format!("evt_{:032x}", rand::random::<u128>()),
            kind,
            room: room.to_owned(),
            peer,
            reason,
            time,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_read_as_documented() {
        let peer = Peer {
            id: "AAAA".into(),
            name: "Ada".into(),
            sub: Some("u-1".into()),
        };
        let left = Event::new(Kind::ParticipantLeft, "r", Some(peer), Some("kicked"), 7);
        let json = serde_json::to_value(&left).unwrap();
        assert_eq!(json["event"], json!("participant_left"));
        assert_eq!(
            json["peer"],
            json!({"id": "AAAA", "name": "Ada", "sub": "u-1"})
        );
        assert_eq!(
            (json["reason"].clone(), json["time"].clone()),
            (json!("kicked"), json!(7))
        );
        assert!(json["id"].as_str().unwrap().starts_with("evt_"));
        let started =
            serde_json::to_value(Event::new(Kind::RoomStarted, "r", None, None, 1)).unwrap();
        assert_eq!(started.get("peer"), None);
        assert_ne!(
            left.id,
            Event::new(Kind::RoomStarted, "r", None, None, 1).id
        );
    }
}
