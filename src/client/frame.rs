//! Engine.IO v4 / Socket.IO v5 text framing, as signalroom's own clients speak it over a
//! WebSocket: the browser's, and an instance carrying a resume to another
//! (`server::signaling::tunnel`). Pure functions, so they are tested natively; decoding never
//! panics, whatever the input.

use serde::Deserialize;
use serde_json::Value;

use crate::protocol::{ClientEvent, ResumeAsk};

/// Engine.IO `close`.
pub const CLOSE: &str = "1";
/// Engine.IO `ping`, from the server.
pub const PING: &str = "2";
/// Engine.IO `pong`, the answer to the server's `ping`.
pub const PONG: &str = "3";
/// Socket.IO `connect` to the default namespace.
pub const CONNECT: &str = "40";
/// Socket.IO `disconnect` from the default namespace: the client means to go.
pub const DISCONNECT: &str = "41";
/// Socket.IO `event` on the default namespace, without an ack id: its JSON array follows.
pub const EVENT: &str = "42";
/// Socket.IO `binary event` on the default namespace: the attachments' count, `-` and the JSON
/// array with placeholders follow, then each attachment in a binary frame.
pub const BINARY_EVENT: &str = "45";

/// The handshake's auth: the join token and what the client asks of resuming.
pub fn auth(token: Option<&str>, resume: Option<&ResumeAsk>) -> serde_json::Map<String, Value> {
    let mut auth = serde_json::Map::new();
    if let Some(token) = token {
        auth.insert("token".into(), token.into());
    }
    if let Some(resume) = resume {
        auth.insert("resume".into(), resume.to_auth());
    }
    auth
}

/// Socket.IO `connect` to the default namespace, with the join token and what the client asks
/// of resuming as the handshake's auth.
pub fn connect(token: Option<&str>, resume: Option<&ResumeAsk>) -> String {
    connect_with(auth(token, resume))
}

/// Socket.IO `connect` to the default namespace with `auth` (none if it is empty).
pub fn connect_with(auth: serde_json::Map<String, Value>) -> String {
    if auth.is_empty() {
        CONNECT.to_owned()
    } else {
        format!("{CONNECT}{}", Value::Object(auth))
    }
}

/// What one text frame from the server says.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// Engine.IO handshake.
    Open(Handshake),
    /// Engine.IO close.
    Close,
    /// Engine.IO ping: answer with [`PONG`].
    Ping,
    /// Socket.IO connect acknowledged; `sid` is the socket id the server uses in events.
    Connected { sid: String },
    /// Socket.IO connect refused.
    ConnectError { message: String },
    /// Socket.IO disconnect from the server.
    Disconnected,
    /// A Socket.IO event on the default namespace.
    Event { name: String, args: Vec<Value> },
    /// Valid but of no interest here: noop, pong, acks, other namespaces.
    Ignored,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Handshake {
    pub sid: String,
    pub ping_interval: u64,
    pub ping_timeout: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("empty frame")]
    Empty,
    #[error("unknown Engine.IO packet type {0:?}")]
    UnknownEnginePacket(char),
    #[error("unknown Socket.IO packet type {0:?}")]
    UnknownSocketPacket(char),
    #[error("malformed JSON in frame: {0}")]
    Json(String),
    #[error("event packet without an event name")]
    NoEventName,
}

impl From<serde_json::Error> for FrameError {
    fn from(err: serde_json::Error) -> Self {
        Self::Json(err.to_string())
    }
}

/// Decodes one text frame.
pub fn decode(frame: &str) -> Result<Incoming, FrameError> {
    let mut chars = frame.chars();
    let kind = chars.next().ok_or(FrameError::Empty)?;
    let rest = chars.as_str();
    match kind {
        '0' => Ok(Incoming::Open(serde_json::from_str(rest)?)),
        '1' => Ok(Incoming::Close),
        '2' => Ok(Incoming::Ping),
        '3' | '5' | '6' => Ok(Incoming::Ignored),
        '4' => decode_socket_packet(rest),
        other => Err(FrameError::UnknownEnginePacket(other)),
    }
}

/// Decodes a Socket.IO packet: `<type>[<attachments>-][<namespace>,][<ack id>][<JSON>]`.
fn decode_socket_packet(packet: &str) -> Result<Incoming, FrameError> {
    let mut chars = packet.chars();
    let kind = chars.next().ok_or(FrameError::Empty)?;
    let mut rest = chars.as_str();
    if matches!(kind, '5' | '6') {
        return Ok(Incoming::Ignored); // Binary event or ack: never sent to this client.
    }
    if rest.starts_with('/') {
        let (namespace, tail) = rest.split_once(',').unwrap_or((rest, ""));
        if namespace != "/" {
            return Ok(Incoming::Ignored);
        }
        rest = tail;
    }
    let json = rest.trim_start_matches(|c: char| c.is_ascii_digit());
    match kind {
        '0' => {
            #[derive(Deserialize)]
            struct Connect {
                sid: String,
            }
            let Connect { sid } = serde_json::from_str(json)?;
            Ok(Incoming::Connected { sid })
        }
        '1' => Ok(Incoming::Disconnected),
        '2' => {
            let mut items: Vec<Value> = serde_json::from_str(json)?;
            if !matches!(items.first(), Some(Value::String(_))) {
                return Err(FrameError::NoEventName);
            }
            let Value::String(name) = items.remove(0) else {
                unreachable!("checked above")
            };
            Ok(Incoming::Event { name, args: items })
        }
        '3' => Ok(Incoming::Ignored),
        '4' => {
            let value: Value = serde_json::from_str(json)?;
            let message = value
                .get("message")
                .and_then(Value::as_str)
                .map_or_else(|| value.to_string(), str::to_owned);
            Ok(Incoming::ConnectError { message })
        }
        other => Err(FrameError::UnknownSocketPacket(other)),
    }
}

/// Encodes an event to the default namespace.
pub fn encode_event(event: &ClientEvent) -> String {
    format!("{EVENT}{}", event.to_array())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_carries_the_token_and_the_resume_as_auth() {
        assert_eq!(connect(None, None), "40");
        assert_eq!(connect(Some("a.b\"c"), None), r#"40{"token":"a.b\"c"}"#);
        assert_eq!(
            connect(None, Some(&ResumeAsk::Enable)),
            r#"40{"resume":true}"#
        );
        let resume = ResumeAsk::Resume {
            token: "t".into(),
            seq: 9,
        };
        assert_eq!(
            connect(Some("j"), Some(&resume)),
            r#"40{"resume":{"seq":9,"token":"t"},"token":"j"}"#
        );
    }
    use crate::protocol::RoomName;
    use serde_json::json;

    #[test]
    fn decodes_the_handshake_and_heartbeat() {
        let open = r#"0{"sid":"abc","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#;
        assert_eq!(
            decode(open),
            Ok(Incoming::Open(Handshake {
                sid: "abc".into(),
                ping_interval: 25000,
                ping_timeout: 20000
            }))
        );
        assert_eq!(decode("2"), Ok(Incoming::Ping));
        assert_eq!(decode("6"), Ok(Incoming::Ignored));
        assert_eq!(decode("1"), Ok(Incoming::Close));
    }

    #[test]
    fn decodes_socket_packets() {
        assert_eq!(
            decode(r#"40{"sid":"s1"}"#),
            Ok(Incoming::Connected { sid: "s1".into() })
        );
        assert_eq!(decode("41"), Ok(Incoming::Disconnected));
        assert_eq!(
            decode(r#"42["joined","r","s1"]"#),
            Ok(Incoming::Event {
                name: "joined".into(),
                args: vec![json!("r"), json!("s1")]
            })
        );
        assert_eq!(
            decode(r#"42/,7["bye","r","s"]"#),
            Ok(Incoming::Event {
                name: "bye".into(),
                args: vec![json!("r"), json!("s")]
            })
        );
        assert_eq!(decode(r#"42/admin,["x"]"#), Ok(Incoming::Ignored));
        assert_eq!(
            decode(r#"44{"message":"nope"}"#),
            Ok(Incoming::ConnectError {
                message: "nope".into()
            })
        );
    }

    #[test]
    fn refuses_malformed_frames_without_panicking() {
        for frame in [
            "", "9", "é", "4", "42", "42[", "42[1]", "42{}", "40", "0{}", "4é", "42/,", "42/",
        ] {
            assert!(decode(frame).is_err(), "{frame:?} should be refused");
        }
    }

    #[test]
    fn encodes_events() {
        let room = RoomName::parse("112222").unwrap();
        let event = ClientEvent::Message {
            room,
            data: json!("Chrome:hi"),
        };
        assert_eq!(
            encode_event(&event),
            r#"42["message","112222","Chrome:hi"]"#
        );
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use crate::protocol::RoomName;
    use proptest::prelude::*;

    /// Text that looks like frames: a real packet-type prefix, then anything.
    fn framelike() -> impl Strategy<Value = String> {
        let prefix = prop::sample::select(vec![
            "", "0", "1", "2", "3", "4", "40", "41", "42", "43", "44", "42/", "42/,", "451-",
        ]);
        (prefix, any::<String>()).prop_map(|(p, rest)| format!("{p}{rest}"))
    }

    proptest! {
        #[test]
        fn decode_never_panics(frame in any::<String>()) {
            let _ = decode(&frame);
        }

        #[test]
        fn decode_never_panics_on_framelike_text(frame in framelike()) {
            let _ = decode(&frame);
        }

        #[test]
        fn encoded_events_decode_to_themselves(room in "[^\\p{Cc}]{1,128}", text in any::<String>()) {
            let event = ClientEvent::Message {
                room: RoomName::parse(&room).unwrap(),
                data: Value::String(text),
            };
            let Ok(Incoming::Event { name, args }) = decode(&encode_event(&event)) else {
                panic!("not an event");
            };
            prop_assert_eq!(ClientEvent::decode(&name, &args), Ok(event));
        }
    }
}
